package dev.osvj.net.user;

import dev.osvj.net.NetConfig;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.net.dev.Wire;
import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.stack.StackDriver;
import dev.osvj.net.stack.StackSettings;
import dev.osvj.net.wire.Addresses;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The embedded {@code user} network backend (DESIGN.md §2), QEMU's user-mode networking inside the
 * JVM: the guest's NIC is cabled ({@link #guestEnd}) to a gateway that runs a second osvj
 * {@link NetStack} as the guest's peer on the virtual network (10.0.2.2/24 by default). Because the
 * peer is a real TCP/IP stack, the guest sees real frames: ARP, ICMP echo replies from the gateway,
 * DHCP (the gateway's {@link DhcpServer} leases {@code osvj.net.user.guest}), and TCP.
 *
 * <p>Port forwards ({@code hostfwd}): for each rule the gateway listens on a host loopback TCP port
 * with a JVM socket. Every host connection it accepts is terminated there, and the gateway's stack
 * opens a TCP connection to the guest's address and port; two pump threads (platform threads, one per
 * direction) copy bytes between the host socket and the gateway's socket, and carry half-closes
 * (EOF becomes a FIN the other way). A refused guest connection closes the host connection.
 *
 * <p>Outbound NAT ({@code osvj.net.user.outbound}, {@link OutboundNat}): a guest connection to the
 * gateway's address or to 127.0.0.0/8 (and with {@code any} to every other address) is terminated by
 * the gateway and made from the host instead, to the host's loopback for the gateway address, as
 * QEMU's slirp and passt do. The host connection comes first: the guest's SYN is answered only once it
 * succeeded, and refused when it failed. UDP datagrams are relayed through a host datagram socket per
 * guest flow.
 *
 * <p>Threads: the gateway is the "hypervisor" side, outside the guest's vCPUs: one {@link StackDriver}
 * thread drives its stack (receive, timers), one thread accepts per forward, one serves DHCP, one
 * accepts the outbound NAT's connections, and two platform threads pump each forwarded or outbound
 * connection (plus a virtual thread per outbound UDP flow). The pumps are platform threads on
 * purpose: a pump is a hop on every request/response, and a virtual pump woken by the stack (or by
 * the JDK's I/O poller for its host socket) needs a free carrier of the JDK's 2-thread scheduler on a
 * 2-core host, where it queues behind the vCPUs' carriers; measured on such a host, platform pumps
 * roughly doubled request/response throughput through the gateway (bench net {@code rr.user_*},
 * bench apps {@code memcached.ratio_vs_native}) and halved its median latency. The guest end is polled by whoever carries the frames
 * (the virtio-net device's backend thread through the system module's glue).
 *
 * <p>Not implemented: UDP forwards from the host, DNS, ICMP to the host.
 */
public final class UserGateway implements AutoCloseable {
    /** Bytes one pump moves per call: a buffer per direction per connection, none per packet. */
    static final int PUMP_CHUNK = 64 * 1024;
    /**
     * SO_SNDBUF and SO_RCVBUF of the gateway's own sockets (both ends of every carried connection). The
     * gateway is a proxy on the host, not a guest: with the stack's defaults (32 KiB to send) a bulk
     * transfer to the guest was limited to one send buffer per round trip of the in-JVM path; 1 MiB
     * keeps the guest's window, not the gateway, the limit (passt sizes its buffers the same way).
     */
    static final int SOCKET_BUFFER = 1 << 20;

    private final String name;
    private final NetConfig.UserNetwork network;
    private final NetStack stack;
    private final Wire wire;
    private final StackDriver driver;
    private final DhcpServer dhcp;
    private final OutboundNat nat;
    private final List<Forward> forwards = new ArrayList<>();
    private final ConcurrentHashMap<SocketChannel, Integer> open = new ConcurrentHashMap<>();
    private final AtomicLong accepted = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private volatile boolean closed;

    /** One listening forward: the rule and the host address it is bound to (the real port for port 0). */
    public record Forward(NetConfig.HostForward rule, InetSocketAddress bound, ServerSocketChannel channel) {
        @Override
        public String toString() {
            return "tcp:" + bound.getAddress().getHostAddress() + ":" + bound.getPort() + "-"
                + (rule.guestAddress() == 0 ? "" : Addresses.ipv4(rule.guestAddress())) + ":" + rule.guestPort();
        }
    }

    private UserGateway(final String name, final NetConfig.UserNetwork network, final int mtu) {
        this.name = name;
        this.network = network;
        this.stack = new NetStack(StackSettings.defaults(), System::nanoTime);
        this.wire = new Wire(mtu);
        final NetInterface ifc = stack.addInterface(wire.a(), false, network.gateway(), network.netmask(), 0);
        this.driver = new StackDriver(stack, name + "-gw");
        this.dhcp = new DhcpServer(stack.sockets(), ifc, network, name + "-dhcp");
        this.nat = NetConfig.UserNetwork.OUTBOUND_OFF.equals(network.outbound()) ? null
            : new OutboundNat(name, stack, network, this::pump);
    }

    /**
     * Start a gateway for the guest NIC of interface {@code name}: its stack, DHCP server and the
     * listening host sockets of {@code forwards}.
     *
     * @throws IOException when a host port cannot be bound (already in use...): a configuration error.
     */
    public static UserGateway start(final String name, final NetConfig.UserNetwork network, final int mtu,
        final List<NetConfig.HostForward> forwards) throws IOException {
        final UserGateway g = new UserGateway(name, network, mtu);
        try {
            for (final NetConfig.HostForward f : forwards) {
                g.listen(f);
            }
        } catch (final IOException | RuntimeException e) {
            g.close();
            throw e;
        }
        return g;
    }

    private void listen(final NetConfig.HostForward rule) throws IOException {
        final ServerSocketChannel server = ServerSocketChannel.open();
        try {
            server.bind(new InetSocketAddress(rule.hostAddress(), rule.hostPort()));
        } catch (final IOException e) {
            server.close();
            throw new IOException(name + ": hostfwd " + rule + ": cannot listen on " + rule.hostAddress() + ":"
                + rule.hostPort() + ": " + e.getMessage(), e);
        }
        final Forward f = new Forward(rule, (InetSocketAddress)server.getLocalAddress(), server);
        forwards.add(f);
        Thread.ofPlatform().daemon().name(name + "-hostfwd-" + f.bound().getPort()).start(() -> acceptLoop(f));
    }

    private void acceptLoop(final Forward f) {
        while (!closed) {
            final SocketChannel host;
            try {
                host = f.channel().accept();
            } catch (final IOException e) {
                return; // closed
            }
            accepted.incrementAndGet();
            try {
                host.socket().setTcpNoDelay(true);
            } catch (final IOException e) {
                // the connection is already gone; the pumps will see it
            }
            Thread.ofPlatform().daemon().name(name + "-fwd-connect").start(() -> carry(f, host));
        }
    }

    /** Connect the gateway's stack to the guest for one host connection, then pump both ways. */
    private void carry(final Forward f, final SocketChannel host) {
        final Sockets sockets = stack.sockets();
        final int fd = sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        if (fd < 0) {
            closeQuietly(host);
            return;
        }
        final int guest = f.rule().guestAddress() != 0 ? f.rule().guestAddress() : network.guest();
        tune(sockets, fd);
        if (sockets.connect(fd, guest, f.rule().guestPort()) < 0) {
            refused.incrementAndGet();
            closeQuietly(host);
            sockets.close(fd);
            return;
        }
        pump(host, fd);
    }

    /**
     * Tune a gateway socket before connect or listen (the SYN carries the window scale): buffers of
     * {@link #SOCKET_BUFFER} both ways, and TCP_NODELAY, because a proxy must not hold back what the
     * sender already chose to send (Nagle here, meeting the guest's delayed ACK, would stall small
     * writes for up to 40 ms).
     */
    static void tune(final Sockets sockets, final int fd) {
        sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_SNDBUF, SOCKET_BUFFER);
        sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVBUF, SOCKET_BUFFER);
        sockets.setsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1);
    }

    /**
     * Copy bytes both ways between a host connection and a connected socket of the gateway's stack until
     * both directions are closed (a hostfwd connection or an outbound NAT one), then close both. Runs on
     * the calling (virtual) thread plus one more for the host-to-guest direction.
     */
    void pump(final SocketChannel host, final int fd) {
        final Sockets sockets = stack.sockets();
        try {
            open.put(host, fd);
            final Thread toGuest = Thread.ofPlatform().daemon().name(name + "-fwd-in").start(() -> hostToGuest(host, fd));
            guestToHost(fd, host);
            toGuest.join();
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            open.remove(host);
            closeQuietly(host);
            sockets.close(fd);
        }
    }

    private void hostToGuest(final SocketChannel host, final int fd) {
        final Sockets sockets = stack.sockets();
        final byte[] chunk = new byte[PUMP_CHUNK];
        final ByteBuffer buf = ByteBuffer.wrap(chunk);
        try {
            while (true) {
                buf.clear();
                final int n = host.read(buf);
                if (n < 0) {
                    sockets.shutdown(fd, Sockets.SHUT_WR); // host EOF: FIN to the guest
                    return;
                }
                int sent = 0;
                while (sent < n) {
                    final int w = sockets.send(fd, chunk, sent, n - sent, 0);
                    if (w < 0) {
                        closeQuietly(host);
                        return;
                    }
                    sent += w;
                }
            }
        } catch (final IOException e) {
            sockets.shutdown(fd, Sockets.SHUT_RDWR);
        }
    }

    private void guestToHost(final int fd, final SocketChannel host) {
        final Sockets sockets = stack.sockets();
        final byte[] chunk = new byte[PUMP_CHUNK];
        try {
            while (true) {
                final int n = sockets.recv(fd, chunk, 0, chunk.length, 0);
                if (n == 0) {
                    host.shutdownOutput(); // guest FIN: EOF to the host client
                    return;
                }
                if (n < 0) {
                    closeQuietly(host); // reset or error
                    return;
                }
                final ByteBuffer buf = ByteBuffer.wrap(chunk, 0, n);
                while (buf.hasRemaining()) {
                    host.write(buf);
                }
            }
        } catch (final IOException e) {
            sockets.shutdown(fd, Sockets.SHUT_RDWR);
        }
    }

    private static void closeQuietly(final SocketChannel c) {
        try {
            c.close();
        } catch (final IOException e) {
            // already gone
        }
    }

    /**
     * The guest NIC's end of the cable: {@link NetDevice#transmit} takes a frame the guest sent (copied
     * into the gateway's receive ring), {@link NetDevice#poll} hands out the frames the gateway sends
     * to the guest (views valid during the call). One poller at a time.
     */
    public NetDevice guestEnd() {
        return wire.b();
    }

    /** The gateway's own stack (ifconfig-style statistics, tests). */
    public NetStack stack() {
        return stack;
    }

    public List<Forward> forwards() {
        return List.copyOf(forwards);
    }

    /** Host connections accepted, and those the guest refused. */
    public long accepted() {
        return accepted.get();
    }

    public long refused() {
        return refused.get();
    }

    /** "user 10.0.2.2/24, dhcp 10.0.2.15, outbound host, hostfwd tcp:127.0.0.1:8007-:7", for lsdev and boot notes. */
    public String describe() {
        final StringBuilder b = new StringBuilder("user ").append(Addresses.ipv4(network.gateway())).append('/')
            .append(Addresses.prefixLength(network.netmask())).append(", dhcp ").append(Addresses.ipv4(network.guest()))
            .append(", outbound ").append(network.outbound());
        for (final Forward f : forwards) {
            b.append(", hostfwd ").append(f);
        }
        return b.toString();
    }

    @Override
    public void close() {
        closed = true;
        for (final Forward f : forwards) {
            try {
                f.channel().close();
            } catch (final IOException e) {
                // ignore
            }
        }
        for (final SocketChannel c : open.keySet()) {
            closeQuietly(c);
        }
        if (nat != null) {
            nat.close();
        }
        dhcp.close();
        driver.close();
    }
}
