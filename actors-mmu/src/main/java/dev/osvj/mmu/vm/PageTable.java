package dev.osvj.mmu.vm;

import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;

/**
 * The 4-level x86-64 page table of the single address space, stored in guest memory: each table is
 * one 4 KiB frame from the {@link PageAllocator} holding 512 {@link Pte little-endian entries}.
 *
 * <pre>
 *  47        39 38        30 29        21 20        12 11           0
 * +------------+------------+------------+------------+--------------+
 * | PML4 index | PDPT index |  PD index  |  PT index  | page offset  |   4 KiB page
 * +------------+------------+------------+------------+--------------+
 * | PML4 index | PDPT index |  PD index  |       2 MiB page offset    |   2 MiB page (PD.PS = 1)
 * +------------+------------+------------+----------------------------+
 * level:   3            2            1            0
 * </pre>
 *
 * <p>Levels are numbered as above: 3 = PML4 (the root, "CR3"), 0 = page table. A leaf is a level-0
 * entry or a level-1 entry with {@link Pte#HUGE}.
 *
 * <p>Concurrency: structure changes that remove or replace entries (unmap, protect, split, freeing
 * tables) run with the address space's write lock held. Demand faults run under its read lock and only
 * fill empty slots, with compare-and-set: a new table or page is zeroed first, then published with a
 * CAS, so a walker on another thread sees either nothing or a complete table (release/acquire through
 * the CAS and {@link PhysicalMemory#getLongAcquire}). The loser of a race frees its frame.
 */
public final class PageTable {
    /** Walk result: no entry at any level for the address (an intermediate table is missing). */
    public static final long NONE = -1;
    /** Walk result: a table frame could not be allocated. */
    public static final long NO_MEMORY = -2;
    /** Walk result: a 2 MiB page occupies the range where a 4 KiB slot was asked for. */
    public static final long HUGE_IN_WAY = -3;

    /** Canonical lower half ends here (48-bit virtual addresses). */
    public static final long LOWER_HALF_END = 1L << 47;
    static final long SIZE_4K = 1L << 12;
    static final long SIZE_2M = 1L << 21;

    private final PhysicalMemory memory;
    private final PageAllocator frames;
    private final long root;
    private long tables;

    /** Creates an empty PML4. */
    public PageTable(final PhysicalMemory memory, final PageAllocator frames) {
        this.memory = memory;
        this.frames = frames;
        this.root = newTable();
        if (root == PageAllocator.NO_MEMORY) {
            throw new IllegalStateException("no memory for the page-table root");
        }
    }

    /** Physical address of the PML4 (what CR3 would hold). */
    public long root() {
        return root;
    }

    /** Table frames in use, root included. */
    public synchronized long tableFrames() {
        return tables;
    }

    /** Index of {@code va} in a table of {@code level} (0..3). */
    public static int index(final long va, final int level) {
        return (int)((va >>> (12 + 9 * level)) & 511);
    }

    /** Bytes one entry of {@code level} covers: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
    static long span(final int level) {
        return 1L << (12 + 9 * level);
    }

    private long newTable() {
        final long pa = frames.allocZeroedPage();
        if (pa != PageAllocator.NO_MEMORY) {
            synchronized (this) {
                tables++;
            }
        }
        return pa;
    }

    private void freeTable(final long pa) {
        frames.freeOrder(pa, 0);
        synchronized (this) {
            tables--;
        }
    }

    /**
     * The leaf slot for {@code va}: physical address of the entry, with the entry's level in the low
     * 3 bits ({@code slot | level}; entries are 8-byte aligned), or {@link #NONE} when an intermediate
     * table is missing. The entry itself may be empty or not present.
     */
    public long walk(final long va) {
        long table = root;
        for (int level = 3; level >= 1; level--) {
            final long slot = table + 8L * index(va, level);
            final long e = memory.getLongAcquire(slot);
            if (level == 1 && (e & Pte.HUGE) != 0) {
                return slot | 1;
            }
            if (!Pte.present(e)) {
                return NONE;
            }
            table = Pte.address(e);
        }
        return table + 8L * index(va, 0);
    }

    /** The slot address of an encoded {@link #walk} result. */
    public static long slotOf(final long walk) {
        return walk & ~7L;
    }

    /** The level of an encoded {@link #walk} result. */
    public static int levelOf(final long walk) {
        return (int)(walk & 7);
    }

    /**
     * The slot for {@code va} at {@code level} (0 = PT, 1 = PD), creating missing tables above it.
     *
     * @return the slot's physical address, {@link #NO_MEMORY}, or {@link #HUGE_IN_WAY} when
     *     {@code level == 0} and a 2 MiB page maps the range.
     */
    public long slot(final long va, final int level) {
        long table = root;
        for (int l = 3; l > level; l--) {
            final long slot = table + 8L * index(va, l);
            long e = memory.getLongAcquire(slot);
            if ((e & Pte.HUGE) != 0) {
                return HUGE_IN_WAY;
            }
            if (!Pte.present(e)) {
                final long fresh = newTable();
                if (fresh == PageAllocator.NO_MEMORY) {
                    return NO_MEMORY;
                }
                if (memory.compareAndSetLong(slot, 0, fresh | Pte.TABLE_FLAGS)) {
                    e = fresh | Pte.TABLE_FLAGS;
                } else {
                    freeTable(fresh);
                    e = memory.getLongAcquire(slot);
                    if ((e & Pte.HUGE) != 0) {
                        return HUGE_IN_WAY;
                    }
                }
            }
            table = Pte.address(e);
        }
        return table + 8L * index(va, level);
    }

    /** The leaf entry for {@code va}, or 0 when there is none. */
    public long entry(final long va) {
        final long w = walk(va);
        return w == NONE ? 0 : memory.getLongAcquire(slotOf(w));
    }

    /**
     * Translate {@code va} through present entries.
     *
     * @return the physical address, or -1 when the address is not mapped by a present entry.
     */
    public long translate(final long va) {
        final long w = walk(va);
        if (w == NONE) {
            return -1;
        }
        final long e = memory.getLongAcquire(slotOf(w));
        if (!Pte.present(e)) {
            return -1;
        }
        return levelOf(w) == 1 ? Pte.address(e) + (va & (SIZE_2M - 1)) : Pte.address(e) + (va & (SIZE_4K - 1));
    }

    /**
     * Install a 4 KiB leaf into an empty slot.
     *
     * @return 0 on success, 1 when the slot was not empty (a racing fault won), or {@link #NO_MEMORY}
     *     / {@link #HUGE_IN_WAY}.
     */
    public long map4k(final long va, final long pa, final long flags) {
        final long slot = slot(va, 0);
        if (slot < 0) {
            return slot;
        }
        return memory.compareAndSetLong(slot, 0, (pa & Pte.ADDRESS_MASK) | (flags & ~Pte.HUGE)) ? 0 : 1;
    }

    /**
     * Install a 4 KiB leaf into the empty level-0 slot {@code slot} (from {@link #walk}, so its table
     * exists; the caller holds the read or write lock, so the table cannot be freed meanwhile).
     *
     * @return 0 on success, 1 when the slot was not empty (a racing fault won).
     */
    public long install(final long slot, final long pa, final long flags) {
        return memory.compareAndSetLong(slot, 0, (pa & Pte.ADDRESS_MASK) | (flags & ~Pte.HUGE)) ? 0 : 1;
    }

    /**
     * Install a 2 MiB leaf into an empty page-directory slot ({@code va} and {@code pa} 2 MiB
     * aligned).
     *
     * @return 0 on success, 1 when the slot is not empty (a page table or a racing huge page is
     *     there), or {@link #NO_MEMORY}.
     */
    public long map2m(final long va, final long pa, final long flags) {
        if ((va & (SIZE_2M - 1)) != 0 || (pa & (SIZE_2M - 1)) != 0) {
            throw new IllegalArgumentException("unaligned huge mapping va=0x" + Long.toHexString(va) + " pa=0x" + Long.toHexString(pa));
        }
        final long slot = slot(va, 1);
        if (slot < 0) {
            return slot;
        }
        return memory.compareAndSetLong(slot, 0, (pa & Pte.ADDRESS_MASK) | flags | Pte.HUGE) ? 0 : 1;
    }

    /**
     * Split the 2 MiB page mapping {@code va} into 512 4 KiB entries with the same flags and frames
     * (OSv's {@code split_large_page}). Caller holds the write lock.
     *
     * @return true when split (or already small), false when no frame was available for the table.
     */
    public boolean split(final long va) {
        final long w = walk(va);
        if (w == NONE || levelOf(w) != 1) {
            return true;
        }
        final long slot = slotOf(w);
        final long e = memory.getLongAcquire(slot);
        final long table = newTable();
        if (table == PageAllocator.NO_MEMORY) {
            return false;
        }
        final long base = Pte.address(e);
        final long flags = e & ~Pte.ADDRESS_MASK & ~Pte.HUGE;
        for (int i = 0; i < 512; i++) {
            memory.putLong(table + 8L * i, (base + i * SIZE_4K) | flags);
        }
        memory.putLongRelease(slot, table | Pte.TABLE_FLAGS);
        return true;
    }

    /** Overwrite a leaf slot (write lock held). */
    public void store(final long slot, final long pte) {
        memory.putLongRelease(slot, pte);
    }

    /** Read a slot. */
    public long load(final long slot) {
        return memory.getLongAcquire(slot);
    }

    /** CAS a slot (sets accessed/dirty bits, COW replacement). */
    public boolean compareAndSet(final long slot, final long expected, final long value) {
        return memory.compareAndSetLong(slot, expected, value);
    }

    /** Visitor of leaf slots; see {@link #forEachLeaf}. */
    @FunctionalInterface
    public interface LeafVisitor {
        /**
         * @param va    first virtual address the leaf maps.
         * @param slot  physical address of the entry.
         * @param level 0 (4 KiB) or 1 (2 MiB).
         * @param pte   the entry's value (non-zero).
         */
        void leaf(long va, long slot, int level, long pte);
    }

    /**
     * Visit every non-empty leaf entry that maps any byte of {@code [start, end)}, in address order,
     * skipping missing tables. A huge leaf is visited once even if the range covers only part of it.
     */
    public void forEachLeaf(final long start, final long end, final LeafVisitor visitor) {
        visit(root, 3, 0, start, end, visitor);
    }

    private void visit(final long table, final int level, final long tableVa, final long start, final long end,
        final LeafVisitor visitor) {
        final long span = span(level);
        final int first = start <= tableVa ? 0 : (int)((start - tableVa) / span);
        for (int i = first; i < 512; i++) {
            final long va = tableVa + i * span;
            if (va >= end) {
                return;
            }
            final long slot = table + 8L * i;
            final long e = memory.getLongAcquire(slot);
            if (e == 0) {
                continue;
            }
            if (level == 0 || level == 1 && (e & Pte.HUGE) != 0) {
                visitor.leaf(va, slot, level, e);
            } else if (Pte.present(e)) {
                visit(Pte.address(e), level - 1, va, start, end, visitor);
            }
        }
    }

    /**
     * Free the page tables whose whole span lies inside {@code [floor, ceiling)}, an address range no
     * VMA uses any more (Linux's {@code free_pgtables} floor/ceiling rule). Every leaf in them must
     * already be empty; a non-empty one is a kernel bug. Caller holds the write lock.
     *
     * @return the number of table frames freed.
     */
    public int freeTables(final long floor, final long ceiling) {
        return prune(root, 3, 0, floor, ceiling, this::freeTable);
    }

    /**
     * Like {@link #freeTables} but the detached tables' frames go to {@code sink} instead of the
     * allocator, so the caller can free them after a TLB shootdown: a lock-free walker on another
     * vCPU may still be reading a table it reached before the parent entry was cleared, and the frame
     * must not be reused until the shootdown has withdrawn whatever that walk produced. Caller holds
     * the write lock.
     *
     * @return the number of tables detached.
     */
    int detachTables(final long floor, final long ceiling, final java.util.function.LongConsumer sink) {
        final int n = prune(root, 3, 0, floor, ceiling, sink);
        if (n > 0) {
            synchronized (this) {
                tables -= n;
            }
        }
        return n;
    }

    private int prune(final long table, final int level, final long tableVa, final long floor, final long ceiling,
        final java.util.function.LongConsumer sink) {
        int freed = 0;
        final long span = span(level);
        final int first = floor <= tableVa ? 0 : (int)((floor - tableVa) / span);
        for (int i = first; i < 512; i++) {
            final long va = tableVa + i * span;
            if (va >= ceiling) {
                break;
            }
            final long slot = table + 8L * i;
            final long e = memory.getLongAcquire(slot);
            if (e == 0 || level == 0 || (e & Pte.HUGE) != 0) {
                continue;
            }
            final long child = Pte.address(e);
            freed += prune(child, level - 1, va, floor, ceiling, sink);
            if (va >= floor && va + span <= ceiling) {
                for (int j = 0; j < 512; j++) {
                    if (memory.getLong(child + 8L * j) != 0) {
                        throw new IllegalStateException("freeing a non-empty page table at va 0x" + Long.toHexString(va));
                    }
                }
                memory.putLongRelease(slot, 0);
                sink.accept(child);
                freed++;
            }
        }
        return freed;
    }

    /** Free every table frame (address-space teardown); leaves' frames are the caller's business. */
    public void destroy() {
        destroy(root, 3);
    }

    private void destroy(final long table, final int level) {
        if (level > 0) {
            for (int i = 0; i < 512; i++) {
                final long e = memory.getLong(table + 8L * i);
                if (Pte.present(e) && (level == 1 ? (e & Pte.HUGE) == 0 : true)) {
                    destroy(Pte.address(e), level - 1);
                }
            }
        }
        freeTable(table);
    }
}
