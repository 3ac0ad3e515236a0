package dev.osvj.mmu.vm;

/**
 * Bits of an x86-64 page-table entry (Intel SDM vol. 3A, 4.5 "4-level paging"), as stored in guest
 * memory, little-endian, 8 bytes per entry, 512 entries per 4 KiB table.
 *
 * <pre>
 *  63  62       52 51                                  12 11  9 8 7 6 5 4 3 2 1 0
 * +--+-----------+--------------------------------------+-----+-+-+-+-+-+-+-+-+-+
 * |NX| available |  physical frame address (bits 51:12) | AVL |G|S|D|A|C|W|U|R|P|
 * +--+-----------+--------------------------------------+-----+-+-+-+-+-+-+-+-+-+
 *                                                               | |
 *                                  PS (huge page) in a PD entry + +- dirty (leaf)
 * </pre>
 *
 * <p>A 2 MiB page is a page-directory entry with {@link #HUGE} set whose address is 2 MiB aligned.
 * osvj uses two of the software-available bits: {@link #SW_CACHE} marks a frame that belongs to the
 * page cache (a file page, never freed by munmap), {@link #SW_PROTNONE} marks an entry made not
 * present by {@code PROT_NONE} whose frame is kept (OSv clears the valid bit and keeps the address).
 */
public final class Pte {
    public static final long PRESENT = 1L;
    public static final long WRITE = 1L << 1;
    public static final long USER = 1L << 2;
    public static final long PWT = 1L << 3;
    public static final long PCD = 1L << 4;
    public static final long ACCESSED = 1L << 5;
    public static final long DIRTY = 1L << 6;
    /** PS: in a PD entry, maps a 2 MiB page instead of pointing to a page table. */
    public static final long HUGE = 1L << 7;
    public static final long GLOBAL = 1L << 8;
    /** Software bit 9: the frame belongs to a file's page cache (not owned by the mapping). */
    public static final long SW_CACHE = 1L << 9;
    /** Software bit 10: not present because of PROT_NONE; the frame address is still valid. */
    public static final long SW_PROTNONE = 1L << 10;
    public static final long NX = 1L << 63;
    /** Frame address bits 51:12. */
    public static final long ADDRESS_MASK = 0x000F_FFFF_FFFF_F000L;
    /** Flags a table-pointing (non-leaf) entry gets: permissive, the leaf decides. */
    public static final long TABLE_FLAGS = PRESENT | WRITE | USER;

    private Pte() {
    }

    public static boolean present(final long pte) {
        return (pte & PRESENT) != 0;
    }

    public static long address(final long pte) {
        return pte & ADDRESS_MASK;
    }

    /** Human-readable entry, e.g. {@code 0x1000 P W U A D NX}. */
    public static String describe(final long pte) {
        final StringBuilder b = new StringBuilder("0x").append(Long.toHexString(address(pte)));
        if ((pte & PRESENT) != 0) {
            b.append(" P");
        }
        if ((pte & WRITE) != 0) {
            b.append(" W");
        }
        if ((pte & USER) != 0) {
            b.append(" U");
        }
        if ((pte & ACCESSED) != 0) {
            b.append(" A");
        }
        if ((pte & DIRTY) != 0) {
            b.append(" D");
        }
        if ((pte & HUGE) != 0) {
            b.append(" PS");
        }
        if ((pte & GLOBAL) != 0) {
            b.append(" G");
        }
        if ((pte & SW_CACHE) != 0) {
            b.append(" cache");
        }
        if ((pte & SW_PROTNONE) != 0) {
            b.append(" protnone");
        }
        if ((pte & NX) != 0) {
            b.append(" NX");
        }
        return b.toString();
    }
}
