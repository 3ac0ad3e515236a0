package dev.osvj.net.dev;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A device whose receive queue is an Agrona {@link ManyToOneRingBuffer}: lock-free for many
 * producers (whoever delivers frames to it), one consumer ({@link #poll}). Frames are copied into the
 * ring on delivery; the receive notifier fires once per "queue became non-empty" edge: the producer
 * that flips {@code pending} from false to true notifies, and {@link #poll} clears it before reading,
 * so a frame delivered during a poll triggers a new notification.
 */
public abstract class RingDevice implements NetDevice {
    private static final int FRAME_MSG = 1;
    private final String name;
    private final long mac;
    private final int mtu;
    private final ManyToOneRingBuffer rx;
    private final AtomicBoolean pending = new AtomicBoolean();
    private final AtomicLong dropped = new AtomicLong();
    private volatile Runnable notifier = () -> { };
    private FrameHandler current;
    private final MessageHandler adapter = this::onMessage;

    protected RingDevice(final String name, final long mac, final int mtu, final int ringBytes) {
        this.name = name;
        this.mac = mac;
        this.mtu = mtu;
        int cap = Integer.highestOneBit(Math.max(ringBytes, 8 * (mtu + 64)) - 1) << 1;
        this.rx = new ManyToOneRingBuffer(new UnsafeBuffer(
            org.agrona.BufferUtil.allocateDirectAligned(cap + RingBufferDescriptor.TRAILER_LENGTH, 64)));
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
        if (length <= 0 || length > rx.maxMsgLength() || !rx.write(FRAME_MSG, buffer, offset, length)) {
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
        current.onFrame(buffer, index, length);
    }

    /** Frames waiting in the receive queue (approximate). */
    public boolean hasPending() {
        return rx.size() > 0;
    }
}
