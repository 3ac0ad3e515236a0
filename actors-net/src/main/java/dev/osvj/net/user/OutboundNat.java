package dev.osvj.net.user;

import dev.osvj.net.NetConfig;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.NetStack.FlowKey;
import dev.osvj.net.stack.SockAddr;
import dev.osvj.net.stack.Sockets;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;

/**
 * The user gateway's outbound NAT (QEMU slirp's and passt's "guest to host" direction): guest TCP
 * connections and UDP datagrams that no socket of the gateway's stack claims are made from the host
 * instead, as the {@link NetStack.OutboundGate} of the gateway's stack.
 *
 * <p>Destinations ({@code osvj.net.user.outbound}): the gateway's address is the host's loopback
 * (127.0.0.1), 127.0.0.0/8 is itself (a guest without a loopback interface routes it to the gateway),
 * and with {@code any} every other unicast address is connected to as it is. Everything else is
 * refused: a RST for TCP, ICMP port unreachable for UDP.
 *
 * <p>TCP, host first: the guest's SYN starts a host connect on a virtual thread and is held by the
 * stack ({@link NetStack.OutboundGate#WAIT}); when the connect ends the stack runs the held SYN again
 * ({@link NetStack#resumeConnectionRequest}) and this gate answers ADMIT (the stack's transparent
 * listener answers the SYN) or REFUSE (a RST, so the guest's {@code connect()} fails with
 * ECONNREFUSED, as it would against the host). The acceptor thread pairs each accepted guest socket
 * with its host connection by 4-tuple and hands both to the gateway's event loop ({@link HostLoop}). A host connection the
 * guest never completes is closed after {@link #UNCLAIMED_NS}.
 *
 * <p>UDP: one host datagram socket per guest flow (source and destination address and port), connected
 * to the mapped host address; a virtual thread reads the host's replies and the stack sends them to the
 * guest from the address the guest sent to. A flow idle for {@link #UDP_IDLE_NS} is closed.
 *
 * <p>Threads: {@link #connectionRequest} and {@link #datagram} run on the gateway stack's receive
 * context and never block (a host datagram send to a connected socket does not wait in practice).
 */
final class OutboundNat implements NetStack.OutboundGate, AutoCloseable {
    /** How long a host connect may take before the guest's connection is refused. */
    static final int CONNECT_TIMEOUT_MS = 10_000;
    /** A host connection whose guest side never completed its handshake is closed after this. */
    static final long UNCLAIMED_NS = 30_000_000_000L;
    /** An outbound UDP flow with no datagram either way for this long is closed (Linux's conntrack: 120 s). */
    static final long UDP_IDLE_NS = 120_000_000_000L;
    /** Outstanding TCP connects and UDP flows at most; beyond it new ones are refused. */
    static final int MAX_FLOWS = 4096;
    private static final int CONNECTING = 0;
    private static final int READY = 1;
    private static final int REFUSED = 2;

    /** A host connect for one guest SYN. */
    private static final class Pending {
        final long createdNs = System.nanoTime();
        volatile int state = CONNECTING;
        volatile SocketChannel host;
    }

    /** One outbound UDP flow: its host socket and when it last carried a datagram. */
    private static final class UdpFlow {
        final DatagramSocket host;
        volatile long lastActiveNs = System.nanoTime();

        UdpFlow(final DatagramSocket host) {
            this.host = host;
        }
    }

    private final String name;
    private final NetStack stack;
    private final NetConfig.UserNetwork network;
    private final BiConsumer<SocketChannel, Integer> pump;
    private final ConcurrentHashMap<FlowKey, Pending> pending = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<FlowKey, UdpFlow> udp = new ConcurrentHashMap<>();
    private final int listenFd;
    private final Thread acceptor;
    private volatile boolean closed;

    /**
     * @param pump takes over one accepted connection (host side, guest-side descriptor of {@code stack})
     *     and carries it until both directions closed; must not block (the gateway's event loop adopts it).
     */
    OutboundNat(final String name, final NetStack stack, final NetConfig.UserNetwork network,
        final BiConsumer<SocketChannel, Integer> pump) {
        this.name = name;
        this.stack = stack;
        this.network = network;
        this.pump = pump;
        final Sockets sockets = stack.sockets();
        this.listenFd = sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        if (listenFd < 0 || sockets.setsockopt(listenFd, Sockets.SOL_IP, Sockets.IP_TRANSPARENT, 1) < 0
            || sockets.setsockopt(listenFd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 1000) < 0
            || sockets.listen(listenFd, 4096) < 0) {
            throw new IllegalStateException(name + ": cannot open the outbound NAT's listener");
        }
        UserGateway.tune(sockets, listenFd); // accepted connections inherit buffers and TCP_NODELAY
        stack.setOutboundGate(this);
        this.acceptor = Thread.ofPlatform().daemon().name(name + "-nat").start(this::acceptLoop);
    }

    /** The host address a guest destination maps to, or null when the policy refuses it. */
    InetAddress hostAddress(final int dst) {
        final String policy = network.outbound();
        if (NetConfig.UserNetwork.OUTBOUND_OFF.equals(policy)) {
            return null;
        }
        final int top = dst >>> 24;
        final int mapped;
        if (dst == network.gateway()) {
            mapped = 0x7F000001;
        } else if (top == 127) {
            mapped = dst;
        } else if (NetConfig.UserNetwork.OUTBOUND_ANY.equals(policy) && dst != network.guest() && top != 0
            && top < 224 && dst != (network.gateway() | ~network.netmask())) {
            mapped = dst;
        } else {
            return null;
        }
        try {
            return InetAddress.getByAddress(new byte[] {(byte)(mapped >>> 24), (byte)(mapped >>> 16),
                (byte)(mapped >>> 8), (byte)mapped});
        } catch (final UnknownHostException e) {
            throw new IllegalStateException(e); // four bytes are always an address
        }
    }

    // ----- TCP ---------------------------------------------------------------------------------

    @Override
    public int connectionRequest(final int src, final int srcPort, final int dst, final int dstPort) {
        if (closed) {
            return REFUSE;
        }
        final FlowKey key = new FlowKey(src, srcPort, dst, dstPort);
        Pending p = pending.get(key);
        if (p == null) {
            final InetAddress host = hostAddress(dst);
            if (host == null || pending.size() >= MAX_FLOWS) {
                return REFUSE;
            }
            p = new Pending();
            if (pending.putIfAbsent(key, p) != null) {
                return WAIT; // a retransmitted SYN raced with the first one
            }
            final Pending started = p;
            Thread.ofVirtual().name(name + "-nat-connect").start(
                () -> connect(key, started, new InetSocketAddress(host, dstPort)));
            return WAIT;
        }
        return switch (p.state) {
            case READY -> ADMIT;
            case REFUSED -> {
                pending.remove(key, p);
                yield REFUSE;
            }
            default -> WAIT;
        };
    }

    private void connect(final FlowKey key, final Pending p, final InetSocketAddress address) {
        SocketChannel host = null;
        try {
            host = SocketChannel.open();
            host.socket().connect(address, CONNECT_TIMEOUT_MS);
            host.socket().setTcpNoDelay(true);
            p.host = host;
            p.state = READY;
        } catch (final IOException e) {
            closeQuietly(host);
            p.state = REFUSED;
        }
        if (closed) {
            closeQuietly(p.host);
            return;
        }
        stack.resumeConnectionRequest(key);
    }

    private void acceptLoop() {
        final Sockets sockets = stack.sockets();
        final SockAddr peer = new SockAddr();
        final SockAddr local = new SockAddr();
        long lastSweep = System.nanoTime();
        while (!closed) {
            final int fd = sockets.accept(listenFd, peer); // EAGAIN after a second without connections
            if (System.nanoTime() - lastSweep > 1_000_000_000L) {
                sweep();
                lastSweep = System.nanoTime();
            }
            if (fd < 0) {
                continue;
            }
            sockets.getsockname(fd, local);
            final Pending p = pending.remove(new FlowKey(peer.ip, peer.port, local.ip, local.port));
            final SocketChannel host = p == null ? null : p.host;
            if (host == null) {
                sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_LINGER, 0); // RST: nobody to carry it to
                sockets.close(fd);
                continue;
            }
            pump.accept(host, fd); // the gateway's event loop carries it from now on (non-blocking hand-over)
        }
    }

    /** Close host connections the guest never completed (idle UDP flows close themselves). */
    private void sweep() {
        final long now = System.nanoTime();
        pending.entrySet().removeIf(e -> {
            final Pending p = e.getValue();
            if (p.state != CONNECTING && now - p.createdNs > UNCLAIMED_NS) {
                closeQuietly(p.host);
                return true;
            }
            return false;
        });
    }

    // ----- UDP ---------------------------------------------------------------------------------

    @Override
    public boolean datagram(final int src, final int srcPort, final int dst, final int dstPort,
        final DirectBuffer payload, final int offset, final int length) {
        if (closed || dstPort == 0) {
            return false;
        }
        final FlowKey key = new FlowKey(src, srcPort, dst, dstPort);
        UdpFlow f = udp.get(key);
        if (f == null) {
            final InetAddress host = hostAddress(dst);
            if (host == null || udp.size() >= MAX_FLOWS) {
                return false;
            }
            try {
                final DatagramSocket socket = new DatagramSocket();
                socket.connect(host, dstPort);
                f = new UdpFlow(socket);
            } catch (final IOException e) {
                return false;
            }
            udp.put(key, f);
            final UdpFlow started = f;
            Thread.ofVirtual().name(name + "-nat-udp").start(() -> relayReplies(key, started));
        }
        final byte[] copy = new byte[length];
        payload.getBytes(offset, copy);
        try {
            f.host.send(new DatagramPacket(copy, length));
            f.lastActiveNs = System.nanoTime();
        } catch (final IOException e) {
            // the host refused it (no listener: ICMP unreachable on the host side); UDP may drop
        }
        return true;
    }

    /** The host's replies of one flow go back to the guest, from the address the guest sent to. */
    private void relayReplies(final FlowKey key, final UdpFlow f) {
        final byte[] buffer = new byte[65_535];
        final UnsafeBuffer view = new UnsafeBuffer(buffer);
        final DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
        try {
            f.host.setSoTimeout(1000);
            while (!closed && !f.host.isClosed()) {
                try {
                    packet.setLength(buffer.length);
                    f.host.receive(packet);
                } catch (final SocketTimeoutException e) {
                    if (System.nanoTime() - f.lastActiveNs > UDP_IDLE_NS) {
                        return; // idle: the finally closes the flow
                    }
                    continue;
                } catch (final java.net.PortUnreachableException e) {
                    continue; // an earlier datagram found no host listener
                }
                f.lastActiveNs = System.nanoTime();
                stack.sendDatagram(key.dst(), key.dstPort(), key.src(), key.srcPort(), view, 0, packet.getLength());
            }
        } catch (final IOException e) {
            // closed by close()
        } finally {
            udp.remove(key, f);
            f.host.close();
        }
    }

    private static void closeQuietly(final SocketChannel c) {
        if (c != null) {
            try {
                c.close();
            } catch (final IOException e) {
                // already gone
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        stack.setOutboundGate(null);
        stack.sockets().close(listenFd);
        try {
            acceptor.join(5000);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pending.values().forEach(p -> closeQuietly(p.host));
        pending.clear();
        udp.values().forEach(f -> f.host.close());
        udp.clear();
    }
}
