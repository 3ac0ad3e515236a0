package dev.osvj.net.channel;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * A received frame copied out of the device's queue (the osvj "mbuf"): a heap array wrapped by an
 * {@link UnsafeBuffer}, and the frame's length. Ownership moves with the reference: the classifier
 * (producer) fills it and offers it to a channel; the consumer processes it and returns it to its
 * {@link PacketPool}. Nobody touches a buffer they do not own.
 */
public final class PacketBuffer {
    final PacketPool pool;
    public final UnsafeBuffer buffer;
    /** Frame length in bytes. */
    public int length;
    /** Index of the interface the frame arrived on. */
    public int ifIndex;

    PacketBuffer(final PacketPool pool, final int capacity) {
        this.pool = pool;
        this.buffer = new UnsafeBuffer(new byte[capacity]);
    }

    public int capacity() {
        return buffer.capacity();
    }

    /** Give the buffer back to its pool; the caller must not use it afterwards. */
    public void release() {
        pool.release(this);
    }
}
