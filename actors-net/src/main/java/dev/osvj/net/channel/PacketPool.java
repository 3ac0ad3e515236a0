package dev.osvj.net.channel;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.ManyToManyConcurrentArrayQueue;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Recycled {@link PacketBuffer}s in two size classes: small (up to 2 KiB, every frame of a 1500-byte
 * MTU) and large (the largest frame of any interface). A buffer is allocated only when the pool is
 * empty; released buffers beyond the pool's capacity are left to the GC. Thread-safe, lock-free.
 *
 * <p>Each class's free list (a bounded MPMC queue: {@code capacity} slots for small buffers,
 * {@code max(16, capacity / 8)} for large ones) is created at the first release into it, not with the
 * pool: a kernel makes one pool per stack at boot, and a stack that never receives a frame of a class
 * (the large one on a 1500-byte MTU, both on a kernel that only boots and stops) pays nothing for it.
 * The free list is published with a volatile CAS and read with an acquire load; once created it stays.
 */
public final class PacketPool {
    public static final int SMALL = 2048;
    private static final VarHandle SMALL_FREE;
    private static final VarHandle LARGE_FREE;

    static {
        try {
            final MethodHandles.Lookup l = MethodHandles.lookup();
            SMALL_FREE = l.findVarHandle(PacketPool.class, "smallFree", ManyToManyConcurrentArrayQueue.class);
            LARGE_FREE = l.findVarHandle(PacketPool.class, "largeFree", ManyToManyConcurrentArrayQueue.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int large;
    private final int smallCapacity;
    private final int largeCapacity;
    /** Free small buffers; null until the first small buffer is released (through {@link #SMALL_FREE}). */
    @SuppressWarnings("unused")
    private ManyToManyConcurrentArrayQueue<PacketBuffer> smallFree;
    /** Free large buffers; null until the first large buffer is released (through {@link #LARGE_FREE}). */
    @SuppressWarnings("unused")
    private ManyToManyConcurrentArrayQueue<PacketBuffer> largeFree;

    /**
     * @param largestFrame the largest frame in bytes (the large class's buffer size, at least {@link #SMALL}).
     * @param capacity     small buffers the pool keeps at most (a power of two, else the queue rounds it up).
     */
    public PacketPool(final int largestFrame, final int capacity) {
        this.large = Math.max(SMALL, largestFrame);
        this.smallCapacity = capacity;
        this.largeCapacity = Math.max(16, capacity / 8);
    }

    /** A buffer holding a copy of the frame, or null when the frame is larger than any class. */
    public PacketBuffer copyOf(final DirectBuffer src, final int offset, final int length) {
        final PacketBuffer p;
        if (length <= SMALL) {
            final PacketBuffer f = poll(SMALL_FREE);
            p = f != null ? f : new PacketBuffer(this, SMALL);
        } else if (length <= large) {
            final PacketBuffer f = poll(LARGE_FREE);
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
            freeList(SMALL_FREE, smallCapacity).offer(p);
        } else {
            freeList(LARGE_FREE, largeCapacity).offer(p);
        }
    }

    /** Buffers of the small class waiting in the pool (tests). */
    int pooledSmall() {
        return pooled(SMALL_FREE);
    }

    /** Buffers of the large class waiting in the pool (tests). */
    int pooledLarge() {
        return pooled(LARGE_FREE);
    }

    /** True once a free list exists (tests: a pool nobody released into has none). */
    boolean hasFreeLists() {
        return SMALL_FREE.getAcquire(this) != null || LARGE_FREE.getAcquire(this) != null;
    }

    @SuppressWarnings("unchecked")
    private PacketBuffer poll(final VarHandle list) {
        final ManyToManyConcurrentArrayQueue<PacketBuffer> q = (ManyToManyConcurrentArrayQueue<PacketBuffer>)list.getAcquire(this);
        return q == null ? null : q.poll();
    }

    @SuppressWarnings("unchecked")
    private ManyToManyConcurrentArrayQueue<PacketBuffer> freeList(final VarHandle list, final int capacity) {
        final ManyToManyConcurrentArrayQueue<PacketBuffer> q = (ManyToManyConcurrentArrayQueue<PacketBuffer>)list.getAcquire(this);
        if (q != null) {
            return q;
        }
        final ManyToManyConcurrentArrayQueue<PacketBuffer> created = new ManyToManyConcurrentArrayQueue<>(capacity);
        final Object witness = list.compareAndExchange(this, null, created);
        return witness == null ? created : (ManyToManyConcurrentArrayQueue<PacketBuffer>)witness;
    }

    private int pooled(final VarHandle list) {
        final ManyToManyConcurrentArrayQueue<?> q = (ManyToManyConcurrentArrayQueue<?>)list.getAcquire(this);
        return q == null ? 0 : q.size();
    }
}
