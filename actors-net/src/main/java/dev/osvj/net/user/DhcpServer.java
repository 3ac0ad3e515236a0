package dev.osvj.net.user;

import dev.osvj.net.NetConfig;
import dev.osvj.net.dhcp.DhcpMessage;
import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.SockAddr;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.wire.Addresses;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The user gateway's DHCP server, as small as QEMU's slirp one: a single guest, a single address
 * ({@code osvj.net.user.guest}). DISCOVER gets an OFFER of that address; a REQUEST for it (or a
 * renewal from it) gets an ACK with netmask, router (the gateway) and lease time; a REQUEST for any
 * other address gets a NAK. Replies are broadcast (the guest may not have an address yet). It runs on
 * one thread of its own over the gateway stack's socket API (UDP port 67).
 */
final class DhcpServer implements AutoCloseable {
    /** Receive timeout, so that {@link #close} is noticed. */
    private static final int POLL_MS = 200;

    private final Sockets sockets;
    private final NetConfig.UserNetwork network;
    private final int fd;
    private final Thread thread;
    private volatile boolean closed;

    DhcpServer(final Sockets sockets, final NetInterface ifc, final NetConfig.UserNetwork network, final String name) {
        this.sockets = sockets;
        this.network = network;
        this.fd = sockets.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
        if (fd < 0 || sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_BROADCAST, 1) < 0
            || sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_BINDTODEVICE, ifc.index()) < 0
            || sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, POLL_MS) < 0
            || sockets.bind(fd, 0, DhcpMessage.SERVER_PORT) < 0) {
            throw new IllegalStateException(name + ": cannot open the DHCP server's socket");
        }
        this.thread = Thread.ofPlatform().daemon().name(name).start(this::serve);
    }

    private void serve() {
        final byte[] in = new byte[1500];
        final byte[] out = new byte[576];
        final UnsafeBuffer inView = new UnsafeBuffer(in);
        final UnsafeBuffer outView = new UnsafeBuffer(out);
        final DhcpMessage request = new DhcpMessage();
        final DhcpMessage reply = new DhcpMessage();
        final SockAddr from = new SockAddr();
        while (!closed) {
            final int n = sockets.recvfrom(fd, in, 0, in.length, 0, from);
            if (n < 0 || !request.parse(inView, 0, n) || request.op != DhcpMessage.OP_REQUEST) {
                continue;
            }
            final int length = answer(request, reply, outView);
            if (length > 0) {
                sockets.sendto(fd, out, 0, length, 0, Addresses.IP_BROADCAST, DhcpMessage.CLIENT_PORT);
            }
        }
    }

    /** Build the reply to {@code request} into {@code out}; returns its length, 0 for no reply. */
    int answer(final DhcpMessage request, final DhcpMessage reply, final UnsafeBuffer out) {
        final int type;
        switch (request.messageType) {
            case DhcpMessage.DISCOVER -> type = DhcpMessage.OFFER;
            case DhcpMessage.REQUEST -> {
                final int wanted = request.requestedIp != 0 ? request.requestedIp : request.ciaddr;
                if (request.serverId != 0 && request.serverId != network.gateway()) {
                    return 0; // the client chose another server
                }
                type = wanted == network.guest() ? DhcpMessage.ACK : DhcpMessage.NAK;
            }
            default -> {
                return 0; // RELEASE, DECLINE, INFORM: nothing to do for a one-address pool
            }
        }
        reply.clear();
        reply.op = DhcpMessage.OP_REPLY;
        reply.xid = request.xid;
        reply.flags = request.flags;
        reply.chaddr = request.chaddr;
        reply.messageType = type;
        reply.serverId = network.gateway();
        if (type != DhcpMessage.NAK) {
            reply.yiaddr = network.guest();
            reply.siaddr = network.gateway();
            reply.subnetMask = network.netmask();
            reply.router = network.gateway();
            reply.leaseSeconds = network.lease().toSeconds();
        }
        return reply.emit(out, 0);
    }

    @Override
    public void close() {
        closed = true;
        sockets.close(fd);
        try {
            thread.join(5000);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
