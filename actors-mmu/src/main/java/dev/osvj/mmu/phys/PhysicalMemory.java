package dev.osvj.mmu.phys;

import net.openhft.chronicle.bytes.MappedBytesStore;
import net.openhft.chronicle.bytes.MappedFile;
import net.openhft.chronicle.core.io.ReferenceOwner;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * Guest physical memory: one off-heap region of {@link #size()} bytes, addressed by guest physical
 * address ({@code pa}, 0-based). The bytes live in native memory of this process by default, or in
 * a memory-mapped shared file (a Chronicle Bytes {@code MappedFile}) so that a device backend in
 * another process can map the same RAM (vhost-user style). Kernel data is reached through OSv's linear map: kernel virtual address
 * {@code LINEAR_BASE + pa} (see {@link #virt} and {@link #phys}).
 *
 * <pre>
 *   guest physical                         kernel virtual (linear map)
 *   0x0000_0000 +--------------------+      0x4000_0000_0000 + pa
 *               | 4 KiB frames /     |
 *               | 2 MiB blocks       |      page tables, malloc pools, anonymous pages,
 *               | (PageAllocator)    |      page cache, virtqueues ...
 *   size        +--------------------+
 * </pre>
 *
 * <p>Safety: every access goes through a {@link MemorySegment} bound to a shared {@link Arena}; after
 * {@link #close()} an access throws {@link IllegalStateException} instead of touching freed native
 * memory, so a late access is a Java exception, never a JVM crash. Accesses are bounds-checked.
 *
 * <p>Memory ordering: {@code get/put} are plain accesses; {@code getLongAcquire},
 * {@code putLongRelease}, {@code getLongVolatile} and {@code compareAndSetLong} have the VarHandle
 * semantics their names say (page-table entries are updated with them). Multi-byte values are
 * little-endian, like x86-64.
 */
public final class PhysicalMemory implements AutoCloseable {
    /** OSv's linear map of all physical memory starts here. */
    public static final long LINEAR_BASE = 0x4000_0000_0000L;
    /** Guest RAM is a whole number of 2 MiB huge pages. */
    public static final long HUGE_PAGE_SIZE = 2L << 20;

    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private final long size;
    private final MemorySegment segment;
    private final Arena arena;
    private final String backing;

    private PhysicalMemory(final long size, final MemorySegment segment, final Arena arena, final String backing) {
        this.size = size;
        this.segment = segment;
        this.arena = arena;
        this.backing = backing;
    }

    /**
     * Anonymous guest RAM in native memory of this process: one untouched allocation (the C
     * allocator maps a region this large straight from the kernel, so pages are committed on first
     * touch and the allocation costs microseconds whatever the size), 2 MiB aligned so that guest
     * frames, cache lines and host huge pages line up, and advised for host huge pages
     * ({@link HostHugePages}, in the background).
     *
     * <p>Chronicle Bytes is not used here: its one-time static initialisation costs 300 ms or more
     * per process, which was most of a kernel's boot; it stays for {@link #mapFile} (shared memory
     * with another process), and is only loaded when that backing is configured.
     *
     * @param size bytes, a positive multiple of 2 MiB.
     */
    public static PhysicalMemory allocate(final long size) {
        checkSize(size);
        // Lazy: no zero-fill. Touching every page at boot cost ~2 us per 4 KiB (8.5 s for 4G); frames are
        // zeroed when handed out, so the kernel never relies on fresh memory being zero.
        final jdk.internal.misc.Unsafe unsafe = jdk.internal.misc.Unsafe.getUnsafe();
        final long raw;
        try {
            raw = unsafe.allocateMemory(size + HUGE_PAGE_SIZE);
        } catch (final OutOfMemoryError e) {
            throw new IllegalStateException("cannot reserve " + size + " bytes of guest memory", e);
        }
        final long aligned = (raw + HUGE_PAGE_SIZE - 1) & -HUGE_PAGE_SIZE;
        HostHugePages.advise(aligned, size);
        final Arena arena = Arena.ofShared();
        final MemorySegment segment = MemorySegment.ofAddress(aligned)
            .reinterpret(size, arena, ignored -> unsafe.freeMemory(raw));
        return new PhysicalMemory(size, segment, arena, "anonymous");
    }

    /**
     * Guest RAM in a shared memory file (one mapping of the whole file), so another process can map
     * the same bytes. The file is created or grown to {@code size}.
     *
     * @param size bytes, a positive multiple of 2 MiB.
     */
    public static PhysicalMemory mapFile(final File file, final long size) throws IOException {
        checkSize(size);
        final MappedFile mappedFile = MappedFile.ofSingle(file, size, false);
        final ReferenceOwner owner = ReferenceOwner.temporary("osvj-guest-ram");
        final MappedBytesStore store;
        try {
            store = mappedFile.acquireByteStore(owner, 0);
        } catch (final RuntimeException e) {
            mappedFile.releaseLast();
            throw e;
        }
        final Arena arena = Arena.ofShared();
        final MemorySegment segment = MemorySegment.ofAddress(store.addressForWrite(0))
            .reinterpret(size, arena, ignored -> {
                store.release(owner);
                mappedFile.releaseLast();
            });
        return new PhysicalMemory(size, segment, arena, "shared file " + file);
    }

    private static void checkSize(final long size) {
        if (size <= 0 || size % HUGE_PAGE_SIZE != 0) {
            throw new IllegalArgumentException("guest memory must be a positive multiple of 2 MiB: " + size);
        }
    }

    /** Bytes of guest RAM. */
    public long size() {
        return size;
    }

    /** "anonymous" or "shared file PATH". */
    public String backing() {
        return backing;
    }

    /** The whole of guest RAM as a segment, offset = physical address (bulk copies, device backends). */
    public MemorySegment segment() {
        return segment;
    }

    /** Kernel virtual address of a physical address (OSv's {@code phys_to_virt}). */
    public static long virt(final long pa) {
        return LINEAR_BASE + pa;
    }

    /** Physical address of a linear-map address (OSv's {@code virt_to_phys}). */
    public static long phys(final long va) {
        return va - LINEAR_BASE;
    }

    /** True when {@code va} lies in the linear map of this memory. */
    public boolean isLinear(final long va) {
        return va >= LINEAR_BASE && va - LINEAR_BASE < size;
    }

    public byte getByte(final long pa) {
        return segment.get(ValueLayout.JAVA_BYTE, pa);
    }

    public void putByte(final long pa, final byte value) {
        segment.set(ValueLayout.JAVA_BYTE, pa, value);
    }

    public short getShort(final long pa) {
        return segment.get(ValueLayout.JAVA_SHORT_UNALIGNED, pa);
    }

    public void putShort(final long pa, final short value) {
        segment.set(ValueLayout.JAVA_SHORT_UNALIGNED, pa, value);
    }

    public int getInt(final long pa) {
        return segment.get(ValueLayout.JAVA_INT_UNALIGNED, pa);
    }

    public void putInt(final long pa, final int value) {
        segment.set(ValueLayout.JAVA_INT_UNALIGNED, pa, value);
    }

    public long getLong(final long pa) {
        return segment.get(ValueLayout.JAVA_LONG_UNALIGNED, pa);
    }

    public void putLong(final long pa, final long value) {
        segment.set(ValueLayout.JAVA_LONG_UNALIGNED, pa, value);
    }

    /** Acquire load of an 8-byte aligned long (a page-table entry). */
    public long getLongAcquire(final long pa) {
        return (long)LONG.getAcquire(segment, pa);
    }

    /** Volatile load of an 8-byte aligned long. */
    public long getLongVolatile(final long pa) {
        return (long)LONG.getVolatile(segment, pa);
    }

    /** Release store of an 8-byte aligned long: earlier writes (a zeroed frame) are visible first. */
    public void putLongRelease(final long pa, final long value) {
        LONG.setRelease(segment, pa, value);
    }

    /** Atomic compare-and-set of an 8-byte aligned long (page-table entries). */
    public boolean compareAndSetLong(final long pa, final long expected, final long value) {
        return LONG.compareAndSet(segment, pa, expected, value);
    }

    /**
     * Zero {@code length} bytes at {@code pa}. Whole pages are copied from a page of zeros: the JDK's
     * copy uses the CPU's fast string moves, which write whole cache lines without reading them first,
     * about a quarter cheaper per cold page than the store loop behind {@code fill} (measured: 490 vs
     * 670 ns per cold 4 KiB page). Zeroing is most of a demand fault's cost.
     */
    public void zero(final long pa, final long length) {
        if ((length & (ZERO_PAGE_SIZE - 1)) == 0) {
            for (long off = 0; off < length; off += ZERO_PAGE_SIZE) {
                MemorySegment.copy(ZERO_PAGE, 0, segment, pa + off, ZERO_PAGE_SIZE);
            }
        } else {
            segment.asSlice(pa, length).fill((byte)0);
        }
    }

    private static final long ZERO_PAGE_SIZE = 4096;
    /** The source of {@link #zero}: one page of zeros for the life of the JVM (OSv's zero page). */
    private static final MemorySegment ZERO_PAGE = Arena.global().allocate(ZERO_PAGE_SIZE, ZERO_PAGE_SIZE);

    /** Copy within guest memory (regions may overlap). */
    public void copy(final long srcPa, final long dstPa, final long length) {
        MemorySegment.copy(segment, srcPa, segment, dstPa, length);
    }

    /** Copy guest bytes into a Java array. */
    public void read(final long pa, final byte[] dst, final int offset, final int length) {
        MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, pa, dst, offset, length);
    }

    /** Copy a Java array into guest memory. */
    public void write(final long pa, final byte[] src, final int offset, final int length) {
        MemorySegment.copy(src, offset, segment, ValueLayout.JAVA_BYTE, pa, length);
    }

    /** True until {@link #close()}. */
    public boolean isOpen() {
        return arena.scope().isAlive();
    }

    /**
     * Release guest RAM. Waits for accesses in flight on other threads (the shared arena's handshake);
     * later accesses throw {@link IllegalStateException}. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }
}
