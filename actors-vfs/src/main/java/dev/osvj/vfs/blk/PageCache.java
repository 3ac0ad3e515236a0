package dev.osvj.vfs.blk;

import dev.osvj.kernel.Errno;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * A read cache of 4 KiB pages of one {@link BlockDevice} (8 sectors each), bounded by a page count.
 *
 * <p><b>Lookups</b> are one lock-free {@link ConcurrentHashMap#get}. <b>Misses</b> read the page from
 * the device without holding any lock, then publish it with {@code putIfAbsent}; two threads that
 * miss the same page at once may both read it, and the first to publish wins (the data is read-only,
 * so both copies are equal). A blocked device read therefore never holds up readers of other pages.
 * <b>Eviction</b> is CLOCK (second chance): pages enter a FIFO; a hit sets the page's referenced bit;
 * past the bound the oldest page is dropped unless referenced, in which case its bit is cleared and
 * it goes to the back.
 *
 * <p>Pages are heap buffers; a cached page is never modified after publication.
 */
public final class PageCache {
    /** Page size in bytes. */
    public static final int PAGE_SIZE = 4096;
    private static final int SECTORS_PER_PAGE = PAGE_SIZE / BlockDevice.SECTOR_SIZE;

    private static final class Page {
        final long number;
        final byte[] data;
        volatile boolean referenced;

        Page(final long number, final byte[] data) {
            this.number = number;
            this.data = data;
        }
    }

    private final BlockDevice device;
    private final int capacity;
    private final ConcurrentHashMap<Long, Page> pages = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Page> clock = new ConcurrentLinkedQueue<>();
    private final AtomicInteger size = new AtomicInteger();
    private final LongAdder hits = new LongAdder();
    private final LongAdder misses = new LongAdder();

    /** @param capacityPages most pages kept (at least 1) */
    public PageCache(final BlockDevice device, final int capacityPages) {
        this.device = device;
        this.capacity = Math.max(1, capacityPages);
    }

    public BlockDevice device() {
        return device;
    }

    /**
     * Copy {@code dst.remaining()} bytes of the device starting at byte {@code offset} into
     * {@code dst}; the range must lie inside the device. Returns 0 or -errno (EIO).
     */
    public int read(final long offset, final ByteBuffer dst) {
        if (offset < 0 || offset + dst.remaining() > device.size()) {
            return Errno.EIO.negative();
        }
        long at = offset;
        while (dst.hasRemaining()) {
            final long pageNo = at / PAGE_SIZE;
            final Page page = page(pageNo);
            if (page == null) {
                return Errno.EIO.negative();
            }
            final int in = (int)(at - pageNo * PAGE_SIZE);
            final int n = Math.min(dst.remaining(), PAGE_SIZE - in);
            dst.put(page.data, in, n);
            at += n;
        }
        return 0;
    }

    private Page page(final long pageNo) {
        final Page cached = pages.get(pageNo);
        if (cached != null) {
            cached.referenced = true;
            hits.increment();
            return cached;
        }
        misses.increment();
        final byte[] data = new byte[PAGE_SIZE];
        final long first = pageNo * SECTORS_PER_PAGE;
        final int sectors = (int)Math.min(SECTORS_PER_PAGE, device.sectors() - first);
        if (sectors <= 0 || device.read(first, ByteBuffer.wrap(data, 0, sectors * BlockDevice.SECTOR_SIZE)) < 0) {
            return null;
        }
        final Page fresh = new Page(pageNo, data);
        final Page raced = pages.putIfAbsent(pageNo, fresh);
        if (raced != null) {
            return raced;
        }
        clock.add(fresh);
        if (size.incrementAndGet() > capacity) {
            evict();
        }
        return fresh;
    }

    private void evict() {
        int budget = 2 * size.get() + 1;
        while (size.get() > capacity && budget-- > 0) {
            final Page victim = clock.poll();
            if (victim == null) {
                return;
            }
            if (victim.referenced) {
                victim.referenced = false;
                clock.add(victim);
                continue;
            }
            if (pages.remove(victim.number, victim)) {
                size.decrementAndGet();
            }
        }
    }

    /** Pages held now. */
    public int size() {
        return size.get();
    }

    public int capacity() {
        return capacity;
    }

    public long hits() {
        return hits.sum();
    }

    public long misses() {
        return misses.sum();
    }
}
