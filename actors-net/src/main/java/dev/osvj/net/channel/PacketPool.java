package dev.osvj.net.channel;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.ManyToManyConcurrentArrayQueue;

/**
 * Recycled {@link PacketBuffer}s in two size classes: small (up to 2 KiB, every frame of a 1500-byte
 * MTU) and large (the largest frame of any interface). A buffer is allocated only when the pool is
 * empty; released buffers beyond the pool's capacity are left to the GC. Thread-safe, lock-free.
 */
public final class PacketPool {
    public static final int SMALL = 2048;
    private final int large;
    private final ManyToManyConcurrentArrayQueue<PacketBuffer> smallFree;
    private final ManyToManyConcurrentArrayQueue<PacketBuffer> largeFree;

    public PacketPool(final int largestFrame, final int capacity) {
        this.large = Math.max(SMALL, largestFrame);
        this.smallFree = new ManyToManyConcurrentArrayQueue<>(capacity);
        this.largeFree = new ManyToManyConcurrentArrayQueue<>(Math.max(16, capacity / 8));
    }

    /** A buffer holding a copy of the frame, or null when the frame is larger than any class. */
    public PacketBuffer copyOf(final DirectBuffer src, final int offset, final int length) {
        final PacketBuffer p;
        if (length <= SMALL) {
            final PacketBuffer f = smallFree.poll();
            p = f != null ? f : new PacketBuffer(this, SMALL);
        } else if (length <= large) {
            final PacketBuffer f = largeFree.poll();
            p = f != null ? f : new PacketBuffer(this, large);
        } else {
            return null;
        }
        p.buffer.putBytes(0, src, offset, length);
        p.length = length;
        p.checksumValid = false;
        return p;
    }

    void release(final PacketBuffer p) {
        if (p.capacity() == SMALL) {
            smallFree.offer(p);
        } else {
            largeFree.offer(p);
        }
    }
}
