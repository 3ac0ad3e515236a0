package dev.osvj.vfs.ramfs;

/**
 * Recycled 4 KiB segments of one ramfs mount: a freed single-page segment goes here instead of to the
 * garbage collector, and the next file that grows by one page takes it back, so a create/write/unlink
 * cycle allocates no file memory (the page allocator's free list, in a kernel).
 *
 * <p>Pages in the pool hold stale bytes: the taker clears what it does not overwrite
 * ({@link RamData#ensureCapacity(long, long)}). The pool holds at most {@link #CAPACITY} pages
 * (1 MiB); beyond that a freed page is left to the collector. Pooled pages do not count as used
 * bytes of the mount (statfs shows them free).
 *
 * <p>Thread-safe: files of one mount grow and shrink concurrently under their own vnode locks, so
 * take and give synchronise on the pool (one uncontended monitor enter per page, far cheaper than
 * allocating and zeroing 4 KiB).
 */
final class PagePool {
    /** Most pages kept: enough for the working set of a small-file workload, small beside any heap. */
    static final int CAPACITY = 256;

    private final byte[][] pages = new byte[CAPACITY][];
    private int count;

    /** A recycled page with stale contents, or null when the pool is empty. */
    synchronized byte[] take() {
        if (count == 0) {
            return null;
        }
        final byte[] page = pages[--count];
        pages[count] = null;
        return page;
    }

    /** Give back a segment; only single pages are kept. */
    synchronized void give(final byte[] segment) {
        if (segment.length == RamData.PAGE && count < CAPACITY) {
            pages[count++] = segment;
        }
    }

    synchronized int size() {
        return count;
    }
}
