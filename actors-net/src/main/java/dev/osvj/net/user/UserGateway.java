package dev.osvj.net.user;

import dev.osvj.net.NetConfig;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.net.dev.RingDevice;
import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.stack.StackSettings;
import dev.osvj.net.wire.Addresses;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * The embedded {@code user} network backend (DESIGN.md §2), QEMU's user-mode networking inside the
 * JVM: the guest's NIC is cabled ({@link #guestEnd}) to a gateway that runs a second osvj
 * {@link NetStack} as the guest's peer on the virtual network (10.0.2.2/24 by default). Because the
 * peer is a real TCP/IP stack, the guest sees real frames: ARP, ICMP echo replies from the gateway,
 * DHCP (the gateway's {@link DhcpServer} leases {@code osvj.net.user.guest}), and TCP.
 *
 * <p>Port forwards ({@code hostfwd}): for each rule the gateway listens on a host loopback TCP port
 * with a JVM socket. Every host connection it accepts is terminated there, and the gateway's stack
 * opens a (non-blocking) TCP connection to the guest's address and port; bytes, half-closes (EOF
 * becomes a FIN the other way) and resets are carried both ways with backpressure (see
 * {@link HostLoop}). A refused guest connection closes the host connection.
 *
 * <p>Outbound NAT ({@code osvj.net.user.outbound}, {@link OutboundNat}): a guest connection to the
 * gateway's address or to 127.0.0.0/8 (and with {@code any} to every other address) is terminated by
 * the gateway and made from the host instead, to the host's loopback for the gateway address, as
 * QEMU's slirp and passt do. The host connection comes first: the guest's SYN is answered only once it
 * succeeded, and refused when it failed. UDP datagrams are relayed through a host datagram socket per
 * guest flow.
 *
 * <p>Threads, passt's way: one event loop ({@link HostLoop}, a platform thread with a selector) reads
 * every host socket, sends into the gateway's stack, processes the guest's frames and runs the
 * stack's timers, driven by readiness (the selector, and the gateway sockets' readiness callbacks);
 * there is no thread per connection or direction. Guest frames reach it through {@link GuestLink}:
 * processed right on the thread that transmits them ({@link #INLINE_RECEIVE}: the guest driver's own
 * thread when the virtio-net device transmits inline, see {@code FrameTransport.transmitsInline}), or
 * queued for the loop when the loop is busy with the stack; either way the reply a frame makes
 * readable is written to its host socket by the thread that processed the frame, with no further
 * hand-off. Frames the gateway sends the guest go straight into the guest's receive queue from the
 * sending thread when the guest NIC gave a {@link GuestReceiver} ({@link #directReceive}). A
 * request/response through a forward then wakes the loop once (the client's request: it writes the
 * request into the guest's queue and interrupts the guest) and the client once (the guest's reply,
 * written to the host socket by the guest's transmitting thread), where the first design woke pump A,
 * the stack's driver thread, pump B and the client, and session 4's woke the loop twice and the
 * device's backend thread twice. With {@code osvj.net.user.vcpu-select} (the default since session 9) an
 * idle vCPU selects instead of the loop thread, and between selects the guest's transmitting threads poll
 * the host sockets (see {@link HostLoop}): a request wakes the selecting vCPU's carrier (or none, when a
 * transmitting thread's poll takes it in), plus the other vCPU if the guest thread that serves it runs
 * there, and the reply wakes the client; no gateway thread. Besides the loop: one thread serves DHCP, one accepts the outbound NAT's connections
 * (then carried by the loop), and a virtual thread per outbound UDP flow.
 *
 * <p>Not implemented: UDP forwards from the host, DNS, ICMP to the host.
 */
public final class UserGateway implements AutoCloseable {
    /**
     * SO_SNDBUF and SO_RCVBUF of the gateway's own sockets (both ends of every carried connection). The
     * gateway is a proxy on the host, not a guest: with the stack's defaults (32 KiB to send) a bulk
     * transfer to the guest was limited to one send buffer per round trip of the in-JVM path; 1 MiB
     * keeps the guest's window, not the gateway, the limit (passt sizes its buffers the same way).
     */
    static final int SOCKET_BUFFER = 1 << 20;

    /**
     * How guest frames reach the gateway's stack ({@link GuestLink}): true, inline on the thread that
     * transmits them (the virtio-net device's backend thread, which then also writes the reply to the
     * host socket); false, queued for the gateway's loop (one hand-off; the device thread only copies and
     * stays free for the guest's other frames). Measured with {@code bin/osvj bench apps --quick} on the
     * shared 2-core host (load 3-20, 4 connections, alternating runs; one run swings 2x): queued 14.2k,
     * 10.2k, 15.2k, 16.5k ops/s (p50 143-162 us); inline 14.0k, 14.1k, 5.5k, 13.4k (p50 133-168 us, more
     * spread: with four connections in flight the device thread is the path's one serial stage, and inline
     * it also carries the gateway's TCP and the host writes). The old pump threads gave 5.4k-20.7k (p50
     * 140-214 us) over the same period: the end-to-end difference is within this host's noise, the
     * guest side dominates (tap alone: p50 65-85 us). Queued was the default then. Session 5 made the
     * inline mode never wait (the stack lock is only tried; a busy loop gets the frame queued) so that it
     * can run on the guest driver's kernel thread, where it removes the device thread's wake-up and the
     * loop's from the reply path: inline is the default since (numbers in the closing note).
     */
    static final boolean INLINE_RECEIVE = true;

    private final String name;
    private final NetConfig.UserNetwork network;
    private final NetStack stack;
    private final GuestLink link;
    private final HostLoop loop;
    private final DhcpServer dhcp;
    private final OutboundNat nat;
    private final List<Forward> forwards = new ArrayList<>();

    /** One listening forward: the rule and the host address it is bound to (the real port for port 0). */
    public record Forward(NetConfig.HostForward rule, InetSocketAddress bound, ServerSocketChannel channel) {
        @Override
        public String toString() {
            return "tcp:" + bound.getAddress().getHostAddress() + ":" + bound.getPort() + "-"
                + (rule.guestAddress() == 0 ? "" : Addresses.ipv4(rule.guestAddress())) + ":" + rule.guestPort();
        }
    }

    private UserGateway(final String name, final NetConfig.UserNetwork network, final int mtu,
        final boolean inlineReceive) throws IOException {
        this.name = name;
        this.network = network;
        this.stack = new NetStack(StackSettings.defaults(), System::nanoTime);
        this.link = new GuestLink(mtu, inlineReceive);
        final NetInterface ifc = stack.addInterface(link.gatewayEnd(), false, network.gateway(), network.netmask(), 0);
        this.loop = new HostLoop(name, stack, link, network.vcpuSelect());
        this.dhcp = new DhcpServer(stack.sockets(), ifc, network, name + "-dhcp");
        this.nat = NetConfig.UserNetwork.OUTBOUND_OFF.equals(network.outbound()) ? null
            : new OutboundNat(name, stack, network, loop::adopt);
    }

    /**
     * Start a gateway for the guest NIC of interface {@code name}: its stack, DHCP server and the
     * listening host sockets of {@code forwards}.
     *
     * @throws IOException when a host port cannot be bound (already in use...): a configuration error.
     */
    public static UserGateway start(final String name, final NetConfig.UserNetwork network, final int mtu,
        final List<NetConfig.HostForward> forwards) throws IOException {
        return start(name, network, mtu, forwards, INLINE_RECEIVE);
    }

    /** {@link #start} with the guest frames' receive mode chosen (tests run both; see {@link #INLINE_RECEIVE}). */
    static UserGateway start(final String name, final NetConfig.UserNetwork network, final int mtu,
        final List<NetConfig.HostForward> forwards, final boolean inlineReceive) throws IOException {
        final UserGateway g = new UserGateway(name, network, mtu, inlineReceive);
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
        final int guest = rule.guestAddress() != 0 ? rule.guestAddress() : network.guest();
        loop.listen(server, new HostLoop.Target(guest, rule.guestPort()));
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
     * The guest NIC's receive entry (its device's direct receive, e.g. {@code VirtioNetDevice.offerRx}),
     * for the frames the gateway sends the guest: they are written straight into the guest's receive
     * queue by the gateway's sending thread; whatever it does not take goes through {@link #guestEnd()}'s
     * poll as before, in order (see {@link GuestLink}). Implementations copy the frame before returning,
     * never block when {@code mayWait} is false, and return one of the constants.
     */
    @FunctionalInterface
    public interface GuestReceiver {
        /** The frame is in the guest's receive queue (or dropped and counted by the NIC, as a NIC drops). */
        int TAKEN = 0;
        /** The guest has no receive buffer posted. */
        int NO_ROOM = 1;
        /** The NIC is down (not started, reset). */
        int DOWN = 2;
        /** {@code mayWait} was false and the NIC is busy receiving on another thread. */
        int BUSY = 3;

        int offer(org.agrona.DirectBuffer buffer, int offset, int length, boolean mayWait);
    }

    /** Set (or clear with null) the guest NIC's direct receive entry; any time, any thread. */
    public void directReceive(final GuestReceiver receiver) {
        link.directReceive(receiver);
    }

    /**
     * True when guest frames are processed on the thread that transmits them (see {@link GuestLink}):
     * that thread may be a kernel thread; the gateway never blocks it.
     */
    public boolean inlineReceive() {
        return link.inlineMode();
    }

    /**
     * Counters for lsdev and the benchmarks: "guest_frames_inline=.. guest_frames_queued=..
     * to_guest_direct=.. to_guest_ring=.. loop_wakeups=.. loop_rounds=.. stack_lock_waits=.. loop_handoffs=.. interest_changes=..".
     * {@code stack_lock_waits}: the loop waited for the stack lock; {@code loop_handoffs}: it read a host
     * request while an inline transmitter held that lock and left the bytes to it instead of waiting.
     * With vCPU waits ({@code osvj.net.user.vcpu-select}): {@code vcpu_selects}, rounds of idle vCPUs as the
     * selector; {@code transmit_polls}, non-blocking host polls of inline transmitters that found nobody
     * selecting, and {@code transmit_poll_keys}, the host sockets they served; {@code poller_waits}, vCPUs
     * that found such a poll holding the selector and waited for it.
     */
    public String counters() {
        return "guest_frames_inline=" + link.framesInline() + " guest_frames_queued=" + link.framesQueued()
            + " to_guest_direct=" + link.toGuestDirect() + " to_guest_ring=" + link.toGuestRing()
            + " loop_wakeups=" + loop.wakeups() + " loop_rounds=" + loop.rounds() + " vcpu_selects=" + loop.vcpuWaits()
            + " loop_takeovers=" + loop.takeovers() + " loop_unparks=" + loop.loopUnparks() + " stack_lock_waits="
            + link.stackWaits() + " loop_handoffs=" + loop.handoffs()
            + " interest_changes=" + loop.interestChanges() + " transmit_polls=" + loop.transmitPolls()
            + " transmit_poll_keys=" + loop.transmitPollKeys() + " poller_waits=" + loop.pollerWaits();
    }

    /** The cable to the guest (tests: stand in for an inline transmitter holding the stack lock). */
    GuestLink link() {
        return link;
    }

    /**
     * The guest NIC's end of the cable: {@link NetDevice#transmit} runs a frame the guest sent through
     * the gateway at once, on the calling thread (see {@link GuestLink}), {@link NetDevice#poll} hands
     * out the frames the gateway sends to the guest (views valid during the call). One poller at a time;
     * {@link RingDevice#mayHaveFrames} tells it whether a poll may find anything.
     */
    public RingDevice guestEnd() {
        return link.guestEnd();
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
        return loop.accepted();
    }

    public long refused() {
        return loop.refused();
    }

    /** Host connections carried now (forwards and outbound NAT). */
    public int carried() {
        return loop.relays();
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

    /**
     * What idle vCPUs wait in when {@code osvj.net.user.vcpu-select} is on (the gateway's selector, see
     * {@link HostLoop}): install it with {@code Scheduler.setHaltWait}; null when it is off.
     */
    public dev.osvj.sched.HaltWait haltWait() {
        return loop.haltWait();
    }

    /** The gateway loop's and its relays' state, then the gateway stack's connections (diagnostics). */
    public List<String> debugState() {
        final List<String> out = new ArrayList<>(loop.describe());
        out.addAll(stack.connectionDebug());
        return out;
    }

    @Override
    public void close() {
        if (nat != null) {
            nat.close();
        }
        loop.close(); // closes the forwards' listeners and every carried connection
        for (final Forward f : forwards) {
            try {
                f.channel().close();
            } catch (final IOException e) {
                // ignore
            }
        }
        dhcp.close();
    }
}
