package dev.osvj.mmu.phys;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The page-frame allocator: a binary buddy allocator over the frames of {@link PhysicalMemory}. Hands
 * out naturally aligned blocks of {@code 2^order} 4 KiB frames: order 0 is a 4 KiB page, order 9
 * ({@link #HUGE_ORDER}) a 2 MiB huge page; {@link #allocPages} serves exact page counts (malloc's page
 * ranges) by splitting a block and giving the tail back.
 *
 * <p>Blocks carry no header: the caller frees with the same (address, order) or (address, pages) it
 * got, and may free any naturally aligned sub-block separately (a huge page split into 4 KiB pages by
 * a partial {@code munmap} is freed page by page). A free-frame bitmap detects double frees and frees
 * of never-allocated frames; both are kernel bugs and throw.
 *
 * <p>Reclaim (OSv's reclaimer): when an allocation leaves less than the low watermark free, or fails,
 * the registered {@link Shrinker}s are asked for memory on the allocating thread (one reclaim at a
 * time; a failed allocation retries once after it). Exhaustion is a return value ({@link #NO_MEMORY}),
 * not an exception.
 *
 * <p>Pre-zeroed frames (idle-time page zeroing, as FreeBSD's {@code vm_page_zero_idle} and the
 * Windows zero-page thread): {@link #allocZeroedPage()} returns a 4 KiB frame that reads as zero.
 * It takes one from the <em>zero pool</em> when there is one, else allocates and zeroes inline (the
 * demand-fault path, like Linux's {@code clear_page} in the fault). The pool is filled only by
 * {@link #zeroIdle}, which an idle-priority thread calls when a vCPU has nothing else to do, so the
 * zeroing happens off the fault path and is accounted ({@link #idleZeroedPages()},
 * {@link #idleZeroNanos()}, {@link #zeroPoolHits()}, {@link #inlineZeroedPages()}).
 *
 * <pre>
 *   free lists (buddy) --zeroIdle: take, zero outside the monitor--> zero pool (stack of frame numbers)
 *          ^                                                              |
 *          +--- drained back when a block cannot be found otherwise ------+--> allocZeroedPage
 * </pre>
 *
 * <p>Invariants: a frame enters the pool only after {@link PhysicalMemory#zero} returned for it, and
 * leaves it only to be handed out once or given back to the free lists; pooled frames are free
 * memory ({@link #freeBytes()} counts them) that any allocation can take back: an allocation that
 * finds no block drains the pool into the free lists first (so the pool never causes an ENOMEM and
 * never keeps buddies from merging into huge pages when they are needed). The pool holds at most
 * {@link #zeroPoolCapacity()} frames (0, the default, disables it).
 *
 * <p>Thread-safety: one monitor guards the free lists and the zero pool; per-vCPU caches above it
 * (malloc's L1 page pools) keep it off the common path. Statistics getters are racy snapshots.
 */
public final class PageAllocator {
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;
    /** Order of a 2 MiB huge page (512 frames). */
    public static final int HUGE_ORDER = 9;
    /** Returned by the allocation methods when no block is available. */
    public static final long NO_MEMORY = -1;

    private static final int NONE = -1;

    private final PhysicalMemory memory;
    private final int frames;
    private final int maxOrder;
    /** Free-list links by frame number; valid only for the first frame of a free block. */
    private final int[] next;
    private final int[] prev;
    /** Order of the free block starting at this frame, or -1. */
    private final byte[] freeOrder;
    private final int[] heads;
    private final long[] freeBlocks;
    /** One bit per frame: set when the frame is free. */
    private final long[] freeBits;
    private long freeFrames;

    private final long lowWatermarkBytes;
    private final List<Shrinker> shrinkers = new CopyOnWriteArrayList<>();
    private final AtomicBoolean reclaiming = new AtomicBoolean();
    /** Guarded by the monitor (counted where the allocation happens, no extra atomic). */
    private long allocations;
    /**
     * {@code freeFrames} for the watermark check after an allocation, read without the monitor: a
     * plain field (a fence per allocation would cost as much as the lock), so the check may see a
     * slightly stale value, which only moves the reclaim by an allocation or two.
     */
    private long freeFramesSnapshot;
    private final AtomicLong failures = new AtomicLong();
    private final AtomicLong reclaims = new AtomicLong();
    private final AtomicLong reclaimedBytes = new AtomicLong();

    /** Largest zero pool fill step: a 16-frame (64 KiB) block is taken and zeroed at once. */
    private static final int ZERO_BATCH_ORDER = 4;
    /** Frame numbers of pooled zero frames, {@code [0, zeroedCount)}; guarded by the monitor. */
    private int[] zeroed = new int[0];
    private int zeroedCount;
    /** Frames taken from the free lists by {@link #zeroIdle} and being zeroed; guarded by the monitor. */
    private int zeroingFrames;
    private volatile int zeroPoolCapacity;
    /** Set by an idle zeroer that found nothing to do and is about to block; see {@link #setZeroerWakeup}. */
    private volatile boolean zeroerWaiting;
    private volatile Runnable zeroerWakeup;
    /** Guarded by the monitor. */
    private long zeroPoolHits;
    /** Guarded by the monitor. */
    private long inlineZeroed;
    private final AtomicLong idleZeroed = new AtomicLong();
    private final AtomicLong idleZeroNanos = new AtomicLong();
    private final AtomicLong zeroPoolDrains = new AtomicLong();

    /**
     * @param memory           the frames to manage (all of it).
     * @param lowWatermarkBytes free memory below which shrinkers are called (OSv: 10 % of RAM).
     */
    public PageAllocator(final PhysicalMemory memory, final long lowWatermarkBytes) {
        this.memory = memory;
        final long n = memory.size() >>> PAGE_SHIFT;
        if (n > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("guest memory too large: " + memory.size());
        }
        this.frames = (int)n;
        this.maxOrder = 63 - Long.numberOfLeadingZeros(n);
        this.next = new int[frames];
        this.prev = new int[frames];
        this.freeOrder = new byte[frames];
        this.heads = new int[maxOrder + 1];
        this.freeBlocks = new long[maxOrder + 1];
        this.freeBits = new long[(frames + 63) >>> 6];
        this.lowWatermarkBytes = lowWatermarkBytes;
        java.util.Arrays.fill(freeOrder, (byte)NONE);
        java.util.Arrays.fill(heads, NONE);
        int pfn = 0;
        while (pfn < frames) {
            int order = Math.min(maxOrder, Integer.numberOfTrailingZeros(pfn == 0 ? Integer.MIN_VALUE : pfn));
            while (pfn + (1 << order) > frames) {
                order--;
            }
            setFreeBits(pfn, 1 << order, true);
            push(pfn, order);
            freeFrames += 1L << order;
            pfn += 1 << order;
        }
        freeFramesSnapshot = freeFrames;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    /** Register a cache to be shrunk under memory pressure. */
    public void registerShrinker(final Shrinker shrinker) {
        shrinkers.add(shrinker);
    }

    public void unregisterShrinker(final Shrinker shrinker) {
        shrinkers.remove(shrinker);
    }

    /**
     * Allocate a naturally aligned block of {@code 2^order} frames.
     *
     * @return its physical address, or {@link #NO_MEMORY}. The contents are not zeroed.
     */
    public long allocOrder(final int order) {
        if (order < 0 || order > maxOrder) {
            throw new IllegalArgumentException("order " + order);
        }
        long pa = tryAllocOrder(order);
        if (pa == NO_MEMORY) {
            reclaim(PAGE_SIZE << order);
            pa = tryAllocOrder(order);
            if (pa == NO_MEMORY) {
                failures.incrementAndGet();
                return NO_MEMORY;
            }
        }
        afterAllocation();
        return pa;
    }

    /** One 4 KiB frame, or {@link #NO_MEMORY}. */
    public long allocPage() {
        return allocOrder(0);
    }

    /**
     * One 4 KiB frame that reads as zero (demand faults, page tables), or {@link #NO_MEMORY}: from the
     * zero pool when it has one (no zeroing on the caller's path), else allocated and zeroed here.
     */
    public long allocZeroedPage() {
        long pa;
        final boolean pooled;
        int left = 0;
        synchronized (this) {
            // One monitor round trip on either path: a pooled frame, else a frame off the free lists.
            if (zeroedCount > 0) {
                left = --zeroedCount;
                pa = (long)zeroed[left] << PAGE_SHIFT;
                zeroPoolHits++;
                pooled = true;
            } else {
                pa = takeBlock(0);
                pooled = false;
            }
            if (pa != NO_MEMORY) {
                allocations++;
                inlineZeroed += pooled ? 0 : 1;
                freeFramesSnapshot = freeFrames + zeroedCount + zeroingFrames;
            }
        }
        if (zeroerWaiting && zeroPoolCapacity > 0 && (!pooled || left <= zeroPoolCapacity / 2)) {
            wakeZeroer(); // the pool is half empty, or ran dry while the zeroer slept (memory was full)
        }
        if (pa == NO_MEMORY) {
            pa = allocOrder(0); // reclaims (and drains a pool a racing zeroer just filled) or fails
            if (pa == NO_MEMORY) {
                return NO_MEMORY;
            }
            synchronized (this) {
                inlineZeroed++;
            }
        } else {
            afterAllocation();
        }
        if (!pooled) {
            memory.zero(pa, PAGE_SIZE);
        }
        return pa;
    }

    private void wakeZeroer() {
        zeroerWaiting = false;
        final Runnable wakeup = zeroerWakeup;
        if (wakeup != null) {
            wakeup.run();
        }
    }

    /**
     * Frames the zero pool may hold (0 disables it and gives pooled frames back). Typically a few MiB
     * worth: the burst of demand faults that can be served without zeroing.
     */
    public void setZeroPoolCapacity(final int frames) {
        if (frames < 0 || frames > this.frames) {
            throw new IllegalArgumentException("zero pool capacity " + frames);
        }
        synchronized (this) {
            if (frames > zeroed.length) {
                zeroed = java.util.Arrays.copyOf(zeroed, frames);
            }
            zeroPoolCapacity = frames;
            while (zeroedCount > frames) {
                free(zeroed[--zeroedCount], 0);
            }
        }
        if (frames > 0 && zeroerWaiting) {
            wakeZeroer();
        }
    }

    public int zeroPoolCapacity() {
        return zeroPoolCapacity;
    }

    /** Frames in the zero pool now. */
    public synchronized int zeroPoolSize() {
        return zeroedCount;
    }

    /**
     * Idle-time zeroing: take up to {@code maxPages} free frames, zero them outside the monitor and
     * put them in the zero pool, stopping when the pool is full or no free frame is left. Meant for a
     * thread that runs only when its vCPU is idle (it is work moved off the fault path, not removed:
     * the time spent is accounted in {@link #idleZeroNanos()}). Never reclaims.
     *
     * @return frames zeroed (0: nothing to do).
     */
    public int zeroIdle(final int maxPages) {
        int done = 0;
        final long t0 = System.nanoTime();
        while (done < maxPages) {
            final int pfn;
            final int order;
            synchronized (this) {
                final int room = zeroPoolCapacity - zeroedCount - zeroingFrames;
                if (room <= 0) {
                    break;
                }
                final int want = Math.min(room, maxPages - done) >= (1 << ZERO_BATCH_ORDER) ? ZERO_BATCH_ORDER : 0;
                int o = want;
                long pa = takeBlock(o);
                if (pa == NO_MEMORY && o > 0) {
                    o = 0;
                    pa = takeBlock(0);
                }
                if (pa == NO_MEMORY) {
                    break;
                }
                pfn = (int)(pa >>> PAGE_SHIFT);
                order = o;
                zeroingFrames += 1 << order;
            }
            memory.zero((long)pfn << PAGE_SHIFT, PAGE_SIZE << order);
            synchronized (this) {
                zeroingFrames -= 1 << order;
                for (int i = (1 << order) - 1; i >= 0; i--) {
                    if (zeroedCount < zeroPoolCapacity) {
                        zeroed[zeroedCount++] = pfn + i;
                    } else {
                        free(pfn + i, 0); // the capacity shrank meanwhile
                    }
                }
                freeFramesSnapshot = freeFrames + zeroedCount + zeroingFrames;
            }
            done += 1 << order;
        }
        if (done > 0) {
            idleZeroed.addAndGet(done);
            idleZeroNanos.addAndGet(System.nanoTime() - t0);
        }
        return done;
    }

    /** True when the zero pool is below capacity and free frames exist ({@link #zeroIdle} has work). */
    public synchronized boolean zeroPoolWantsFrames() {
        return zeroedCount + zeroingFrames < zeroPoolCapacity && freeFrames > 0;
    }

    /**
     * For an idle zeroer about to block: announce it, then re-check for work (so a refill request
     * between the check and the announcement is not lost). The {@link #setZeroerWakeup wakeup} runs
     * once an allocation leaves the pool half empty (or on {@link #kickZeroer()}).
     *
     * @return true when the zeroer may block now; false when there is work (do it first).
     */
    public boolean zeroerMayBlock() {
        zeroerWaiting = true;
        final boolean lowAndRefillable;
        synchronized (this) {
            final int pooled = zeroedCount + zeroingFrames;
            lowAndRefillable = pooled <= zeroPoolCapacity / 2 && pooled < zeroPoolCapacity && freeFrames > 0;
        }
        if (lowAndRefillable) {
            zeroerWaiting = false;
            return false;
        }
        return true;
    }

    /** What an idle zeroer needs to be woken (e.g. {@code KThread::wake}, {@code LockSupport.unpark}). */
    public void setZeroerWakeup(final Runnable wakeup) {
        zeroerWakeup = wakeup;
    }

    /** Wake the idle zeroer now (shutdown, or capacity raised). */
    public void kickZeroer() {
        wakeZeroer();
    }

    /** A block for the zero pool: free lists only, no reclaim, no drain. Caller holds the monitor. */
    private long takeBlock(final int order) {
        int o = order;
        while (o <= maxOrder && heads[o] == NONE) {
            o++;
        }
        if (o > maxOrder) {
            return NO_MEMORY;
        }
        final int pfn = heads[o];
        remove(pfn, o);
        while (o > order) {
            o--;
            push(pfn + (1 << o), o);
        }
        setFreeBits(pfn, 1 << order, false);
        freeFrames -= 1L << order;
        return (long)pfn << PAGE_SHIFT;
    }

    /** Give every pooled frame back to the free lists (they merge again). Caller holds the monitor. */
    private void drainZeroPool() {
        if (zeroedCount > 0) {
            zeroPoolDrains.incrementAndGet();
            while (zeroedCount > 0) {
                free(zeroed[--zeroedCount], 0);
            }
        }
    }

    /** One 2 MiB-aligned huge page, or {@link #NO_MEMORY}. */
    public long allocHugePage() {
        return allocOrder(HUGE_ORDER);
    }

    /**
     * Allocate {@code pages} contiguous frames aligned to {@code alignPages} frames (a power of two),
     * for page ranges: a block of the next power of two is split and its tail given back.
     *
     * @return the physical address, or {@link #NO_MEMORY}.
     */
    public long allocPages(final long pages, final long alignPages) {
        if (pages <= 0 || alignPages <= 0 || Long.bitCount(alignPages) != 1) {
            throw new IllegalArgumentException("pages " + pages + " align " + alignPages);
        }
        final long span = Math.max(roundUpPow2(pages), alignPages);
        final int order = Long.numberOfTrailingZeros(span);
        if (order > maxOrder) {
            failures.incrementAndGet();
            return NO_MEMORY;
        }
        final long pa = allocOrder(order);
        if (pa != NO_MEMORY && span > pages) {
            freePages(pa + (pages << PAGE_SHIFT), span - pages);
        }
        return pa;
    }

    private static long roundUpPow2(final long n) {
        return n <= 1 ? 1 : Long.highestOneBit(n - 1) << 1;
    }

    /** Free a block of {@code 2^order} frames at {@code pa} (naturally aligned). */
    public void freeOrder(final long pa, final int order) {
        final int pfn = checkBlock(pa, order);
        synchronized (this) {
            free(pfn, order);
        }
    }

    /** Free {@code pages} frames at {@code pa}, any count: split into aligned blocks. */
    public void freePages(final long pa, final long pages) {
        int pfn = checkBlock(pa, 0);
        if (pages < 0 || pfn + pages > frames) {
            throw new IllegalArgumentException("free of " + pages + " pages at " + Long.toHexString(pa));
        }
        long left = pages;
        synchronized (this) {
            while (left > 0) {
                int order = Math.min(Integer.numberOfTrailingZeros(pfn == 0 ? Integer.MIN_VALUE : pfn),
                    63 - Long.numberOfLeadingZeros(left));
                order = Math.min(order, maxOrder);
                free(pfn, order);
                pfn += 1 << order;
                left -= 1L << order;
            }
        }
    }

    private int checkBlock(final long pa, final int order) {
        if (pa < 0 || pa >= memory.size() || (pa & ((PAGE_SIZE << order) - 1)) != 0 || order < 0 || order > maxOrder) {
            throw new IllegalArgumentException("bad block pa=0x" + Long.toHexString(pa) + " order=" + order);
        }
        return (int)(pa >>> PAGE_SHIFT);
    }

    private synchronized long tryAllocOrder(final int order) {
        long pa = takeBlock(order);
        if (pa == NO_MEMORY) {
            if (zeroedCount == 0) {
                return NO_MEMORY;
            }
            // Pooled zero frames are free memory: give them back (their buddies merge) and retry.
            drainZeroPool();
            pa = takeBlock(order);
            if (pa == NO_MEMORY) {
                return NO_MEMORY;
            }
        }
        freeFramesSnapshot = freeFrames + zeroedCount + zeroingFrames;
        allocations++;
        return pa;
    }

    /** Caller holds the monitor. */
    private void free(final int block, final int order) {
        if (!rangeIs(block, 1 << order, false)) {
            throw new IllegalStateException("double free or free of a free frame: pa=0x"
                + Long.toHexString((long)block << PAGE_SHIFT) + " order=" + order);
        }
        setFreeBits(block, 1 << order, true);
        freeFrames += 1L << order;
        freeFramesSnapshot = freeFrames + zeroedCount + zeroingFrames;
        int pfn = block;
        int o = order;
        while (o < maxOrder) {
            final int buddy = pfn ^ (1 << o);
            if (buddy + (1 << o) > frames || freeOrder[buddy] != o) {
                break;
            }
            remove(buddy, o);
            pfn = Math.min(pfn, buddy);
            o++;
        }
        push(pfn, o);
    }

    private void push(final int pfn, final int order) {
        freeOrder[pfn] = (byte)order;
        prev[pfn] = NONE;
        next[pfn] = heads[order];
        if (heads[order] != NONE) {
            prev[heads[order]] = pfn;
        }
        heads[order] = pfn;
        freeBlocks[order]++;
    }

    private void remove(final int pfn, final int order) {
        final int n = next[pfn];
        final int p = prev[pfn];
        if (p == NONE) {
            heads[order] = n;
        } else {
            next[p] = n;
        }
        if (n != NONE) {
            prev[n] = p;
        }
        freeOrder[pfn] = (byte)NONE;
        freeBlocks[order]--;
    }

    /** Set or clear the free bits of {@code [pfn, pfn + count)}, a word at a time. */
    private void setFreeBits(final int pfn, final int count, final boolean free) {
        int i = pfn;
        final int end = pfn + count;
        while (i < end) {
            final int bits = Math.min(64 - (i & 63), end - i);
            final long mask = bits == 64 ? -1L : ((1L << bits) - 1) << (i & 63);
            if (free) {
                freeBits[i >>> 6] |= mask;
            } else {
                freeBits[i >>> 6] &= ~mask;
            }
            i += bits;
        }
    }

    /** True when every frame of {@code [pfn, pfn + count)} is free ({@code free}) or every one is not. */
    private boolean rangeIs(final int pfn, final int count, final boolean free) {
        int i = pfn;
        final int end = pfn + count;
        while (i < end) {
            final int bits = Math.min(64 - (i & 63), end - i);
            final long mask = bits == 64 ? -1L : ((1L << bits) - 1) << (i & 63);
            final long word = freeBits[i >>> 6] & mask;
            if (word != (free ? mask : 0)) {
                return false;
            }
            i += bits;
        }
        return true;
    }

    /** True when the frame holding {@code pa} is free (tests and debugging). */
    public synchronized boolean isFree(final long pa) {
        final int pfn = (int)(pa >>> PAGE_SHIFT);
        return ((freeBits[pfn >>> 6] >>> pfn) & 1) != 0;
    }

    private void afterAllocation() {
        if (lowWatermarkBytes > 0 && (freeFramesSnapshot << PAGE_SHIFT) < lowWatermarkBytes && !shrinkers.isEmpty()) {
            reclaim(lowWatermarkBytes - freeBytes());
        }
    }

    /**
     * Ask the shrinkers for {@code bytesWanted}; one reclaim at a time (a concurrent caller returns at
     * once and retries its allocation).
     *
     * @return bytes the shrinkers reported released.
     */
    public long reclaim(final long bytesWanted) {
        if (shrinkers.isEmpty() || !reclaiming.compareAndSet(false, true)) {
            return 0;
        }
        long released = 0;
        try {
            reclaims.incrementAndGet();
            for (final Shrinker s : shrinkers) {
                if (released >= bytesWanted) {
                    break;
                }
                released += Math.max(0, s.shrink(bytesWanted - released));
            }
            reclaimedBytes.addAndGet(released);
        } finally {
            reclaiming.set(false);
        }
        return released;
    }

    // ---- statistics ----

    public long totalBytes() {
        return (long)frames << PAGE_SHIFT;
    }

    /** Free memory: the free lists plus the zero pool (and frames being zeroed for it). */
    public synchronized long freeBytes() {
        return (freeFrames + zeroedCount + zeroingFrames) << PAGE_SHIFT;
    }

    public long lowWatermarkBytes() {
        return lowWatermarkBytes;
    }

    /** Highest order a block can have (the largest power of two of frames that fits). */
    public int maxOrder() {
        return maxOrder;
    }

    /** Free blocks of exactly {@code order} (OSv's /sys/osv/memory/free_page_ranges by size). */
    public synchronized long freeBlocks(final int order) {
        return order < 0 || order > maxOrder ? 0 : freeBlocks[order];
    }

    /** Free 2 MiB huge pages obtainable without reclaim (blocks of order >= 9, in huge pages). */
    public synchronized long freeHugePages() {
        long n = 0;
        for (int o = HUGE_ORDER; o <= maxOrder; o++) {
            n += freeBlocks[o] << (o - HUGE_ORDER);
        }
        return n;
    }

    public synchronized long allocations() {
        return allocations;
    }

    /** Allocations that returned {@link #NO_MEMORY}. */
    public long failures() {
        return failures.get();
    }

    public long reclaims() {
        return reclaims.get();
    }

    /** Zeroed frames handed out from the zero pool (faults that did not zero). */
    public synchronized long zeroPoolHits() {
        return zeroPoolHits;
    }

    /** Frames {@link #allocZeroedPage} had to zero itself (pool empty). */
    public synchronized long inlineZeroedPages() {
        return inlineZeroed;
    }

    /** Frames zeroed by {@link #zeroIdle} (idle time). */
    public long idleZeroedPages() {
        return idleZeroed.get();
    }

    /**
     * Wall-clock nanoseconds spent in {@link #zeroIdle} calls that zeroed something (the idle work's
     * cost; includes waiting for the monitor and being descheduled, so it bounds the CPU time from above).
     */
    public long idleZeroNanos() {
        return idleZeroNanos.get();
    }

    /** Times the zero pool was given back to the free lists because an allocation needed it. */
    public long zeroPoolDrains() {
        return zeroPoolDrains.get();
    }

    public long reclaimedBytes() {
        return reclaimedBytes.get();
    }

    /**
     * Check the allocator's invariants (tests): free lists agree with the bitmap, blocks are aligned,
     * no two free buddies are left unmerged, and the free count matches.
     *
     * @throws IllegalStateException naming the first broken invariant.
     */
    public synchronized void verify() {
        long counted = 0;
        final boolean[] seen = new boolean[frames];
        for (int o = 0; o <= maxOrder; o++) {
            long blocks = 0;
            for (int pfn = heads[o]; pfn != NONE; pfn = next[pfn]) {
                blocks++;
                if ((pfn & ((1 << o) - 1)) != 0 || freeOrder[pfn] != o) {
                    throw new IllegalStateException("misaligned or mislabelled free block " + pfn + " order " + o);
                }
                if (!rangeIs(pfn, 1 << o, true)) {
                    throw new IllegalStateException("free block " + pfn + " order " + o + " has allocated frames");
                }
                for (int i = pfn; i < pfn + (1 << o); i++) {
                    if (seen[i]) {
                        throw new IllegalStateException("frame " + i + " on two free lists");
                    }
                    seen[i] = true;
                }
                final int buddy = pfn ^ (1 << o);
                if (o < maxOrder && buddy + (1 << o) <= frames && freeOrder[buddy] == o) {
                    throw new IllegalStateException("unmerged buddies " + pfn + "/" + buddy + " order " + o);
                }
                counted += 1L << o;
            }
            if (blocks != freeBlocks[o]) {
                throw new IllegalStateException("order " + o + " count " + freeBlocks[o] + " but list has " + blocks);
            }
        }
        for (int i = 0; i < frames; i++) {
            if (seen[i] != (((freeBits[i >>> 6] >>> i) & 1) != 0)) {
                throw new IllegalStateException("bitmap disagrees with free lists at frame " + i);
            }
        }
        if (counted != freeFrames) {
            throw new IllegalStateException("free count " + freeFrames + " but lists hold " + counted);
        }
    }
}
