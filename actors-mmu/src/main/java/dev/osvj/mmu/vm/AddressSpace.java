package dev.osvj.mmu.vm;

import dev.osvj.kernel.Errno;
import dev.osvj.mmu.FileMapping;
import dev.osvj.mmu.Mman;
import dev.osvj.mmu.PageFault;
import dev.osvj.mmu.PageFault.Access;
import dev.osvj.mmu.PageFault.Cause;
import dev.osvj.mmu.VcpuTopology;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The single address space shared by the kernel and the application (OSv {@code core/mmu.cc}): the
 * VMAs, the page table, demand paging, and application memory access through the per-vCPU software
 * TLBs.
 *
 * <pre>
 *  0x0000_0001_0000  lowest mappable address (Linux's mmap_min_addr)
 *  0x0000_0200_0000  MAP_32BIT mappings, up to 2 GiB
 *  0x2000_0000_0000  mmap base: mappings are placed first-fit upward from here
 *  0x4000_0000_0000  linear map of guest RAM (kernel, 2 MiB pages, always present); end of user space
 * </pre>
 *
 * <p>System calls return {@code -errno} on failure (mmap returns the address or {@code -errno}), with
 * Linux's argument checks. Demand paging: the first access to a page of a VMA faults it in: a 2 MiB
 * page when the access falls in the 2 MiB-aligned interior of an anonymous VMA (unless
 * {@code MADV_NOHUGEPAGE} or huge pages are off), 4 KiB otherwise; file pages come from the
 * {@link FileMapping}, copy-on-write for private mappings. A partial {@code munmap}/{@code mprotect}/
 * {@code MADV_DONTNEED} of a huge page splits it first. An access that cannot be satisfied throws
 * {@link PageFault} with the address and kind; the kernel is never affected.
 *
 * <p>Also {@code mremap} (grow in place, or move the page-table entries, never the frames) and the
 * program break ({@code brk}/{@code sbrk}, a heap mapping from {@link #BRK_BASE}).
 *
 * <p>Locking (OSv's {@code vma_list_mutex}): mmap, munmap, mremap, mprotect, madvise, msync and brk
 * take the write lock; faults take the read lock and fill empty page-table slots with CAS (a fault
 * finds its VMA through a one-entry cache, Linux's {@code vmacache}, which every writer clears).
 * Page-table entries are removed or restricted only under the write lock, then the shootdown runs
 * ({@link TlbShootdown#flushRange}: the changed pages only on the caller's vCPU, a full flush on the
 * others), and only then are frames, page tables and page-cache pages released. Application accesses
 * take no lock: a TLB hit is an array load, a compare and a memory access.
 *
 * <p>Page tables (OSv's {@code unpopulate} rule): munmap frees a table only when the unmapped range
 * covers the table's whole span; tables that still span other addresses stay for the next mapping
 * there (an mmap/munmap cycle in the same region reuses them), and a {@link dev.osvj.mmu.phys.Shrinker}
 * ({@link #trimPageTables}) frees every table left in the gaps between VMAs when memory runs low. A
 * fault that finds no memory frees them itself, outside its read lock, and retries once.
 */
public final class AddressSpace implements AutoCloseable {
    public static final long PAGE_SIZE = 4096;
    public static final long HUGE_PAGE_SIZE = 2L << 20;
    /** Lowest address mmap hands out or accepts with MAP_FIXED (Linux's default mmap_min_addr). */
    public static final long USER_START = 0x1_0000L;
    /** End of the application's part of the address space: the linear map starts here. */
    public static final long USER_END = PhysicalMemory.LINEAR_BASE;
    /** OSv's mmap base. */
    public static final long MMAP_BASE = 0x2000_0000_0000L;
    public static final long MMAP_32BIT_BASE = 0x200_0000L;
    public static final long MMAP_32BIT_END = 0x8000_0000L;

    private static final long PAGE_MASK = PAGE_SIZE - 1;
    private static final long HUGE_MASK = HUGE_PAGE_SIZE - 1;
    private static final int KNOWN_PROT = Mman.PROT_READ | Mman.PROT_WRITE | Mman.PROT_EXEC;

    private final PhysicalMemory memory;
    private final PageAllocator frames;
    private final PageTable pageTable;
    private final TlbShootdown shootdown;
    private final VcpuTopology topology;
    private final Tlb[] tlbs;
    private final boolean hugePages;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** User VMAs by start address; never overlapping. */
    private final TreeMap<Long, Vma> vmas = new TreeMap<>();
    /** Frames and page-cache pages to release after the shootdown (write lock held). */
    private final Release release = new Release();
    /** The program break ({@link #brk}); write lock. */
    private long programBreak = BRK_BASE;
    /** Last VMA a fault found; see {@link #vmaForFault}. Cleared by every write-lock holder. */
    private Vma lastFaultVma;
    /** Frees page tables left in the gaps between VMAs under memory pressure. */
    private final dev.osvj.mmu.phys.Shrinker tableShrinker;

    private final LongAdder faults = new LongAdder();
    private final LongAdder hugeFaults = new LongAdder();
    private final LongAdder cowFaults = new LongAdder();
    private final LongAdder failedFaults = new LongAdder();
    private final AtomicLong anonymousBytes = new AtomicLong();
    private final AtomicLong fileBytes = new AtomicLong();
    private final AtomicLong hugePagesMapped = new AtomicLong();
    private final AtomicLong splits = new AtomicLong();

    /**
     * Creates the page table and the linear map of all of guest RAM (2 MiB pages, writable, no
     * execute, global, kernel only).
     *
     * @param hugePages transparent huge pages for anonymous memory ({@code osvj.mmu.huge-pages}).
     */
    public AddressSpace(final PhysicalMemory memory, final PageAllocator frames, final TlbShootdown shootdown,
        final boolean hugePages) {
        this.memory = memory;
        this.frames = frames;
        this.shootdown = shootdown;
        this.topology = shootdown.topology();
        this.hugePages = hugePages;
        this.pageTable = new PageTable(memory, frames);
        this.tlbs = new Tlb[shootdown.cpus()];
        for (int i = 0; i < tlbs.length; i++) {
            tlbs[i] = shootdown.tlb(i);
        }
        for (long pa = 0; pa < memory.size(); pa += HUGE_PAGE_SIZE) {
            final long rc = pageTable.map2m(PhysicalMemory.virt(pa), pa,
                Pte.PRESENT | Pte.WRITE | Pte.GLOBAL | Pte.NX | Pte.ACCESSED | Pte.DIRTY);
            if (rc != 0) {
                throw new IllegalStateException("cannot build the linear map: " + rc);
            }
        }
        this.tableShrinker = new dev.osvj.mmu.phys.Shrinker() {
            @Override
            public String name() {
                return "page tables";
            }

            @Override
            public long shrink(final long bytesWanted) {
                return trimPageTables(false);
            }
        };
        frames.registerShrinker(tableShrinker);
    }

    public PhysicalMemory memory() {
        return memory;
    }

    public PageTable pageTable() {
        return pageTable;
    }

    public TlbShootdown shootdown() {
        return shootdown;
    }

    // ------------------------------------------------------------------------------------------------
    // mmap family
    // ------------------------------------------------------------------------------------------------

    /** Anonymous mapping: {@code mmap(addr, length, prot, flags | MAP_ANONYMOUS, -1, 0)}. */
    public long mmap(final long addr, final long length, final int prot, final int flags) {
        return mmap(addr, length, prot, flags | Mman.MAP_ANONYMOUS, null, 0);
    }

    /**
     * {@code mmap(2)}.
     *
     * @param addr   hint, or the exact address with {@code MAP_FIXED}.
     * @param file   the file for a file mapping (null with {@code MAP_ANONYMOUS}).
     * @param offset file offset, page aligned.
     * @return the mapping's address, or {@code -errno}: EINVAL (length 0, neither or both of
     *     MAP_SHARED/MAP_PRIVATE, unaligned offset or MAP_FIXED address, unknown prot bits), EBADF (no
     *     file without MAP_ANONYMOUS), EACCES (shared writable mapping of a read-only file), EOVERFLOW,
     *     ENOMEM (no room, or out of the user range).
     */
    public long mmap(final long addr, final long length, final int prot, final int flags, final FileMapping file,
        final long offset) {
        if (length <= 0) {
            return Errno.EINVAL.negative();
        }
        final int type = flags & (Mman.MAP_SHARED | Mman.MAP_PRIVATE);
        if (type != Mman.MAP_SHARED && type != Mman.MAP_PRIVATE) {
            return Errno.EINVAL.negative();
        }
        if ((prot & ~KNOWN_PROT) != 0 || offset < 0 || (offset & PAGE_MASK) != 0) {
            return Errno.EINVAL.negative();
        }
        final boolean anonymous = (flags & Mman.MAP_ANONYMOUS) != 0;
        if (!anonymous && file == null) {
            return Errno.EBADF.negative();
        }
        final long len = (length + PAGE_MASK) & ~PAGE_MASK;
        if (len <= 0 || len > USER_END - USER_START) {
            return Errno.ENOMEM.negative();
        }
        final boolean fixed = (flags & Mman.MAP_FIXED) != 0;
        if (fixed) {
            if ((addr & PAGE_MASK) != 0) {
                return Errno.EINVAL.negative();
            }
            if (addr < USER_START || addr > USER_END - len) {
                return Errno.ENOMEM.negative();
            }
        }
        final boolean shared = type == Mman.MAP_SHARED;
        if (!anonymous) {
            if (offset + len < 0) {
                return Errno.EOVERFLOW.negative();
            }
            if (shared && (prot & Mman.PROT_WRITE) != 0 && !file.writable()) {
                return Errno.EACCES.negative();
            }
        }
        final long start;
        lock.writeLock().lock();
        try {
            if (fixed) {
                final long rc = unmapLocked(addr, addr + len);
                if (rc < 0) {
                    return rc;
                }
                start = addr;
            } else {
                start = findFree(addr, len, (flags & Mman.MAP_32BIT) != 0);
                if (start < 0) {
                    return Errno.ENOMEM.negative();
                }
            }
            vmas.put(start, new Vma(start, start + len, prot, shared, anonymous ? null : file, anonymous ? 0 : offset, false));
        } finally {
            writeUnlock();
        }
        if ((flags & (Mman.MAP_POPULATE | Mman.MAP_HUGETLB)) != 0 && prot != Mman.PROT_NONE) {
            final Access access = anonymous && (prot & Mman.PROT_WRITE) != 0 ? Access.WRITE : Access.READ;
            for (long va = start; va < start + len; va += PAGE_SIZE) {
                try {
                    touch(va, access);
                } catch (final PageFault e) {
                    break; // like Linux: populate is best effort; later accesses fault normally
                }
            }
        }
        return start;
    }

    /**
     * {@code munmap(2)}: remove mappings in {@code [addr, addr + length)}; unmapped parts are fine.
     *
     * @return 0, or {@code -EINVAL} (unaligned address, length 0, range outside user space),
     *     {@code -ENOMEM} (no memory to split a huge page).
     */
    public int munmap(final long addr, final long length) {
        if ((addr & PAGE_MASK) != 0 || length <= 0) {
            return Errno.EINVAL.negative();
        }
        final long len = (length + PAGE_MASK) & ~PAGE_MASK;
        if (len <= 0 || addr < 0 || addr > USER_END - len) {
            return Errno.EINVAL.negative();
        }
        lock.writeLock().lock();
        try {
            return (int)unmapLocked(addr, addr + len);
        } finally {
            writeUnlock();
        }
    }

    /**
     * {@code mprotect(2)}.
     *
     * @return 0, or {@code -EINVAL} (unaligned address, unknown bits), {@code -ENOMEM} (part of the
     *     range is not mapped, or no memory to split a huge page), {@code -EACCES} (write permission on
     *     a shared mapping of a read-only file).
     */
    public int mprotect(final long addr, final long length, final int prot) {
        if ((addr & PAGE_MASK) != 0 || (prot & ~KNOWN_PROT) != 0 || length < 0) {
            return Errno.EINVAL.negative();
        }
        if (length == 0) {
            return 0;
        }
        final long len = (length + PAGE_MASK) & ~PAGE_MASK;
        if (len <= 0 || addr > USER_END - len) {
            return Errno.ENOMEM.negative();
        }
        final long end = addr + len;
        lock.writeLock().lock();
        try {
            if (!covered(addr, end)) {
                return Errno.ENOMEM.negative();
            }
            for (final Vma v : overlapping(addr, end)) {
                if (v.shared && v.file != null && (prot & Mman.PROT_WRITE) != 0 && !v.file.writable()) {
                    return Errno.EACCES.negative();
                }
            }
            if (!splitBoundary(addr) || !splitBoundary(end)) {
                return Errno.ENOMEM.negative();
            }
            splitVmas(addr, end);
            for (final Vma v : overlapping(addr, end)) {
                v.prot = prot;
            }
            final boolean[] changed = new boolean[1];
            pageTable.forEachLeaf(addr, end, (va, slot, level, pte) -> {
                final long updated = protect(pte, vmaAt(va), prot);
                if (updated != pte) {
                    pageTable.store(slot, updated);
                    changed[0] |= Pte.present(pte);
                }
            });
            mergeAround(addr, end);
            if (changed[0]) {
                shootdown.flushRange(addr, end);
            }
            return 0;
        } finally {
            writeUnlock();
        }
    }

    /**
     * {@code madvise(2)} with {@code MADV_DONTNEED} (drop the pages; anonymous memory reads as zero
     * afterwards, file pages are read again), {@code MADV_HUGEPAGE} / {@code MADV_NOHUGEPAGE}; other
     * known advice values ({@code NORMAL, RANDOM, SEQUENTIAL, WILLNEED}) are accepted and ignored.
     *
     * @return 0, or {@code -EINVAL} (unaligned address, unknown advice), {@code -ENOMEM} (part of the
     *     range not mapped).
     */
    public int madvise(final long addr, final long length, final int advice) {
        if ((addr & PAGE_MASK) != 0 || length < 0) {
            return Errno.EINVAL.negative();
        }
        switch (advice) {
            case Mman.MADV_NORMAL, 1, 2, 3, Mman.MADV_DONTNEED, Mman.MADV_HUGEPAGE, Mman.MADV_NOHUGEPAGE -> {
            }
            default -> {
                return Errno.EINVAL.negative();
            }
        }
        if (length == 0) {
            return 0;
        }
        final long len = (length + PAGE_MASK) & ~PAGE_MASK;
        if (len <= 0 || addr > USER_END - len) {
            return Errno.ENOMEM.negative();
        }
        final long end = addr + len;
        lock.writeLock().lock();
        try {
            if (!covered(addr, end)) {
                return Errno.ENOMEM.negative();
            }
            switch (advice) {
                case Mman.MADV_DONTNEED -> {
                    if (!splitBoundary(addr) || !splitBoundary(end)) {
                        return Errno.ENOMEM.negative();
                    }
                    if (clearLeaves(addr, end)) {
                        shootdown.flushRange(addr, end);
                    }
                    releaseAll();
                }
                case Mman.MADV_HUGEPAGE, Mman.MADV_NOHUGEPAGE -> {
                    splitVmas(addr, end);
                    for (final Vma v : overlapping(addr, end)) {
                        v.small = advice == Mman.MADV_NOHUGEPAGE;
                    }
                    mergeAround(addr, end);
                }
                default -> {
                }
            }
            return 0;
        } finally {
            writeUnlock();
        }
    }

    /**
     * {@code msync(2)}: write dirty pages of shared file mappings in the range back to their files.
     * With {@code MS_INVALIDATE}, the mappings of page-cache pages in the range are dropped as well
     * (after the write-back), so the next access maps the file's current page again: a mapping that
     * kept an old page cannot go on showing stale data. A shared page still dirty goes back to the
     * cache marked dirty; private copies (COW) are the mapping's own and stay.
     *
     * @return 0, or {@code -EINVAL} (unaligned address, unknown flags, both MS_SYNC and MS_ASYNC),
     *     {@code -ENOMEM} (part of the range not mapped), or the file's {@code -errno}.
     */
    public int msync(final long addr, final long length, final int flags) {
        if ((addr & PAGE_MASK) != 0 || length < 0
            || (flags & ~(Mman.MS_ASYNC | Mman.MS_SYNC | Mman.MS_INVALIDATE)) != 0
            || (flags & (Mman.MS_ASYNC | Mman.MS_SYNC)) == (Mman.MS_ASYNC | Mman.MS_SYNC)) {
            return Errno.EINVAL.negative();
        }
        if (length == 0) {
            return 0;
        }
        final long len = (length + PAGE_MASK) & ~PAGE_MASK;
        if (len <= 0 || addr > USER_END - len) {
            return Errno.ENOMEM.negative();
        }
        final long end = addr + len;
        lock.writeLock().lock();
        try {
            if (!covered(addr, end)) {
                return Errno.ENOMEM.negative();
            }
            final int[] result = new int[1];
            final boolean[] cleaned = new boolean[1];
            pageTable.forEachLeaf(addr, end, (va, slot, level, pte) -> {
                final Vma v = vmaAt(va);
                if (v == null || !v.shared || v.file == null || (pte & Pte.DIRTY) == 0 || result[0] < 0) {
                    return;
                }
                final int rc = v.file.writePage(v.offsetOf(va), Pte.address(pte));
                if (rc < 0) {
                    result[0] = rc;
                    return;
                }
                pageTable.store(slot, pte & ~Pte.DIRTY);
                cleaned[0] = true;
            });
            boolean dropped = false;
            if (result[0] == 0 && (flags & Mman.MS_INVALIDATE) != 0) {
                dropped = invalidateCachePages(addr, end);
            }
            if (cleaned[0] || dropped) {
                // Writable TLB entries imply a set dirty bit: drop them so the next write sets it again.
                shootdown.flushRange(addr, end);
            }
            releaseAll();
            return result[0];
        } finally {
            writeUnlock();
        }
    }

    /**
     * {@code mincore(2)}: one byte per page of the range, 1 when the page is resident.
     *
     * @return 0, or {@code -EINVAL} (unaligned address), {@code -ENOMEM} (part of the range not
     *     mapped), {@code -EFAULT} (vector too short).
     */
    public int mincore(final long addr, final long length, final byte[] vec) {
        if ((addr & PAGE_MASK) != 0 || length < 0) {
            return Errno.EINVAL.negative();
        }
        if (length == 0) {
            return 0;
        }
        final long len = (length + PAGE_MASK) & ~PAGE_MASK;
        if (len <= 0 || addr > USER_END - len) {
            return Errno.ENOMEM.negative();
        }
        if (vec == null || vec.length < len / PAGE_SIZE) {
            return Errno.EFAULT.negative();
        }
        lock.readLock().lock();
        try {
            if (!covered(addr, addr + len)) {
                return Errno.ENOMEM.negative();
            }
            for (long i = 0; i < len / PAGE_SIZE; i++) {
                final long e = pageTable.entry(addr + i * PAGE_SIZE);
                vec[(int)i] = (byte)(Pte.present(e) || (e & Pte.SW_PROTNONE) != 0 ? 1 : 0);
            }
            return 0;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Clear the page-cache leaves of {@code [start, end)}, queueing the pages for release. */
    private boolean invalidateCachePages(final long start, final long end) {
        final boolean[] dropped = new boolean[1];
        pageTable.forEachLeaf(start, end, (va, slot, level, pte) -> {
            if ((pte & Pte.SW_CACHE) == 0) {
                return;
            }
            final Vma v = vmaAt(va);
            pageTable.store(slot, 0);
            release.addCachePage(v.file, v.offsetOf(va), Pte.address(pte), (pte & Pte.DIRTY) != 0);
            fileBytes.addAndGet(-PAGE_SIZE);
            dropped[0] |= Pte.present(pte);
        });
        return dropped[0];
    }

    /**
     * {@code mremap(2)}: grow or shrink the mapping at {@code oldAddress}, in place when the
     * addresses after it are free, else (with {@code MREMAP_MAYMOVE}) by moving its page-table
     * entries to a new range; the frames stay where they are, so the contents move without a copy.
     * A 2 MiB page moves whole when the distance keeps its alignment, and is split first otherwise.
     *
     * @param flags      {@code MREMAP_MAYMOVE}, optionally with {@code MREMAP_FIXED}.
     * @param newAddress the destination with {@code MREMAP_FIXED} (anything mapped there is unmapped).
     * @return the mapping's (new) address, or {@code -errno}: EINVAL (unaligned address, unknown
     *     flags, MREMAP_FIXED without MREMAP_MAYMOVE, size 0, overlapping fixed ranges), EFAULT (the
     *     old range is not all inside one mapping), ENOMEM (cannot grow in place without
     *     MREMAP_MAYMOVE, no room, or no memory for page tables).
     */
    public long mremap(final long oldAddress, final long oldSize, final long newSize, final int flags,
        final long newAddress) {
        if ((oldAddress & PAGE_MASK) != 0 || (flags & ~(Mman.MREMAP_MAYMOVE | Mman.MREMAP_FIXED)) != 0
            || (flags & Mman.MREMAP_FIXED) != 0 && (flags & Mman.MREMAP_MAYMOVE) == 0
            || newSize <= 0 || oldSize <= 0) {
            return Errno.EINVAL.negative();
        }
        final long oldLen = (oldSize + PAGE_MASK) & ~PAGE_MASK;
        final long newLen = (newSize + PAGE_MASK) & ~PAGE_MASK;
        if (oldLen <= 0 || newLen <= 0 || newLen > USER_END - USER_START) {
            return Errno.ENOMEM.negative();
        }
        final boolean fixed = (flags & Mman.MREMAP_FIXED) != 0;
        if (fixed) {
            if ((newAddress & PAGE_MASK) != 0 || newAddress < USER_START || newAddress > USER_END - newLen) {
                return Errno.EINVAL.negative();
            }
            if (newAddress < oldAddress + oldLen && oldAddress < newAddress + newLen) {
                return Errno.EINVAL.negative();
            }
        }
        lock.writeLock().lock();
        try {
            if (oldAddress > USER_END - oldLen) {
                return Errno.EFAULT.negative();
            }
            final Vma v = vmaAt(oldAddress);
            if (v == null || oldAddress + oldLen > v.end) {
                return Errno.EFAULT.negative();
            }
            if (fixed) {
                final long rc = unmapLocked(newAddress, newAddress + newLen);
                if (rc < 0) {
                    return rc;
                }
                final long moved = moveLocked(oldAddress, Math.min(oldLen, newLen), newAddress, newLen);
                if (moved >= 0 && newLen < oldLen) {
                    unmapLocked(oldAddress + newLen, oldAddress + oldLen);
                }
                return moved;
            }
            if (newLen <= oldLen) {
                if (newLen < oldLen) {
                    final long rc = unmapLocked(oldAddress + newLen, oldAddress + oldLen);
                    if (rc < 0) {
                        return rc;
                    }
                }
                return oldAddress;
            }
            final long end = oldAddress + newLen;
            if (oldAddress + oldLen == v.end && end <= USER_END && end > oldAddress && free(v.end, end)) {
                v.end = end; // grow in place: the new pages fault in on demand
                return oldAddress;
            }
            if ((flags & Mman.MREMAP_MAYMOVE) == 0) {
                return Errno.ENOMEM.negative();
            }
            final long target = findFree(0, newLen, false);
            if (target < 0) {
                return Errno.ENOMEM.negative();
            }
            return moveLocked(oldAddress, oldLen, target, newLen);
        } finally {
            writeUnlock();
        }
    }

    /**
     * Move the mapping {@code [src, src + len)} (inside one VMA) to the free range at {@code dst},
     * giving the moved VMA {@code newLen} bytes. Page-table entries move, frames do not. Nothing
     * moves unless every destination slot could be created first.
     *
     * @return {@code dst} or {@code -ENOMEM}.
     */
    private long moveLocked(final long src, final long len, final long dst, final long newLen) {
        if (!splitBoundary(src) || !splitBoundary(src + len)) {
            return Errno.ENOMEM.negative();
        }
        final boolean keepsHuge = ((dst - src) & HUGE_MASK) == 0;
        // Leftover empty tables in the destination would sit where a huge entry must go.
        pageTable.detachTables(dst, dst + newLen, release::addTable);
        final List<long[]> leaves = new ArrayList<>();
        pageTable.forEachLeaf(src, src + len, (va, slot, level, pte) -> leaves.add(new long[] {va, slot, level, pte}));
        if (!keepsHuge) {
            for (final long[] leaf : leaves) {
                if (leaf[2] == 1) {
                    if (!pageTable.split(leaf[0])) {
                        return Errno.ENOMEM.negative();
                    }
                    splits.incrementAndGet();
                }
            }
            if (leaves.stream().anyMatch(l -> l[2] == 1)) {
                leaves.clear();
                pageTable.forEachLeaf(src, src + len, (va, slot, level, pte) -> leaves.add(new long[] {va, slot, level, pte}));
            }
        }
        final long[] targets = new long[leaves.size()];
        for (int i = 0; i < targets.length; i++) {
            final long[] leaf = leaves.get(i);
            targets[i] = pageTable.slot(leaf[0] - src + dst, (int)leaf[2]);
            if (targets[i] < 0) {
                return Errno.ENOMEM.negative(); // nothing moved yet; the new tables stay for later use
            }
        }
        splitVmas(src, src + len);
        final Vma moving = vmaAt(src);
        boolean present = false;
        for (int i = 0; i < targets.length; i++) {
            final long[] leaf = leaves.get(i);
            pageTable.store(targets[i], leaf[3]);
            pageTable.store(leaf[1], 0);
            present |= Pte.present(leaf[3]);
        }
        vmas.remove(src);
        moving.start = dst;
        moving.end = dst + newLen;
        vmas.put(dst, moving);
        final int detached = pageTable.detachTables(src, src + len, release::addTable);
        if (present || detached > 0) {
            shootdown.flushRange(src, src + len);
        }
        releaseAll();
        mergeAround(dst, dst + newLen);
        return dst;
    }

    /** Base of the program break's heap (below the mmap area). */
    public static final long BRK_BASE = 0x1000_0000_0000L;

    /**
     * {@code brk(2)} as libc presents it: set the program break to {@code addr}. The heap is an
     * anonymous private read-write mapping {@code [BRK_BASE, break)} rounded up to pages; growing
     * needs the addresses to be free, shrinking unmaps the pages (they read as zero if regrown).
     *
     * @return 0, or {@code -ENOMEM} (below the heap's start, beyond the mmap base, or the addresses
     *     are taken by another mapping).
     */
    public int brk(final long addr) {
        lock.writeLock().lock();
        try {
            return setBreakLocked(addr);
        } finally {
            writeUnlock();
        }
    }

    /**
     * {@code sbrk(3)}: move the program break by {@code increment} bytes.
     *
     * @return the previous break, or {@code -ENOMEM} (as {@link #brk}).
     */
    public long sbrk(final long increment) {
        lock.writeLock().lock();
        try {
            final long old = programBreak;
            if (increment == 0) {
                return old;
            }
            final long target = old + increment;
            if (increment > 0 ? target < old : target > old) {
                return Errno.ENOMEM.negative();
            }
            final int rc = setBreakLocked(target);
            return rc < 0 ? rc : old;
        } finally {
            writeUnlock();
        }
    }

    /** The current program break ({@code sbrk(0)}). */
    public long programBreak() {
        lock.readLock().lock();
        try {
            return programBreak;
        } finally {
            lock.readLock().unlock();
        }
    }

    private int setBreakLocked(final long addr) {
        if (addr < BRK_BASE || addr > MMAP_BASE) {
            return Errno.ENOMEM.negative();
        }
        final long oldEnd = (programBreak + PAGE_MASK) & ~PAGE_MASK;
        final long newEnd = (addr + PAGE_MASK) & ~PAGE_MASK;
        if (newEnd > oldEnd) {
            if (!free(oldEnd, newEnd)) {
                return Errno.ENOMEM.negative();
            }
            vmas.put(oldEnd, new Vma(oldEnd, newEnd, Mman.PROT_READ | Mman.PROT_WRITE, false, null, 0, false));
            mergeAround(oldEnd, newEnd);
        } else if (newEnd < oldEnd) {
            final long rc = unmapLocked(newEnd, oldEnd);
            if (rc < 0) {
                return (int)rc;
            }
        }
        programBreak = addr;
        return 0;
    }

    // ------------------------------------------------------------------------------------------------
    // VMA bookkeeping (write lock held)
    // ------------------------------------------------------------------------------------------------

    private long findFree(final long hint, final long len, final boolean low) {
        final long base = low ? MMAP_32BIT_BASE : MMAP_BASE;
        final long limit = low ? MMAP_32BIT_END : USER_END;
        if (hint != 0 && (hint & PAGE_MASK) == 0 && hint >= USER_START && hint <= USER_END - len && free(hint, hint + len)) {
            return hint;
        }
        // Large mappings start 2 MiB aligned so their interior can use huge pages.
        final long align = len >= HUGE_PAGE_SIZE ? HUGE_PAGE_SIZE : PAGE_SIZE;
        long candidate = (base + align - 1) & -align;
        final Map.Entry<Long, Vma> before = vmas.lowerEntry(candidate);
        if (before != null && before.getValue().end > candidate) {
            candidate = (before.getValue().end + align - 1) & -align;
        }
        for (final Vma v : vmas.tailMap(candidate, true).values()) {
            if (candidate + len <= v.start) {
                break;
            }
            candidate = Math.max(candidate, (v.end + align - 1) & -align);
        }
        return candidate + len <= limit ? candidate : -1;
    }

    private boolean free(final long start, final long end) {
        final Map.Entry<Long, Vma> before = vmas.lowerEntry(end);
        return before == null || before.getValue().end <= start;
    }

    /** True when every page of {@code [start, end)} belongs to some VMA. */
    private boolean covered(final long start, final long end) {
        long at = start;
        final Map.Entry<Long, Vma> first = vmas.floorEntry(start);
        final Iterator<Vma> it = (first != null ? vmas.tailMap(first.getKey(), true) : vmas.tailMap(start, true)).values().iterator();
        while (at < end && it.hasNext()) {
            final Vma v = it.next();
            if (v.end <= at) {
                continue;
            }
            if (v.start > at) {
                return false;
            }
            at = v.end;
        }
        return at >= end;
    }

    private List<Vma> overlapping(final long start, final long end) {
        final List<Vma> out = new ArrayList<>(2);
        final Map.Entry<Long, Vma> first = vmas.floorEntry(start);
        final Map<Long, Vma> tail = first != null ? vmas.tailMap(first.getKey(), true) : vmas.tailMap(start, true);
        for (final Vma v : tail.values()) {
            if (v.start >= end) {
                break;
            }
            if (v.end > start) {
                out.add(v);
            }
        }
        return out;
    }

    /** Split VMAs so that {@code start} and {@code end} are VMA boundaries. */
    private void splitVmas(final long start, final long end) {
        for (final long at : new long[] {start, end}) {
            final Map.Entry<Long, Vma> e = vmas.floorEntry(at);
            if (e != null && e.getValue().start < at && e.getValue().end > at) {
                final Vma upper = e.getValue().splitAt(at);
                vmas.put(upper.start, upper);
            }
        }
    }

    /** Merge VMAs around a changed range back together when they are alike (keeps the tree small). */
    private void mergeAround(final long start, final long end) {
        final Map.Entry<Long, Vma> first = vmas.floorEntry(start - 1);
        Vma prev = first != null ? first.getValue() : null;
        final List<Vma> changed = overlapping(start, end);
        final Map.Entry<Long, Vma> after = vmas.ceilingEntry(end);
        if (after != null) {
            changed.add(after.getValue());
        }
        for (final Vma v : changed) {
            if (prev != null && prev != v && prev.end == v.start && prev.prot == v.prot && prev.shared == v.shared
                && prev.file == v.file && prev.small == v.small && (v.file == null || prev.offsetOf(v.start) == v.fileOffset)) {
                vmas.remove(v.start);
                prev.end = v.end;
            } else {
                prev = v;
            }
        }
    }

    /** Release the write lock; the fault path's VMA cache may point at a VMA this call changed. */
    private void writeUnlock() {
        lastFaultVma = null;
        lock.writeLock().unlock();
    }

    /**
     * The VMA for a fault (read lock held): the last one a fault found, when it still contains
     * {@code va} (Linux's per-mm {@code vmacache}), else a tree lookup. Readers race to store the
     * field, but every value stored is a VMA of the current tree; the write lock clears it before
     * unlocking, so no reader sees a VMA a writer changed.
     */
    private Vma vmaForFault(final long va) {
        final Vma cached = lastFaultVma;
        if (cached != null && cached.start <= va && va < cached.end) {
            return cached;
        }
        final Vma v = vmaAt(va);
        if (v != null) {
            lastFaultVma = v;
        }
        return v;
    }

    private Vma vmaAt(final long va) {
        final Map.Entry<Long, Vma> e = vmas.floorEntry(va);
        return e != null && e.getValue().end > va ? e.getValue() : null;
    }

    /** Split the huge page containing {@code boundary} when the boundary cuts through it. */
    private boolean splitBoundary(final long boundary) {
        if ((boundary & HUGE_MASK) == 0 || boundary >= USER_END) {
            return true;
        }
        final long w = pageTable.walk(boundary);
        if (w == PageTable.NONE || PageTable.levelOf(w) != 1 || pageTable.load(PageTable.slotOf(w)) == 0) {
            return true;
        }
        if (!pageTable.split(boundary)) {
            return false;
        }
        splits.incrementAndGet();
        return true;
    }

    private long unmapLocked(final long start, final long end) {
        return unmapLocked(start, end, true);
    }

    /**
     * Remove the mappings of {@code [start, end)}. Page tables whose whole span the range covers are
     * detached too (OSv's {@code unpopulate} rule); tables that still span other addresses stay for
     * the next mapping there, and {@link #trimPageTables} (the page-table shrinker) frees the ones
     * left in gaps between VMAs under memory pressure. Frames and tables are freed only after the
     * shootdown.
     *
     * @param ipi false only at teardown, when no vCPU runs application code and actors may be gone.
     */
    private long unmapLocked(final long start, final long end, final boolean ipi) {
        if (!splitBoundary(start) || !splitBoundary(end)) {
            return Errno.ENOMEM.negative();
        }
        final boolean present = clearLeaves(start, end);
        splitVmas(start, end);
        for (final Vma v : overlapping(start, end)) {
            vmas.remove(v.start);
        }
        final int detached = pageTable.detachTables(start, end, release::addTable);
        if ((present || detached > 0) && ipi) {
            shootdown.flushRange(start, end);
        } else if (present || detached > 0) {
            for (final Tlb tlb : tlbs) {
                tlb.flush();
            }
        }
        releaseAll();
        return 0;
    }

    /**
     * Free the page tables that lie wholly in the gaps between VMAs (Linux's {@code free_pgtables}
     * floor/ceiling rule, applied lazily): munmap keeps tables that still span other addresses, this
     * gives them back. Called by the page-table {@link dev.osvj.mmu.phys.Shrinker} under memory
     * pressure (skipped when the lock is not free at once, e.g. from inside a fault or an mmap call).
     *
     * @return bytes of page-table frames freed.
     */
    public long trimPageTables() {
        return trimPageTables(true);
    }

    private long trimPageTables(final boolean block) {
        if (block) {
            lock.writeLock().lock();
        } else if (lock.isWriteLockedByCurrentThread() || lock.getReadHoldCount() > 0 || !lock.writeLock().tryLock()) {
            return 0;
        }
        try {
            int detached = 0;
            long floor = USER_START;
            for (final Vma v : vmas.values()) {
                if (v.start > floor) {
                    detached += pageTable.detachTables(floor, v.start, release::addTable);
                }
                floor = v.end;
            }
            detached += pageTable.detachTables(floor, USER_END, release::addTable);
            if (detached > 0) {
                shootdown.flushAll();
            }
            releaseAll();
            return detached * PAGE_SIZE;
        } finally {
            writeUnlock();
        }
    }

    /**
     * Clear every leaf in {@code [start, end)} (boundary huge pages already split), queueing owned
     * frames and page-cache pages for {@link #releaseAll()}.
     *
     * @return true when a present entry was cleared (a shootdown is needed).
     */
    private boolean clearLeaves(final long start, final long end) {
        final boolean[] present = new boolean[1];
        pageTable.forEachLeaf(start, end, (va, slot, level, pte) -> {
            pageTable.store(slot, 0);
            present[0] |= Pte.present(pte);
            if ((pte & Pte.SW_CACHE) != 0) {
                final Vma v = vmaAt(va);
                release.addCachePage(v.file, v.offsetOf(va), Pte.address(pte), (pte & Pte.DIRTY) != 0);
                fileBytes.addAndGet(-PAGE_SIZE);
            } else {
                final int order = level == 1 ? PageAllocator.HUGE_ORDER : 0;
                release.addFrame(Pte.address(pte), order);
                anonymousBytes.addAndGet(-(PAGE_SIZE << order));
                if (level == 1) {
                    hugePagesMapped.decrementAndGet();
                }
            }
        });
        return present[0];
    }

    private void releaseAll() {
        release.run(frames);
    }

    private static long leafFlags(final int prot) {
        long f = Pte.PRESENT | Pte.USER;
        if ((prot & Mman.PROT_WRITE) != 0) {
            f |= Pte.WRITE;
        }
        if ((prot & Mman.PROT_EXEC) == 0) {
            f |= Pte.NX;
        }
        return f;
    }

    /** The entry {@code pte} with protection {@code prot} (PROT_NONE keeps the frame, not present). */
    private static long protect(final long pte, final Vma vma, final int prot) {
        final long keep = pte & (Pte.ADDRESS_MASK | Pte.ACCESSED | Pte.DIRTY | Pte.HUGE | Pte.SW_CACHE | Pte.USER);
        if (prot == Mman.PROT_NONE) {
            return keep | Pte.SW_PROTNONE | Pte.NX;
        }
        long f = leafFlags(prot);
        // A page-cache page in a private mapping stays read-only: the first write copies it.
        if ((pte & Pte.SW_CACHE) != 0 && vma != null && !vma.shared) {
            f &= ~Pte.WRITE;
        }
        return keep | f;
    }

    // ------------------------------------------------------------------------------------------------
    // Faults
    // ------------------------------------------------------------------------------------------------

    private static boolean permits(final int prot, final Access access) {
        return switch (access) {
            case READ -> (prot & KNOWN_PROT) != 0;
            case WRITE -> (prot & Mman.PROT_WRITE) != 0;
            case EXEC -> (prot & Mman.PROT_EXEC) != 0;
        };
    }

    /**
     * The page-fault handler ({@code vm_fault}): make {@code va} accessible for {@code access}, or
     * throw. Returns normally also when another thread resolved the fault first; the caller walks
     * again.
     *
     * @throws PageFault when the address is not mapped, the access is against the protection, a file
     *     page is beyond the end of the file, or no memory can back the page.
     */
    public void handleFault(final long va, final Access access) {
        faults.increment();
        if (resolve(va, access)) {
            return;
        }
        // Out of memory. The page-table shrinker cannot run inside a fault (it needs the write lock
        // this fault's read lock excludes), so free the gap tables here, outside the lock, and retry.
        if (trimPageTables() > 0 && resolve(va, access)) {
            return;
        }
        throw fault(va, access, Cause.NO_MEMORY);
    }

    /** {@link #handleFault} under the read lock: false when no memory could back the page. */
    private boolean resolve(final long va, final Access access) {
        lock.readLock().lock();
        try {
            if (va >= USER_END || va < 0) {
                throw fault(va, access, memory.isLinear(va) ? Cause.PROTECTION : Cause.NOT_PRESENT);
            }
            final Vma vma = vmaForFault(va);
            if (vma == null) {
                throw fault(va, access, Cause.NOT_PRESENT);
            }
            if (!permits(vma.prot, access)) {
                throw fault(va, access, Cause.PROTECTION);
            }
            final long w = pageTable.walk(va);
            final long pte = w == PageTable.NONE ? 0 : pageTable.load(PageTable.slotOf(w));
            if (Pte.present(pte)) {
                if (access == Access.WRITE && (pte & Pte.WRITE) == 0 && (pte & Pte.SW_CACHE) != 0 && !vma.shared) {
                    return copyOnWrite(vma, va & ~PAGE_MASK, PageTable.slotOf(w), pte);
                }
                return true;
            }
            if (pte != 0) {
                return true; // PROT_NONE remnant while the VMA allows access: an mprotect is in progress
            }
            return populate(vma, va, access, w);
        } finally {
            lock.readLock().unlock();
        }
    }

    private PageFault fault(final long va, final Access access, final Cause cause) {
        failedFaults.increment();
        final PageFaultEvent event = new PageFaultEvent();
        if (event.shouldCommit()) {
            event.address = va;
            event.access = access.name();
            event.cause = cause.name();
            event.commit();
        }
        return new PageFault(va, access, cause);
    }

    /** Map the page for a demand fault; false when no memory could back it. Read lock held. */
    private boolean populate(final Vma vma, final long va, final Access access, final long walk) {
        final long page = va & ~PAGE_MASK;
        // Installed young, and dirty for a write (Linux: pte_mkyoung/pte_mkdirty in the fault), so the
        // access that faulted needs no second compare-and-set of the entry.
        final long flags = leafFlags(vma.prot) | Pte.ACCESSED | (access == Access.WRITE ? Pte.DIRTY : 0);
        if (vma.anonymous()) {
            if (hugePages && !vma.small) {
                final long huge = va & ~HUGE_MASK;
                // walk() is NONE exactly when the page-directory slot (or a table above it) is empty.
                if (huge >= vma.start && huge + HUGE_PAGE_SIZE <= vma.end && pageTable.walk(va) == PageTable.NONE) {
                    final long pa = frames.allocHugePage();
                    if (pa != PageAllocator.NO_MEMORY) {
                        memory.zero(pa, HUGE_PAGE_SIZE);
                        final long rc = pageTable.map2m(huge, pa, flags);
                        if (rc == 0) {
                            hugeFaults.increment();
                            hugePagesMapped.incrementAndGet();
                            anonymousBytes.addAndGet(HUGE_PAGE_SIZE);
                            return true;
                        }
                        // A racing fault mapped something here, or no table frame: 4 KiB copes with both.
                        frames.freeOrder(pa, PageAllocator.HUGE_ORDER);
                    }
                }
            }
            // Zeroed by the idle zeroer ahead of time when the pool has a frame, else here.
            final long pa = frames.allocZeroedPage();
            if (pa == PageAllocator.NO_MEMORY) {
                return false;
            }
            // The fault's walk already found the (empty) 4 KiB slot when the page table exists.
            final long rc = walk != PageTable.NONE && PageTable.levelOf(walk) == 0
                ? pageTable.install(PageTable.slotOf(walk), pa, flags) : pageTable.map4k(page, pa, flags);
            if (rc == 0) {
                anonymousBytes.addAndGet(PAGE_SIZE);
                return true;
            }
            frames.freeOrder(pa, 0);
            if (rc == PageTable.NO_MEMORY) {
                return false;
            }
            return true; // a racing fault mapped it (4 KiB or huge)
        }
        final long offset = vma.offsetOf(page);
        if (offset >= vma.file.size()) {
            throw fault(va, access, Cause.BEYOND_EOF);
        }
        final long cached = vma.file.getPage(offset);
        if (cached < 0) {
            return false;
        }
        if (vma.shared || access != Access.WRITE) {
            final long f = vma.shared ? flags : flags & ~Pte.WRITE;
            final long rc = pageTable.map4k(page, cached, f | Pte.SW_CACHE);
            if (rc == 0) {
                fileBytes.addAndGet(PAGE_SIZE);
                return true;
            }
            vma.file.putPage(offset, cached, false);
            if (rc == PageTable.NO_MEMORY) {
                return false;
            }
            return true;
        }
        // Write fault on a private file page never mapped: copy it straight away.
        final long pa = frames.allocPage();
        if (pa == PageAllocator.NO_MEMORY) {
            vma.file.putPage(offset, cached, false);
            return false;
        }
        memory.copy(cached, pa, PAGE_SIZE);
        vma.file.putPage(offset, cached, false);
        final long rc = pageTable.map4k(page, pa, flags);
        if (rc == 0) {
            cowFaults.increment();
            anonymousBytes.addAndGet(PAGE_SIZE);
            return true;
        }
        frames.freeOrder(pa, 0);
        return rc != PageTable.NO_MEMORY;
    }

    /** Replace a read-only page-cache page of a private mapping by a private writable copy. */
    private boolean copyOnWrite(final Vma vma, final long page, final long slot, final long pte) {
        final long pa = frames.allocPage();
        if (pa == PageAllocator.NO_MEMORY) {
            return false;
        }
        memory.copy(Pte.address(pte), pa, PAGE_SIZE);
        final long copy = pa | (pte & ~Pte.ADDRESS_MASK & ~Pte.SW_CACHE) | Pte.WRITE | Pte.DIRTY | Pte.ACCESSED;
        if (!pageTable.compareAndSet(slot, pte, copy)) {
            frames.freeOrder(pa, 0); // a racing write fault copied it first (or A/D bits moved): retry
            return true;
        }
        cowFaults.increment();
        anonymousBytes.addAndGet(PAGE_SIZE);
        fileBytes.addAndGet(-PAGE_SIZE);
        // Other vCPUs may hold read-only entries for the cache page: they must see the copy.
        shootdown.flushRange(page, page + PAGE_SIZE);
        vma.file.putPage(vma.offsetOf(page), Pte.address(pte), false);
        return true;
    }

    // ------------------------------------------------------------------------------------------------
    // Application memory access
    // ------------------------------------------------------------------------------------------------

    /**
     * Translate {@code va} for {@code access} through the calling vCPU's TLB, walking and faulting as
     * needed.
     *
     * @return the physical address.
     * @throws PageFault when the access is not allowed.
     */
    public long translate(final long va, final Access access) {
        return translate(tlbs[topology.currentCpu()], va, access);
    }

    private long translate(final Tlb tlb, final long va, final Access access) {
        final Tlb.Entry e = tlb.lookup(va >>> 12);
        if (e != null && (access == Access.READ || (access == Access.WRITE ? e.writable : e.executable))) {
            return e.pageBase | (va & PAGE_MASK);
        }
        return translateSlow(tlb, va, access);
    }

    private long translateSlow(final Tlb tlb, final long va, final Access access) {
        for (int attempt = 0; ; attempt++) {
            if (attempt > 1_000_000) {
                throw new IllegalStateException("fault loop at 0x" + Long.toHexString(va));
            }
            final long gen = tlb.generation();
            final long w = pageTable.walk(va);
            if (w != PageTable.NONE) {
                final long slot = PageTable.slotOf(w);
                final long pte = pageTable.load(slot);
                if (Pte.present(pte) && allowed(pte, access)) {
                    final long updated = pte | Pte.ACCESSED | (access == Access.WRITE ? Pte.DIRTY : 0);
                    if (updated != pte && !pageTable.compareAndSet(slot, pte, updated)) {
                        continue;
                    }
                    final long base = PageTable.levelOf(w) == 1
                        ? Pte.address(updated) + (va & HUGE_MASK & ~PAGE_MASK) : Pte.address(updated);
                    final boolean writable = (updated & Pte.WRITE) != 0 && (updated & Pte.DIRTY) != 0;
                    if (tlb.fill(new Tlb.Entry(va >>> 12, base, writable, (updated & Pte.NX) == 0), gen)) {
                        return base | (va & PAGE_MASK);
                    }
                    continue;
                }
            }
            handleFault(va, access);
        }
    }

    private static boolean allowed(final long pte, final Access access) {
        return switch (access) {
            case READ -> true;
            case WRITE -> (pte & Pte.WRITE) != 0;
            case EXEC -> (pte & Pte.NX) == 0;
        };
    }

    /** Fault {@code va} in for {@code access} without accessing it (MAP_POPULATE, prefetch). */
    public void touch(final long va, final Access access) {
        translate(va, access);
    }

    /*
     * Reads are validated: after loading the value, the TLB entry that produced the physical address
     * must still be there (load-load fence in between). A shootdown clears the entry before it
     * acknowledges and frames are freed only after every acknowledgement, so a value read from a frame
     * that was meanwhile unmapped and reused is discarded and the read retried (it then faults). Writes
     * cannot be undone: a write that races with munmap/mprotect of the same page on another vCPU may
     * still land in the old frame, as on hardware when the store retires before the IPI is taken. With
     * the scheduler running TLB actors on their own vCPU, that race cannot happen at all (a vCPU
     * flushes between application slices).
     */

    public byte getByte(final long va) {
        final Tlb tlb = tlbs[topology.currentCpu()];
        while (true) {
            final long pa = translate(tlb, va, Access.READ);
            final byte v = memory.getByte(pa);
            VarHandle.loadLoadFence();
            if (tlb.validate(va >>> 12, pa & ~PAGE_MASK)) {
                return v;
            }
        }
    }

    public void putByte(final long va, final byte value) {
        memory.putByte(translate(va, Access.WRITE), value);
    }

    public int getInt(final long va) {
        if ((va & PAGE_MASK) <= PAGE_SIZE - 4) {
            final Tlb tlb = tlbs[topology.currentCpu()];
            while (true) {
                final long pa = translate(tlb, va, Access.READ);
                final int v = memory.getInt(pa);
                VarHandle.loadLoadFence();
                if (tlb.validate(va >>> 12, pa & ~PAGE_MASK)) {
                    return v;
                }
            }
        }
        return (int)getSlow(va, 4);
    }

    public void putInt(final long va, final int value) {
        if ((va & PAGE_MASK) <= PAGE_SIZE - 4) {
            memory.putInt(translate(va, Access.WRITE), value);
        } else {
            putSlow(va, value, 4);
        }
    }

    public long getLong(final long va) {
        if ((va & PAGE_MASK) <= PAGE_SIZE - 8) {
            final Tlb tlb = tlbs[topology.currentCpu()];
            while (true) {
                final long pa = translate(tlb, va, Access.READ);
                final long v = memory.getLong(pa);
                VarHandle.loadLoadFence();
                if (tlb.validate(va >>> 12, pa & ~PAGE_MASK)) {
                    return v;
                }
            }
        }
        return getSlow(va, 8);
    }

    public void putLong(final long va, final long value) {
        if ((va & PAGE_MASK) <= PAGE_SIZE - 8) {
            memory.putLong(translate(va, Access.WRITE), value);
        } else {
            putSlow(va, value, 8);
        }
    }

    /** A value straddling two pages: byte by byte, little-endian; both pages are checked first. */
    private long getSlow(final long va, final int size) {
        translate(va, Access.READ);
        translate(va + size - 1, Access.READ);
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (getByte(va + i) & 0xFF);
        }
        return v;
    }

    private void putSlow(final long va, final long value, final int size) {
        translate(va, Access.WRITE);
        translate(va + size - 1, Access.WRITE);
        for (int i = 0; i < size; i++) {
            putByte(va + i, (byte)(value >>> (8 * i)));
        }
    }

    /** Visitor of the physically contiguous pieces of a virtual range; see {@link #forEachChunk}. */
    @FunctionalInterface
    public interface ChunkVisitor {
        /**
         * @param memory guest RAM ({@link PhysicalMemory#segment()}).
         * @param pa     physical address of the piece.
         * @param done   bytes of the range before this piece.
         * @param length bytes in this piece.
         */
        void chunk(MemorySegment memory, long pa, long done, int length);
    }

    /**
     * Bulk view: visit {@code [va, va + length)} as physically contiguous pieces (pages merged when
     * their frames are adjacent, as in a huge page or the linear map), faulting pages in for
     * {@code access} first. No allocation per page.
     *
     * @throws PageFault at the first page that cannot be accessed (earlier pieces were visited).
     */
    public void forEachChunk(final long va, final long length, final Access access, final ChunkVisitor visitor) {
        long done = 0;
        long runPa = -1;
        long runStart = 0;
        int runLength = 0;
        while (done < length) {
            final long at = va + done;
            final int n = (int)Math.min(PAGE_SIZE - (at & PAGE_MASK), length - done);
            final long pa = translate(at, access);
            if (runPa >= 0 && runPa + runLength == pa && runLength + (long)n <= Integer.MAX_VALUE) {
                runLength += n;
            } else {
                if (runPa >= 0) {
                    visitor.chunk(memory.segment(), runPa, runStart, runLength);
                }
                runPa = pa;
                runStart = done;
                runLength = n;
            }
            done += n;
        }
        if (runPa >= 0) {
            visitor.chunk(memory.segment(), runPa, runStart, runLength);
        }
    }

    /** Copy {@code length} bytes from {@code va} into {@code dst[offset..]}. */
    public void read(final long va, final byte[] dst, final int offset, final int length) {
        forEachChunk(va, length, Access.READ, (m, pa, done, n) -> memory.read(pa, dst, offset + (int)done, n));
    }

    /** Copy {@code src[offset..offset + length)} to {@code va}. */
    public void write(final long va, final byte[] src, final int offset, final int length) {
        forEachChunk(va, length, Access.WRITE, (m, pa, done, n) -> memory.write(pa, src, offset + (int)done, n));
    }

    /** Fill {@code length} bytes at {@code va} with {@code value}. */
    public void fill(final long va, final long length, final byte value) {
        forEachChunk(va, length, Access.WRITE, (m, pa, done, n) -> m.asSlice(pa, n).fill(value));
    }

    /** Copy between virtual ranges (memmove semantics only when they do not overlap). */
    public void copy(final long srcVa, final long dstVa, final long length) {
        forEachChunk(dstVa, length, Access.WRITE, (m, dstPa, done, n) ->
            forEachChunk(srcVa + done, n, Access.READ, (m2, srcPa, done2, n2) -> memory.copy(srcPa, dstPa + done2, n2)));
    }

    // ------------------------------------------------------------------------------------------------
    // Stats
    // ------------------------------------------------------------------------------------------------

    /** Faults taken (resolved or not). */
    public long faults() {
        return faults.sum();
    }

    /** Faults resolved by mapping a 2 MiB page. */
    public long hugeFaults() {
        return hugeFaults.sum();
    }

    /** Private copies made on write (COW). */
    public long cowFaults() {
        return cowFaults.sum();
    }

    /** Faults that ended in a {@link PageFault}. */
    public long failedFaults() {
        return failedFaults.sum();
    }

    /** Bytes of frames owned by mappings (anonymous pages and private copies). */
    public long anonymousBytes() {
        return anonymousBytes.get();
    }

    /** Bytes of page-cache pages mapped by file mappings. */
    public long fileBytes() {
        return fileBytes.get();
    }

    /** 2 MiB pages currently mapped for anonymous memory. */
    public long hugePagesMapped() {
        return hugePagesMapped.get();
    }

    /** Huge pages split into small pages. */
    public long hugePageSplits() {
        return splits.get();
    }

    public long pageTableBytes() {
        return pageTable.tableFrames() * PAGE_SIZE;
    }

    /** Number of user VMAs. */
    public int vmaCount() {
        lock.readLock().lock();
        try {
            return vmas.size();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** {@code /proc/self/maps}-like lines, one per VMA. */
    public List<String> maps() {
        lock.readLock().lock();
        try {
            final List<String> out = new ArrayList<>();
            for (final Vma v : vmas.values()) {
                out.add(v.toString());
            }
            return out;
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Unmap everything and free the page tables (the linear map's tables included). */
    @Override
    public void close() {
        frames.unregisterShrinker(tableShrinker);
        lock.writeLock().lock();
        try {
            unmapLocked(USER_START, USER_END, false);
            for (final Tlb tlb : tlbs) {
                tlb.flush();
            }
            pageTable.destroy();
        } finally {
            writeUnlock();
        }
    }

    /** Frames and cache pages waiting for the end of a shootdown. Write lock held. */
    private static final class Release {
        private long[] frames = new long[64];
        private int[] orders = new int[64];
        private int frameCount;
        private final List<Object[]> cachePages = new ArrayList<>();

        void addFrame(final long pa, final int order) {
            if (frameCount == frames.length) {
                frames = java.util.Arrays.copyOf(frames, frameCount * 2);
                orders = java.util.Arrays.copyOf(orders, frameCount * 2);
            }
            frames[frameCount] = pa;
            orders[frameCount++] = order;
        }

        void addTable(final long pa) {
            addFrame(pa, 0);
        }

        void addCachePage(final FileMapping file, final long offset, final long pa, final boolean dirty) {
            cachePages.add(new Object[] {file, offset, pa, dirty});
        }

        void run(final PageAllocator allocator) {
            for (int i = 0; i < frameCount; i++) {
                allocator.freeOrder(frames[i], orders[i]);
            }
            frameCount = 0;
            for (final Object[] p : cachePages) {
                ((FileMapping)p[0]).putPage((Long)p[1], (Long)p[2], (Boolean)p[3]);
            }
            cachePages.clear();
        }
    }
}
