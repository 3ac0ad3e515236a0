package dev.osvj.mmu;

/**
 * The constants of {@code <sys/mman.h>} with their Linux x86-64 values, for
 * {@link dev.osvj.mmu.vm.AddressSpace#mmap} and friends.
 */
public final class Mman {
    public static final int PROT_NONE = 0x0;
    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int PROT_EXEC = 0x4;

    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_FIXED = 0x10;
    public static final int MAP_ANONYMOUS = 0x20;
    /** Place the mapping in the first 2 GiB (OSv: from 0x200_0000). */
    public static final int MAP_32BIT = 0x40;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MAP_POPULATE = 0x8000;
    public static final int MAP_STACK = 0x20000;
    public static final int MAP_HUGETLB = 0x40000;
    public static final int MAP_UNINITIALIZED = 0x4000000;

    public static final int MADV_NORMAL = 0;
    public static final int MADV_DONTNEED = 4;
    public static final int MADV_HUGEPAGE = 14;
    public static final int MADV_NOHUGEPAGE = 15;

    public static final int MS_ASYNC = 1;
    public static final int MS_INVALIDATE = 2;
    public static final int MS_SYNC = 4;

    /** mremap: the mapping may move to a new address when it cannot grow in place. */
    public static final int MREMAP_MAYMOVE = 1;
    /** mremap: move to exactly {@code new_address} (requires MREMAP_MAYMOVE). */
    public static final int MREMAP_FIXED = 2;

    /** mmap's error return is {@code (void *)-1}; here mmap returns {@code -errno} instead. */
    public static final long MAP_FAILED = -1;

    static final int KNOWN_PROT = PROT_READ | PROT_WRITE | PROT_EXEC;

    private Mman() {
    }
}
