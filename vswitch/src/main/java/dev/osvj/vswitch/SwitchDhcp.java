package dev.osvj.vswitch;

import dev.osvj.net.dhcp.DhcpMessage;
import dev.osvj.net.wire.Addresses;
import dev.osvj.net.wire.EthernetFrame;
import dev.osvj.net.wire.Ipv4Packet;
import dev.osvj.net.wire.UdpDatagram;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.IntHashSet;
import org.agrona.collections.Long2LongHashMap;

import java.nio.ByteOrder;

/**
 * A small DHCP server answered by the switch itself (RFC 2131, the messages a client of the osvj stack
 * sends): DISCOVER gets an OFFER, REQUEST for the offered (or already leased) address an ACK, anything
 * else a NAK, RELEASE frees the address. The pool is {@code .100 .. .199} of the switch's subnet (or
 * the subnet's hosts above .1 when it is smaller), so it does not collide with static addresses below
 * .100; the server itself is {@code .1} (announced as router and server id). An address stays with
 * its MAC while the switch runs (leases are not expired: instances come and go with their MAC).
 *
 * <p>No I/O, one thread (the switch's): {@link #answer} turns a frame into the reply frame, which the
 * switch sends back out of the ingress port only, as an Ethernet and IP broadcast (the client has no
 * address yet).
 */
final class SwitchDhcp {
    /** The server's MAC: locally administered, unicast. */
    static final long SERVER_MAC = 0x0200_5E00_0001L;
    private static final int UDP_HEADER = 8;

    private final int server;
    private final int netmask;
    private final int first;
    private final int last;
    private final long leaseSeconds;
    private final Long2LongHashMap leases = new Long2LongHashMap(-1);
    private final IntHashSet taken = new IntHashSet();
    private final DhcpMessage request = new DhcpMessage();
    private final DhcpMessage reply = new DhcpMessage();

    /**
     * @param cidr         the switch's subnet, {@code "10.0.1.0/24"} (prefix 8..30).
     * @param leaseSeconds the lease time announced, seconds.
     */
    SwitchDhcp(final String cidr, final long leaseSeconds) {
        final int slash = cidr.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("dhcp subnet \"" + cidr + "\": expected ADDRESS/PREFIX");
        }
        final int prefix = Integer.parseInt(cidr.substring(slash + 1));
        if (prefix < 8 || prefix > 30) {
            throw new IllegalArgumentException("dhcp subnet \"" + cidr + "\": prefix length 8..30");
        }
        this.netmask = Addresses.netmask(prefix);
        final int network = Addresses.parseIpv4(cidr.substring(0, slash)) & netmask;
        final int broadcast = network | ~netmask;
        this.server = network + 1;
        final int hosts = broadcast - network - 1;
        this.first = hosts > 200 ? network + 100 : network + 2;
        this.last = hosts > 200 ? network + 199 : broadcast - 1;
        this.leaseSeconds = leaseSeconds;
    }

    /** The server's (and router's) address. */
    int server() {
        return server;
    }

    /** The address leased to {@code mac}, or 0. */
    int leaseOf(final long mac) {
        final long ip = leases.get(mac);
        return ip == -1 ? 0 : (int)ip;
    }

    /**
     * If {@code frame} is a DHCP client message to the server port, write the reply frame into
     * {@code out} (at least 590 bytes).
     *
     * @return the reply's length, or 0 for no reply (not DHCP, malformed, for another server, pool empty).
     */
    int answer(final DirectBuffer frame, final int offset, final int length, final MutableDirectBuffer out) {
        if (length < EthernetFrame.HEADER_LENGTH + Ipv4Packet.HEADER_LENGTH + UDP_HEADER
            || (frame.getShort(offset + EthernetFrame.TYPE_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF) != EthernetFrame.TYPE_IPV4) {
            return 0;
        }
        final int ip = offset + EthernetFrame.HEADER_LENGTH;
        final int ihl = (frame.getByte(ip) & 0x0F) * 4;
        if ((frame.getByte(ip) & 0xF0) != 0x40 || ihl < Ipv4Packet.HEADER_LENGTH
            || frame.getByte(ip + Ipv4Packet.PROTOCOL_OFFSET) != Ipv4Packet.PROTO_UDP
            || (frame.getShort(ip + Ipv4Packet.FRAG_OFFSET, ByteOrder.BIG_ENDIAN) & 0x3FFF) != 0) {
            return 0;
        }
        final int udp = ip + ihl;
        if (udp + UDP_HEADER > offset + length
            || (frame.getShort(udp + 2, ByteOrder.BIG_ENDIAN) & 0xFFFF) != DhcpMessage.SERVER_PORT) {
            return 0;
        }
        final int udpLength = frame.getShort(udp + 4, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        if (udpLength < UDP_HEADER || udp + udpLength > offset + length
            || !request.parse(frame, udp + UDP_HEADER, udpLength - UDP_HEADER) || request.op != DhcpMessage.OP_REQUEST) {
            return 0;
        }
        final long mac = request.chaddr;
        final int type;
        switch (request.messageType) {
            case DhcpMessage.DISCOVER -> {
                if (lease(mac) == 0) {
                    return 0; // pool exhausted: stay silent, the client retries
                }
                type = DhcpMessage.OFFER;
            }
            case DhcpMessage.REQUEST -> {
                if (request.serverId != 0 && request.serverId != server) {
                    return 0; // the client chose another server
                }
                final int wanted = request.requestedIp != 0 ? request.requestedIp : request.ciaddr;
                type = wanted != 0 && wanted == lease(mac) ? DhcpMessage.ACK : DhcpMessage.NAK;
            }
            case DhcpMessage.RELEASE -> {
                final long had = leases.remove(mac);
                if (had != -1) {
                    taken.remove((int)had);
                }
                return 0;
            }
            default -> {
                return 0;
            }
        }
        reply.clear();
        reply.op = DhcpMessage.OP_REPLY;
        reply.xid = request.xid;
        reply.flags = request.flags;
        reply.chaddr = mac;
        reply.messageType = type;
        reply.serverId = server;
        if (type != DhcpMessage.NAK) {
            reply.yiaddr = leaseOf(mac);
            reply.siaddr = server;
            reply.subnetMask = netmask;
            reply.router = server;
            reply.leaseSeconds = leaseSeconds;
        }
        final int payloadAt = EthernetFrame.HEADER_LENGTH + Ipv4Packet.HEADER_LENGTH + UDP_HEADER;
        final int dhcpLength = reply.emit(out, payloadAt);
        UdpDatagram.emit(out, payloadAt - UDP_HEADER, DhcpMessage.SERVER_PORT, DhcpMessage.CLIENT_PORT, dhcpLength,
            server, Addresses.IP_BROADCAST);
        Ipv4Packet.emit(out, EthernetFrame.HEADER_LENGTH, 0, UDP_HEADER + dhcpLength, 0, 0, 64, Ipv4Packet.PROTO_UDP,
            server, Addresses.IP_BROADCAST);
        EthernetFrame.emit(out, 0, Addresses.MAC_BROADCAST, SERVER_MAC, EthernetFrame.TYPE_IPV4);
        return payloadAt + dhcpLength;
    }

    /** The address of {@code mac}, leasing the lowest free one first; 0 when the pool is exhausted. */
    private int lease(final long mac) {
        final long had = leases.get(mac);
        if (had != -1) {
            return (int)had;
        }
        for (int a = first; a <= last; a++) {
            if (!taken.contains(a)) {
                taken.add(a);
                leases.put(mac, a);
                return a;
            }
        }
        return 0;
    }
}
