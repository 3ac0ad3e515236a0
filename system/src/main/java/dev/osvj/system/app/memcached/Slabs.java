package dev.osvj.system.app.memcached;

import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PhysicalMemory;

import java.util.ArrayList;
import java.util.List;

/**
 * memcached's slab allocator over the kernel's malloc: slab classes of chunk sizes growing by a factor
 * (1.25 by default) from the smallest item up to half a page, then one class of whole pages; a page is
 * {@code itemSizeMax} bytes (1 MiB) taken from {@link Malloc} and carved into equal chunks of one class.
 * Free chunks are kept on a per-class list threaded through their first 8 bytes.
 *
 * <p>The memory limit ({@code -m}) counts pages: a class gets a new page while the pages handed out stay
 * within the limit, and, as in memcached's {@code do_slabs_newslab}, a class that has no page yet always
 * gets its first one (so every size can be stored once). Pages are never given back to malloc until
 * {@link #close()} (memcached without slab rebalancing).
 *
 * <p>Not thread-safe: the item store calls it under its lock.
 */
final class Slabs {
    /** Smallest chunk: the header plus memcached's default 48 bytes of key and value. */
    static final int DEFAULT_MIN_CHUNK = Item.HEADER + 48;
    static final double DEFAULT_FACTOR = 1.25;
    private static final int ALIGN = 8;

    private final Malloc malloc;
    private final PhysicalMemory memory;
    private final int pageSize;
    private final long pageLimit;
    /** Chunk size per class, index 1..classes (0 unused, as memcached's clsid 0 means "too large"). */
    private final int[] size;
    private final int[] perPage;
    private final long[] freeHead;
    private final long[] freeCount;
    private final long[] pages;
    private final long[] usedChunks;
    private final List<Long> allPages = new ArrayList<>();
    private long totalMalloced;

    /**
     * @param memoryLimit bytes of pages the classes may take in all (at least one page each class).
     * @param itemSizeMax page size and largest item (header, key and value), bytes.
     */
    Slabs(final Malloc malloc, final PhysicalMemory memory, final long memoryLimit, final int itemSizeMax,
        final double factor, final int minChunk) {
        this.malloc = malloc;
        this.memory = memory;
        this.pageSize = itemSizeMax;
        this.pageLimit = Math.max(1, memoryLimit / itemSizeMax);
        final List<Integer> sizes = new ArrayList<>();
        sizes.add(0);
        long s = align(minChunk);
        while (s <= itemSizeMax / 2 && sizes.size() < 200) {
            sizes.add((int)s);
            s = align((long)(s * factor));
        }
        sizes.add(itemSizeMax);
        final int n = sizes.size();
        size = new int[n];
        perPage = new int[n];
        for (int i = 1; i < n; i++) {
            size[i] = sizes.get(i);
            perPage[i] = itemSizeMax / size[i];
        }
        freeHead = new long[n];
        freeCount = new long[n];
        pages = new long[n];
        usedChunks = new long[n];
    }

    private static long align(final long v) {
        return (v + ALIGN - 1) & -ALIGN;
    }

    /** Largest class id. */
    int largest() {
        return size.length - 1;
    }

    /** The class whose chunks hold {@code total} bytes, or 0 when it is larger than a page. */
    int classFor(final long total) {
        if (total > pageSize || total <= 0) {
            return 0;
        }
        int lo = 1;
        int hi = size.length - 1;
        while (lo < hi) {
            final int mid = (lo + hi) >>> 1;
            if (size[mid] >= total) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    }

    /** A free chunk of class {@code cls} (kernel VA), or 0 when the class has none and may not grow. */
    long alloc(final int cls) {
        if (freeHead[cls] == 0 && !grow(cls)) {
            return 0;
        }
        final long it = freeHead[cls];
        freeHead[cls] = Item.getLong(memory, it, Item.HNEXT);
        freeCount[cls]--;
        usedChunks[cls]++;
        return it;
    }

    void free(final long it, final int cls) {
        Item.setIflags(memory, it, 0);
        Item.putLong(memory, it, Item.HNEXT, freeHead[cls]);
        freeHead[cls] = it;
        freeCount[cls]++;
        usedChunks[cls]--;
    }

    private boolean grow(final int cls) {
        if (pages[cls] > 0 && allPages.size() >= pageLimit) {
            return false;
        }
        final long page = malloc.malloc(pageSize);
        if (page == 0) {
            return false;
        }
        allPages.add(page);
        totalMalloced += pageSize;
        pages[cls]++;
        final int chunk = size[cls];
        for (int i = perPage[cls] - 1; i >= 0; i--) {
            final long it = page + (long)i * chunk;
            Item.putLong(memory, it, Item.HNEXT, freeHead[cls]);
            freeHead[cls] = it;
        }
        freeCount[cls] += perPage[cls];
        return true;
    }

    int chunkSize(final int cls) {
        return size[cls];
    }

    int chunksPerPage(final int cls) {
        return perPage[cls];
    }

    long pages(final int cls) {
        return pages[cls];
    }

    long usedChunks(final int cls) {
        return usedChunks[cls];
    }

    long freeChunks(final int cls) {
        return freeCount[cls];
    }

    long totalMalloced() {
        return totalMalloced;
    }

    long pageLimit() {
        return pageLimit;
    }

    int pageSize() {
        return pageSize;
    }

    /** Give every page back to malloc; the allocator is unusable afterwards. */
    void close() {
        for (final long p : allPages) {
            malloc.free(p);
        }
        allPages.clear();
        java.util.Arrays.fill(freeHead, 0);
    }
}
