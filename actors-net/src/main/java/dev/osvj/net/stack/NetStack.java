package dev.osvj.net.stack;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.pcap.PcapWriter;
import dev.osvj.net.channel.FlowTable;
import dev.osvj.net.channel.NetChannel;
import dev.osvj.net.channel.PacketBuffer;
import dev.osvj.net.channel.PacketPool;
import dev.osvj.net.dev.FrameHandler;
import dev.osvj.net.dev.LoopbackDevice;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.net.ip.ArpCache;
import dev.osvj.net.ip.Reassembler;
import dev.osvj.net.ip.RouteTable;
import dev.osvj.net.stack.NetCounters.Counter;
import dev.osvj.net.tcp.IsnGenerator;
import dev.osvj.net.tcp.SipHash;
import dev.osvj.net.tcp.SynCookies;
import dev.osvj.net.tcp.TcpConfig;
import dev.osvj.net.tcp.TcpConnection;
import dev.osvj.net.tcp.TcpState;
import dev.osvj.net.wire.Addresses;
import dev.osvj.net.wire.ArpPacket;
import dev.osvj.net.wire.Checksum;
import dev.osvj.net.wire.EthernetFrame;
import dev.osvj.net.wire.IcmpPacket;
import dev.osvj.net.wire.Ipv4Packet;
import dev.osvj.net.wire.TcpRepr;
import dev.osvj.net.wire.TcpSegment;
import dev.osvj.net.wire.UdpDatagram;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.ManyToManyConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * One TCP/IP stack instance: interfaces, ARP, IPv4 routing and reassembly, ICMP, UDP and TCP demux, the
 * net-channel classifier, and the layered receive stage. Sockets are reached through {@link Sockets}.
 *
 * <p>Receive paths. Devices deliver frames on their receive context ({@link #pollInterface}).
 * <ul>
 *   <li>Net channels ({@code netChannels = true}, OSv's design): {@link #classify} takes IPv4 TCP
 *       segments of established flows that are not fragments and carry no SYN, FIN or RST, copies each
 *       into a {@link PacketBuffer}, pushes it into the flow's {@link NetChannel} and wakes the consumer
 *       once per batch: the application thread if one waits or polls, else the flow's net-channel actor
 *       through {@link FlowWaker}. Everything else (ARP, ICMP, UDP, control segments, unknown flows, a
 *       full ring) takes the general path right there on the receive context.</li>
 *   <li>Layered ({@code netChannels = false}): every frame is copied into the receive stage's queue and
 *       processed by {@link #runReceiveStage} on the stage's own context, with protocol processing
 *       under the socket locks, as in a traditional stack's softirq.</li>
 * </ul>
 *
 * <p>Checksum offload: a frame the device vouches for ({@link FrameHandler#CHECKSUM_VALID}, a virtio-net
 * host's NEEDS_CSUM/DATA_VALID) has its TCP/UDP/ICMP checksum verified on neither path (the flag rides
 * in {@link PacketBuffer#checksumValid} through a channel or the receive stage); its IPv4 header
 * checksum still is.
 *
 * <p>ICMP errors: a destination unreachable quoting one of our TCP segments refuses a connection that
 * is still opening (port or protocol unreachable: ECONNREFUSED) or lowers its MSS (fragmentation
 * needed: path MTU, RFC 1191), when the quoted sequence number is one in flight.
 *
 * <p>Time: protocol code takes {@code now} from the injected clock; {@link #poll} runs the timers and
 * is called by the stack's driver (a tick actor in the kernel, explicitly in tests).
 *
 * <p>Lock order: socket lock, then (listener's socket lock,) then an interface's transmit lock;
 * table monitors are leaves.
 */
public final class NetStack implements TcpConnection.Output {
    /** The consumer side of a flow's net channel, as the net-channel actor sees it. */
    public interface FlowConsumer {
        /** Take the socket lock and process every queued segment. */
        void drainFromFlowActor();

        String flowName();

        /** The consumer's handle (the kernel keeps the flow actor's reference here), or null. */
        Object flowHandle();

        void setFlowHandle(Object handle);

        /** True once the flow left the data states and its channel is drained: its actor may stop. */
        boolean finished();
    }

    /**
     * What happens to traffic that no socket of this stack claims, for a stack that acts as a gateway
     * (the user network's outbound NAT). Installed with {@link #setOutboundGate}; while one is, the
     * stack accepts IPv4 TCP and UDP for any destination address on its non-loopback interfaces.
     * Called on the receive context: implementations must not block.
     */
    public interface OutboundGate {
        /** Answer the SYN through the transparent listener ({@link Sockets#IP_TRANSPARENT}). */
        int ADMIT = 0;
        /** Hold the SYN until {@link #resumeConnectionRequest} (the host side is still connecting). */
        int WAIT = 1;
        /** Refuse: the stack answers with a RST. */
        int REFUSE = 2;

        /** A SYN from {@code src:srcPort} to {@code dst:dstPort} that no listener claims: ADMIT, WAIT or REFUSE. */
        int connectionRequest(int src, int srcPort, int dst, int dstPort);

        /**
         * A datagram no socket claims; the payload is valid during the call only.
         *
         * @return true when the gate took it (no ICMP port unreachable is sent).
         */
        boolean datagram(int src, int srcPort, int dst, int dstPort, DirectBuffer payload, int offset, int length);
    }

    /** Wakes a flow's consumer when no application thread waits (the kernel sends its actor a message). */
    @FunctionalInterface
    public interface FlowWaker {
        void wake(FlowConsumer flow);
    }

    /** Per-thread parsing and routing scratch: no allocation per packet. */
    private static final class Scratch {
        /** Loopback fast path: the sender's {@code sendTcp} wakes {@link #deferredWake} after its transmit. */
        boolean deferWakes;
        TcpSocket deferredWake;
        final EthernetFrame eth = new EthernetFrame();
        final ArpPacket arp = new ArpPacket();
        final Ipv4Packet ip = new Ipv4Packet();
        final IcmpPacket icmp = new IcmpPacket();
        final UdpDatagram udp = new UdpDatagram();
        final TcpSegment tcp = new TcpSegment();
        final TcpRepr repr = new TcpRepr();
        final TcpRepr reply = new TcpRepr();
        /**
         * Reassembly output, made on the first fragment: every kernel thread that runs the receive path
         * has its own scratch (a kernel thread is its own host thread to the JDK), and few ever see one.
         */
        private UnsafeBuffer reassembled;

        UnsafeBuffer reassembled() {
            UnsafeBuffer r = reassembled;
            if (r == null) {
                r = new UnsafeBuffer(new byte[65536]);
                reassembled = r;
            }
            return r;
        }
        NetInterface routeIf;
        int routeNextHop;
        /**
         * The general path's current frame came with {@code FrameHandler.CHECKSUM_VALID}: its TCP/UDP/ICMP
         * checksum is not verified (it may be partial). Set around one frame's {@link #general} call,
         * false otherwise; a fragment clears it (the reassembled datagram is checked as a whole).
         */
        boolean rxChecksumValid;
    }

    /** Frames held per unresolved neighbour, in bytes (Linux's unres_qlen_bytes default). */
    private static final int PENDING_BYTES = 65536;
    private static final int EPHEMERAL_LOW = 32768;
    private static final int EPHEMERAL_HIGH = 60999;

    private final StackSettings settings;
    private final LongSupplier clock;
    private volatile LongSupplier realtime = () -> System.currentTimeMillis() * 1_000_000L;
    private final CopyOnWriteArrayList<NetInterface> interfaces = new CopyOnWriteArrayList<>();
    private final RouteTable routes = new RouteTable();
    private final ArpCache arp;
    private final Reassembler reassembler;
    private final FlowTable<TcpSocket> flows;
    private final Int2ObjectHashMap<List<TcpSocket>> listeners = new Int2ObjectHashMap<>();
    private final Int2ObjectHashMap<List<UdpSocket>> udpPorts = new Int2ObjectHashMap<>();
    private final IsnGenerator isn;
    private final SynCookies cookies;
    private final PacketPool pool;
    private final NetCounters counters = new NetCounters();
    private final SecureRandom random;
    private final NetFaults faults = new NetFaults();
    private volatile PcapWriter pcap;
    /**
     * Flow consumers woken while no flow waker is installed, for {@link #runDeferredFlows}; created at
     * the first such wake (65536 slots, 768 KiB: a kernel installs its waker at boot and never needs it).
     */
    private final java.util.concurrent.atomic.AtomicReference<ManyToManyConcurrentArrayQueue<FlowConsumer>> deferredFlows =
        new java.util.concurrent.atomic.AtomicReference<>();
    private volatile FlowWaker flowWaker = this::deferFlow;
    /** The layered receive stage's queue; null on the net-channel receive path, which never uses it. */
    private final ManyToManyConcurrentArrayQueue<PacketBuffer> receiveStage;
    private volatile Runnable receiveStageNotifier = () -> { };
    private volatile java.util.function.Consumer<String> warnings = m -> { };
    private final AtomicInteger ipId = new AtomicInteger();
    private final Int2ObjectHashMap<ArrayDeque<byte[]>> arpPending = new Int2ObjectHashMap<>();
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);
    /**
     * The loopback fast path's parsing scratch ({@link #loopbackToChannel}): a sender's transmit may
     * happen while its thread's {@link #scratch} is in use (TCP input on the general path answers with
     * a segment), so the classifier it runs there must not touch that one.
     */
    private final ThreadLocal<Scratch> senderScratch = ThreadLocal.withInitial(Scratch::new);
    private long icmpWindowStart = Long.MIN_VALUE / 2;
    private int icmpCount;
    private int nextEphemeral;
    private final Sockets sockets;
    private volatile OutboundGate outboundGate;
    /** The catch-all listener ({@link Sockets#IP_TRANSPARENT}), or null. */
    private volatile TcpSocket transparentListener;
    /** SYNs held while the outbound gate decides, by 4-tuple, oldest first; bounded by {@link #HELD_SYNS}. */
    private final java.util.LinkedHashMap<FlowKey, HeldSyn> heldSyns = new java.util.LinkedHashMap<>();
    private static final int HELD_SYNS = 1024;

    /** A connection's 4-tuple as the gateway sees it: the peer's address first. */
    public record FlowKey(int src, int srcPort, int dst, int dstPort) {
    }

    /** A SYN waiting for the outbound gate: its source and destination and the TCP segment's bytes. */
    private record HeldSyn(int src, int dst, byte[] segment) {
    }

    public NetStack(final StackSettings settings, final LongSupplier monotonicNanos) {
        this.settings = settings;
        this.clock = monotonicNanos;
        this.random = dev.osvj.kernel.HostEntropy.shared(); // hash keys, DHCP ids: the JVM's one generator
        final SipHash hash = SipHash.random(random);
        this.isn = new IsnGenerator(hash);
        this.cookies = new SynCookies(SipHash.random(random));
        this.flows = new FlowTable<>(SipHash.random(random));
        this.arp = new ArpCache(settings.arpTtlNs(), TcpConfig.S, 1024);
        this.reassembler = new Reassembler(settings.reassemblyDatagrams(), settings.reassemblyBytes(),
            settings.reassemblyTimeoutNs());
        this.pool = new PacketPool(65536 + EthernetFrame.HEADER_LENGTH, 4096);
        this.receiveStage = settings.netChannels() ? null
            : new ManyToManyConcurrentArrayQueue<>(Math.max(16, settings.receiveStageDepth()));
        this.nextEphemeral = EPHEMERAL_LOW + (int)((hash.hash(1, 2) >>> 1) % (EPHEMERAL_HIGH - EPHEMERAL_LOW));
        this.sockets = new Sockets(this);
    }

    public StackSettings settings() {
        return settings;
    }

    public Sockets sockets() {
        return sockets;
    }

    public NetCounters counters() {
        return counters;
    }

    /**
     * The stack's {@link SecureRandom} (one per JVM), for the kernel's other network users (the DHCP client's
     * transaction id), so no boot creates and seeds one. Thread-safe (the JDK's
     * default provider).
     */
    public SecureRandom random() {
        return random;
    }

    /** The stack's fault-injection points (supervision tests). */
    public NetFaults faults() {
        return faults;
    }

    /** Monotonic nanoseconds from the stack's clock. */
    public long now() {
        return clock.getAsLong();
    }

    /** Record every frame sent and received into {@code writer} (null: stop). */
    public void setPcap(final PcapWriter writer, final LongSupplier epochNanos) {
        this.pcap = writer;
        if (epochNanos != null) {
            this.realtime = epochNanos;
        }
    }

    public void setFlowWaker(final FlowWaker waker) {
        this.flowWaker = waker == null ? this::deferFlow : waker;
    }

    private void deferFlow(final FlowConsumer flow) {
        ManyToManyConcurrentArrayQueue<FlowConsumer> q = deferredFlows.get();
        if (q == null) {
            deferredFlows.compareAndSet(null, new ManyToManyConcurrentArrayQueue<>(65536));
            q = deferredFlows.get();
        }
        q.offer(flow);
    }

    /** Install (or with null remove) the gateway hook for traffic no socket claims. */
    public void setOutboundGate(final OutboundGate gate) {
        this.outboundGate = gate;
    }

    /**
     * The outbound gate has decided about a connection request it answered with {@link OutboundGate#WAIT}:
     * the held SYN goes through TCP demultiplexing again (where the gate answers ADMIT or REFUSE). Any
     * thread. Nothing happens when no SYN of that 4-tuple is held (the guest gave up, or it was evicted).
     */
    public void resumeConnectionRequest(final FlowKey key) {
        final HeldSyn h;
        synchronized (heldSyns) {
            h = heldSyns.remove(key);
        }
        if (h == null) {
            return;
        }
        final Scratch s = scratch.get();
        final UnsafeBuffer b = new UnsafeBuffer(h.segment());
        if (!s.tcp.wrap(b, 0, h.segment().length) || !s.repr.parse(s.tcp)) {
            return;
        }
        tcpDemux(s, h.src(), h.dst(), s.repr, now(), b, 0, h.segment().length);
    }

    /**
     * Where the stack reports a condition worth one log line (the kernel's dmesg: {@code NetSubsystem}
     * appends them as WARN lines from {@code net}); null discards them. Called from any thread, possibly
     * with an interface's transmit lock held: the sink must not block or send.
     */
    public void setWarnings(final java.util.function.Consumer<String> sink) {
        this.warnings = sink == null ? m -> { } : sink;
    }

    /** Called when the layered receive stage has work (from the device's receive context). */
    public void setReceiveStageNotifier(final Runnable notifier) {
        this.receiveStageNotifier = notifier == null ? () -> { } : notifier;
    }

    // ---------------------------------------------------------------------------------------------
    // interfaces and routes (control path)
    // ---------------------------------------------------------------------------------------------

    /**
     * Add an interface. A loopback device gets 127.0.0.1/8 when {@code address} is 0. A non-zero
     * address adds the connected route, and a non-zero gateway a default route.
     */
    public synchronized NetInterface addInterface(final NetDevice device, final boolean loopback, final int address,
        final int netmask, final int gateway) {
        final int a = loopback && address == 0 ? 0x7F000001 : address;
        final int m = loopback && address == 0 ? 0xFF000000 : netmask;
        final NetInterface ifc = new NetInterface(interfaces.size(), device, loopback, a, m, gateway);
        interfaces.add(ifc);
        addRoutes(ifc);
        ifc.rxHandler = new FrameHandler() {
            @Override
            public void onFrame(final MutableDirectBuffer buffer, final int offset, final int length) {
                NetStack.this.onFrame(ifc, buffer, offset, length, 0);
            }

            @Override
            public void onFrame(final MutableDirectBuffer buffer, final int offset, final int length, final int flags) {
                NetStack.this.onFrame(ifc, buffer, offset, length, flags);
            }

            @Override
            public boolean acceptsChecksumValid() {
                return true;
            }
        };
        ifc.inlineReceive = device.deliverInline(ifc.rxHandler);
        ifc.loopbackToChannel = LOOPBACK_TO_CHANNEL && loopback && device instanceof LoopbackDevice
            && settings.netChannels();
        return ifc;
    }

    /** Change an interface's address (static reconfiguration, DHCP). */
    public synchronized void configure(final NetInterface ifc, final int address, final int netmask, final int gateway) {
        routes.removeInterface(ifc.index());
        ifc.configure(address, netmask, gateway);
        addRoutes(ifc);
    }

    private void addRoutes(final NetInterface ifc) {
        if (ifc.address() != 0) {
            routes.add(new RouteTable.Route(ifc.address() & ifc.netmask(), ifc.netmask(), 0, ifc.index()));
        }
        if (ifc.gateway() != 0) {
            routes.add(new RouteTable.Route(0, 0, ifc.gateway(), ifc.index()));
        }
    }

    public List<NetInterface> interfaces() {
        return List.copyOf(interfaces);
    }

    public NetInterface interfaceByName(final String name) {
        for (final NetInterface i : interfaces) {
            if (i.name().equals(name)) {
                return i;
            }
        }
        return null;
    }

    public List<RouteTable.Route> routes() {
        return routes.routes();
    }

    public List<ArpCache.Neighbour> neighbours() {
        return arp.neighbours(now());
    }

    public Reassembler reassembler() {
        return reassembler;
    }

    private NetInterface loopbackInterface() {
        for (final NetInterface i : interfaces) {
            if (i.loopback()) {
                return i;
            }
        }
        return null;
    }

    /** True for 127/8 and the address of any interface. */
    boolean isLocalAddress(final int ip) {
        if ((ip >>> 24) == 127) {
            return true;
        }
        for (final NetInterface i : interfaces) {
            if (i.address() == ip && ip != 0) {
                return true;
            }
        }
        return false;
    }

    /** Route to {@code dst}: fills {@code s.routeIf} and {@code s.routeNextHop}; false when unreachable. */
    private boolean route(final Scratch s, final int dst, final int boundIf) {
        if (boundIf >= 0 && boundIf < interfaces.size()) {
            s.routeIf = interfaces.get(boundIf);
            s.routeNextHop = dst;
            return true;
        }
        if (isLocalAddress(dst)) {
            final NetInterface lo = loopbackInterface();
            if (lo != null) {
                s.routeIf = lo;
                s.routeNextHop = dst;
                return true;
            }
        }
        final RouteTable.Route r = routes.lookup(dst);
        if (r == null) {
            return false;
        }
        s.routeIf = interfaces.get(r.ifIndex());
        s.routeNextHop = r.gateway() != 0 ? r.gateway() : dst;
        return true;
    }

    /** The source address for packets to {@code dst}, or 0 when there is no route. */
    int sourceFor(final int dst) {
        final Scratch s = scratch.get();
        if (!route(s, dst, -1)) {
            return 0;
        }
        if (s.routeIf.loopback()) {
            return (dst >>> 24) == 127 ? 0x7F000001 : dst;
        }
        return s.routeIf.address();
    }

    /**
     * The MSS we advertise for a connection to {@code dst}, and the largest we send on it: the route's
     * MTU minus IP and TCP headers. No 536-byte floor (RFC 9293's default applies to a peer that sends
     * no MSS option, not to our own interface): with one, every full segment on an interface whose MTU
     * is under 576 was too large to leave it and the flow stalled. The connection's own floor of 64
     * bytes (Linux has 48) still leaves interfaces under 104 bytes unable to carry a full segment; those
     * drops are counted in {@code drop_tx_over_mtu}.
     */
    int mssFor(final int dst) {
        final Scratch s = scratch.get();
        if (!route(s, dst, -1)) {
            return 536;
        }
        return Math.min(65495, s.routeIf.mtu() - 40);
    }

    // ---------------------------------------------------------------------------------------------
    // receive
    // ---------------------------------------------------------------------------------------------

    /**
     * Drain up to {@code budget} frames of {@code ifc}'s device through the receive path (the device's
     * receive context calls this: its interrupt actor or driver thread).
     */
    public int pollInterface(final NetInterface ifc, final int budget) {
        return ifc.device().poll(ifc.rxHandler, budget);
    }

    /** Run the flow consumers woken while no flow waker was installed (the driver thread's duty). */
    public int runDeferredFlows() {
        final ManyToManyConcurrentArrayQueue<FlowConsumer> q = deferredFlows.get();
        if (q == null) {
            return 0;
        }
        int n = 0;
        FlowConsumer f;
        while ((f = q.poll()) != null) {
            f.drainFromFlowActor();
            n++;
        }
        return n;
    }

    /**
     * One received frame; {@code flags} {@link FrameHandler#CHECKSUM_VALID}: the device vouches for its
     * layer-4 checksum (receive offloads), which is then never verified, on any path.
     */
    private void onFrame(final NetInterface ifc, final MutableDirectBuffer buffer, final int offset, final int length,
        final int flags) {
        faults.check(NetFaults.Point.RECEIVE);
        counters.increment(Counter.RX_FRAMES);
        ifc.rxPackets.incrementAndGet();
        ifc.rxBytes.addAndGet(length);
        capture(buffer, offset, length);
        final boolean checksumValid = (flags & FrameHandler.CHECKSUM_VALID) != 0;
        if (checksumValid) {
            counters.increment(Counter.RX_CHECKSUM_TRUSTED);
        }
        if (settings.netChannels()) {
            if (!classify(ifc, buffer, offset, length, checksumValid)) {
                generalWithFlags(ifc, buffer, offset, length, checksumValid);
            }
            return;
        }
        final PacketBuffer p = pool.copyOf(buffer, offset, length);
        if (p == null) {
            counters.increment(Counter.DROP_SHORT_FRAME);
            return;
        }
        p.checksumValid = checksumValid;
        p.ifIndex = ifc.index();
        if (!receiveStage.offer(p)) {
            p.release();
            counters.increment(Counter.DROP_RECEIVE_STAGE_FULL);
            ifc.rxDropped.incrementAndGet();
            return;
        }
        receiveStageNotifier.run();
    }

    /** The layered receive stage: process up to {@code budget} queued frames; returns how many. */
    public int runReceiveStage(final int budget) {
        if (receiveStage == null) {
            return 0;
        }
        int n = 0;
        PacketBuffer p;
        while (n < budget && (p = receiveStage.poll()) != null) {
            try {
                counters.increment(Counter.TCP_LAYERED_PACKETS);
                generalWithFlags(interfaces.get(p.ifIndex), p.buffer, 0, p.length, p.checksumValid);
            } finally {
                p.release();
            }
            n++;
        }
        return n;
    }

    /** {@link #general} for a received frame whose layer-4 checksum the device may have vouched for. */
    private void generalWithFlags(final NetInterface ifc, final MutableDirectBuffer buffer, final int offset,
        final int length, final boolean checksumValid) {
        if (!checksumValid) {
            general(ifc, buffer, offset, length, now());
            return;
        }
        final Scratch s = scratch.get();
        s.rxChecksumValid = true;
        try {
            general(ifc, buffer, offset, length, now());
        } finally {
            s.rxChecksumValid = false;
        }
    }

    public boolean receiveStageHasWork() {
        return receiveStage != null && !receiveStage.isEmpty();
    }

    /**
     * The classifier (OSv's {@code classifier::post_packet}): the fast path for IPv4 TCP segments of
     * established flows. Returns false for everything the general path must handle.
     */
    boolean classify(final NetInterface ifc, final MutableDirectBuffer buffer, final int offset, final int length,
        final boolean checksumValid) {
        return classify(scratch.get(), ifc, buffer, offset, length, checksumValid, false);
    }

    /**
     * The classifier with the caller's parsing scratch; {@code fromSender}: called by a sender inside its
     * transmit (the loopback fast path, {@link #loopbackToChannel}), which holds its own socket lock and
     * the interface's transmit lock, so the classifier must not take the receiving socket's lock: waiters
     * it cannot wake without it (the overflow list) are left to the flow's consumer.
     */
    private boolean classify(final Scratch s, final NetInterface ifc, final MutableDirectBuffer buffer,
        final int offset, final int length, final boolean checksumValid, final boolean fromSender) {
        final EthernetFrame eth = s.eth;
        if (!eth.wrap(buffer, offset, length) || eth.etherType() != EthernetFrame.TYPE_IPV4) {
            return false;
        }
        final Ipv4Packet ip = s.ip;
        if (!ip.wrap(buffer, eth.payloadOffset(), eth.payloadLength()) || ip.protocol() != Ipv4Packet.PROTO_TCP
            || ip.isFragment()) {
            return false;
        }
        final TcpSegment tcp = s.tcp;
        if (!tcp.wrap(buffer, ip.payloadOffset(), ip.payloadLength())
            || (tcp.flags() & (TcpSegment.SYN | TcpSegment.FIN | TcpSegment.RST)) != 0) {
            return false;
        }
        final TcpSocket sock = flows.get(ip.destination(), tcp.destinationPort(), ip.source(), tcp.sourcePort());
        if (sock == null) {
            return false;
        }
        final NetChannel ch = sock.channel;
        if (ch == null || ch.isClosed()) {
            return false;
        }
        if (!ifc.loopback() && !ip.checksumValid()) {
            return false; // the general path counts it
        }
        final PacketBuffer p = pool.copyOf(buffer, offset, length);
        if (p == null) {
            return false;
        }
        p.ifIndex = ifc.index();
        p.checksumValid = checksumValid;
        p.tcpOffset = ip.payloadOffset() - offset; // the copy starts at the frame's first byte
        p.tcpLength = ip.payloadLength();
        p.ipSource = ip.source();
        p.ipDestination = ip.destination();
        if (!ch.offer(p)) {
            p.release();
            counters.increment(Counter.TCP_CHANNEL_FULL);
            return false;
        }
        counters.increment(Counter.TCP_CHANNEL_PACKETS);
        if (ch.claimWakeup()) {
            counters.increment(Counter.TCP_CHANNEL_WAKEUPS);
            if (fromSender && s.deferWakes && s.deferredWake == null) {
                s.deferredWake = sock; // woken by sendTcp once the transmit lock is released
            } else {
                wakeConsumer(sock, fromSender);
            }
        }
        return true;
    }

    /**
     * Wake the consumer of a flow whose channel just received its batch's first packet: the blocked
     * callers and watchers, or the flow's actor when nobody waits. {@code fromSender}: the caller holds
     * another socket's lock, so this socket's lock is not taken (callers in its overflow list are left
     * to the flow's actor, which wakes them under the lock).
     */
    private void wakeConsumer(final TcpSocket sock, final boolean fromSender) {
        if (sock.waiters > 0 || !sock.watchers.isEmpty()) {
            if (!fromSender) {
                sock.wakeFromOutside();
            } else if (!sock.wakeFromOutsideUnlocked()) {
                flowWaker.wake(sock);
            }
        } else {
            flowWaker.wake(sock);
        }
    }

    /**
     * Process one frame from a flow's channel (consumer context, socket lock held). The classifier
     * validated Ethernet and IPv4 and recorded where the segment lies ({@link PacketBuffer#tcpOffset}),
     * so only TCP is parsed here.
     */
    void processChannelPacket(final TcpSocket sock, final PacketBuffer p, final long now) {
        final Scratch s = scratch.get();
        final NetInterface ifc = interfaces.get(p.ifIndex);
        final int src = p.ipSource;
        final int dst = p.ipDestination;
        if (!s.tcp.wrap(p.buffer, p.tcpOffset, p.tcpLength)) {
            counters.increment(Counter.DROP_TCP_MALFORMED);
            return;
        }
        if (!ifc.loopback() && !p.checksumValid && !s.tcp.checksumValid(src, dst)) {
            counters.increment(Counter.DROP_TCP_CHECKSUM);
            return;
        }
        if (!s.repr.parse(s.tcp)) {
            counters.increment(Counter.DROP_TCP_OPTIONS);
            return;
        }
        counters.increment(Counter.TCP_IN);
        sock.conn.input(now, s.repr);
    }

    /** The general receive path for one frame. Malformed input is counted and dropped. */
    void general(final NetInterface ifc, final MutableDirectBuffer buffer, final int offset, final int length,
        final long now) {
        final Scratch s = scratch.get();
        final EthernetFrame eth = s.eth;
        if (!eth.wrap(buffer, offset, length)) {
            counters.increment(Counter.DROP_SHORT_FRAME);
            return;
        }
        final long dstMac = eth.destination();
        if (!ifc.loopback() && dstMac != ifc.mac() && dstMac != Addresses.MAC_BROADCAST) {
            counters.increment(Counter.DROP_OTHER_HOST);
            return;
        }
        switch (eth.etherType()) {
            case EthernetFrame.TYPE_ARP -> arpInput(ifc, s, buffer, eth.payloadOffset(), eth.payloadLength(), now);
            case EthernetFrame.TYPE_IPV4 -> ipInput(ifc, s, buffer, eth.payloadOffset(), eth.payloadLength(), now);
            default -> counters.increment(Counter.DROP_ETHERTYPE);
        }
    }

    private void arpInput(final NetInterface ifc, final Scratch s, final MutableDirectBuffer b, final int off,
        final int len, final long now) {
        counters.increment(Counter.ARP_IN);
        final ArpPacket a = s.arp;
        if (!a.wrap(b, off, len)) {
            counters.increment(Counter.DROP_ARP_MALFORMED);
            return;
        }
        final int me = ifc.address();
        final boolean forMe = me != 0 && a.targetIp() == me;
        if (a.senderIp() != 0 && (forMe || arp.lookup(a.senderIp(), now) >= 0)) {
            arp.update(a.senderIp(), a.senderMac(), now);
            flushPending(ifc, a.senderIp(), a.senderMac());
        }
        if (forMe && a.operation() == ArpPacket.OP_REQUEST) {
            final long senderMac = a.senderMac();
            final int senderIp = a.senderIp();
            lockTx(ifc);
            try {
                final UnsafeBuffer t = ifc.txBuffer;
                final int p = EthernetFrame.emit(t, 0, senderMac, ifc.mac(), EthernetFrame.TYPE_ARP);
                final int n = p + ArpPacket.emit(t, p, ArpPacket.OP_REPLY, ifc.mac(), me, senderMac, senderIp);
                transmitFrame(ifc, t, 0, n);
                counters.increment(Counter.ARP_REPLIES_SENT);
            } finally {
                ifc.txLock.unlock();
                ifc.device().flushTransmit();
            }
        }
    }

    private void ipInput(final NetInterface ifc, final Scratch s, final MutableDirectBuffer b, final int off,
        final int len, final long now) {
        counters.increment(Counter.IP_IN);
        final Ipv4Packet ip = s.ip;
        if (!ip.wrap(b, off, len)) {
            counters.increment(Counter.DROP_IP_MALFORMED);
            return;
        }
        if (!ifc.loopback() && !ip.checksumValid()) {
            counters.increment(Counter.DROP_IP_CHECKSUM);
            return;
        }
        final int dst = ip.destination();
        final int me = ifc.address();
        final boolean acceptAny = me == 0 && ip.protocol() == Ipv4Packet.PROTO_UDP; // DHCP before configuration
        final boolean gateway = outboundGate != null && !ifc.loopback()
            && (ip.protocol() == Ipv4Packet.PROTO_TCP || ip.protocol() == Ipv4Packet.PROTO_UDP);
        if (!(dst == me || dst == Addresses.IP_BROADCAST || me != 0 && dst == ifc.broadcast()
            || ifc.loopback() && isLocalAddress(dst) || acceptAny || gateway)) {
            counters.increment(Counter.DROP_IP_NOT_FOR_US);
            return;
        }
        final int src = ip.source();
        final int proto = ip.protocol();
        if (ip.isFragment()) {
            s.rxChecksumValid = false; // a fragment's flag says nothing about the reassembled datagram
            counters.increment(Counter.IP_FRAGMENTS_IN);
            final int n;
            synchronized (reassembler) {
                n = reassembler.add(now, src, dst, ip.identification(), proto, ip.fragmentOffset(), ip.moreFragments(),
                    b, ip.payloadOffset(), ip.payloadLength(), s.reassembled());
            }
            if (n == Reassembler.DROPPED) {
                counters.increment(Counter.DROP_IP_REASSEMBLY);
            }
            if (n < 0) {
                return;
            }
            counters.increment(Counter.IP_REASSEMBLED);
            l4Input(ifc, s, src, dst, proto, s.reassembled(), 0, n, now, b, off, ip.headerLength());
            return;
        }
        l4Input(ifc, s, src, dst, proto, b, ip.payloadOffset(), ip.payloadLength(), now, b, off, ip.headerLength());
    }

    private void l4Input(final NetInterface ifc, final Scratch s, final int src, final int dst, final int proto,
        final MutableDirectBuffer b, final int off, final int len, final long now, final MutableDirectBuffer ipBuf,
        final int ipOff, final int ipHeaderLength) {
        switch (proto) {
            case Ipv4Packet.PROTO_TCP -> tcpInput(ifc, s, src, dst, b, off, len, now);
            case Ipv4Packet.PROTO_UDP -> udpInput(ifc, s, src, dst, b, off, len, now, ipBuf, ipOff, ipHeaderLength);
            case Ipv4Packet.PROTO_ICMP -> icmpInput(ifc, s, src, dst, b, off, len, now);
            default -> counters.increment(Counter.DROP_IP_PROTOCOL);
        }
    }

    private void icmpInput(final NetInterface ifc, final Scratch s, final int src, final int dst,
        final MutableDirectBuffer b, final int off, final int len, final long now) {
        counters.increment(Counter.ICMP_IN);
        final IcmpPacket icmp = s.icmp;
        if (!icmp.wrap(b, off, len) || !s.rxChecksumValid && !icmp.checksumValid()) {
            counters.increment(Counter.DROP_ICMP_MALFORMED);
            return;
        }
        if (icmp.type() == IcmpPacket.TYPE_DEST_UNREACHABLE) {
            counters.increment(Counter.ICMP_UNREACH_IN);
            icmpUnreachable(ifc, icmp, b, now);
            return;
        }
        if (icmp.type() == IcmpPacket.TYPE_ECHO_REQUEST && icmp.code() == 0 && dst != Addresses.IP_BROADCAST) {
            final int rest = (icmp.identifier() << 16) | icmp.sequence();
            if (sendIcmp(dst, src, IcmpPacket.TYPE_ECHO_REPLY, 0, rest, b, icmp.dataOffset(), icmp.dataLength())) {
                counters.increment(Counter.ICMP_ECHO_REPLIES);
            }
        }
    }

    /**
     * An ICMP destination unreachable: the datagram it quotes (RFC 792: the IPv4 header and at least 8
     * bytes of its payload) names one of our TCP connections by its ports; port or protocol unreachable
     * reaches {@link TcpConnection#icmpUnreachable}, fragmentation needed (next-hop MTU in bytes 6-7 of
     * the ICMP header) {@link TcpConnection#pathMtu}. Both check the quoted sequence number.
     *
     * <pre>
     * quoted datagram: | IPv4 header (IHL*4 bytes: src at 12, dst at 16, protocol at 9) |
     *                  | TCP: src port (2) | dst port (2) | sequence number (4) | ...
     * </pre>
     */
    private void icmpUnreachable(final NetInterface ifc, final IcmpPacket icmp, final MutableDirectBuffer b,
        final long now) {
        final int at = icmp.dataOffset();
        final int len = icmp.dataLength();
        if (len < Ipv4Packet.HEADER_LENGTH) {
            return;
        }
        final int vihl = b.getByte(at) & 0xFF;
        final int ihl = (vihl & 0x0F) * 4;
        if (vihl >>> 4 != 4 || ihl < Ipv4Packet.HEADER_LENGTH || len < ihl + 8
            || (b.getByte(at + 9) & 0xFF) != Ipv4Packet.PROTO_TCP) {
            return;
        }
        final int quotedSrc = b.getInt(at + 12, java.nio.ByteOrder.BIG_ENDIAN);
        final int quotedDst = b.getInt(at + 16, java.nio.ByteOrder.BIG_ENDIAN);
        final int srcPort = b.getShort(at + ihl, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
        final int dstPort = b.getShort(at + ihl + 2, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
        final int seq = b.getInt(at + ihl + 4, java.nio.ByteOrder.BIG_ENDIAN);
        final TcpSocket sock = flows.get(quotedSrc, srcPort, quotedDst, dstPort);
        if (sock == null) {
            return;
        }
        final int code = icmp.code();
        sock.lock.lock();
        try {
            final TcpConnection c = sock.conn;
            if (c == null) {
                return;
            }
            final boolean taken = switch (code) {
                case IcmpPacket.CODE_PORT_UNREACHABLE, IcmpPacket.CODE_PROTOCOL_UNREACHABLE -> c.icmpUnreachable(now, seq);
                case IcmpPacket.CODE_FRAG_NEEDED -> c.pathMtu(now, icmp.sequence(), seq);
                default -> false;
            };
            if (taken) {
                counters.increment(Counter.ICMP_ERRORS_TO_TCP);
            }
        } finally {
            sock.lock.unlock();
        }
    }

    private void udpInput(final NetInterface ifc, final Scratch s, final int src, final int dst,
        final MutableDirectBuffer b, final int off, final int len, final long now, final MutableDirectBuffer ipBuf,
        final int ipOff, final int ipHeaderLength) {
        counters.increment(Counter.UDP_IN);
        final UdpDatagram udp = s.udp;
        if (!udp.wrap(b, off, len)) {
            counters.increment(Counter.DROP_UDP_MALFORMED);
            return;
        }
        if (!ifc.loopback() && !s.rxChecksumValid && !udp.checksumValid(src, dst)) {
            counters.increment(Counter.DROP_UDP_CHECKSUM);
            return;
        }
        final UdpSocket sock = findUdp(dst, udp.destinationPort(), src, udp.sourcePort(), ifc);
        if (sock == null) {
            final OutboundGate gate = outboundGate;
            if (gate != null && dst != Addresses.IP_BROADCAST && dst != ifc.broadcast()
                && gate.datagram(src, udp.sourcePort(), dst, udp.destinationPort(), b, udp.payloadOffset(),
                    udp.payloadLength())) {
                counters.increment(Counter.UDP_OUTBOUND);
                return;
            }
            counters.increment(Counter.DROP_UDP_NO_PORT);
            if (dst != Addresses.IP_BROADCAST && dst != ifc.broadcast() && allowIcmpError(now)) {
                // port unreachable: the original IP header plus the first 8 bytes of its payload
                final int quoted = Math.min(ipHeaderLength + 8, ipHeaderLength + len);
                if (sendIcmp(dst, src, IcmpPacket.TYPE_DEST_UNREACHABLE, IcmpPacket.CODE_PORT_UNREACHABLE, 0, ipBuf,
                    ipOff, quoted)) {
                    counters.increment(Counter.ICMP_UNREACH_SENT);
                }
            }
            return;
        }
        sock.lock.lock();
        try {
            if (!sock.enqueueLocked(src, udp.sourcePort(), b, udp.payloadOffset(), udp.payloadLength())) {
                counters.increment(Counter.DROP_UDP_QUEUE_FULL);
            }
        } finally {
            sock.lock.unlock();
        }
    }

    private synchronized boolean allowIcmpError(final long now) {
        if (now - icmpWindowStart >= TcpConfig.S) {
            icmpWindowStart = now;
            icmpCount = 0;
        }
        return icmpCount++ < settings.icmpErrorsPerSecond();
    }

    private void tcpInput(final NetInterface ifc, final Scratch s, final int src, final int dst,
        final MutableDirectBuffer b, final int off, final int len, final long now) {
        final TcpSegment tcp = s.tcp;
        if (!tcp.wrap(b, off, len)) {
            counters.increment(Counter.DROP_TCP_MALFORMED);
            return;
        }
        if (!ifc.loopback() && !s.rxChecksumValid && !tcp.checksumValid(src, dst)) {
            counters.increment(Counter.DROP_TCP_CHECKSUM);
            return;
        }
        final TcpRepr r = s.repr;
        if (!r.parse(tcp)) {
            counters.increment(Counter.DROP_TCP_OPTIONS);
            return;
        }
        if (dst == Addresses.IP_BROADCAST || dst == ifc.broadcast() && !ifc.loopback()) {
            return;
        }
        counters.increment(Counter.TCP_IN);
        tcpDemux(s, src, dst, r, now, b, off, len);
    }

    /**
     * A parsed segment to its connection, a listener, the transparent listener (through the outbound
     * gate), or a RST. {@code b[off, off + len)} is the segment's bytes (kept when a SYN is held).
     */
    private void tcpDemux(final Scratch s, final int src, final int dst, final TcpRepr r, final long now,
        final DirectBuffer b, final int off, final int len) {
        final TcpSocket sock = flows.get(dst, r.dstPort, src, r.srcPort);
        if (sock != null) {
            sock.lock.lock();
            try {
                final int held = sock.drainChannelLocked(now); // keep the flow's segments in order
                if (held > 0) {
                    counters.add(Counter.TCP_CHANNEL_BY_GENERAL, held);
                }
                if (sock.conn != null) {
                    sock.conn.input(now, r);
                }
            } finally {
                sock.lock.unlock();
            }
            return;
        }
        final TcpSocket listener = findListener(dst, r.dstPort);
        if (listener != null) {
            listenInput(listener, src, dst, r, now);
            return;
        }
        final TcpSocket transparent = transparentListener;
        final OutboundGate gate = outboundGate;
        if (transparent != null && gate != null && !r.has(TcpSegment.RST)) {
            if (!r.has(TcpSegment.SYN)) {
                if (r.has(TcpSegment.ACK) && settings.tcp().synCookies()) {
                    listenInput(transparent, src, dst, r, now); // the last ACK of a SYN-cookie handshake
                    return;
                }
            } else if (!r.has(TcpSegment.ACK)) {
                switch (gate.connectionRequest(src, r.srcPort, dst, r.dstPort)) {
                    case OutboundGate.ADMIT -> {
                        counters.increment(Counter.TCP_OUTBOUND_ADMITTED);
                        listenInput(transparent, src, dst, r, now);
                        return;
                    }
                    case OutboundGate.WAIT -> {
                        holdSyn(src, r.srcPort, dst, r.dstPort, b, off, len);
                        return;
                    }
                    default -> counters.increment(Counter.TCP_OUTBOUND_REFUSED);
                }
            }
        }
        replyReset(src, dst, r);
    }

    /** Keep a SYN until the gate decides (a retransmitted SYN replaces it; the oldest is evicted when full). */
    private void holdSyn(final int src, final int srcPort, final int dst, final int dstPort, final DirectBuffer b,
        final int off, final int len) {
        final byte[] copy = new byte[len];
        b.getBytes(off, copy);
        synchronized (heldSyns) {
            final FlowKey key = new FlowKey(src, srcPort, dst, dstPort);
            heldSyns.remove(key);
            if (heldSyns.size() >= HELD_SYNS) {
                final java.util.Iterator<FlowKey> oldest = heldSyns.keySet().iterator();
                oldest.next();
                oldest.remove();
            }
            heldSyns.put(key, new HeldSyn(src, dst, copy));
        }
    }

    /** RFC 9293 §3.10.7.1: a segment to no connection gets a RST (unless it is one). */
    private void replyReset(final int src, final int dst, final TcpRepr r) {
        if (r.has(TcpSegment.RST)) {
            return;
        }
        final TcpRepr out = scratch.get().reply.clear();
        out.srcPort = r.dstPort;
        out.dstPort = r.srcPort;
        if (r.has(TcpSegment.ACK)) {
            out.seq = r.ack;
            out.flags = TcpSegment.RST;
        } else {
            out.seq = 0;
            out.ack = r.seq + r.segmentLength();
            out.flags = TcpSegment.RST | TcpSegment.ACK;
        }
        counters.increment(Counter.TCP_RESETS_SENT);
        sendTcp(dst, src, out);
    }

    private void listenInput(final TcpSocket listener, final int src, final int dst, final TcpRepr r, final long now) {
        if (r.has(TcpSegment.RST)) {
            return;
        }
        final TcpConfig tcpCfg = settings.tcp();
        if (r.has(TcpSegment.ACK) && !r.has(TcpSegment.SYN)) {
            if (tcpCfg.synCookies()) {
                final int mss = cookies.decode(now, dst, r.dstPort, src, r.srcPort, r.seq - 1, r.ack - 1);
                if (mss > 0) {
                    counters.increment(Counter.TCP_SYN_COOKIES_VALID);
                    acceptCookie(listener, src, dst, r, mss, now);
                    return;
                }
                counters.increment(Counter.TCP_SYN_COOKIES_INVALID);
            }
            replyReset(src, dst, r);
            return;
        }
        if (!r.has(TcpSegment.SYN) || r.has(TcpSegment.ACK)) {
            if (r.has(TcpSegment.ACK)) {
                replyReset(src, dst, r);
            }
            return;
        }
        final TcpSocket child;
        final int sndBuf;
        final int rcvBuf;
        listener.lock.lock();
        try {
            if (!listener.listening || listener.closed) {
                return;
            }
            sndBuf = listener.sndBuf;
            rcvBuf = listener.rcvBuf;
            if (listener.synQueue >= tcpCfg.synBacklog() || listener.acceptQueue.size() >= listener.backlog) {
                if (!tcpCfg.synCookies() || listener.acceptQueue.size() >= listener.backlog) {
                    counters.increment(Counter.DROP_TCP_LISTEN_OVERFLOW);
                    return;
                }
                child = null;
            } else {
                listener.synQueue++;
                child = new TcpSocket(this);
                child.parent = listener;
                child.embryo = true;
            }
        } finally {
            listener.lock.unlock();
        }
        if (child == null) {
            sendCookieSynAck(src, dst, r, rcvBuf, now);
            return;
        }
        child.lock.lock();
        try {
            child.localIp = dst;
            child.localPort = r.dstPort;
            child.remoteIp = src;
            child.remotePort = r.srcPort;
            child.sndBuf = sndBuf;
            child.rcvBuf = rcvBuf;
            child.keepalive = listener.keepalive;
            child.nodelay = listener.nodelay;
            if (!flows.put(dst, r.dstPort, src, r.srcPort, child)) {
                child.embryo = false;
                listener.lock.lock();
                try {
                    listener.synQueue--;
                } finally {
                    listener.lock.unlock();
                }
                return;
            }
            child.flowRegistered = true;
            counters.increment(Counter.TCP_PASSIVE_OPENS);
            final int iss = isn.isn(now, dst, r.dstPort, src, r.srcPort);
            child.conn = TcpConnection.accept(tcpCfg.withBuffers(sndBuf, rcvBuf), this, child, dst, r.dstPort, src,
                r.srcPort, iss, mssFor(src), r, now);
            applyOptions(child, now);
        } finally {
            child.lock.unlock();
        }
    }

    private void sendCookieSynAck(final int src, final int dst, final TcpRepr syn, final int rcvBuf, final long now) {
        final int peerMss = syn.options.mss > 0 ? syn.options.mss : TcpConnection.DEFAULT_MSS;
        final int cookie = cookies.encode(now, dst, syn.dstPort, src, syn.srcPort, syn.seq, peerMss);
        final TcpRepr out = scratch.get().reply.clear();
        out.srcPort = syn.dstPort;
        out.dstPort = syn.srcPort;
        out.seq = cookie;
        out.ack = syn.seq + 1;
        out.flags = TcpSegment.SYN | TcpSegment.ACK;
        out.window = Math.min(rcvBuf, 65535);
        out.options.mss = mssFor(src);
        if (syn.options.hasTimestamp && settings.tcp().timestamps()) {
            // window scale and SACK survive only inside the timestamp (see SynCookies)
            final int ws = syn.options.windowShift;
            final boolean sack = syn.options.sackPermitted && settings.tcp().sack();
            if (ws >= 0) {
                out.options.windowShift = settings.tcp().withBuffers(settings.tcp().sendBuffer(), rcvBuf).offeredShift();
            }
            out.options.sackPermitted = sack;
            out.options.hasTimestamp = true;
            out.options.tsVal = SynCookies.encodeTsOptions((int)(now / TcpConfig.MS), ws, sack);
            out.options.tsEcr = syn.options.tsVal;
        }
        counters.increment(Counter.TCP_SYN_COOKIES_SENT);
        sendTcp(dst, src, out);
    }

    private void acceptCookie(final TcpSocket listener, final int src, final int dst, final TcpRepr r, final int mss,
        final long now) {
        final int sndBuf;
        final int rcvBuf;
        listener.lock.lock();
        try {
            if (!listener.listening || listener.closed || listener.acceptQueue.size() >= listener.backlog) {
                counters.increment(Counter.DROP_TCP_LISTEN_OVERFLOW);
                return;
            }
            sndBuf = listener.sndBuf;
            rcvBuf = listener.rcvBuf;
        } finally {
            listener.lock.unlock();
        }
        final TcpSocket child = new TcpSocket(this);
        child.parent = listener;
        child.lock.lock();
        try {
            child.localIp = dst;
            child.localPort = r.dstPort;
            child.remoteIp = src;
            child.remotePort = r.srcPort;
            child.sndBuf = sndBuf;
            child.rcvBuf = rcvBuf;
            child.keepalive = listener.keepalive;
            child.nodelay = listener.nodelay;
            if (!flows.put(dst, r.dstPort, src, r.srcPort, child)) {
                return;
            }
            child.flowRegistered = true;
            counters.increment(Counter.TCP_PASSIVE_OPENS);
            final int ws = r.options.hasTimestamp ? SynCookies.decodeWindowShift(r.options.tsEcr) : -1;
            final boolean sack = r.options.hasTimestamp && SynCookies.decodeSack(r.options.tsEcr);
            final TcpConfig cfg = settings.tcp().withBuffers(sndBuf, ws >= 0 ? rcvBuf : Math.min(rcvBuf, 65535));
            child.conn = TcpConnection.fromCookie(cfg, this, child, dst, r.dstPort, src, r.srcPort, r.ack - 1,
                mssFor(src), mss, ws, sack, r, now);
            if (child.conn.state() == TcpState.CLOSED) {
                forgetConnection(child);
            } else {
                applyOptions(child, now);
            }
        } finally {
            child.lock.unlock();
        }
    }

    private void applyOptions(final TcpSocket s, final long now) {
        if (s.nodelay) {
            s.conn.setNoDelay(true, now);
        }
        if (s.keepalive) {
            s.conn.setKeepalive(true, now);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // transmit
    // ---------------------------------------------------------------------------------------------

    /** {@link TcpConnection.Output}: called under the connection's socket lock. */
    @Override
    public void transmit(final TcpConnection c, final TcpRepr segment) {
        sendTcp(c.localIp, c.remoteIp, segment);
    }

    private void sendTcp(final int src, final int dst, final TcpRepr seg) {
        final Scratch s = scratch.get();
        if (!route(s, dst, -1)) {
            counters.increment(Counter.DROP_NO_ROUTE);
            return;
        }
        final NetInterface ifc = s.routeIf;
        final int nextHop = s.routeNextHop;
        // Loopback: the receiving flow's consumer is woken after the transmit lock is released, so the
        // wake-up (a futex call, an epoll lock) does not lengthen the lock every loopback sender shares.
        final Scratch sender = ifc.loopbackToChannel ? senderScratch.get() : null;
        if (sender != null) {
            sender.deferWakes = true;
        }
        lockTx(ifc);
        try {
            final UnsafeBuffer t = ifc.txBuffer;
            final int ipOff = EthernetFrame.HEADER_LENGTH;
            final int tcpLen = seg.headerLength() + seg.payloadLength;
            if (ipOff + Ipv4Packet.HEADER_LENGTH + tcpLen > t.capacity()) {
                dropOverMtu(ifc, "tcp segment", Ipv4Packet.HEADER_LENGTH + tcpLen);
                return;
            }
            seg.emit(t, ipOff + Ipv4Packet.HEADER_LENGTH, src, dst);
            Ipv4Packet.emit(t, ipOff, 0, tcpLen, ipId.incrementAndGet() & 0xFFFF, Ipv4Packet.FLAG_DF, settings.ttl(),
                Ipv4Packet.PROTO_TCP, src, dst);
            counters.increment(Counter.TCP_OUT);
            if (seg.payloadLength == 0 && seg.flags == TcpSegment.ACK) {
                counters.increment(Counter.TCP_ACK_ONLY_OUT);
            }
            finishFrame(ifc, nextHop, t, ipOff + Ipv4Packet.HEADER_LENGTH + tcpLen);
        } finally {
            ifc.txLock.unlock();
            ifc.device().flushTransmit();
            if (sender != null) {
                sender.deferWakes = false;
                final TcpSocket wake = sender.deferredWake;
                if (wake != null) {
                    sender.deferredWake = null;
                    wakeConsumer(wake, true);
                }
            }
        }
    }

    /** Send a UDP datagram for {@code sock} (lock held), fragmenting when it exceeds the MTU. */
    int sendUdp(final UdpSocket sock, final int dst, final int dstPort, final DirectBuffer payload, final int off,
        final int len) {
        return sendUdp(sock.boundIfIndex, sock.localIp, sock.localPort, dst, dstPort, payload, off, len);
    }

    /**
     * Send a UDP datagram from any source address and port, with no socket (the gateway's outbound NAT
     * answering for the host). Any thread.
     *
     * @return the payload length, or {@code -ENETUNREACH}.
     */
    public int sendDatagram(final int src, final int srcPort, final int dst, final int dstPort,
        final DirectBuffer payload, final int off, final int len) {
        return sendUdp(-1, src, srcPort, dst, dstPort, payload, off, len);
    }

    private int sendUdp(final int boundIfIndex, final int localIp, final int localPort, final int dst,
        final int dstPort, final DirectBuffer payload, final int off, final int len) {
        final Scratch s = scratch.get();
        final boolean bcast = dst == Addresses.IP_BROADCAST;
        int boundIf = boundIfIndex;
        if (bcast && boundIf < 0) {
            for (final NetInterface i : interfaces) {
                if (!i.loopback()) {
                    boundIf = i.index();
                    break;
                }
            }
        }
        if (!route(s, dst, bcast ? boundIf : -1)) {
            counters.increment(Counter.DROP_NO_ROUTE);
            return -Errno.ENETUNREACH.number();
        }
        final NetInterface ifc = s.routeIf;
        final int nextHop = s.routeNextHop;
        int src = localIp;
        if (src == 0) {
            src = ifc.loopback() ? ((dst >>> 24) == 127 ? 0x7F000001 : dst) : ifc.address();
        }
        final int udpLen = UdpDatagram.HEADER_LENGTH + len;
        // the checksum over the whole datagram, computed once (fragments carry pieces of it)
        final long sum = Checksum.pseudoHeader(src, dst, Ipv4Packet.PROTO_UDP, udpLen) + localPort + dstPort
            + udpLen + Checksum.sum(payload, off, len);
        int csum = Checksum.finish(sum);
        if (csum == 0) {
            csum = 0xFFFF;
        }
        lockTx(ifc);
        try {
            final UnsafeBuffer t = ifc.txBuffer;
            final int ipOff = EthernetFrame.HEADER_LENGTH;
            final int maxIpPayload = ifc.mtu() - Ipv4Packet.HEADER_LENGTH;
            final int id = ipId.incrementAndGet() & 0xFFFF;
            int sent = 0; // bytes of the UDP datagram (header + payload) already sent
            while (sent < udpLen) {
                final boolean last = udpLen - sent <= maxIpPayload;
                final int chunk = last ? udpLen - sent : maxIpPayload & ~7;
                int w = ipOff + Ipv4Packet.HEADER_LENGTH;
                int from = sent;
                if (sent == 0) {
                    t.putShort(w, (short)localPort, java.nio.ByteOrder.BIG_ENDIAN);
                    t.putShort(w + 2, (short)dstPort, java.nio.ByteOrder.BIG_ENDIAN);
                    t.putShort(w + 4, (short)udpLen, java.nio.ByteOrder.BIG_ENDIAN);
                    t.putShort(w + 6, (short)csum, java.nio.ByteOrder.BIG_ENDIAN);
                    w += UdpDatagram.HEADER_LENGTH;
                    from = UdpDatagram.HEADER_LENGTH;
                }
                final int dataBytes = sent + chunk - from;
                t.putBytes(w, payload, off + from - UdpDatagram.HEADER_LENGTH, dataBytes);
                final int fragWord = (last ? 0 : Ipv4Packet.FLAG_MF) | (sent / 8);
                Ipv4Packet.emit(t, ipOff, 0, chunk, id, fragWord, settings.ttl(), Ipv4Packet.PROTO_UDP, src, dst);
                if (fragWord != 0) {
                    counters.increment(Counter.IP_FRAGMENTS_OUT);
                }
                finishFrame(ifc, nextHop, t, ipOff + Ipv4Packet.HEADER_LENGTH + chunk);
                sent += chunk;
            }
            counters.increment(Counter.UDP_OUT);
            return len;
        } finally {
            ifc.txLock.unlock();
            ifc.device().flushTransmit();
        }
    }

    /** Send an ICMP message whose data is {@code dataLen} bytes from {@code data}. */
    private boolean sendIcmp(final int src, final int dst, final int type, final int code, final int rest,
        final DirectBuffer data, final int dataOff, final int dataLen) {
        final Scratch s = scratch.get();
        if (!route(s, dst, -1)) {
            counters.increment(Counter.DROP_NO_ROUTE);
            return false;
        }
        final NetInterface ifc = s.routeIf;
        lockTx(ifc);
        try {
            final UnsafeBuffer t = ifc.txBuffer;
            final int ipOff = EthernetFrame.HEADER_LENGTH;
            final int icmpOff = ipOff + Ipv4Packet.HEADER_LENGTH;
            final int n = Math.min(dataLen, t.capacity() - icmpOff - IcmpPacket.HEADER_LENGTH);
            t.putBytes(icmpOff + IcmpPacket.HEADER_LENGTH, data, dataOff, n);
            final int len = IcmpPacket.emit(t, icmpOff, type, code, rest, n);
            Ipv4Packet.emit(t, ipOff, 0, len, ipId.incrementAndGet() & 0xFFFF, 0, settings.ttl(), Ipv4Packet.PROTO_ICMP,
                src, dst);
            finishFrame(ifc, s.routeNextHop, t, icmpOff + len);
            return true;
        } finally {
            ifc.txLock.unlock();
            ifc.device().flushTransmit();
        }
    }

    /** Fill in the Ethernet header (resolving the next hop) and send; tx lock held. */
    private void finishFrame(final NetInterface ifc, final int nextHop, final UnsafeBuffer t, final int length) {
        final long now = now();
        long mac;
        if (ifc.loopback()) {
            mac = 0;
        } else if (nextHop == Addresses.IP_BROADCAST || nextHop == ifc.broadcast()) {
            mac = Addresses.MAC_BROADCAST;
        } else {
            mac = arp.lookup(nextHop, now);
        }
        EthernetFrame.emit(t, 0, Math.max(mac, 0), ifc.mac(), EthernetFrame.TYPE_IPV4);
        if (mac < 0) {
            queuePending(ifc, nextHop, t, length, now);
            return;
        }
        transmitFrame(ifc, t, 0, length);
    }

    /** Hold a frame until its next hop is resolved (at most 64 KiB per neighbour) and ask for the address. */
    private void queuePending(final NetInterface ifc, final int nextHop, final UnsafeBuffer t, final int length,
        final long now) {
        synchronized (arpPending) {
            ArrayDeque<byte[]> q = arpPending.get(nextHop);
            if (q == null) {
                if (arpPending.size() >= 256) {
                    counters.increment(Counter.DROP_ARP_UNRESOLVED);
                    return;
                }
                q = new ArrayDeque<>();
                arpPending.put(nextHop, q);
            }
            int queued = length;
            for (final byte[] f : q) {
                queued += f.length;
            }
            while (queued > PENDING_BYTES && !q.isEmpty()) {
                queued -= q.poll().length; // Linux's unres_qlen_bytes: keep the newest 64 KiB
                counters.increment(Counter.DROP_ARP_UNRESOLVED);
            }
            final byte[] copy = new byte[length];
            t.getBytes(0, copy);
            q.add(copy);
        }
        if (arp.shouldRequest(nextHop, now)) {
            final int p = EthernetFrame.emit(t, 0, Addresses.MAC_BROADCAST, ifc.mac(), EthernetFrame.TYPE_ARP);
            final int n = p + ArpPacket.emit(t, p, ArpPacket.OP_REQUEST, ifc.mac(), ifc.address(), 0, nextHop);
            transmitFrame(ifc, t, 0, n);
            counters.increment(Counter.ARP_REQUESTS_SENT);
        }
    }

    private void flushPending(final NetInterface ifc, final int ip, final long mac) {
        final ArrayDeque<byte[]> q;
        synchronized (arpPending) {
            q = arpPending.remove(ip);
        }
        if (q == null) {
            return;
        }
        lockTx(ifc);
        try {
            for (final byte[] f : q) {
                final UnsafeBuffer view = new UnsafeBuffer(f);
                EthernetFrame.emit(view, 0, mac, ifc.mac(), EthernetFrame.TYPE_IPV4);
                transmitFrame(ifc, view, 0, f.length);
            }
        } finally {
            ifc.txLock.unlock();
            ifc.device().flushTransmit();
        }
    }

    /**
     * A packet of {@code ipLength} bytes does not fit the interface's MTU: counted on the interface
     * ({@code txDropped}) and in the stack ({@link Counter#DROP_TX_OVER_MTU}, which {@code netstat -s} and
     * the REST API show); the first one per interface is also reported through {@link #setWarnings}, with
     * the sizes (a sender that keeps producing such segments stalls: last time a TCP flow did).
     */
    private void dropOverMtu(final NetInterface ifc, final String what, final int ipLength) {
        ifc.txDropped.incrementAndGet();
        counters.increment(Counter.DROP_TX_OVER_MTU);
        if (!ifc.overMtuReported.get() && ifc.overMtuReported.compareAndSet(false, true)) {
            warnings.accept(ifc.name() + ": dropped a " + ipLength + "-byte " + what + " larger than the mtu "
                + ifc.mtu() + " (first one; later ones are counted in drop_tx_over_mtu)");
        }
    }

    /** Take the interface's transmit lock, counting the times another sender held it ({@code TX_LOCK_WAITS}). */
    private void lockTx(final NetInterface ifc) {
        if (!ifc.txLock.tryLock()) {
            counters.increment(Counter.TX_LOCK_WAITS);
            ifc.txLock.lock();
        }
    }

    private void transmitFrame(final NetInterface ifc, final DirectBuffer t, final int off, final int length) {
        capture(t, off, length);
        if (ifc.loopbackToChannel && loopbackToChannel(ifc, t, off, length)) {
            counters.increment(Counter.TX_FRAMES);
            ifc.txPackets.incrementAndGet();
            ifc.txBytes.addAndGet(length);
            return;
        }
        if (ifc.device().transmit(t, off, length)) {
            counters.increment(Counter.TX_FRAMES);
            ifc.txPackets.incrementAndGet();
            ifc.txBytes.addAndGet(length);
        } else {
            counters.increment(Counter.DROP_DEVICE);
            ifc.txDropped.incrementAndGet();
        }
    }

    /**
     * System property ({@code true} by default): loopback segments of established flows go straight
     * into the receiving flow's net channel in the sender's transmit ({@link #loopbackToChannel});
     * {@code false} queues every loopback frame for the interface's receive actor (A/B switch).
     */
    public static final String LOOPBACK_TO_CHANNEL_PROPERTY = "dev.osvj.net.loopback-to-channel";
    private static final boolean LOOPBACK_TO_CHANNEL =
        Boolean.parseBoolean(System.getProperty(LOOPBACK_TO_CHANNEL_PROPERTY, "true"));

    /** Tests only: frames {@link #loopbackToChannel} put straight into a net channel. */
    long loopbackToChannelFrames() {
        return counters.get(Counter.TCP_LOOPBACK_TO_CHANNEL);
    }

    /**
     * The loopback fast path (OSv's point: the classifier, not a receive thread, hands a segment to
     * its consumer): a frame the sender transmits on {@code lo} that the classifier takes (a data or
     * ACK segment of an established flow with room in its channel) goes into the receiving flow's
     * net channel right here, in the sender's transmit, and its consumer is woken from here, instead
     * of being copied into the loopback device's queue and classified later by the interface's
     * receive actor (a mailbox run on a vCPU, often a vCPU woken for it, per burst). Called with the
     * interface's transmit lock held (every loopback transmit is), so transmits are serialised; only
     * while the device's queue holds no frame and its receive actor is not processing one
     * ({@link LoopbackDevice#quiescent()}), so a flow's segments never overtake its earlier ones still
     * queued there. Everything else (SYN, FIN, RST, unknown flows, a full channel, an armed receive
     * fault) returns false and takes the queue as before.
     *
     * @return true when the frame went into a net channel (counted as received too).
     */
    private boolean loopbackToChannel(final NetInterface ifc, final DirectBuffer t, final int off, final int length) {
        if (!(t instanceof MutableDirectBuffer frame) || !(ifc.device() instanceof LoopbackDevice lo)
            || !lo.quiescent() || faults.pending(NetFaults.Point.RECEIVE) > 0) {
            return false;
        }
        if (!classify(senderScratch.get(), ifc, frame, off, length, false, true)) {
            return false;
        }
        counters.increment(Counter.RX_FRAMES);
        counters.increment(Counter.TCP_LOOPBACK_TO_CHANNEL);
        ifc.rxPackets.incrementAndGet();
        ifc.rxBytes.addAndGet(length);
        capture(frame, off, length);
        return true;
    }

    private void capture(final DirectBuffer b, final int off, final int length) {
        final PcapWriter w = pcap;
        if (w == null) {
            return;
        }
        try {
            final ByteBuffer view;
            if (b.byteArray() != null) {
                view = ByteBuffer.wrap(b.byteArray(), b.wrapAdjustment() + off, length);
            } else {
                final byte[] copy = new byte[length];
                b.getBytes(off, copy);
                view = ByteBuffer.wrap(copy);
            }
            w.write(realtime.getAsLong(), view);
        } catch (final IOException e) {
            pcap = null; // stop capturing; the kernel logs the pcap's state at shutdown
        }
    }

    // ---------------------------------------------------------------------------------------------
    // timers
    // ---------------------------------------------------------------------------------------------

    /** Run every timer due at {@code now}: TCP retransmission, delayed ACK, persist, keepalive, TIME_WAIT. */
    public void poll(final long now) {
        flows.forEach(sock -> {
            final TcpConnection c = sock.conn;
            if (c != null && c.pollAt() <= now) {
                sock.lock.lock();
                try {
                    final int held = sock.drainChannelLocked(now);
                    if (held > 0) {
                        counters.add(Counter.TCP_CHANNEL_BY_TIMER, held);
                    }
                    if (sock.conn != null) {
                        sock.conn.poll(now);
                    }
                } finally {
                    sock.lock.unlock();
                }
            }
        });
        synchronized (reassembler) {
            reassembler.expire(now);
        }
    }

    /** The earliest TCP deadline (diagnostics; the driver ticks anyway). */
    public long nextTimerAt() {
        final long[] min = {TcpConnection.NEVER};
        flows.forEach(sock -> {
            final TcpConnection c = sock.conn;
            if (c != null) {
                min[0] = Math.min(min[0], c.pollAt());
            }
        });
        return min[0];
    }

    // ---------------------------------------------------------------------------------------------
    // socket support (called by Sockets and the socket classes)
    // ---------------------------------------------------------------------------------------------

    void forgetConnection(final TcpSocket s) {
        if (s.flowRegistered) {
            flows.remove(s.localIp, s.localPort, s.remoteIp, s.remotePort, s);
            s.flowRegistered = false;
        }
    }

    void releasePort(final TcpSocket s) {
        // ports of unconnected sockets are only reserved while listening (see listen/bind checks)
    }

    private TcpSocket findListener(final int dst, final int port) {
        synchronized (listeners) {
            final List<TcpSocket> l = listeners.get(port);
            if (l == null) {
                return null;
            }
            TcpSocket any = null;
            for (final TcpSocket s : l) {
                if (s.localIp == dst) {
                    return s;
                }
                if (s.localIp == 0) {
                    any = s;
                }
            }
            return any;
        }
    }

    /** True when a listener or a connection uses {@code ip:port} as its local address. */
    private boolean tcpPortInUse(final int ip, final int port, final TcpSocket except) {
        synchronized (listeners) {
            final List<TcpSocket> l = listeners.get(port);
            if (l != null) {
                for (final TcpSocket s : l) {
                    if (s != except && (s.localIp == 0 || ip == 0 || s.localIp == ip)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    int listen(final TcpSocket s) {
        if (s.transparent) {
            synchronized (listeners) {
                if (transparentListener != null) {
                    return -Errno.EADDRINUSE.number();
                }
                transparentListener = s;
                return 0;
            }
        }
        synchronized (listeners) {
            if (tcpPortInUse(s.localIp, s.localPort, s)) {
                return -Errno.EADDRINUSE.number();
            }
            listeners.computeIfAbsent(s.localPort, k -> new ArrayList<>()).add(s);
            return 0;
        }
    }

    void unlisten(final TcpSocket s) {
        synchronized (listeners) {
            if (transparentListener == s) {
                transparentListener = null;
                return;
            }
            final List<TcpSocket> l = listeners.get(s.localPort);
            if (l != null) {
                l.remove(s);
                if (l.isEmpty()) {
                    listeners.remove(s.localPort);
                }
            }
        }
    }

    /** Check a TCP bind against listeners (and pick an ephemeral port for port 0). */
    int bindTcp(final TcpSocket s, final int ip, final int port) {
        if (ip != 0 && !isLocalAddress(ip)) {
            return -Errno.EADDRNOTAVAIL.number();
        }
        synchronized (listeners) {
            if (port == 0) {
                for (int i = 0; i < EPHEMERAL_HIGH - EPHEMERAL_LOW; i++) {
                    final int p = nextPort();
                    if (!tcpPortInUse(ip, p, s) && !connectionUsesPort(p)) {
                        s.localIp = ip;
                        s.localPort = p;
                        return 0;
                    }
                }
                return -Errno.EADDRINUSE.number();
            }
            if (tcpPortInUse(ip, port, s) || !s.reuseAddr && connectionUsesPort(port)) {
                return -Errno.EADDRINUSE.number();
            }
            s.localIp = ip;
            s.localPort = port;
            return 0;
        }
    }

    private boolean connectionUsesPort(final int port) {
        final boolean[] used = {false};
        flows.forEach(t -> {
            if (t.localPort == port && t.parent == null) {
                used[0] = true;
            }
        });
        return used[0];
    }

    private int nextPort() {
        final int p = nextEphemeral;
        nextEphemeral = p >= EPHEMERAL_HIGH ? EPHEMERAL_LOW : p + 1;
        return p;
    }

    /** Active open; socket lock held by the caller. */
    int connect(final TcpSocket s, final int dst, final int dstPort) {
        final long now = now();
        final int src = sourceFor(dst);
        if (src == 0) {
            return -Errno.ENETUNREACH.number();
        }
        if (s.localIp != 0 && s.localIp != src && !(isLocalAddress(dst) && isLocalAddress(s.localIp))) {
            return -Errno.EADDRNOTAVAIL.number();
        }
        final int local = s.localIp != 0 ? s.localIp : src;
        if (s.localPort == 0) {
            synchronized (listeners) {
                int tries = 0;
                int p;
                do {
                    p = nextPort();
                    tries++;
                } while ((flows.get(local, p, dst, dstPort) != null || tcpPortInUse(local, p, s))
                    && tries < EPHEMERAL_HIGH - EPHEMERAL_LOW);
                if (tries >= EPHEMERAL_HIGH - EPHEMERAL_LOW) {
                    return -Errno.EADDRNOTAVAIL.number();
                }
                s.localPort = p;
            }
        }
        s.localIp = local;
        s.remoteIp = dst;
        s.remotePort = dstPort;
        if (!flows.put(local, s.localPort, dst, dstPort, s)) {
            return -Errno.EADDRINUSE.number();
        }
        s.flowRegistered = true;
        counters.increment(Counter.TCP_ACTIVE_OPENS);
        final int iss = isn.isn(now, local, s.localPort, dst, dstPort);
        s.conn = TcpConnection.connect(settings.tcp().withBuffers(s.sndBuf, s.rcvBuf), this, s, local, s.localPort,
            dst, dstPort, iss, mssFor(dst), now);
        applyOptions(s, now);
        return 0;
    }

    int bindUdp(final UdpSocket s, final int ip, final int port) {
        if (ip != 0 && ip != Addresses.IP_BROADCAST && !isLocalAddress(ip)) {
            return -Errno.EADDRNOTAVAIL.number();
        }
        synchronized (udpPorts) {
            int p = port;
            if (p == 0) {
                int tries = 0;
                do {
                    p = nextPort();
                    tries++;
                } while (udpPorts.containsKey(p) && tries < EPHEMERAL_HIGH - EPHEMERAL_LOW);
                if (udpPorts.containsKey(p)) {
                    return -Errno.EADDRINUSE.number();
                }
            } else {
                final List<UdpSocket> l = udpPorts.get(p);
                if (l != null) {
                    for (final UdpSocket o : l) {
                        if (!(s.reuseAddr && o.reuseAddr) && (o.localIp == 0 || ip == 0 || o.localIp == ip)) {
                            return -Errno.EADDRINUSE.number();
                        }
                    }
                }
            }
            s.localIp = ip;
            s.localPort = p;
            udpPorts.computeIfAbsent(p, k -> new ArrayList<>()).add(s);
            return 0;
        }
    }

    void unbindUdp(final UdpSocket s) {
        synchronized (udpPorts) {
            final List<UdpSocket> l = udpPorts.get(s.localPort);
            if (l != null) {
                l.remove(s);
                if (l.isEmpty()) {
                    udpPorts.remove(s.localPort);
                }
            }
        }
    }

    private UdpSocket findUdp(final int dst, final int port, final int src, final int srcPort, final NetInterface ifc) {
        synchronized (udpPorts) {
            final List<UdpSocket> l = udpPorts.get(port);
            if (l == null) {
                return null;
            }
            UdpSocket best = null;
            for (final UdpSocket s : l) {
                if (s.connected && (s.remoteIp != src || s.remotePort != srcPort)) {
                    continue;
                }
                if (s.boundIfIndex >= 0 && s.boundIfIndex != ifc.index()) {
                    continue;
                }
                if (s.localIp == dst) {
                    return s;
                }
                if (s.localIp == 0 || s.localIp == Addresses.IP_BROADCAST) {
                    best = s;
                }
            }
            return best;
        }
    }

    /** Visit every TCP connection and listener (netstat). */
    void forEachTcp(final java.util.function.Consumer<TcpSocket> action) {
        final List<TcpSocket> ls = new ArrayList<>();
        synchronized (listeners) {
            listeners.values().forEach(ls::addAll);
        }
        ls.forEach(action);
        flows.forEach(action);
    }

    void forEachUdp(final java.util.function.Consumer<UdpSocket> action) {
        final List<UdpSocket> us = new ArrayList<>();
        synchronized (udpPorts) {
            udpPorts.values().forEach(us::addAll);
        }
        us.forEach(action);
    }

    /** Every connection's sequence state, one line each (diagnostics). */
    public List<String> connectionDebug() {
        final List<String> out = new ArrayList<>();
        flows.forEach(t -> {
            final TcpConnection c = t.conn;
            if (c != null) {
                out.add(c.debugState() + " channel=" + (t.channel == null ? "none"
                    : t.channel.size() + (t.channel.isClosed() ? " closed" : "")) + " waiters=" + t.waiters
                    + " watchers=" + t.watchers.size());
            }
        });
        return out;
    }

    /** Longest chain of the classifier's flow table (the keyed-hash test). */
    public int flowTableLongestChain() {
        return flows.longestChain();
    }

    public int flowCount() {
        return flows.size();
    }

    /** Hook for tests: the frame handler of an interface (what its device's poll calls). */
    FrameHandler rxHandler(final NetInterface ifc) {
        return ifc.rxHandler;
    }
}
