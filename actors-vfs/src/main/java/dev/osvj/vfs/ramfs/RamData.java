package dev.osvj.vfs.ramfs;

import java.nio.ByteBuffer;

/**
 * The bytes of one ramfs file, kept as OSv's ramfs keeps them: a sequence of segments covering
 * {@code [0, capacity)}, where growing appends a segment of {@code max(1.1 x capacity, needed)}
 * rounded up to a page (capped at {@link #MAX_SEGMENT}), so a growing file never copies what it has.
 * A punched-out segment is {@code null} (a hole: reads as zeros, uses no memory).
 *
 * <pre>
 *   starts: 0        4096            12288                     (capacity)
 *   segs:   [ 4 KiB ][ 8 KiB        ][ 16 KiB ... ]
 * </pre>
 *
 * <p>Invariant: every byte in {@code [size, capacity)} is zero, so extending the file (write past the
 * end, truncate up) exposes zeros without clearing. Not thread-safe: the VFS holds the vnode's read
 * lock for reads and its write lock for changes.
 */
final class RamData {
    /** Segment sizes are multiples of this. */
    static final int PAGE = 4096;
    /** Largest segment: big files become several segments, not one huge array. */
    static final int MAX_SEGMENT = 64 << 20;

    private final PagePool pool;
    private long[] starts = new long[2];
    private byte[][] segs = new byte[2][];
    private int count;
    private long capacity;

    /** @param pool where freed single-page segments go and new ones come from (null: none) */
    RamData(final PagePool pool) {
        this.pool = pool;
    }

    long capacity() {
        return capacity;
    }

    /** Bytes of memory held by segments (holes excluded). */
    long allocated() {
        long n = 0;
        for (int i = 0; i < count; i++) {
            if (segs[i] != null) {
                n += segs[i].length;
            }
        }
        return n;
    }

    /** Allocated bytes of {@code [0, limit)}, in 512-byte blocks, for st_blocks. */
    long blocks512(final long limit) {
        long n = 0;
        for (int i = 0; i < count && starts[i] < limit; i++) {
            if (segs[i] != null) {
                n += Math.min(segs[i].length, limit - starts[i]);
            }
        }
        return (n + 511) / 512;
    }

    private int segmentIndex(final long offset) {
        int lo = 0;
        int hi = count - 1;
        while (lo < hi) {
            final int mid = (lo + hi + 1) >>> 1;
            if (starts[mid] <= offset) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    private long segEnd(final int i) {
        return i + 1 < count ? starts[i + 1] : capacity;
    }

    /** Copy {@code [offset, min(offset + dst.remaining(), size))} into {@code dst}; returns bytes copied. */
    int read(final long offset, final ByteBuffer dst, final long size) {
        if (offset >= size) {
            return 0;
        }
        final int n = (int)Math.min(dst.remaining(), size - offset);
        int done = 0;
        int i = segmentIndex(offset);
        long at = offset;
        while (done < n) {
            final long end = segEnd(i);
            final int chunk = (int)Math.min(n - done, end - at);
            final byte[] seg = segs[i];
            if (seg == null) {
                for (int z = 0; z < chunk; z++) {
                    dst.put((byte)0);
                }
            } else {
                dst.put(seg, (int)(at - starts[i]), chunk);
            }
            done += chunk;
            at += chunk;
            i++;
        }
        return n;
    }

    /**
     * Grow capacity to at least {@code needed} bytes, with zeros.
     *
     * @return bytes of memory added
     */
    long ensureCapacity(final long needed) {
        return ensureCapacity(needed, needed);
    }

    /**
     * Grow capacity to at least {@code needed} bytes for a write of {@code [writeFrom, needed)} that
     * follows at once: new memory is zero except possibly inside that range (a recycled page is
     * cleared only outside it, since the write overwrites the rest).
     *
     * @return bytes of memory added
     */
    long ensureCapacity(final long writeFrom, final long needed) {
        long added = 0;
        while (capacity < needed) {
            long size = Math.max((long)(capacity * 1.1), needed - capacity);
            size = Math.min((size + PAGE - 1) / PAGE * PAGE, MAX_SEGMENT);
            final byte[] recycled = size == PAGE && pool != null ? pool.take() : null;
            if (recycled != null) {
                final long start = capacity;
                final long end = start + PAGE;
                final int keepFrom = (int)(Math.min(Math.max(writeFrom, start), end) - start);
                final int keepTo = (int)(Math.min(Math.max(needed, start), end) - start);
                if (keepFrom >= keepTo) {
                    java.util.Arrays.fill(recycled, (byte)0);
                } else {
                    java.util.Arrays.fill(recycled, 0, keepFrom, (byte)0);
                    java.util.Arrays.fill(recycled, keepTo, PAGE, (byte)0);
                }
                append(recycled);
            } else {
                append(new byte[(int)size]);
            }
            added += size;
        }
        return added;
    }

    private void append(final byte[] seg) {
        if (count == starts.length) {
            starts = java.util.Arrays.copyOf(starts, count * 2);
            segs = java.util.Arrays.copyOf(segs, count * 2);
        }
        starts[count] = capacity;
        segs[count] = seg;
        count++;
        capacity += seg.length;
    }

    /**
     * Copy {@code src} to {@code offset}; capacity must already cover it.
     *
     * @return bytes of memory added by refilling holes
     */
    long write(final long offset, final ByteBuffer src) {
        long added = 0;
        int i = segmentIndex(offset);
        long at = offset;
        while (src.hasRemaining()) {
            final long end = segEnd(i);
            final int chunk = (int)Math.min(src.remaining(), end - at);
            if (segs[i] == null) {
                segs[i] = new byte[(int)(end - starts[i])];
                added += segs[i].length;
            }
            src.get(segs[i], (int)(at - starts[i]), chunk);
            at += chunk;
            i++;
        }
        return added;
    }

    /** Zero {@code [from, to)} (clipped to capacity); whole segments inside become holes. Returns bytes freed. */
    long zero(final long from, final long to) {
        final long end = Math.min(to, capacity);
        if (from >= end) {
            return 0;
        }
        long freed = 0;
        int i = segmentIndex(from);
        long at = from;
        while (at < end) {
            final long segStart = starts[i];
            final long segStop = segEnd(i);
            final long stop = Math.min(end, segStop);
            if (segs[i] != null) {
                if (at == segStart && stop == segStop) {
                    freed += segs[i].length;
                    recycle(segs[i]);
                    segs[i] = null;
                } else {
                    java.util.Arrays.fill(segs[i], (int)(at - segStart), (int)(stop - segStart), (byte)0);
                }
            }
            at = stop;
            i++;
        }
        return freed;
    }

    /** Drop segments that start at or after {@code length}. Returns bytes freed. */
    long shrinkTo(final long length) {
        long freed = 0;
        while (count > 0 && starts[count - 1] >= length) {
            count--;
            if (segs[count] != null) {
                freed += segs[count].length;
                recycle(segs[count]);
            }
            capacity = starts[count];
            segs[count] = null;
        }
        return freed;
    }

    private void recycle(final byte[] segment) {
        if (pool != null) {
            pool.give(segment);
        }
    }

    /** First offset {@code >= offset} in data (not a hole), or -1 when none before {@code size}. */
    long nextData(final long offset, final long size) {
        if (offset >= size) {
            return -1;
        }
        if (offset >= capacity) {
            return -1;
        }
        for (int i = segmentIndex(offset); i < count && starts[i] < size; i++) {
            if (segs[i] != null) {
                return Math.max(offset, starts[i]);
            }
        }
        return -1;
    }

    /** First offset {@code >= offset} in a hole, or {@code size} (the implicit hole at the end). */
    long nextHole(final long offset, final long size) {
        if (offset >= capacity) {
            return size;
        }
        for (int i = segmentIndex(offset); i < count && starts[i] < size; i++) {
            if (segs[i] == null) {
                return Math.max(offset, starts[i]);
            }
        }
        return size;
    }
}
