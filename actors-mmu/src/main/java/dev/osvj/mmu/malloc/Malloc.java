package dev.osvj.mmu.malloc;

import dev.osvj.sched.arch.KernelThreadIdentity;

import dev.osvj.kernel.Errno;
import dev.osvj.mmu.VcpuTopology;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.mmu.phys.Shrinker;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The kernel's {@code malloc}, shared by kernel and application (OSv {@code core/mempool.cc}).
 * Addresses are kernel virtual addresses in the linear map ({@link PhysicalMemory#virt}); 0 is NULL.
 *
 * <ul>
 *   <li><b>Small objects (&lt;= 1 KiB)</b>: per-vCPU power-of-two pools, 8 B minimum (classes 8, 16,
 *       ..., 1024). A pool page is one 4 KiB frame carved into equal objects, each naturally aligned
 *       to its size; a free object holds the offset of the next free one in its first 4 bytes. The
 *       page's header (owner vCPU, class, count, free-list head, bump offset) lives in per-frame arrays
 *       beside guest memory, so objects start at offset 0.</li>
 *   <li>In front of the pools, each thread keeps a small LIFO bin of free objects per class (64):
 *       malloc pops, free pushes, with no lock and no atomic (glibc's tcache; OSv gets its lock-free
 *       fast path by disabling preemption, and on the scheduler's vCPUs the carrier thread is the vCPU,
 *       so the bins are per-vCPU there). An empty bin is refilled with 32 objects under the vCPU's
 *       lock; a full one gives its 32 oldest back. Neither malloc nor free touches the object's
 *       memory. A free of the object on top of its bin (the common {@code free(p); free(p)}) is caught
 *       as a double free; an older duplicate is not (OSv does not check at all; glibc's tcache
 *       writes a key into every freed object, which costs this loop about 13 %).
 *       {@link #trim()} and the shrinker empty the calling thread's bins and those of ended
 *       threads.</li>
 *   <li>A free from another vCPU is pushed on the owner's lock-free remote-free stack (an MPSC Treiber
 *       stack threaded through the objects: next pointer in the first 8 bytes); the owner takes the
 *       whole stack at its next allocation (OSv: {@code garbage_sink} queues).</li>
 *   <li><b>Objects up to 4 KiB</b>: a whole page from the vCPU's L1 page pool (OSv's
 *       {@code page_pool_l1}), refilled from and returned to the page allocator in batches.</li>
 *   <li><b>Larger objects</b>: an exact page range from the page allocator (buddy blocks split, tail
 *       returned), page aligned, its page count kept per frame.</li>
 * </ul>
 *
 * <p>Per-vCPU state is guarded by a per-vCPU spin lock (OSv uses preemption disabling; here several
 * threads can share a vCPU when the scheduler is not plugged in). Exhaustion is a NULL return;
 * {@link #posixMemalign} returns the error number. A bad free (not an allocated block) is a kernel bug
 * and throws. The L1 pools and empty pool pages are given back by a {@link Shrinker} under memory
 * pressure and by {@link #trim()}.
 */
public final class Malloc {
    /** Largest small object. */
    public static final int MAX_SMALL = 1024;
    private static final int MIN_SHIFT = 3;
    private static final int CLASSES = 8;
    private static final int PAGE = 4096;
    private static final int NONE = -1;
    private static final byte KIND_FREE = 0;
    private static final byte KIND_POOL = 1;
    private static final byte KIND_PAGE = 2;
    private static final byte KIND_LARGE = 3;

    private final PhysicalMemory memory;
    private final long ramSize;
    private final PageAllocator pages;
    private final VcpuTopology topology;
    private final int l1Max;
    private final int l1Batch;

    // Per-frame metadata, indexed by frame number.
    private final byte[] kind;
    private final byte[] owner;
    /** Size class of a pool page, -1 for every other frame. */
    private final byte[] sizeClass;
    private final short[] used;
    /** Free-list head: object offset + 1, 0 = empty. */
    private final short[] freeHead;
    /** First never-allocated offset. */
    private final short[] bump;
    private final int[] nextPage;
    private final int[] prevPage;
    private final boolean[] inList;
    private final int[] largePages;

    private final Cpu[] cpus;
    /** Per-thread bins in front of the per-vCPU pools; on a vCPU's carrier thread, a per-vCPU cache. */
    private final ThreadLocal<ThreadCache> threadCache = ThreadLocal.withInitial(this::newThreadCache);
    /** Every thread cache, so that stats see them and trim can empty the ones ended threads left. */
    private final java.util.concurrent.ConcurrentLinkedQueue<ThreadCache> threadCaches =
        new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final AtomicLong threadCacheCount = new AtomicLong();
    private static final int RECENT_CACHES = 64;
    /** See {@link #threadCache()}; plain reference stores and loads, each value a complete cache. */
    private final ThreadCache[] recentCaches = new ThreadCache[RECENT_CACHES];
    private final AtomicLong largeBytes = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final Shrinker shrinker;

    /** Objects per bin of a thread cache. */
    private static final int TCACHE_COUNT = 64;
    /** Longs per bin in {@link ThreadCache#bins}: the count, then the objects. */
    private static final int BIN_STRIDE = TCACHE_COUNT + 1;
    /** Objects one refill takes from the vCPU's pool under one lock round trip. */
    private static final int TCACHE_REFILL = 32;

    /**
     * One thread's bins of free small objects, one LIFO stack per size class (glibc's tcache; OSv
     * gets the same lock-free fast path from disabling preemption on its per-CPU pools). Only its
     * thread touches it, except once the thread has ended. The objects stay "in use" for their pool
     * pages; {@link #cachedBytes()} tells the stats how much of that is really free.
     */
    private static final class ThreadCache {
        final Thread thread;
        /**
         * The bins, one after the other: bin {@code cls} starts at {@code cls * BIN_STRIDE} with its
         * object count, followed by up to {@link #TCACHE_COUNT} object addresses (oldest first). One
         * array, so that a hit costs one array header and one bounds check.
         */
        final long[] bins = new long[CLASSES * BIN_STRIDE];
        final long[] scratch = new long[TCACHE_REFILL];
        /** The owner is inside a refill or flush: a shrinker running on it must leave the bins alone. */
        boolean busy;

        ThreadCache(final Thread thread) {
            this.thread = thread;
        }

        /** Bytes in the bins, from the counts (racy when read by another thread: stats only). */
        long cachedBytes() {
            long n = 0;
            for (int cls = 0; cls < CLASSES; cls++) {
                n += bins[cls * BIN_STRIDE] * objectSize(cls);
            }
            return n;
        }
    }

    /** One vCPU's caches; everything but {@code remote} is guarded by {@code lock}. */
    private static final class Cpu {
        final AtomicInteger lock = new AtomicInteger();
        final int[] partial = new int[CLASSES];
        final int[] l1;
        int l1Count;
        /** Bytes allocated minus freed through this vCPU (small and page objects). */
        long inUse;
        long poolPages;
        /** Head of the remote-free stack (kernel virtual address, 0 = empty). */
        final AtomicLong remote = new AtomicLong();
        final AtomicLong remoteFrees = new AtomicLong();

        Cpu(final int l1Max) {
            java.util.Arrays.fill(partial, NONE);
            l1 = new int[l1Max];
        }
    }

    /**
     * @param l1Pages per-vCPU page cache size (OSv: 512); refills and returns move a quarter of it.
     */
    public Malloc(final PhysicalMemory memory, final PageAllocator pages, final VcpuTopology topology, final int l1Pages) {
        if (l1Pages < 4) {
            throw new IllegalArgumentException("l1Pages " + l1Pages);
        }
        this.memory = memory;
        this.ramSize = memory.size();
        this.pages = pages;
        this.topology = topology;
        this.l1Max = l1Pages;
        this.l1Batch = l1Pages / 4;
        final int frames = (int)(memory.size() / PAGE);
        kind = new byte[frames];
        owner = new byte[frames];
        sizeClass = new byte[frames];
        java.util.Arrays.fill(sizeClass, (byte)-1); // -1: not a pool page (free() tests it first)
        used = new short[frames];
        freeHead = new short[frames];
        bump = new short[frames];
        nextPage = new int[frames];
        prevPage = new int[frames];
        inList = new boolean[frames];
        largePages = new int[frames];
        cpus = new Cpu[topology.cpus()];
        for (int i = 0; i < cpus.length; i++) {
            cpus[i] = new Cpu(l1Pages);
        }
        shrinker = new Shrinker() {
            @Override
            public String name() {
                return "malloc";
            }

            @Override
            public long shrink(final long bytesWanted) {
                return release(true);
            }
        };
        pages.registerShrinker(shrinker);
    }

    /** Size class of a small request: 0 for 1..8 bytes, 7 for 513..1024. */
    static int sizeClass(final long size) {
        return Math.max(0, 64 - Long.numberOfLeadingZeros(size - 1) - MIN_SHIFT);
    }

    private static int objectSize(final int cls) {
        return 1 << (cls + MIN_SHIFT);
    }

    // ---- locking ----

    private static void lock(final Cpu c) {
        int spins = 0;
        while (!c.lock.compareAndSet(0, 1)) {
            if (++spins < 100) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }

    private static void unlock(final Cpu c) {
        c.lock.setRelease(0);
    }

    // ---- API ----

    /**
     * {@code malloc(3)}.
     *
     * @return a kernel virtual address aligned to at least 8 bytes (to the object size for small
     *     objects, to 4 KiB above 1 KiB), or 0 when memory is exhausted. {@code malloc(0)} returns a
     *     unique minimal object.
     */
    public long malloc(final long size) {
        if (size <= MAX_SMALL && size >= 0) {
            return allocSmall(sizeClass(Math.max(1, size)));
        }
        return mallocLarger(size);
    }

    /** malloc of more than {@link #MAX_SMALL} bytes (or a negative size); kept out of the small path. */
    private long mallocLarger(final long size) {
        if (size < 0) {
            failures.incrementAndGet();
            return 0;
        }
        if (size <= PAGE) {
            return allocWholePage();
        }
        return allocLarge((size + PAGE - 1) / PAGE, 1);
    }

    /** {@code calloc(3)}: zeroed; 0 on overflow of {@code count * size} or exhaustion. */
    public long calloc(final long count, final long size) {
        if (count < 0 || size < 0 || (count != 0 && Math.multiplyHigh(count, size) != 0) || count * size < 0) {
            failures.incrementAndGet();
            return 0;
        }
        final long total = count * size;
        final long p = malloc(total);
        if (p != 0 && total > 0) {
            memory.zero(PhysicalMemory.phys(p), total);
        }
        return p;
    }

    /**
     * {@code realloc(3)}: grows or shrinks, keeping the contents up to the smaller size. {@code ptr == 0}
     * is malloc; {@code size == 0} frees and returns 0. On exhaustion returns 0 and leaves {@code ptr}
     * intact.
     */
    public long realloc(final long ptr, final long size) {
        if (ptr == 0) {
            return malloc(size);
        }
        if (size == 0) {
            free(ptr);
            return 0;
        }
        final long usable = usableSize(ptr);
        if (size <= usable && size > usable / 2) {
            return ptr;
        }
        if (size <= usable && usable <= 8) {
            return ptr;
        }
        final long fresh = malloc(size);
        if (fresh == 0) {
            return 0;
        }
        memory.copy(PhysicalMemory.phys(ptr), PhysicalMemory.phys(fresh), Math.min(usable, size));
        free(ptr);
        return fresh;
    }

    /**
     * {@code posix_memalign(3)}.
     *
     * @param memptr {@code memptr[0]} receives the address.
     * @return 0, {@code EINVAL} (alignment not a power of two multiple of 8) or {@code ENOMEM} — the
     *     positive error number, as POSIX specifies for this call.
     */
    public int posixMemalign(final long[] memptr, final long alignment, final long size) {
        if (alignment < 8 || Long.bitCount(alignment) != 1) {
            return Errno.EINVAL.number();
        }
        final long p = alignedAlloc(alignment, size);
        if (p == 0) {
            return Errno.ENOMEM.number();
        }
        memptr[0] = p;
        return 0;
    }

    /** {@code aligned_alloc}: {@code alignment} a power of two; 0 on exhaustion or bad alignment. */
    public long alignedAlloc(final long alignment, final long size) {
        if (alignment <= 0 || Long.bitCount(alignment) != 1 || size < 0) {
            failures.incrementAndGet();
            return 0;
        }
        if (alignment <= 8) {
            return malloc(size);
        }
        if (size <= MAX_SMALL && alignment <= MAX_SMALL) {
            // Small objects are aligned to their size: use a class at least as large as the alignment.
            return allocSmall(Math.max(sizeClass(Math.max(1, size)), sizeClass(alignment)));
        }
        if (size <= PAGE && alignment <= PAGE) {
            return allocWholePage();
        }
        return allocLarge(Math.max(1, (size + PAGE - 1) / PAGE), Math.max(1, alignment / PAGE));
    }

    /** {@code free(3)}; {@code free(0)} does nothing. */
    public void free(final long ptr) {
        final long pa = ptr - PhysicalMemory.LINEAR_BASE;
        if (pa >= 0 && pa < ramSize) {
            final int pfn = (int)(pa / PAGE);
            final int cls = sizeClass[pfn];
            if (cls >= 0 && (pa & (objectSize(cls) - 1)) == 0) {
                freeSmall(cls, ptr);
                return;
            }
        }
        freeOther(ptr);
    }

    /** free of NULL, a page or a large block, or a bad pointer; kept out of the small path. */
    private void freeOther(final long ptr) {
        if (ptr == 0) {
            return;
        }
        final long pa = PhysicalMemory.phys(ptr);
        if (pa < 0 || pa >= ramSize) {
            throw new IllegalArgumentException("free of a pointer outside guest memory: 0x" + Long.toHexString(ptr));
        }
        final int pfn = (int)(pa / PAGE);
        if (sizeClass[pfn] >= 0) {
            throw new IllegalStateException("free of a misaligned small pointer: 0x" + Long.toHexString(ptr));
        }
        switch (kind[pfn]) {
            case KIND_PAGE -> {
                checkAligned(ptr, pa);
                freeWholePage(pfn);
            }
            case KIND_LARGE -> {
                checkAligned(ptr, pa);
                final int n = largePages[pfn];
                if (n <= 0) {
                    throw new IllegalStateException("free of the interior of a large block: 0x" + Long.toHexString(ptr));
                }
                largePages[pfn] = 0;
                kind[pfn] = KIND_FREE;
                largeBytes.addAndGet(-(long)n * PAGE);
                pages.freePages(pa, n);
            }
            default -> throw new IllegalStateException("free of memory malloc does not own: 0x" + Long.toHexString(ptr));
        }
    }

    private static void checkAligned(final long ptr, final long pa) {
        if ((pa & (PAGE - 1)) != 0) {
            throw new IllegalStateException("free of a pointer malloc did not return: 0x" + Long.toHexString(ptr));
        }
    }

    /** Bytes usable at {@code ptr} ({@code malloc_usable_size}). */
    public long usableSize(final long ptr) {
        final long pa = PhysicalMemory.phys(ptr);
        final int pfn = (int)(pa / PAGE);
        return switch (kind[pfn]) {
            case KIND_POOL -> objectSize(sizeClass[pfn]);
            case KIND_PAGE -> PAGE;
            case KIND_LARGE -> (long)largePages[pfn] * PAGE;
            default -> throw new IllegalStateException("not a malloc block: 0x" + Long.toHexString(ptr));
        };
    }

    // ---- small objects ----

    /** Small-object allocation: the thread cache's bin, else a refill from the vCPU's pool. */
    private long allocSmall(final int cls) {
        final ThreadCache tc = threadCache();
        final long[] bins = tc.bins;
        final int base = cls * BIN_STRIDE;
        final int n = (int)bins[base];
        if (n > 0) {
            bins[base] = n - 1;
            // The double-free key stays in the object: a program that frees it without having written
            // its first 8 bytes costs one scan of the bin, nothing more.
            return bins[base + n];
        }
        return refill(tc, cls);
    }

    /**
     * Take up to {@link #TCACHE_REFILL} objects of class {@code cls} from the calling vCPU's pool
     * (one lock round trip), hand out the first and cache the rest in {@code tc}.
     *
     * @return the object, or 0 when memory is exhausted.
     */
    private long refill(final ThreadCache tc, final int cls) {
        final int cpu = topology.currentCpu();
        final Cpu c = cpus[cpu];
        final int base = cls * BIN_STRIDE;
        long first = 0;
        tc.busy = true;
        lock(c);
        try {
            if (c.remote.get() != 0) {
                drainRemote(cpu, c);
            }
            first = allocSmallLocked(cpu, c, cls);
            if (first == 0) {
                failures.incrementAndGet();
                return 0;
            }
            // Cached in reverse so the bin hands them out in address order (first, first + size, ...).
            final long[] batch = tc.scratch;
            int got = 0;
            while (got < TCACHE_REFILL - 1) {
                final long p = allocSmallLocked(cpu, c, cls);
                if (p == 0) {
                    break;
                }
                batch[got++] = p;
            }
            int count = (int)tc.bins[base];
            for (int i = got - 1; i >= 0; i--) {
                tc.bins[base + 1 + count++] = batch[i];
            }
            tc.bins[base] = count;
            return first;
        } finally {
            unlock(c);
            tc.busy = false;
        }
    }

    /** One object from the vCPU's partial pages, or 0 when no page can be had. Lock held. */
    private long allocSmallLocked(final int cpu, final Cpu c, final int cls) {
        int pfn = c.partial[cls];
        if (pfn == NONE) {
            pfn = takePage(c);
            if (pfn == NONE) {
                return 0;
            }
            kind[pfn] = KIND_POOL;
            owner[pfn] = (byte)cpu;
            sizeClass[pfn] = (byte)cls;
            used[pfn] = 0;
            freeHead[pfn] = 0;
            bump[pfn] = 0;
            c.poolPages++;
            listAdd(c, cls, pfn);
        }
        final int size = objectSize(cls);
        final long pageBase = (long)pfn * PAGE;
        final int offset;
        if (freeHead[pfn] != 0) {
            offset = freeHead[pfn] - 1;
            freeHead[pfn] = (short)memory.getInt(pageBase + offset);
        } else {
            offset = bump[pfn];
            bump[pfn] = (short)(offset + size);
        }
        used[pfn]++;
        c.inUse += size;
        if (freeHead[pfn] == 0 && bump[pfn] + size > PAGE) {
            listRemove(c, cls, pfn);
        }
        return PhysicalMemory.virt(pageBase + offset);
    }

    /** Free a small object (aligned to its class) into the calling thread's bin. */
    private void freeSmall(final int cls, final long ptr) {
        final ThreadCache tc = threadCache();
        final long[] bins = tc.bins;
        final int base = cls * BIN_STRIDE;
        int n = (int)bins[base];
        if (n > 0 && bins[base + n] == ptr) {
            throw new IllegalStateException("double free of 0x" + Long.toHexString(ptr));
        }
        if (n == TCACHE_COUNT) {
            flushBin(tc, cls, TCACHE_COUNT / 2, false);
            n = (int)bins[base];
        }
        bins[base + 1 + n] = ptr;
        bins[base] = n + 1;
    }

    /**
     * The calling thread's cache: a direct-mapped table by thread id in front of the thread-local
     * (two loads and a compare on a hit instead of a thread-local map probe). Threads store into it
     * racily, but every value is a complete cache and a hit is only taken when it is the caller's.
     */
    private ThreadCache threadCache() {
        final Thread self = Thread.currentThread();
        final int slot = (int)self.threadId() & (RECENT_CACHES - 1);
        final ThreadCache tc = recentCaches[slot];
        if (tc != null && tc.thread == self) {
            return tc;
        }
        final ThreadCache mine = threadCache.get();
        recentCaches[slot] = mine;
        return mine;
    }

    /**
     * Give the {@code n} oldest objects of a bin back to their pool pages: the calling vCPU's own
     * under its lock, other vCPUs' through their remote-free stacks (OSv's {@code garbage_sink}).
     *
     * @param tryOnly give up (return false) instead of waiting for the vCPU's lock.
     */
    private boolean flushBin(final ThreadCache tc, final int cls, final int n, final boolean tryOnly) {
        final int base = cls * BIN_STRIDE;
        final int count = (int)Math.min(n, tc.bins[base]);
        if (count == 0) {
            return true;
        }
        final int cpu = topology.currentCpu();
        final Cpu c = cpus[cpu];
        if (tryOnly) {
            if (!c.lock.compareAndSet(0, 1)) {
                return false;
            }
        } else {
            lock(c);
        }
        tc.busy = true;
        try {
            for (int i = 0; i < count; i++) {
                final long ptr = tc.bins[base + 1 + i];
                final long pa = PhysicalMemory.phys(ptr);
                final int pfn = (int)(pa / PAGE);
                if (owner[pfn] == cpu) {
                    freeLocal(c, pfn, (int)(pa & (PAGE - 1)));
                } else {
                    remoteFree(cpus[owner[pfn]], pa, ptr);
                }
            }
            final int left = (int)tc.bins[base] - count;
            System.arraycopy(tc.bins, base + 1 + count, tc.bins, base + 1, left);
            tc.bins[base] = left;
            return true;
        } finally {
            tc.busy = false;
            unlock(c);
        }
    }

    /** Push on the owner's remote-free stack, lock-free (producer: any vCPU; consumer: the owner). */
    private void remoteFree(final Cpu o, final long pa, final long ptr) {
        long head;
        do {
            head = o.remote.get();
            memory.putLong(pa, head);
        } while (!o.remote.compareAndSet(head, ptr));
        o.remoteFrees.incrementAndGet();
    }

    /** Empty every bin of {@code tc}; false when a lock could not be had ({@code tryOnly}). */
    private boolean flushThreadCache(final ThreadCache tc, final boolean tryOnly) {
        for (int cls = 0; cls < CLASSES; cls++) {
            if (!flushBin(tc, cls, TCACHE_COUNT, tryOnly)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Empty the calling thread's cache and those of threads that have ended (their caches can be
     * touched safely: a thread's end happens-before {@link KernelThreadIdentity#hasEnded} returns true;
     * a kernel thread's identity is not alive to the JDK whenever it is off its carrier, so
     * {@code isAlive()} alone would take the cache of a thread that merely waits).
     */
    private void flushThreadCaches(final boolean tryOnly) {
        final ThreadCache own = threadCache.get();
        if (!own.busy) {
            flushThreadCache(own, tryOnly);
        }
        for (final var it = threadCaches.iterator(); it.hasNext(); ) {
            final ThreadCache tc = it.next();
            if (tc != own && KernelThreadIdentity.hasEnded(tc.thread) && flushThreadCache(tc, tryOnly)) {
                it.remove();
            }
        }
    }

    private ThreadCache newThreadCache() {
        final ThreadCache tc = new ThreadCache(Thread.currentThread());
        if (threadCacheCount.incrementAndGet() % 64 == 0) {
            flushThreadCaches(true); // bound the caches that ended threads leave behind
        }
        threadCaches.add(tc);
        return tc;
    }

    /** Owner's lock held. */
    private void freeLocal(final Cpu c, final int pfn, final int offset) {
        final int cls = sizeClass[pfn];
        final long pageBase = (long)pfn * PAGE;
        if (used[pfn] <= 0) {
            throw new IllegalStateException("double free in pool page " + pfn);
        }
        memory.putInt(pageBase + offset, freeHead[pfn]);
        freeHead[pfn] = (short)(offset + 1);
        used[pfn]--;
        c.inUse -= objectSize(cls);
        if (!inList[pfn]) {
            listAdd(c, cls, pfn);
        } else if (used[pfn] == 0 && (nextPage[pfn] != NONE || prevPage[pfn] != NONE)) {
            // An empty page that is not the class's only one goes back to the page pool.
            listRemove(c, cls, pfn);
            kind[pfn] = KIND_FREE;
            sizeClass[pfn] = -1;
            c.poolPages--;
            putPage(c, pfn);
        }
    }

    /** Take the whole remote-free stack of {@code cpu} and free each object locally. Lock held. */
    private void drainRemote(final int cpu, final Cpu c) {
        long va = c.remote.getAndSet(0);
        while (va != 0) {
            final long pa = PhysicalMemory.phys(va);
            final long next = memory.getLong(pa);
            final int pfn = (int)(pa / PAGE);
            if (owner[pfn] != cpu || kind[pfn] != KIND_POOL) {
                throw new IllegalStateException("remote free queue corrupted at 0x" + Long.toHexString(va));
            }
            freeLocal(c, pfn, (int)(pa & (PAGE - 1)));
            va = next;
        }
    }

    private void listAdd(final Cpu c, final int cls, final int pfn) {
        prevPage[pfn] = NONE;
        nextPage[pfn] = c.partial[cls];
        if (c.partial[cls] != NONE) {
            prevPage[c.partial[cls]] = pfn;
        }
        c.partial[cls] = pfn;
        inList[pfn] = true;
    }

    private void listRemove(final Cpu c, final int cls, final int pfn) {
        final int n = nextPage[pfn];
        final int p = prevPage[pfn];
        if (p == NONE) {
            c.partial[cls] = n;
        } else {
            nextPage[p] = n;
        }
        if (n != NONE) {
            prevPage[n] = p;
        }
        nextPage[pfn] = NONE;
        prevPage[pfn] = NONE;
        inList[pfn] = false;
    }

    // ---- pages ----

    /** A page from the L1 pool, refilling it in a batch. Lock held. */
    private int takePage(final Cpu c) {
        if (c.l1Count == 0) {
            for (int i = 0; i < l1Batch; i++) {
                final long pa = pages.allocPage();
                if (pa == PageAllocator.NO_MEMORY) {
                    break;
                }
                c.l1[c.l1Count++] = (int)(pa / PAGE);
            }
            if (c.l1Count == 0) {
                return NONE;
            }
        }
        return c.l1[--c.l1Count];
    }

    /** Return a page to the L1 pool, unfilling a batch when it is full. Lock held. */
    private void putPage(final Cpu c, final int pfn) {
        if (c.l1Count == l1Max) {
            for (int i = 0; i < l1Batch; i++) {
                pages.freeOrder((long)c.l1[--c.l1Count] * PAGE, 0);
            }
        }
        c.l1[c.l1Count++] = pfn;
    }

    private long allocWholePage() {
        final Cpu c = cpus[topology.currentCpu()];
        lock(c);
        try {
            final int pfn = takePage(c);
            if (pfn == NONE) {
                failures.incrementAndGet();
                return 0;
            }
            kind[pfn] = KIND_PAGE;
            c.inUse += PAGE;
            return PhysicalMemory.virt((long)pfn * PAGE);
        } finally {
            unlock(c);
        }
    }

    private void freeWholePage(final int pfn) {
        final Cpu c = cpus[topology.currentCpu()];
        lock(c);
        try {
            kind[pfn] = KIND_FREE;
            c.inUse -= PAGE;
            putPage(c, pfn);
        } finally {
            unlock(c);
        }
    }

    private long allocLarge(final long npages, final long alignPages) {
        if (npages > Integer.MAX_VALUE) {
            failures.incrementAndGet();
            return 0;
        }
        final long pa = pages.allocPages(npages, alignPages);
        if (pa == PageAllocator.NO_MEMORY) {
            failures.incrementAndGet();
            return 0;
        }
        final int pfn = (int)(pa / PAGE);
        largePages[pfn] = (int)npages;
        kind[pfn] = KIND_LARGE;
        largeBytes.addAndGet(npages * PAGE);
        return PhysicalMemory.virt(pa);
    }

    // ---- reclaim and stats ----

    /**
     * Give cached memory back to the page allocator: drain remote frees, free empty pool pages and
     * the L1 pools of every vCPU.
     *
     * @return bytes released.
     */
    public long trim() {
        return release(false);
    }

    private long release(final boolean tryOnly) {
        flushThreadCaches(tryOnly);
        long released = 0;
        for (int cpu = 0; cpu < cpus.length; cpu++) {
            final Cpu c = cpus[cpu];
            if (tryOnly) {
                if (!c.lock.compareAndSet(0, 1)) {
                    continue; // the allocating thread itself may hold it (shrinker from inside malloc)
                }
            } else {
                lock(c);
            }
            try {
                drainRemote(cpu, c);
                for (int cls = 0; cls < CLASSES; cls++) {
                    int pfn = c.partial[cls];
                    while (pfn != NONE) {
                        final int next = nextPage[pfn];
                        if (used[pfn] == 0) {
                            listRemove(c, cls, pfn);
                            kind[pfn] = KIND_FREE;
                            sizeClass[pfn] = -1;
                            c.poolPages--;
                            pages.freeOrder((long)pfn * PAGE, 0);
                            released += PAGE;
                        }
                        pfn = next;
                    }
                }
                while (c.l1Count > 0) {
                    pages.freeOrder((long)c.l1[--c.l1Count] * PAGE, 0);
                    released += PAGE;
                }
            } finally {
                unlock(c);
            }
        }
        return released;
    }

    /**
     * Bytes in small and page objects currently allocated (remote frees not yet drained count;
     * objects waiting in thread caches do not). A racy snapshot while other threads allocate.
     */
    public long smallBytesInUse() {
        long n = 0;
        for (final Cpu c : cpus) {
            lock(c);
            n += c.inUse;
            unlock(c);
        }
        for (final ThreadCache tc : threadCaches) {
            n -= tc.cachedBytes();
        }
        return n;
    }

    /** Bytes of free small objects waiting in thread caches (a racy snapshot). */
    public long threadCachedBytes() {
        long n = 0;
        for (final ThreadCache tc : threadCaches) {
            n += tc.cachedBytes();
        }
        return n;
    }

    /** Bytes in large (page-range) objects. */
    public long largeBytesInUse() {
        return largeBytes.get();
    }

    /** Pages carved into small-object pools. */
    public long poolPages() {
        long n = 0;
        for (final Cpu c : cpus) {
            lock(c);
            n += c.poolPages;
            unlock(c);
        }
        return n;
    }

    /** Free pages cached in the per-vCPU L1 pools. */
    public long cachedPages() {
        long n = 0;
        for (final Cpu c : cpus) {
            lock(c);
            n += c.l1Count;
            unlock(c);
        }
        return n;
    }

    /** Frees that went through a remote-free stack. */
    public long remoteFrees() {
        long n = 0;
        for (final Cpu c : cpus) {
            n += c.remoteFrees.get();
        }
        return n;
    }

    /** Allocations that returned NULL. */
    public long failures() {
        return failures.get();
    }

    /** OSv's /sys/osv/memory/pools-like lines: per vCPU, per class, pool pages and objects in use. */
    public String poolsText() {
        final StringBuilder b = new StringBuilder();
        for (int cpu = 0; cpu < cpus.length; cpu++) {
            final Cpu c = cpus[cpu];
            lock(c);
            try {
                b.append("cpu").append(cpu).append(": l1 ").append(c.l1Count).append(" pages, remote frees ")
                    .append(c.remoteFrees.get()).append('\n');
                for (int cls = 0; cls < CLASSES; cls++) {
                    int partial = 0;
                    long objects = 0;
                    for (int pfn = c.partial[cls]; pfn != NONE; pfn = nextPage[pfn]) {
                        partial++;
                        objects += used[pfn];
                    }
                    b.append(String.format("  %5d B: %d partial pages, %d objects in them%n", objectSize(cls), partial, objects));
                }
            } finally {
                unlock(c);
            }
        }
        return b.toString();
    }

    /**
     * Check pool invariants (tests): every listed page is a pool page of its vCPU and class, with
     * {@code used + free-list length + never-used objects} equal to the page's capacity.
     */
    public void verify() {
        for (int cpu = 0; cpu < cpus.length; cpu++) {
            final Cpu c = cpus[cpu];
            lock(c);
            try {
                for (int cls = 0; cls < CLASSES; cls++) {
                    final int size = objectSize(cls);
                    for (int pfn = c.partial[cls]; pfn != NONE; pfn = nextPage[pfn]) {
                        if (kind[pfn] != KIND_POOL || owner[pfn] != cpu || sizeClass[pfn] != cls || !inList[pfn]) {
                            throw new IllegalStateException("page " + pfn + " mislabelled on cpu " + cpu + " class " + cls);
                        }
                        int free = 0;
                        for (int off = freeHead[pfn] - 1; off >= 0; off = memory.getInt((long)pfn * PAGE + off) - 1) {
                            if (off % size != 0 || off >= bump[pfn] || ++free > PAGE / size) {
                                throw new IllegalStateException("free list of page " + pfn + " corrupted");
                            }
                        }
                        if (used[pfn] + free + (PAGE - bump[pfn]) / size != PAGE / size) {
                            throw new IllegalStateException("page " + pfn + ": used " + used[pfn] + " + free " + free
                                + " + unused " + (PAGE - bump[pfn]) / size + " != " + PAGE / size);
                        }
                    }
                }
            } finally {
                unlock(c);
            }
        }
    }

    /** Unregister the shrinker (subsystem stop). */
    public void close() {
        pages.unregisterShrinker(shrinker);
    }
}
