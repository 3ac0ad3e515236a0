package dev.osvj.net.user;

import dev.osvj.net.dev.FrameHandler;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.net.dev.RingDevice;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The cable between the guest's NIC and the user gateway's stack, asymmetric on purpose:
 *
 * <pre>
 *   guest NIC ──transmit──▶ {@link #guestEnd()} ══inline or queued══▶ gateway stack's receive path
 *   guest NIC ◀──poll────── {@link #guestEnd()} ◀══ring═══ {@link #gatewayEnd()} ◀──transmit── gateway stack
 * </pre>
 *
 * <p>The stack lock ({@link #lockStack}): whoever runs the gateway stack's receive path or serves its
 * connections holds it: the gateway's loop around each round of its work, and an inline transmitter.
 * So the gateway's relays and sockets have one user at a time. The loop never waits for an inline
 * transmitter: it hands its work to the holder (signalled relays, with a host request it read into the
 * relay without the stack lock), and a transmitter, after it lets go of the lock, serves what was left
 * for it ({@link #releaseAsTransmitter}). A holder may then find a relay lock taken by the loop (for a
 * host read): it leaves that relay signalled and, if it ends up the last to look, wakes the loop.
 *
 * <p>Guest to gateway, two modes ({@code inlineMode}):
 * <ul>
 *   <li><b>inline</b> (passt's "process frames where they arrive"), the default: a frame the guest
 *       transmits is run through the gateway stack's receive path on the transmitting thread (the
 *       guest driver's kernel thread through the device's inline transmit, or the device's backend
 *       thread), then {@code afterFrame} runs there too (the user gateway writes the replies the frame
 *       made readable to their host sockets before {@code transmit} returns). No queue, no thread
 *       hand-off. The frame is copied once into a scratch buffer first, because the receive path may
 *       modify it in place and the caller's memory is the guest's. The transmitter only
 *       {@code tryLock}s the stack lock: it may be a kernel thread that must never block, and the loop
 *       may hold the lock (and have been descheduled by the host). When it is taken, the frame is
 *       queued as in the queued mode; the loop is busy then and drains the queue before it sleeps, an
 *       inline transmitter that held it wakes the loop for frames queued meanwhile, and the next inline
 *       transmitter drains the queue before its own frame, so the guest's frames are processed
 *       in the order it sent them. {@link #servicing()} tells whether the calling thread holds the
 *       stack lock (and so serves the connections itself).</li>
 *   <li><b>queued</b>: the frame is copied into a many-to-one ring ({@link #drainQueued}) and the
 *       gateway's loop is woken ({@link #setOnQueued}) to run it through the stack. One hand-off: the
 *       device's thread only copies.</li>
 * </ul>
 *
 * <p>Gateway to guest: with a {@link UserGateway.GuestReceiver direct receiver} (the guest NIC's
 * receive entry, {@link #directReceive}) a frame the gateway sends is written straight into the guest's
 * receive queue by the sending thread (the loop, or an inline transmitter), with no thread in between.
 * An inline transmitter never waits for it ({@code mayWait} false). Whenever the receiver does not take
 * a frame (no receive buffer posted, busy, or down) the frame goes into the guest end's receive ring (a
 * lock-free many-to-one {@link RingDevice}, one copy), whose notifier wakes the guest's poller, and so
 * do the frames after it until the ring is drained: the guest sees them in order. Without a receiver
 * every frame goes through the ring. The gateway never processes guest frames from its own send path,
 * so a send cannot recurse into a receive.
 *
 * <p>MAC addresses are those of the old symmetric {@code Wire}: gateway 02:00:00:00:00:01, guest end
 * 02:00:00:00:00:02.
 */
final class GuestLink {
    private static final long GATEWAY_MAC = 0x020000000001L;
    private static final long GUEST_MAC = 0x020000000002L;
    private static final int RING_BYTES = 2 << 20;

    private final GatewayEnd gateway;
    private final GuestEnd guest;
    /** True: guest frames are processed on the transmitting thread; false: queued for the gateway's loop. */
    private final boolean inlineMode;
    /** The guest's frames waiting for the gateway's loop (many producers, one consumer: the stack lock's holder). */
    private final ManyToOneRingBuffer toGateway;
    private volatile Runnable onQueued = () -> { };
    private final MessageHandler toReceivePath = this::onQueuedFrame;
    /** The stack lock: see the class comment. */
    private final ReentrantLock inline = new ReentrantLock();
    /** Guarded by {@link #inline}: its holder is an inline transmitter, which must not wait for the guest NIC. */
    private boolean inlineActive;
    /**
     * A thread that must never wait for the guest NIC either: a vCPU's carrier serving the gateway in its
     * halt wait (a kernel thread that holds the NIC's receive lock may be suspended on that very vCPU).
     */
    private volatile Thread noWaitThread;
    private volatile UserGateway.GuestReceiver direct;
    private final AtomicLong framesInline = new AtomicLong();
    private final AtomicLong framesQueued = new AtomicLong();
    private final AtomicLong toGuestDirect = new AtomicLong();
    private final AtomicLong toGuestRing = new AtomicLong();
    private volatile FrameHandler receivePath;
    private volatile Runnable afterFrame = () -> { };
    /** Guarded by {@link #inline}: a receive failure was reported on stderr already. */
    private boolean reported;
    /** Guarded by {@link #inline}: the copy of the frame being received. */
    private UnsafeBuffer scratch;

    /**
     * @param inlineMode true: a guest frame is processed on the thread that transmits it; false: it is
     *     copied into a queue and {@link #setOnQueued the gateway's loop} is woken to process it.
     */
    GuestLink(final int mtu, final boolean inlineMode) {
        this.gateway = new GatewayEnd(mtu);
        this.guest = new GuestEnd(mtu);
        this.scratch = new UnsafeBuffer(new byte[mtu + 64]);
        this.inlineMode = inlineMode;
        this.toGateway = new ManyToOneRingBuffer(new UnsafeBuffer(
            org.agrona.BufferUtil.allocateDirectAligned(RING_BYTES + RingBufferDescriptor.TRAILER_LENGTH, 64)));
    }

    /**
     * Take the stack lock (the gateway's loop, a host thread: it may wait). A wait means an inline
     * transmitter holds it: counted ({@link #stackWaits()}). Spinning first was tried and did not help:
     * a holder runs the gateway's TCP for its frames and writes the host socket, longer than a useful spin.
     */
    void lockStack() {
        if (!inline.tryLock()) {
            stackWaits.incrementAndGet();
            inline.lock();
        }
    }

    private final AtomicLong stackWaits = new AtomicLong();

    /** The loop found the stack lock held by an inline transmitter and waited for it. */
    long stackWaits() {
        return stackWaits.get();
    }

    void unlockStack() {
        inline.unlock();
    }

    /**
     * Take the stack lock only if it is free (the gateway's loop, which then hands its work to the holder
     * instead of waiting: see {@link #setPendingWork}).
     */
    boolean tryLockStack() {
        return inline.tryLock();
    }

    /**
     * Another thread holds the stack lock now. Work queued for the holder ({@link #setPendingWork}) is then
     * served by it when it lets go, so the gateway's loop need not wait for the lock nor spin for it.
     */
    boolean stackBusyElsewhere() {
        return inline.isLocked() && !inline.isHeldByCurrentThread();
    }

    /**
     * What the gateway's loop left for the stack lock's holder (signalled relays whose host bytes the loop
     * read while the lock was taken, deferred flows): an inline transmitter checks it after it lets go of
     * the lock ({@link #releaseAsTransmitter}) and serves it ({@code afterFrame}) if the lock is still free.
     */
    void setPendingWork(final java.util.function.BooleanSupplier pending) {
        this.pendingWork = pending == null ? () -> false : pending;
    }

    private volatile java.util.function.BooleanSupplier pendingWork = () -> false;

    /** Extra rounds an inline transmitter serves after letting go of the stack lock (bounded: it never spins). */
    static final int RELEASE_RECHECKS = 2;

    /**
     * An inline transmitter's release of the stack lock (lock held): unlock, then, while frames or loop work
     * are pending and the lock is still free, take it again and serve them ({@value #RELEASE_RECHECKS} times
     * at most). This is one half of a publish-then-try protocol: the loop publishes its work first and then
     * only {@code tryLock}s; a holder lets go first and then looks for work (both sides' steps are
     * sequentially consistent: a queue's CAS or volatile read, the lock's CAS or volatile write), so either
     * the loop gets the lock or a holder sees the work. If work is left and nobody holds the lock (a relay was
     * busy), the loop is woken to serve it.
     */
    void releaseAsTransmitter() {
        inline.unlock();
        afterRelease();
    }

    /** The second half of {@link #releaseAsTransmitter}, after the unlock. */
    private void afterRelease() {
        for (int i = 0; i < RELEASE_RECHECKS && (hasQueued() || pendingWork.getAsBoolean()) && inline.tryLock(); i++) {
            try {
                inlineActive = true;
                int frames;
                do {
                    frames = drainQueued(256);
                } while (frames == 256);
                afterFrame.run();
            } catch (final RuntimeException e) {
                gateway.drops.incrementAndGet();
                if (!reported) {
                    reported = true;
                    System.err.println("user gateway: serving after a frame failed: " + e);
                }
            } finally {
                inlineActive = false;
                inline.unlock();
            }
        }
        if ((hasQueued() || pendingWork.getAsBoolean()) && !inline.isLocked()) {
            // left (a relay was busy, or the bound was reached) and nobody holds the lock to see it: the loop
            onQueued.run();
        }
    }

    /** Mark {@code t} (null: none) as a thread that must not wait for the guest NIC (see {@link #noWaitThread}). */
    void noWaitThread(final Thread t) {
        this.noWaitThread = t;
    }

    /** The guest NIC's direct receive entry (null: every frame to the guest goes through the ring). */
    void directReceive(final UserGateway.GuestReceiver receiver) {
        this.direct = receiver;
    }

    /** Guest frames run through the stack on their transmitting thread. */
    long framesInline() {
        return framesInline.get();
    }

    /** Guest frames queued for the loop (queued mode, or the stack lock was taken). */
    long framesQueued() {
        return framesQueued.get();
    }

    /** Gateway frames written straight into the guest's receive queue. */
    long toGuestDirect() {
        return toGuestDirect.get();
    }

    /** Gateway frames that went through the guest end's ring (and the device's backend thread). */
    long toGuestRing() {
        return toGuestRing.get();
    }

    boolean inlineMode() {
        return inlineMode;
    }

    /** Queued mode: run (on the transmitting thread; must only schedule) when frames wait after a drain. */
    void setOnQueued(final Runnable wake) {
        this.onQueued = wake == null ? () -> { } : wake;
    }

    /** Frames are waiting for {@link #drainQueued}. */
    boolean hasQueued() {
        return toGateway.size() > 0;
    }

    /**
     * One consumer at a time (the stack lock's holder): run up to {@code budget} queued guest frames
     * through the gateway stack's receive path.
     *
     * @return frames processed; less than {@code budget} means the queue was empty.
     */
    int drainQueued(final int budget) {
        return toGateway.read(toReceivePath, budget);
    }

    private void onQueuedFrame(final int type, final MutableDirectBuffer buffer, final int index, final int length) {
        final FrameHandler path = receivePath;
        if (path == null) {
            gateway.drops.incrementAndGet();
            return;
        }
        try {
            path.onFrame(buffer, index, length); // the ring's copy: the receive path may modify it
        } catch (final RuntimeException e) {
            gateway.drops.incrementAndGet();
            if (!reportedQueued) {
                reportedQueued = true;
                System.err.println("user gateway: frame from the guest dropped: " + e);
            }
        }
    }

    /** Consumer only: a receive failure of the queued mode was reported on stderr already. */
    private boolean reportedQueued;

    private boolean enqueue(final DirectBuffer buffer, final int offset, final int length) {
        if (length <= 0 || length > toGateway.maxMsgLength() || !toGateway.write(1, buffer, offset, length)) {
            gateway.drops.incrementAndGet();
            return false;
        }
        framesQueued.incrementAndGet();
        // Every time, not once per burst: a drain that ran between this write and a flag would leave the
        // flag set over an empty ring, and the next frame would wait for the loop's tick. The loop's wake
        // is one volatile read while it is awake.
        onQueued.run();
        return true;
    }

    /** The gateway stack's NIC: delivers inline ({@link NetDevice#deliverInline}). */
    NetDevice gatewayEnd() {
        return gateway;
    }

    /** The guest NIC's end: transmit runs the gateway inline, poll drains the gateway's frames. */
    RingDevice guestEnd() {
        return guest;
    }

    /** Work to run on the transmitting thread after each frame (lock held); must not block for long. */
    void setAfterFrame(final Runnable work) {
        this.afterFrame = work == null ? () -> { } : work;
    }

    /**
     * True when the calling thread holds the stack lock: the loop in its round, or an inline transmitter
     * (which runs {@code afterFrame} before it lets go), so it serves the connections itself.
     */
    boolean servicing() {
        return inline.isHeldByCurrentThread();
    }

    /**
     * Inline mode: run the frame through the stack on this thread if the stack lock is free (after the
     * frames queued before it), otherwise queue it for the loop. Never waits.
     */
    private boolean receiveInline(final DirectBuffer buffer, final int offset, final int length) {
        final FrameHandler path = receivePath;
        if (path == null || length <= 0) {
            gateway.drops.incrementAndGet();
            return false;
        }
        if (inline.isHeldByCurrentThread() || !inline.tryLock()) {
            // Taken by the loop, or by this very thread: the guest transmitted from inside the gateway's own
            // send (its NIC ran the receive interrupt inline on the gateway's thread, and the guest stack
            // answered at once); the stack is mid-call there and is not re-entered. The holder drains the
            // queue before it sleeps.
            return enqueue(buffer, offset, length);
        }
        try {
            inlineActive = true;
            if (hasQueued()) {
                int frames;
                do { // frames the guest sent earlier, queued while the loop held the lock, go first
                    frames = drainQueued(256);
                } while (frames == 256);
            }
            if (scratch.capacity() < length) {
                scratch = new UnsafeBuffer(new byte[length]);
            }
            scratch.putBytes(0, buffer, offset, length);
            framesInline.incrementAndGet();
            path.onFrame(scratch, 0, length);
            afterFrame.run();
        } catch (final RuntimeException e) {
            // a fault in the gateway must not take the guest's device thread down with it: count the frame
            // as dropped (TCP retransmits it) and say so once
            gateway.drops.incrementAndGet();
            if (!reported) {
                reported = true;
                System.err.println("user gateway: frame from the guest dropped: " + e);
            }
        } finally {
            inlineActive = false;
            inline.unlock();
        }
        // frames queued by others while this thread held the lock (after its drain), and host requests the
        // loop read meanwhile and left for this holder: served now, not at the loop's next round
        afterRelease();
        return true;
    }

    /** The gateway stack's side. */
    private final class GatewayEnd implements NetDevice {
        private final int mtu;
        final AtomicLong drops = new AtomicLong();

        GatewayEnd(final int mtu) {
            this.mtu = mtu;
        }

        @Override
        public String name() {
            return "a";
        }

        @Override
        public long mac() {
            return GATEWAY_MAC;
        }

        @Override
        public int mtu() {
            return mtu;
        }

        @Override
        public boolean transmit(final DirectBuffer buffer, final int offset, final int length) {
            return guest.fromGateway(buffer, offset, length);
        }

        @Override
        public int poll(final FrameHandler handler, final int budget) {
            return 0; // frames arrive inline
        }

        @Override
        public void setRxNotifier(final Runnable notifier) {
            // nothing to notify: frames are processed on the guest's transmitting thread
        }

        @Override
        public long droppedFrames() {
            return drops.get();
        }

        @Override
        public boolean deliverInline(final FrameHandler path) {
            receivePath = path;
            return true;
        }
    }

    /** The guest NIC's side: a ring for the gateway's frames. */
    private final class GuestEnd extends RingDevice {
        GuestEnd(final int mtu) {
            super("b", GUEST_MAC, mtu, RING_BYTES);
        }

        /** A frame the gateway sends: straight into the guest's queue when the ring is drained, else the ring. */
        boolean fromGateway(final DirectBuffer buffer, final int offset, final int length) {
            final UserGateway.GuestReceiver rx = direct;
            if (rx != null && !hasPending()) {
                // an inline transmitter (which holds the stack lock) must not wait: the guest NIC's backend
                // thread may hold its receive lock
                final boolean mayWait = !(inline.isHeldByCurrentThread() && inlineActive)
                    && Thread.currentThread() != noWaitThread;
                if (rx.offer(buffer, offset, length, mayWait) == UserGateway.GuestReceiver.TAKEN) {
                    toGuestDirect.incrementAndGet();
                    return true;
                }
            }
            toGuestRing.incrementAndGet();
            return deliver(buffer, offset, length);
        }

        @Override
        public boolean transmit(final DirectBuffer buffer, final int offset, final int length) {
            return inlineMode ? receiveInline(buffer, offset, length) : enqueue(buffer, offset, length);
        }
    }
}
