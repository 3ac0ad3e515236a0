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

import java.util.concurrent.atomic.AtomicBoolean;
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
 * <p>Guest to gateway, two modes ({@code inlineMode}):
 * <ul>
 *   <li><b>inline</b> (passt's "process frames where they arrive"): a frame the guest transmits is run
 *       through the gateway stack's receive path on the transmitting thread (the virtio-net device's
 *       backend thread), then {@code afterFrame} runs there too (the user gateway writes the replies the
 *       frame made readable to their host sockets before {@code transmit} returns). No queue, no thread
 *       hand-off. The frame is copied once into a scratch buffer first, because the receive path may
 *       modify it in place and the caller's memory is the guest's. Transmits are serialised by a lock
 *       (one receive context, as the stack requires: the net channels are single-producer rings); in
 *       the kernel there is one transmitter, so it is never contended. {@link #servicing()} tells
 *       whether the calling thread is inside such a transmit.</li>
 *   <li><b>queued</b>: the frame is copied into a many-to-one ring ({@link #drainQueued}) and the
 *       gateway's loop is woken ({@link #setOnQueued}, once per burst: only by the producer that finds the
 *       ring drained) to run it through the stack. One hand-off, but the device's thread only copies,
 *       so it stays free to move the guest's other frames while the loop does the gateway's work (TCP
 *       and the write to the host socket) in parallel on the other core.</li>
 * </ul>
 *
 * <p>Gateway to guest: frames the gateway sends go into the guest end's receive ring (a lock-free
 * many-to-one {@link RingDevice}, one copy) and its notifier wakes the guest's poller; the gateway
 * never processes guest frames from its own send path, so a send cannot recurse into a receive.
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
    /** Queued mode: the guest's frames waiting for the gateway's loop (many producers, one consumer). */
    private final ManyToOneRingBuffer toGateway;
    /** Queued mode: set by the producer that found the queue drained; cleared by {@link #drainQueued}. */
    private final AtomicBoolean queued = new AtomicBoolean();
    private volatile Runnable onQueued = () -> { };
    private final MessageHandler toReceivePath = this::onQueuedFrame;
    private final ReentrantLock inline = new ReentrantLock();
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
        this.toGateway = inlineMode ? null : new ManyToOneRingBuffer(new UnsafeBuffer(
            org.agrona.BufferUtil.allocateDirectAligned(RING_BYTES + RingBufferDescriptor.TRAILER_LENGTH, 64)));
    }

    boolean inlineMode() {
        return inlineMode;
    }

    /** Queued mode: run (on the transmitting thread; must only schedule) when frames wait after a drain. */
    void setOnQueued(final Runnable wake) {
        this.onQueued = wake == null ? () -> { } : wake;
    }

    /** Queued mode: frames are waiting for {@link #drainQueued}. */
    boolean hasQueued() {
        return toGateway != null && toGateway.size() > 0;
    }

    /**
     * Queued mode, one consumer (the gateway's loop): run up to {@code budget} queued guest frames through
     * the gateway stack's receive path.
     *
     * @return frames processed; less than {@code budget} means the queue was empty.
     */
    int drainQueued(final int budget) {
        if (toGateway == null) {
            return 0;
        }
        queued.set(false);
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
        if (!queued.get() && queued.compareAndSet(false, true)) {
            onQueued.run();
        }
        return true;
    }

    /** The gateway stack's NIC: delivers inline ({@link NetDevice#deliverInline}). */
    NetDevice gatewayEnd() {
        return gateway;
    }

    /** The guest NIC's end: transmit runs the gateway inline, poll drains the gateway's frames. */
    NetDevice guestEnd() {
        return guest;
    }

    /** Work to run on the transmitting thread after each frame (lock held); must not block for long. */
    void setAfterFrame(final Runnable work) {
        this.afterFrame = work == null ? () -> { } : work;
    }

    /** True when the calling thread is inside a guest transmit (and will run {@code afterFrame}). */
    boolean servicing() {
        return inline.isHeldByCurrentThread();
    }

    private boolean receiveInline(final DirectBuffer buffer, final int offset, final int length) {
        final FrameHandler path = receivePath;
        if (path == null || length <= 0) {
            gateway.drops.incrementAndGet();
            return false;
        }
        inline.lock();
        try {
            if (scratch.capacity() < length) {
                scratch = new UnsafeBuffer(new byte[length]);
            }
            scratch.putBytes(0, buffer, offset, length);
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
            inline.unlock();
        }
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

        boolean fromGateway(final DirectBuffer buffer, final int offset, final int length) {
            return deliver(buffer, offset, length);
        }

        @Override
        public boolean transmit(final DirectBuffer buffer, final int offset, final int length) {
            return inlineMode ? receiveInline(buffer, offset, length) : enqueue(buffer, offset, length);
        }
    }
}
