package dev.osvj.net.dev;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A device whose receive queue is an Agrona {@link ManyToOneRingBuffer}: lock-free for many
 * producers (whoever delivers frames to it), one consumer ({@link #poll}). Frames are copied into the
 * ring on delivery; the receive notifier fires once per "queue became non-empty" edge: the producer
 * that flips {@code pending} from false to true notifies, and {@link #poll} clears it before reading,
 * so a frame delivered during a poll triggers a new notification.
 *
 * <p>The ring's memory (4 MiB for {@code lo}) is allocated at the first delivery, not at construction:
 * allocating and zeroing it took about 1 ms of every kernel boot (a fleet instance's network phase),
 * and most instances never send a frame to themselves. Producers race to install it with one CAS (a
 * loser's buffer is garbage); until then {@link #poll} finds nothing, as with an empty ring.
 */
public abstract class RingDevice implements NetDevice {
    private static final int FRAME_MSG = 1;
    private final String name;
    private final long mac;
    private final int mtu;
    private static final VarHandle RX;

    static {
        try {
            RX = MethodHandles.lookup().findVarHandle(RingDevice.class, "rx", ManyToOneRingBuffer.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Ring capacity in bytes (a power of two). */
    private final int capacity;
    /** The receive ring, null until the first delivery ({@link #ring()}). */
    private volatile ManyToOneRingBuffer rx;
    private final AtomicBoolean pending = new AtomicBoolean();
    private final AtomicLong dropped = new AtomicLong();
    /** Frames delivered and not yet handled to the end by {@link #poll}'s handler. */
    private final AtomicInteger outstanding = new AtomicInteger();
    private volatile Runnable notifier = () -> { };
    private FrameHandler current;
    private final MessageHandler adapter = this::onMessage;

    protected RingDevice(final String name, final long mac, final int mtu, final int ringBytes) {
        this.name = name;
        this.mac = mac;
        this.mtu = mtu;
        this.capacity = Integer.highestOneBit(Math.max(ringBytes, 8 * (mtu + 64)) - 1) << 1;
    }

    /** The receive ring, allocated by the first caller (a producer). */
    private ManyToOneRingBuffer ring() {
        final ManyToOneRingBuffer r = rx;
        if (r != null) {
            return r;
        }
        final ManyToOneRingBuffer made = new ManyToOneRingBuffer(new UnsafeBuffer(
            org.agrona.BufferUtil.allocateDirectAligned(capacity + RingBufferDescriptor.TRAILER_LENGTH, 64)));
        final ManyToOneRingBuffer won = (ManyToOneRingBuffer)RX.compareAndExchange(this, (ManyToOneRingBuffer)null, made);
        return won == null ? made : won;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long mac() {
        return mac;
    }

    @Override
    public int mtu() {
        return mtu;
    }

    @Override
    public void setRxNotifier(final Runnable notifier) {
        this.notifier = notifier == null ? () -> { } : notifier;
    }

    @Override
    public long droppedFrames() {
        return dropped.get();
    }

    /** Put a frame into this device's receive queue (called by the "other end"). */
    protected final boolean deliver(final DirectBuffer buffer, final int offset, final int length) {
        final ManyToOneRingBuffer rx = ring();
        if (length <= 0 || length > rx.maxMsgLength()) {
            dropped.incrementAndGet();
            return false;
        }
        outstanding.incrementAndGet(); // before the frame is visible: quiescent() never misses it
        if (!rx.write(FRAME_MSG, buffer, offset, length)) {
            outstanding.decrementAndGet();
            dropped.incrementAndGet();
            return false;
        }
        if (!pending.get() && pending.compareAndSet(false, true)) {
            notifier.run();
        }
        return true;
    }

    protected final void countDrop() {
        dropped.incrementAndGet();
    }

    @Override
    public int poll(final FrameHandler handler, final int budget) {
        pending.set(false);
        final ManyToOneRingBuffer rx = this.rx;
        if (rx == null) {
            return 0; // nothing was ever delivered
        }
        current = handler;
        try {
            final int n = rx.read(adapter, budget);
            if (n == budget && rx.size() > 0) {
                pending.set(true); // more to do: the caller polls again; no notification needed
            }
            return n;
        } finally {
            current = null;
        }
    }

    private void onMessage(final int msgTypeId, final MutableDirectBuffer buffer, final int index, final int length) {
        try {
            current.onFrame(buffer, index, length);
        } finally {
            outstanding.decrementAndGet();
        }
    }

    /**
     * True when no frame is queued and none is being handled by {@link #poll}'s handler: every frame
     * delivered so far has been handled to the end. A producer that checks this and then hands a frame
     * on by another way, while it excludes other producers, cannot overtake a queued frame.
     */
    public final boolean quiescent() {
        return outstanding.get() == 0;
    }

    /**
     * Whether a {@link #poll} now may find a frame: one is queued, or a delivery's notification is still
     * pending (a poll clears it). A poller that saw false and then sleeps until the receive notifier wakes
     * it misses no frame: a producer advances the ring's tail (a CAS) before it reads {@code pending}, and
     * {@link #poll} clears {@code pending} before it reads the tail, so one of the two sees the other.
     */
    public final boolean mayHaveFrames() {
        return pending.get() || hasPending();
    }

    /** Frames waiting in the receive queue (approximate). */
    public boolean hasPending() {
        final ManyToOneRingBuffer r = rx;
        return r != null && r.size() > 0;
    }
}
