package dev.osvj.vswitch;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * One virtual switch: a {@link SwitchCore} whose ports are Aeron sessions. Runs on its
 * {@link SwitchHost}'s duty-cycle thread ({@link #doWork}); other threads talk to it through a command
 * queue (control path only).
 *
 * <pre>
 *   instance A                         switch                           instance B
 *   SwitchPort --uplink (ipc|udp, stream U, session Sa)--> Subscription <-- uplink, session Sb -- SwitchPort
 *      ^                                   |  SwitchCore: learn, forward, flood                     ^
 *      +---downlink (stream U+1, its own)--+-- ExclusivePublication per port ---- downlink --------+
 * </pre>
 *
 * <ul>
 *   <li>A port is an uplink session: the first message of a session is a HELLO naming the port and
 *       its downlink channel; the switch adds the port and asks its media driver for an exclusive
 *       publication to that channel (asynchronously: frames for the port are {@link Drop#NOT_CONNECTED}
 *       until it is ready and the port's subscription connected).</li>
 *   <li>A port goes away on its BYE, or when its uplink image becomes unavailable (the instance
 *       closed its publication, its process died, or for UDP the image liveness timeout passed): the
 *       port is removed, its MACs forgotten and its downlink closed.</li>
 *   <li>Forwarding never blocks: a downlink without room is {@link Drop#BACK_PRESSURED}.</li>
 * </ul>
 *
 * <h2>Cut-through for ports in this JVM</h2>
 * A port joined from this JVM on the switch's own media driver ({@link #connect}, a kernel's
 * {@code vswitch} device with no channel) forwards its frames on its own sending thread
 * ({@link #cutThrough}, under the switch's forwarding lock) instead of offering them to its uplink for
 * the switch thread to poll: one thread hand-off less per frame. Frames to such a port whose device
 * is in this JVM ({@link SwitchPort#deliverTo}) are written by the forwarding thread straight into
 * the device's receive queue ({@link SwitchPort#receiveDirect}): no downlink copy and no wake-up of
 * the destination's device thread, a second hand-off less; the downlink carries them only while the
 * guest has no receive buffer (and the frames after them, until its device thread has read it).
 * HELLO and BYE still use the uplink. Ports in other processes or hosts use the uplink, the
 * downlinks and the switch thread as before. With {@link SwitchHost.Options#inlineTransmit} a local
 * port also lets its device transmit on the guest's kicking thread ({@link SwitchPort#transmitsInline}):
 * that thread then only tries the forwarding lock, and a frame that finds it held is handed to the
 * holder through a many-to-one ring ({@link #cutThrough}, {@link #HANDED_OFF}): every holder forwards
 * the ring's frames before it releases the lock and looks again after releasing it, and the sender
 * tries the lock once more after writing its frame, so a handed-off frame is forwarded by whichever
 * thread holds the lock next, not by the switch thread (which drains the ring too, as a backstop). The
 * port's later frames follow it through the ring until it was forwarded, so frames never overtake each
 * other. Only when the ring is full does a frame take the uplink (with the port's later frames following
 * it there until the switch thread has forwarded it).
 *
 * <pre>
 *   inline sender A: tryLock fails -> ring.write(A's frame) -> tryLock again (fails: B holds it)
 *   holder B:        ... forward B's frame -> drain ring (A's frame) -> unlock -> ring empty? else tryLock, drain
 * </pre>
 *
 * <p>The switch thread takes the forwarding lock only in a duty cycle that has something to forward or
 * change: at the first queued command, pending downlink, fragment polled from an uplink or trunk, or due
 * sweep, and holds it to the end of that cycle ({@link #doWork}). Its idle duty cycles (it spins, then
 * yields, then parks between frames) poll the uplinks and trunk links without it: they are polled by the
 * switch thread only, and the cycle touches the core, egress or counters only after taking the lock. So
 * an inline sender finds the lock held only while the switch thread really forwards a frame or runs a
 * command, not while it spins or is preempted in an idle cycle ({@link #lockedDutyCycles}).
 *
 * <p>A {@code vswitch} device's receive interrupt runs inline by default (its device key
 * {@code interrupts = auto}): the destination driver's receive handler, and the stack's classifier
 * behind it, run on the forwarding thread inside {@link SwitchPort#receiveDirect} when that thread is
 * a host thread (a device's backend thread, the switch thread), so the frame reaches the waiting
 * application thread without waking a vCPU for the interrupt actor first. If that handler runs under
 * the forwarding lock (see deferral below), transmits, and its device transmits inline, the send comes
 * back here on the thread that holds the lock: {@link #cutThrough} is never re-entered, the frame is
 * handed off through the ring, and the outer forwarding forwards it before releasing the lock.
 * With inline transmit on kernel threads ({@link SwitchHost.InlineTransmit#ALL}) the forwarding thread
 * may be a kernel thread of the sending kernel: to the destination kernel it is an outside thread too,
 * and its receive interrupt runs inline there as well ({@code InterruptLine}), so a frame from a
 * kernel thread reaches the destination's waiting thread without any hand-off but that wake-up.
 *
 * <p>With {@link SwitchHost.Options#deferInterrupts} (the default) the switch thread and the ports'
 * device threads run those inline interrupts after releasing the forwarding lock
 * ({@code InterruptLine.deferInline}): the lock then covers their table work and the copy into the
 * destination's receive queue, not the destination stack's receive path, so inline senders find it
 * free far more often instead of taking their uplink. Only those threads: they hold no guest stack's
 * lock. An inline sender (a guest's kicking thread) may hold its own stack's locks, so the destination's
 * handler runs under the forwarding lock there: two kernel threads, each holding its stack's lock,
 * would otherwise run each other's receive handler and deadlock, and the forwarding lock, which inline
 * senders only try, keeps that from happening. What the handler does not do under the lock is wake the
 * receiving thread: an inline forwarding runs in a {@link dev.osvj.net.stack.WakeDeferral} scope that
 * is closed right after the lock is released, so the wake-up (for a halted vCPU an IPI: an actor message
 * and a host unpark, on which the host may preempt the waker) no longer lengthens the critical section
 * the other kernel's senders find held (session 9: inline sends that found it held fell from 0.2-0.45
 * to under 0.01 per request in the k2k benchmark).
 *
 * <h2>Trunks: one switch across hosts</h2>
 * Switches of the same name on several hosts form one L2 segment as a full mesh of trunk links, one
 * per pair: one switch of the pair joins the other's UDP uplink as a port with the trunk flag in its
 * HELLO ({@link #addTrunk}, called by whoever knows the peers, e.g. the fleet); the joined switch
 * marks that port a trunk, the joining one owns the link as a trunk port of its own whose frames it
 * polls and sends on its duty cycle. Both sides apply split horizon ({@link SwitchCore}), so a
 * station's frame crosses at most one trunk and the mesh needs no spanning tree.
 *
 * <pre>
 *   host A: switch S ──trunk (A joined B's udp uplink, HELLO trunk)──▶ host B: switch S
 *      │  ▲                                                              ▲  │
 *      └──┼── trunk (A joined C) ──▶ host C: switch S ◀── trunk (B joined C)┘
 * </pre>
 *
 * A trunk whose peer went away (both directions not connected, as Aeron's liveness timeouts tell, for
 * {@link #TRUNK_DEAD_SWEEPS} sweeps) is removed like a port, and its MACs forgotten: frames to them are
 * flooded until the stations are learned again on their new links (a replica re-placed on another
 * host with the same MAC is found this way).
 */
public final class VSwitch implements AutoCloseable {
    /** Fragments polled per subscription per duty cycle. */
    private static final int FRAGMENT_LIMIT = 64;
    /** Table sweeps (and trunk liveness checks): at most one per this many nanoseconds. */
    private static final long SWEEP_INTERVAL_NS = 1_000_000_000L;
    /** Consecutive sweeps a joined trunk may be disconnected before it is removed (about 2 s). */
    static final int TRUNK_DEAD_SWEEPS = 2;
    /** Bytes of the hand-off ring (at least eight of the largest frames): frames of inline senders that found the lock held. */
    private static final int HAND_OFF_CAPACITY = 256 * 1024;

    private final SwitchSpec spec;
    private final SwitchHost host;
    private final Aeron aeron;
    private final SwitchCore core;
    private final List<Uplink> uplinks = new ArrayList<>();
    /** Uplink key (uplink index << 32 | session id) to port number. */
    private final Long2LongHashMap portOfSession = new Long2LongHashMap(-1);
    private final Downlink[] downlinks;
    /** Per port number: the trunk link this switch joined to a peer switch, or null. */
    private final Trunk[] trunkOf;
    /** The trunks this switch joined, switch thread only. */
    private final List<Trunk> trunks = new ArrayList<>();
    /** Peer endpoints of the trunks this switch joined, readable from any thread. */
    private final java.util.Set<String> trunkPeers = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /**
     * Held by whichever thread runs the forwarding state: the switch thread for the rest of a duty cycle
     * once it found work in it ({@link #lockForWork}), or a local port's sending thread cutting a frame
     * through ({@link #cutThrough}). One at a time, so the core, the egress publications and the counters
     * still have one writer at a time; the lock orders their accesses.
     */
    private final java.util.concurrent.locks.ReentrantLock forwarding = new java.util.concurrent.locks.ReentrantLock();
    private final ManyToOneConcurrentLinkedQueue<Consumer<VSwitch>> commands = new ManyToOneConcurrentLinkedQueue<>();
    private final UnsafeBuffer frameHeader = new UnsafeBuffer(new byte[PortMessage.HEADER_LENGTH]);
    private final List<Downlink> pending = new ArrayList<>();
    /** Local ports sent to in this duty cycle, woken once at its end. */
    private final Downlink[] toWake;
    private int toWakeCount;
    /** The switch's DHCP server, or null. */
    private final SwitchDhcp dhcp;
    private final UnsafeBuffer dhcpReply = new UnsafeBuffer(new byte[1024]);
    /** Frames received straight into a local port's device (forwarding-lock holder writes, any thread reads). */
    private final java.util.concurrent.atomic.AtomicLong receivedDirect = new java.util.concurrent.atomic.AtomicLong();
    /** Inline sends that found the forwarding lock held by another thread and handed their frame off. */
    private final java.util.concurrent.atomic.AtomicLong lockBusy = new java.util.concurrent.atomic.AtomicLong();
    /** Cut-through sends (not inline) that found the forwarding lock held and waited for it. */
    private final java.util.concurrent.atomic.AtomicLong lockWaits = new java.util.concurrent.atomic.AtomicLong();
    /**
     * Inline sends that took their uplink because the hand-off ring was full ({@link #CUT_BUSY}); until session 8
     * every inline send that found the forwarding lock held.
     */
    private final java.util.concurrent.atomic.AtomicLong cutBusy = new java.util.concurrent.atomic.AtomicLong();
    /**
     * Frames inline senders handed to the forwarding-lock holder (see the class comment): record type the
     * port number + 1, body the sender's uplink session id (4 bytes) then the frame. Many producers (inline
     * senders), one consumer at a time (the lock holder).
     */
    private final ManyToOneRingBuffer handOffs;
    private final org.agrona.concurrent.MessageHandler handOffHandler = this::onHandedOff;
    /** Frames handed to the forwarding-lock holder ({@link #HANDED_OFF}) since the start. */
    private final java.util.concurrent.atomic.AtomicLong handedOff = new java.util.concurrent.atomic.AtomicLong();
    private long nextSweepNs;
    /** Forwarding-lock holder: the time of the frame being forwarded (monotonic nanoseconds). */
    private long nowNs;
    /** Switch thread: the current duty cycle's time. */
    private long cycleNs;
    /** Switch thread: the current duty cycle holds the forwarding lock ({@link #lockForWork}). */
    private boolean locked;
    /** Switch thread: the current duty cycle opened a deferral scope at {@link #deferMark}. */
    private boolean deferring;
    private int deferMark;
    /** Duty cycles of the switch thread that took the forwarding lock (switch thread writes, any thread reads). */
    private final java.util.concurrent.atomic.AtomicLong lockedCycles = new java.util.concurrent.atomic.AtomicLong();
    /** {@link #idleProbe}. */
    private volatile Runnable idleProbe;
    /** Forwarding-lock holder: the current {@link #cutThrough} runs inline and must not wait for any lock. */
    private boolean noWait;
    private volatile boolean closed;

    /** A port's way back: the publication to its downlink channel, once the driver made it. */
    private static final class Downlink {
        final int port;
        final long key;
        final long registrationId;
        /** The port's object when it was joined from this JVM on this driver (woken after a send), or null. */
        final SwitchPort local;
        ExclusivePublication publication;
        /** Switch thread: a frame went out to this port in the current duty cycle. */
        boolean sent;

        Downlink(final int port, final long key, final long registrationId, final SwitchPort local) {
            this.port = port;
            this.key = key;
            this.registrationId = registrationId;
            this.local = local;
        }
    }

    /**
     * A trunk link this switch joined: a {@link SwitchPort} on the peer switch's UDP uplink, polled by the
     * switch thread, whose frames enter the core on trunk port {@link #port}.
     */
    private final class Trunk implements dev.osvj.virtio.net.FrameSink {
        final String peer;
        final SwitchPort link;
        final int port;
        final UnsafeBuffer view = new UnsafeBuffer(0, 0);
        int deadSweeps;

        Trunk(final String peer, final SwitchPort link, final int port) {
            this.peer = peer;
            this.link = link;
            this.port = port;
        }

        @Override
        public void onFrame(final java.lang.foreign.MemorySegment buffer, final long offset, final int length) {
            lockForWork();
            view.wrap(buffer.address() + offset, length); // always native: a term buffer or the port's scratch
            core.onFrame(port, view, 0, length, nowNs);
        }
    }

    /** One listening subscription (ipc, or udp) with its reassembler. */
    private final class Uplink implements FragmentHandler {
        final int index;
        final Subscription subscription;
        final FragmentAssembler assembler = new FragmentAssembler(this);

        Uplink(final int index, final String channel) {
            this.index = index;
            this.subscription = aeron.addSubscription(channel, spec.streamId(), image -> {
            }, image -> commands.offer(s -> s.onImageGone(index, image)));
        }

        @Override
        public void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header) {
            lockForWork();
            onMessage(index, buffer, offset, length, header.sessionId(), header.position());
        }
    }

    VSwitch(final SwitchHost host, final Aeron aeron, final SwitchSpec spec) {
        this.host = host;
        this.aeron = aeron;
        this.spec = spec;
        this.core = new SwitchCore(spec.maxPorts(), spec.mtu(), spec.ageing().toNanos(), spec.maxMacs(), this::egress);
        this.downlinks = new Downlink[spec.maxPorts()];
        this.trunkOf = new Trunk[spec.maxPorts()];
        this.toWake = new Downlink[spec.maxPorts()];
        this.dhcp = spec.dhcp().isEmpty() ? null : new SwitchDhcp(spec.dhcp(), 3600);
        final int maxRecord = 8 + 4 + SwitchCore.ETHERNET_HEADER + spec.mtu() + SwitchCore.VLAN_TAG;
        this.handOffs = new ManyToOneRingBuffer(new UnsafeBuffer(java.nio.ByteBuffer.allocateDirect(
            Math.max(HAND_OFF_CAPACITY, org.agrona.BitUtil.findNextPositivePowerOfTwo(maxRecord * 8))
                + RingBufferDescriptor.TRAILER_LENGTH)));
        PortMessage.putHeader(frameHeader, 0, PortMessage.FRAME);
        try {
            uplinks.add(new Uplink(0, "aeron:ipc"));
            if (!spec.udpEndpoint().isEmpty()) {
                uplinks.add(new Uplink(1, "aeron:udp?endpoint=" + spec.udpEndpoint()));
            }
        } catch (final RuntimeException e) {
            uplinks.forEach(u -> u.subscription.close());
            throw e;
        }
    }

    /** The switch's name. */
    public String name() {
        return spec.name();
    }

    /** What it was started with. */
    public SwitchSpec spec() {
        return spec;
    }

    /** The host whose driver and thread run it. */
    public SwitchHost host() {
        return host;
    }

    /**
     * The endpoint its UDP uplink is bound to ({@code "127.0.0.1:40123"}, the port resolved when 0 was
     * asked for), or "" for an IPC-only switch or while the driver has not bound it yet.
     */
    public String udpEndpoint() {
        if (uplinks.size() < 2) {
            return "";
        }
        final String resolved = uplinks.get(1).subscription.resolvedEndpoint();
        return resolved == null ? "" : resolved;
    }

    /**
     * Join this switch from the host's own JVM over {@code aeron:ipc}: a port named {@code portName}
     * on the host's Aeron client (for gateways and tests; kernel instances join through their
     * {@code vswitch} device instead).
     */
    public SwitchPort connect(final String portName) {
        return connect(portName, spec.mtu());
    }

    /**
     * {@link #connect(String)} with the port's own MTU. The port keeps the host's client and driver
     * alive until it is closed, even when the host is closed first.
     */
    public SwitchPort connect(final String portName, final int mtu) {
        if (!host.retain()) {
            throw new IllegalStateException("switch " + spec.name() + ": its host is closed");
        }
        try {
            return SwitchPort.join(aeron, spec.name(), "aeron:ipc", portName, mtu, host::release);
        } catch (final RuntimeException e) {
            host.release();
            throw e;
        }
    }

    // ----- switch thread -------------------------------------------------------------------------

    /**
     * Switch thread: one duty cycle at {@code nowNs} (monotonic nanoseconds).
     *
     * @return work done (0 when idle).
     */
    int doWork(final long nowNs) {
        cycleNs = nowNs;
        try {
            return dutyCycle(nowNs);
        } finally {
            if (locked) {
                final boolean defer = deferring;
                locked = false;
                deferring = false;
                try {
                    if (!closed) {
                        drainHandOffs(); // frames handed off while this cycle held the lock
                    }
                    wakeSent();
                } finally {
                    forwarding.unlock();
                    if (defer) {
                        dev.osvj.virtio.InterruptLine.runDeferred(deferMark); // the destinations' handlers, after the unlock
                    }
                }
            }
        }
    }

    /**
     * Switch thread: take the forwarding lock for the rest of this duty cycle, if this cycle has not taken
     * it yet: it found something to forward or change (a command, a pending downlink, a polled fragment,
     * a sweep due). An idle duty cycle never takes it, so inline senders ({@link #cutThrough} with
     * {@code noWait}) find it free unless the switch thread really forwards. With
     * {@link SwitchHost.Options#deferInterrupts} it also opens the deferral scope of the inline interrupts
     * the cycle raises, closed after the unlock ({@link #doWork}).
     */
    private void lockForWork() {
        if (locked) {
            return;
        }
        if (host.deferInterrupts()) {
            deferMark = dev.osvj.virtio.InterruptLine.deferInline();
            deferring = true;
        }
        forwarding.lock();
        locked = true;
        nowNs = cycleNs;
        lockedCycles.lazySet(lockedCycles.get() + 1);
    }

    /**
     * Test hook: run by the switch thread in a duty cycle that found nothing to do, after its polls (where
     * the switch thread held the forwarding lock until session 8), or null.
     */
    void idleProbe(final Runnable probe) {
        idleProbe = probe;
    }

    /** The forwarding lock, for tests that make the switch busy. */
    java.util.concurrent.locks.ReentrantLock forwardingLock() {
        return forwarding;
    }

    /** {@link #cutThrough}: the core took the frame (forwarded, or dropped and counted). */
    static final int CUT = 0;
    /** {@link #cutThrough}: {@code port} is no longer the sender's port here: use the uplink. */
    static final int CUT_GONE = 1;
    /**
     * {@link #cutThrough}: another thread held the forwarding lock, or the calling thread did, deeper in its
     * own stack, and the hand-off ring had no room: use the uplink.
     */
    static final int CUT_BUSY = 2;
    /**
     * {@link #cutThrough}: the frame was handed to the forwarding-lock holder (the lock was held, or the
     * sender's earlier frames are still in the hand-off ring); it forwards it before or right after it
     * releases the lock.
     */
    static final int HANDED_OFF = 3;
    /** {@link #cutThrough}: the sender's earlier frames are still in the hand-off ring, which is full: drop it. */
    static final int CUT_FULL = 4;

    /**
     * A sending thread of a port joined from this JVM on this switch's driver (a device's backend
     * thread, or with {@code noWait} the guest's kicking thread in an inline transmit): forward one
     * frame on the caller's thread (cut-through), instead of through the port's uplink and a hand-off
     * to the switch thread. Without {@code noWait} it waits while another thread forwards (bounded:
     * that never blocks); with it, it only tries the forwarding lock, offers frames to destination
     * devices without waiting for their receive locks (a busy one gets the frame through its
     * downlink), and leaves downlinks still being created to the switch thread (the Aeron client's lock
     * may be held while it waits for the driver).
     *
     * <p>An inline send that finds the lock held, by another thread or by itself deeper in its stack
     * (it is forwarding a frame into a guest whose receive interrupt ran inline here and transmitted
     * inline), hands the frame to the holder through the hand-off ring ({@link #HANDED_OFF}): every
     * holder drains the ring before it releases the lock and tries again after it released it, and a
     * sender tries the lock once more after writing, so a handed-off frame never waits for the switch
     * thread. The sender's later frames follow it through the ring until it was forwarded (frame order
     * per port). The switch thread drains the ring too (a holder that is not this switch's code, such as
     * a test).
     *
     * @return {@link #CUT}, {@link #HANDED_OFF}, {@link #CUT_GONE}, {@link #CUT_BUSY} or {@link #CUT_FULL};
     *         the caller offers the frame to its uplink on {@link #CUT_GONE} and {@link #CUT_BUSY}.
     */
    int cutThrough(final SwitchPort from, final int port, final DirectBuffer buffer, final int offset, final int length,
        final boolean noWait) {
        if (forwarding.isHeldByCurrentThread()) {
            // Re-entered: this thread is forwarding a frame, into a guest whose receive interrupt ran
            // inline here and transmitted inline. The outer forwarding's state (its frame, noWait,
            // the ports to wake) must not be overwritten: the outer forwarding forwards this frame from
            // the ring before it releases the lock.
            return handOff(from, port, buffer, offset, length) ? HANDED_OFF : from.handOffsPending() ? CUT_FULL : CUT_BUSY;
        }
        if (!host.deferInterrupts() || !from.onPollerThread()) {
            return cutThroughLocked(from, port, buffer, offset, length, noWait);
        }
        // The port's device thread: it holds no guest stack's lock, so the destinations' handlers may
        // run after the forwarding lock is released (see the class comment).
        final int mark = dev.osvj.virtio.InterruptLine.deferInline();
        try {
            return cutThroughLocked(from, port, buffer, offset, length, noWait);
        } finally {
            dev.osvj.virtio.InterruptLine.runDeferred(mark);
        }
    }

    private int cutThroughLocked(final SwitchPort from, final int port, final DirectBuffer buffer, final int offset,
        final int length, final boolean noWait) {
        boolean handed = false;
        if (from.handOffsPending()) {
            // its earlier frames are still in the ring: this one follows them there
            if (!handOff(from, port, buffer, offset, length)) {
                return CUT_FULL;
            }
            handed = true;
        }
        if (!noWait) {
            if (!forwarding.tryLock()) {
                lockWaits.incrementAndGet();
                forwarding.lock();
            }
        } else if (!forwarding.tryLock()) {
            if (!handed) {
                if (!handOff(from, port, buffer, offset, length)) {
                    cutBusy.incrementAndGet();
                    return CUT_BUSY; // nothing of this port in the ring: the uplink keeps its order
                }
                lockBusy.incrementAndGet();
            }
            afterUnlock(true); // the holder may have released the lock before this frame was in the ring
            return HANDED_OFF;
        }
        int result = CUT;
        // An inline sender runs the destination's receive handler under the lock (see the class comment):
        // the wake-ups it makes (an IPI to a halted vCPU) wait until the lock is released.
        final int wakes = noWait ? dev.osvj.net.stack.WakeDeferral.open() : -1;
        try {
            if (closed) {
                return handed ? HANDED_OFF : CUT_GONE;
            }
            nowNs = System.nanoTime();
            if (!pending.isEmpty() && !noWait) {
                resolvePending(); // a port that just joined may be a destination already
            }
            this.noWait = noWait;
            drainHandOffs(); // frames handed off before this one go first (with this sender's own, if handed)
            if (handed) {
                result = HANDED_OFF;
            } else {
                final Downlink d = downlinks[port];
                if (d == null || d.local != from) {
                    result = CUT_GONE;
                } else {
                    onFrame(port, buffer, offset, length);
                }
                drainHandOffs(); // and those handed off meanwhile (a destination's inline handler transmitted)
            }
            wakeSent();
            return result;
        } finally {
            this.noWait = false;
            forwarding.unlock();
            if (wakes >= 0) {
                dev.osvj.net.stack.WakeDeferral.close(wakes);
            }
            afterUnlock(noWait);
        }
    }

    /**
     * Write one frame of {@code from} (port {@code port}) into the hand-off ring, for the forwarding-lock
     * holder. Any thread; never blocks.
     *
     * @return false when the ring has no room.
     */
    private boolean handOff(final SwitchPort from, final int port, final DirectBuffer buffer, final int offset,
        final int length) {
        final int index = handOffs.tryClaim(port + 1, 4 + length);
        if (index < 0) {
            return false;
        }
        final org.agrona.concurrent.AtomicBuffer ring = handOffs.buffer();
        ring.putInt(index, from.sessionId());
        ring.putBytes(index + 4, buffer, offset, length);
        from.handedOff();
        handOffs.commit(index);
        handedOff.incrementAndGet();
        return true;
    }

    /** Forwarding-lock holder: forward the frames handed off to it, up to {@link #FRAGMENT_LIMIT}. */
    private int drainHandOffs() {
        return handOffs.size() == 0 ? 0 : handOffs.read(handOffHandler, FRAGMENT_LIMIT);
    }

    /** {@link #drainHandOffs}: one handed-off frame. */
    private void onHandedOff(final int type, final org.agrona.MutableDirectBuffer buffer, final int index, final int length) {
        final int port = type - 1;
        final Downlink d = downlinks[port];
        final SwitchPort from = d == null ? null : d.local;
        if (from == null || from.sessionId() != buffer.getInt(index)) {
            return; // the port left meanwhile: its frame goes with it
        }
        onFrame(port, buffer, index + 4, length - 4);
        from.handOffForwarded();
    }

    /**
     * After releasing the forwarding lock (or failing to take it after a hand-off): while the ring holds
     * frames and the lock is free, take it and forward them. A frame handed off after the last holder's
     * final drain is found here by that holder, or by its own sender (each writes or releases, then
     * reads the other's side: the ring's commit and the lock's state are ordered stores and loads).
     */
    private void afterUnlock(final boolean noWait) {
        while (handOffs.size() > 0 && !closed && forwarding.tryLock()) {
            final int n;
            final int wakes = noWait ? dev.osvj.net.stack.WakeDeferral.open() : -1;
            try {
                nowNs = System.nanoTime();
                this.noWait = noWait;
                n = drainHandOffs();
                wakeSent();
            } finally {
                this.noWait = false;
                forwarding.unlock();
                if (wakes >= 0) {
                    dev.osvj.net.stack.WakeDeferral.close(wakes);
                }
            }
            if (n == 0) {
                return; // a record claimed but not committed yet: its sender drains after committing
            }
        }
    }

    /**
     * Switch thread: commands, pending downlinks, the uplinks' and trunks' fragments, the sweep; the
     * forwarding lock is taken ({@link #lockForWork}) at the first of them that has something to do, and
     * released by {@link #doWork}. The checks before it read only state the switch thread owns or
     * publishes ({@code pending} only grows on this thread; others only shrink it, under the lock), or
     * thread-safe queues and subscriptions (the uplinks and trunk links are polled by this thread only).
     */
    private int dutyCycle(final long nowNs) {
        int work = 0;
        if (commands.peek() != null) {
            lockForWork();
            Consumer<VSwitch> command;
            while ((command = commands.poll()) != null) {
                command.accept(this);
                work++;
            }
        }
        if (closed) {
            return work;
        }
        if (!pending.isEmpty()) {
            lockForWork();
            work += resolvePending();
        }
        if (handOffs.size() > 0) {
            lockForWork();
            work += drainHandOffs();
        }
        for (int i = 0; i < uplinks.size(); i++) {
            final Uplink u = uplinks.get(i);
            work += u.subscription.poll(u.assembler, FRAGMENT_LIMIT); // the handler takes the lock
        }
        for (int i = 0; i < trunks.size(); i++) {
            final Trunk t = trunks.get(i);
            work += t.link.poll(t, FRAGMENT_LIMIT); // the handler takes the lock
        }
        if (nowNs - nextSweepNs >= 0) {
            lockForWork();
            core.age(nowNs);
            checkTrunks();
            nextSweepNs = nowNs + SWEEP_INTERVAL_NS;
        }
        if (!locked) {
            final Runnable probe = idleProbe;
            if (probe != null) {
                probe.run();
            }
        }
        return work;
    }

    /** Wake the pollers of the local ports sent to since the last call, once each. */
    private void wakeSent() {
        for (int i = 0; i < toWakeCount; i++) {
            final Downlink d = toWake[i];
            d.sent = false;
            d.local.wakePoller();
            toWake[i] = null;
        }
        toWakeCount = 0;
    }

    private int resolvePending() {
        int work = 0;
        for (int i = pending.size() - 1; i >= 0; i--) {
            final Downlink d = pending.get(i);
            try {
                final ExclusivePublication p = aeron.getExclusivePublication(d.registrationId);
                if (p != null) {
                    d.publication = p;
                    pending.remove(i);
                    work++;
                }
            } catch (final RuntimeException e) {
                // the driver refused the channel (a bad address in the HELLO): the port stays
                // unreachable, its frames are NOT_CONNECTED drops
                pending.remove(i);
                host.log("switch " + spec.name() + ": downlink of port " + d.port + " failed: " + e.getMessage());
            }
        }
        return work;
    }

    /** Switch thread: remove the trunks whose peer has been gone for {@link #TRUNK_DEAD_SWEEPS} sweeps. */
    private void checkTrunks() {
        for (int i = trunks.size() - 1; i >= 0; i--) {
            final Trunk t = trunks.get(i);
            t.deadSweeps = t.link.connected() ? 0 : t.deadSweeps + 1;
            if (t.deadSweeps >= TRUNK_DEAD_SWEEPS) {
                host.log("switch " + spec.name() + ": trunk to " + t.peer + " lost");
                dropTrunk(t);
            }
        }
    }

    /** Switch thread: take {@code t} out of the core and close its link off this thread. */
    private void dropTrunk(final Trunk t) {
        trunks.remove(t);
        trunkOf[t.port] = null;
        trunkPeers.remove(t.peer);
        core.removePort(t.port);
        CompletableFuture.runAsync(t.link::close); // closing waits for the client conductor
    }

    private void onMessage(final int uplink, final DirectBuffer buffer, final int offset, final int length,
        final int sessionId, final long position) {
        final long key = (long)uplink << 32 | sessionId & 0xFFFF_FFFFL;
        final int port = (int)portOfSession.get(key);
        final byte type = PortMessage.type(buffer, offset, length);
        if (type == PortMessage.FRAME && port >= 0) {
            onFrame(port, buffer, offset + PortMessage.HEADER_LENGTH, length - PortMessage.HEADER_LENGTH);
            final Downlink d = downlinks[port];
            if (d != null && d.local != null) {
                d.local.uplinkForwarded(position); // its sender may cut through again once this is its last
            }
        } else if (type == PortMessage.HELLO && port < 0) {
            hello(key, PortMessage.hello(buffer, offset, length));
        } else if (type == PortMessage.BYE && port >= 0) {
            removePort(key, port);
        } else if (port >= 0) {
            core.malformed(port);
        }
        // anything else from a session that never said HELLO is ignored: no port to count it on
    }

    /** One frame from {@code port} into the core, and to the DHCP server when it is a local broadcast. */
    private void onFrame(final int port, final DirectBuffer buffer, final int frame, final int frameLength) {
        core.onFrame(port, buffer, frame, frameLength, nowNs);
        if (dhcp != null && !core.isTrunk(port) && frameLength >= SwitchCore.ETHERNET_HEADER
            && SwitchCore.isGroup(SwitchCore.mac(buffer, frame))) {
            final int reply = dhcp.answer(buffer, frame, frameLength, dhcpReply);
            if (reply > 0) {
                core.inject(port, dhcpReply, 0, reply);
            }
        }
    }

    private void hello(final long key, final PortMessage.Hello hello) {
        if (hello == null) {
            return;
        }
        final int port = core.addPort(hello.name(), hello.trunk());
        if (port < 0) {
            host.log("switch " + spec.name() + ": full (" + spec.maxPorts() + " ports), " + hello.name() + " refused");
            return;
        }
        portOfSession.put(key, port);
        final SwitchPort local = (int)(key >>> 32) == 0
            ? SwitchPort.local(aeron.context().aeronDirectoryName(), (int)key) : null;
        final Downlink d = new Downlink(port, key, aeron.asyncAddExclusivePublication(hello.downlinkChannel(),
            hello.downlinkStream()), local);
        downlinks[port] = d;
        pending.add(d);
        if (local != null && host.cutThrough()) {
            local.enableCutThrough(this, port, host.inlineTransmit()); // before the downlink exists, so before join returns
        }
    }

    private void onImageGone(final int uplink, final Image image) {
        final long key = (long)uplink << 32 | image.sessionId() & 0xFFFF_FFFFL;
        final int port = (int)portOfSession.get(key);
        if (port >= 0) {
            removePort(key, port);
        }
    }

    private void removePort(final long key, final int port) {
        portOfSession.remove(key);
        core.removePort(port);
        final Downlink d = downlinks[port];
        downlinks[port] = null;
        for (int i = 0; i < toWakeCount; i++) {
            if (toWake[i] == d) {
                toWake[i] = toWake[--toWakeCount];
                toWake[toWakeCount] = null;
                break;
            }
        }
        if (d != null) {
            pending.remove(d);
            aeron.asyncRemovePublication(d.registrationId);
        }
    }

    /** {@link SwitchCore.Egress}: one frame out of {@code port}'s downlink, never waiting. */
    private int egress(final int port, final DirectBuffer buffer, final int offset, final int length) {
        final Trunk t = trunkOf[port];
        if (t != null) {
            final int rc = t.link.sendFrame(buffer, offset, length);
            return rc == 0 ? SwitchCore.SENT : rc == dev.osvj.virtio.net.FrameTransport.BACK_PRESSURED
                ? Drop.BACK_PRESSURED.ordinal() + 1 : Drop.NOT_CONNECTED.ordinal() + 1;
        }
        final Downlink d = downlinks[port];
        final ExclusivePublication p = d == null ? null : d.publication;
        if (p == null) {
            return Drop.NOT_CONNECTED.ordinal() + 1;
        }
        final SwitchPort local = d.local;
        if (local != null && host.directReceive() && local.receiveDirect(p.position(), buffer, offset, length, !noWait)) {
            receivedDirect.lazySet(receivedDirect.get() + 1);
            return SwitchCore.SENT;
        }
        long rc = p.offer(frameHeader, 0, PortMessage.HEADER_LENGTH, buffer, offset, length);
        if (rc == Publication.ADMIN_ACTION) {
            rc = p.offer(frameHeader, 0, PortMessage.HEADER_LENGTH, buffer, offset, length);
        }
        if (rc > 0) {
            if (d.local != null) {
                d.local.downlinkOffered(); // counted before the poller is woken (wakeSent)
                if (!d.sent) {
                    d.sent = true;
                    toWake[toWakeCount++] = d;
                }
            }
            return SwitchCore.SENT;
        }
        return rc == Publication.BACK_PRESSURED || rc == Publication.ADMIN_ACTION
            ? Drop.BACK_PRESSURED.ordinal() + 1 : Drop.NOT_CONNECTED.ordinal() + 1;
    }

    // ----- any thread ------------------------------------------------------------------------------

    /**
     * Join the switch of the same name listening on {@code aeron:udp?endpoint=peerEndpoint} (on another
     * host) as a trunk link. Control path: blocks until the link is up both ways (20 s at most). A
     * second call for the same peer does nothing. Only one switch of a pair may call it (e.g. the one
     * whose endpoint sorts first), or the pair has two links.
     *
     * @return true when a trunk was added, false when one to that peer exists already.
     * @throws IllegalStateException when the peer does not answer, or the switch is full or closed.
     */
    public boolean addTrunk(final String peerEndpoint) {
        return addTrunk(spec.name(), peerEndpoint);
    }

    /** {@link #addTrunk(String)} to a peer switch of another name (tests: switch names are unique in a JVM). */
    boolean addTrunk(final String peerSwitch, final String peerEndpoint) {
        if (closed) {
            throw new IllegalStateException("switch " + spec.name() + " is closed");
        }
        if (!trunkPeers.add(peerEndpoint)) {
            return false;
        }
        final SwitchPort link;
        try {
            link = SwitchPort.joinTrunk(aeron, peerSwitch, "aeron:udp?endpoint=" + peerEndpoint,
                "trunk " + (udpEndpoint().isEmpty() ? host.aeronDir() : udpEndpoint()), spec.mtu());
        } catch (final RuntimeException e) {
            trunkPeers.remove(peerEndpoint);
            throw e;
        }
        final boolean added = ask(s -> {
            final int port = s.core.addPort("trunk>" + peerEndpoint, true);
            if (port < 0) {
                return false;
            }
            final Trunk t = new Trunk(peerEndpoint, link, port);
            s.trunkOf[port] = t;
            s.trunks.add(t);
            return true;
        });
        if (!added) {
            trunkPeers.remove(peerEndpoint);
            link.close();
            throw new IllegalStateException("switch " + spec.name() + ": full, no port for a trunk to " + peerEndpoint);
        }
        return true;
    }

    /** Remove the trunk this switch joined to {@code peerEndpoint}, if any (its MACs are forgotten). */
    public void removeTrunk(final String peerEndpoint) {
        if (!trunkPeers.contains(peerEndpoint) || closed) {
            return;
        }
        ask(s -> {
            for (final Trunk t : List.copyOf(s.trunks)) {
                if (t.peer.equals(peerEndpoint)) {
                    s.dropTrunk(t);
                }
            }
            return null;
        });
    }

    /** Peer endpoints of the trunks this switch joined (not those other switches joined to it). */
    public java.util.Set<String> trunks() {
        return java.util.Set.copyOf(trunkPeers);
    }

    /** Run {@code query} on the switch thread and wait for its answer (control path; 10 s at most). */
    private <T> T ask(final java.util.function.Function<VSwitch, T> query) {
        final CompletableFuture<T> answer = new CompletableFuture<>();
        if (closed) {
            throw new IllegalStateException("switch " + spec.name() + " is closed");
        }
        commands.offer(s -> {
            try {
                answer.complete(query.apply(s));
            } catch (final RuntimeException e) {
                answer.completeExceptionally(e);
            }
        });
        try {
            return answer.get(10, TimeUnit.SECONDS);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (final ExecutionException | TimeoutException e) {
            throw new IllegalStateException("switch " + spec.name() + ": " + e, e);
        }
    }

    /** Counter snapshots of the current ports, by port number. */
    public List<PortStats> ports() {
        return ask(s -> s.core.stats());
    }

    /** The port number {@code mac} (low 48 bits) is learned on now, or -1. */
    public int portOf(final long mac) {
        return ask(s -> s.core.lookup(mac, s.nowNs));
    }

    /** The address the switch's DHCP server leased to {@code mac}, or 0 (none, or no DHCP server). */
    public int dhcpLease(final long mac) {
        return dhcp == null ? 0 : ask(s -> s.dhcp.leaseOf(mac));
    }

    /** Frames flooded (broadcast, multicast and unknown unicast) since the start. */
    public long flooded() {
        return core.counter(SwitchCore.FLOODED);
    }

    /** Unicast frames to an unknown (or aged-out) MAC since the start. */
    public long unknownUnicast() {
        return core.counter(SwitchCore.UNKNOWN_UNICAST);
    }

    /**
     * Frames forwarded straight into the receive queue of a local port's virtio-net device
     * ({@link SwitchPort#deliverTo}) instead of its downlink, since the start.
     */
    public long receivedDirect() {
        return receivedDirect.get();
    }

    /**
     * Inline sends ({@link SwitchHost.Options#inlineTransmit}) that found the forwarding lock held by
     * another thread and took their uplink to the switch thread instead (the hand-off ring was full), since
     * the start. Until session 8, every inline send that found the lock held.
     */
    public long cutBusy() {
        return cutBusy.get();
    }

    /**
     * Frames handed to the forwarding-lock holder through the hand-off ring since the start: inline sends
     * that found the lock held (by another thread, {@link #lockBusy}, or by the sending thread itself) and
     * the frames that followed them.
     */
    public long handedOff() {
        return handedOff.get();
    }

    /** Inline sends that found the forwarding lock held by another thread (and handed their frame off), since the start. */
    public long lockBusy() {
        return lockBusy.get();
    }

    /** Test hook: run {@code command} on the switch thread in a duty cycle, under the forwarding lock. */
    void runOnSwitchThread(final Runnable command) {
        commands.offer(s -> command.run());
    }

    /**
     * Cut-through sends on a device's backend thread that found the forwarding lock held by another
     * thread and waited for it, since the start.
     */
    public long lockWaits() {
        return lockWaits.get();
    }

    /**
     * Duty cycles of the switch thread that took the forwarding lock since the start: those that had a
     * command, a pending downlink, a fragment on an uplink or trunk, or a sweep to do. Idle duty cycles
     * do not take it.
     */
    public long lockedDutyCycles() {
        return lockedCycles.get();
    }

    /** MAC entries removed by ageing since the start. */
    public long aged() {
        return core.counter(SwitchCore.AGED);
    }

    /** A few lines for a console: the switch, then one line per port. */
    public String describe() {
        final StringBuilder b = new StringBuilder("switch " + spec.name() + " stream " + spec.streamId() + " ipc"
            + (spec.udpEndpoint().isEmpty() ? "" : " udp " + udpEndpoint()) + " mtu " + spec.mtu()
            + (spec.dhcp().isEmpty() ? "" : " dhcp " + spec.dhcp()) + " flooded "
            + flooded() + " direct " + receivedDirect() + "\n");
        for (final PortStats p : ports()) {
            b.append("  ").append(p.line()).append('\n');
        }
        return b.toString();
    }

    /** Remove the switch from its host: ports are dropped, subscriptions and downlinks closed. */
    @Override
    public void close() {
        host.remove(this);
    }

    /** Host: release the Aeron resources (the switch thread no longer runs this switch). */
    void release() {
        forwarding.lock();
        try {
            releaseLocked();
        } finally {
            forwarding.unlock();
        }
    }

    private void releaseLocked() {
        closed = true;
        Consumer<VSwitch> command;
        while ((command = commands.poll()) != null) {
            command.accept(this); // answer pending questions from the final state
        }
        for (final Downlink d : downlinks) {
            if (d != null) {
                aeron.asyncRemovePublication(d.registrationId);
            }
        }
        for (final Trunk t : trunks) {
            t.link.close();
        }
        trunks.clear();
        trunkPeers.clear();
        for (final Uplink u : uplinks) {
            u.subscription.close();
        }
    }

    boolean isClosed() {
        return closed;
    }
}
