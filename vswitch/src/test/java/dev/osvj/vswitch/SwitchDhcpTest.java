package dev.osvj.vswitch;

import dev.osvj.net.dhcp.DhcpMessage;
import dev.osvj.net.wire.Addresses;
import dev.osvj.net.wire.EthernetFrame;
import dev.osvj.net.wire.Ipv4Packet;
import dev.osvj.net.wire.UdpDatagram;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The switch's DHCP server on client messages built with the stack's own wire formats. */
class SwitchDhcpTest {
    private static final long MAC_A = 0x5254_0000_000AL;
    private static final long MAC_B = 0x5254_0000_000BL;
    private final SwitchDhcp dhcp = new SwitchDhcp("10.5.0.0/24", 3600);
    private final UnsafeBuffer out = new UnsafeBuffer(new byte[1024]);

    /** A client message of {@code type} from {@code mac}, broadcast, as the stack's client sends it. */
    private static UnsafeBuffer client(final int type, final long mac, final int requested, final int serverId) {
        final byte[] bytes = new byte[600];
        Arrays.fill(bytes, (byte)0xA5);
        final UnsafeBuffer b = new UnsafeBuffer(bytes);
        final DhcpMessage m = new DhcpMessage();
        m.op = DhcpMessage.OP_REQUEST;
        m.xid = 0x1234_5678;
        m.chaddr = mac;
        m.messageType = type;
        m.requestedIp = requested;
        m.serverId = serverId;
        final int at = EthernetFrame.HEADER_LENGTH + Ipv4Packet.HEADER_LENGTH + 8;
        final int n = m.emit(b, at);
        UdpDatagram.emit(b, at - 8, DhcpMessage.CLIENT_PORT, DhcpMessage.SERVER_PORT, n, 0, Addresses.IP_BROADCAST);
        Ipv4Packet.emit(b, EthernetFrame.HEADER_LENGTH, 0, 8 + n, 1, 0, 64, Ipv4Packet.PROTO_UDP, 0, Addresses.IP_BROADCAST);
        EthernetFrame.emit(b, 0, Addresses.MAC_BROADCAST, mac, EthernetFrame.TYPE_IPV4);
        return new UnsafeBuffer(bytes, 0, at + n);
    }

    /** Parse a reply frame: checks the headers and returns the DHCP message. */
    private DhcpMessage reply(final int length) {
        assertEquals(Addresses.MAC_BROADCAST, SwitchCore.mac(out, 0));
        assertEquals(SwitchDhcp.SERVER_MAC, SwitchCore.mac(out, 6));
        assertEquals(Addresses.parseIpv4("10.5.0.1"), out.getInt(14 + Ipv4Packet.SRC_OFFSET, ByteOrder.BIG_ENDIAN));
        assertEquals(Addresses.IP_BROADCAST, out.getInt(14 + Ipv4Packet.DST_OFFSET, ByteOrder.BIG_ENDIAN));
        assertEquals(DhcpMessage.CLIENT_PORT, out.getShort(34 + 2, ByteOrder.BIG_ENDIAN));
        final DhcpMessage m = new DhcpMessage();
        assertEquals(true, m.parse(out, 42, length - 42));
        assertEquals(0x1234_5678, m.xid);
        return m;
    }

    private int answer(final UnsafeBuffer frame) {
        return dhcp.answer(frame, 0, frame.capacity(), out);
    }

    @Test
    void shouldOfferThenAckAnAddressPerMac() {
        final DhcpMessage offer = reply(answer(client(DhcpMessage.DISCOVER, MAC_A, 0, 0)));
        assertEquals(DhcpMessage.OFFER, offer.messageType);
        assertEquals(Addresses.parseIpv4("10.5.0.100"), offer.yiaddr);
        assertEquals(Addresses.parseIpv4("255.255.255.0"), offer.subnetMask);
        assertEquals(Addresses.parseIpv4("10.5.0.1"), offer.router);
        assertEquals(3600, offer.leaseSeconds);
        final DhcpMessage ack = reply(answer(client(DhcpMessage.REQUEST, MAC_A, offer.yiaddr, offer.serverId)));
        assertEquals(DhcpMessage.ACK, ack.messageType);
        assertEquals(offer.yiaddr, ack.yiaddr);
        assertEquals(offer.yiaddr, dhcp.leaseOf(MAC_A));
        final DhcpMessage other = reply(answer(client(DhcpMessage.DISCOVER, MAC_B, 0, 0)));
        assertEquals(Addresses.parseIpv4("10.5.0.101"), other.yiaddr);
        assertEquals(Addresses.parseIpv4("10.5.0.100"), reply(answer(client(DhcpMessage.DISCOVER, MAC_A, 0, 0))).yiaddr,
            "a MAC keeps its address");
    }

    @Test
    void shouldNakAWrongAddressIgnoreOtherServersAndFreeOnRelease() {
        final int wrong = Addresses.parseIpv4("10.5.0.150");
        assertEquals(DhcpMessage.NAK, reply(answer(client(DhcpMessage.REQUEST, MAC_A, wrong, 0))).messageType);
        assertEquals(0, answer(client(DhcpMessage.REQUEST, MAC_A, wrong, Addresses.parseIpv4("10.5.0.2"))));
        assertEquals(0, answer(client(DhcpMessage.RELEASE, MAC_A, 0, 0)));
        assertEquals(0, dhcp.leaseOf(MAC_A));
        assertEquals(Addresses.parseIpv4("10.5.0.100"), reply(answer(client(DhcpMessage.DISCOVER, MAC_B, 0, 0))).yiaddr);
    }

    @Test
    void shouldIgnoreWhatIsNotADhcpRequest() {
        final UnsafeBuffer discover = client(DhcpMessage.DISCOVER, MAC_A, 0, 0);
        discover.putShort(34 + 2, (short)53, ByteOrder.BIG_ENDIAN); // DNS, not DHCP
        assertEquals(0, answer(discover));
        assertEquals(0, dhcp.answer(discover, 0, 20, out), "truncated");
        assertEquals(0, answer(new UnsafeBuffer(new byte[60])));
        assertThrows(IllegalArgumentException.class, () -> new SwitchDhcp("10.0.0.0", 1));
        assertThrows(IllegalArgumentException.class, () -> new SwitchDhcp("10.0.0.0/31", 1));
    }

    @Test
    void shouldLeaseFromASmallSubnetAboveTheServer() {
        final SwitchDhcp small = new SwitchDhcp("192.168.9.0/29", 60);
        final int[] got = new int[6];
        for (int i = 0; i < 6; i++) {
            final UnsafeBuffer d = client(DhcpMessage.DISCOVER, MAC_A + i, 0, 0);
            got[i] = small.answer(d, 0, d.capacity(), out) > 0 ? reply42().yiaddr : 0;
        }
        assertEquals(Addresses.parseIpv4("192.168.9.2"), got[0]);
        assertEquals(Addresses.parseIpv4("192.168.9.6"), got[4]);
        assertEquals(0, got[5], "pool of 5 exhausted");
    }

    private DhcpMessage reply42() {
        final DhcpMessage m = new DhcpMessage();
        m.parse(out, 42, 548);
        return m;
    }
}
