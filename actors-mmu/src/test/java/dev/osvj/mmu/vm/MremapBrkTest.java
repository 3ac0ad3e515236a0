package dev.osvj.mmu.vm;

import dev.osvj.kernel.Errno;
import dev.osvj.mmu.PageFault;
import dev.osvj.mmu.PageFault.Cause;
import org.junit.jupiter.api.Test;

import static dev.osvj.mmu.Mman.MAP_FIXED;
import static dev.osvj.mmu.Mman.MAP_PRIVATE;
import static dev.osvj.mmu.Mman.MAP_SHARED;
import static dev.osvj.mmu.Mman.MREMAP_FIXED;
import static dev.osvj.mmu.Mman.MREMAP_MAYMOVE;
import static dev.osvj.mmu.Mman.MS_INVALIDATE;
import static dev.osvj.mmu.Mman.MS_SYNC;
import static dev.osvj.mmu.Mman.PROT_READ;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** mremap, brk/sbrk and msync(MS_INVALIDATE), with Linux's argument checks and errno values. */
class MremapBrkTest extends AddressSpaceTestBase {
    private static final long PAGE = 4096;

    private void expectFault(final long va) {
        final PageFault e = assertThrows(PageFault.class, () -> as.getByte(va));
        assertEquals(Cause.NOT_PRESENT, e.kind());
        assertEquals(va, e.address());
    }

    @Test
    void shouldGrowInPlaceWhenTheFollowingPagesAreFree() {
        final long va = ok(as.mmap(0, 2 * PAGE, RW, ANON));
        as.putLong(va + PAGE, 42);
        assertEquals(va, as.mremap(va, 2 * PAGE, 4 * PAGE, 0, 0));
        assertEquals(42, as.getLong(va + PAGE));
        as.putLong(va + 3 * PAGE, 43);
        assertEquals(0, as.getLong(va + 2 * PAGE), "new pages read as zero");
        assertEquals(1, as.vmaCount());
    }

    @Test
    void shouldMoveOnlyWithMaymoveAndKeepTheFrames() {
        final long va = ok(as.mmap(0, 2 * PAGE, RW, ANON));
        ok(as.mmap(va + 2 * PAGE, PAGE, PROT_READ, ANON | MAP_FIXED)); // blocks growth in place
        as.putLong(va, 7);
        as.putLong(va + PAGE + 8, 8);
        final long frame = Pte.address(as.pageTable().entry(va));
        assertEquals(Errno.ENOMEM.negative(), as.mremap(va, 2 * PAGE, 8 * PAGE, 0, 0));
        final long moved = ok(as.mremap(va, 2 * PAGE, 8 * PAGE, MREMAP_MAYMOVE, 0));
        assertNotEquals(va, moved);
        assertEquals(frame, Pte.address(as.pageTable().entry(moved)), "entries move, frames stay");
        assertEquals(7, as.getLong(moved));
        assertEquals(8, as.getLong(moved + PAGE + 8));
        as.putLong(moved + 7 * PAGE, 9);
        expectFault(va);
        expectFault(va + PAGE);
        assertEquals(3 * PAGE, as.anonymousBytes(), "two moved pages and one new");
    }

    @Test
    void shouldMoveHugePagesWholeWhenAlignedAndSplitThemOtherwise() {
        final long va = ok(as.mmap(0, 4 * MIB, RW, ANON));
        for (long off = 0; off < 4 * MIB; off += PAGE) {
            as.putLong(va + off, off + 1);
        }
        assertEquals(2, as.hugePagesMapped());
        final long aligned = 0x2100_0000_0000L;
        assertEquals(aligned, as.mremap(va, 4 * MIB, 4 * MIB, MREMAP_MAYMOVE | MREMAP_FIXED, aligned));
        assertEquals(0, as.hugePageSplits());
        assertEquals(1, PageTable.levelOf(as.pageTable().walk(aligned)), "still a 2 MiB entry");
        final long misaligned = 0x2200_0000_1000L;
        assertEquals(misaligned, as.mremap(aligned, 4 * MIB, 4 * MIB, MREMAP_MAYMOVE | MREMAP_FIXED, misaligned));
        assertEquals(2, as.hugePageSplits());
        for (long off = 0; off < 4 * MIB; off += PAGE) {
            assertEquals(off + 1, as.getLong(misaligned + off));
        }
        expectFault(aligned);
        final long free = f.frames.freeBytes();
        assertEquals(0, as.munmap(misaligned, 4 * MIB));
        assertTrue(f.frames.freeBytes() >= free + 4 * MIB, "the moved frames are freed by munmap");
        f.frames.verify();
    }

    @Test
    void shouldShrinkByUnmappingTheTail() {
        final long va = ok(as.mmap(0, 4 * PAGE, RW, ANON));
        for (int i = 0; i < 4; i++) {
            as.putInt(va + i * PAGE, i);
        }
        final long free = f.frames.freeBytes();
        assertEquals(va, as.mremap(va, 4 * PAGE, PAGE + 1, 0, 0));
        assertEquals(free + 2 * PAGE, f.frames.freeBytes());
        assertEquals(1, as.getInt(va + PAGE));
        expectFault(va + 2 * PAGE);
    }

    @Test
    void shouldCheckMremapArgumentsLikeLinux() {
        final long va = ok(as.mmap(0, 2 * PAGE, RW, ANON));
        assertEquals(Errno.EINVAL.negative(), as.mremap(va + 1, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0), "unaligned");
        assertEquals(Errno.EINVAL.negative(), as.mremap(va, PAGE, 2 * PAGE, 8, 0), "unknown flag");
        assertEquals(Errno.EINVAL.negative(), as.mremap(va, PAGE, 2 * PAGE, MREMAP_FIXED, va + MIB), "FIXED alone");
        assertEquals(Errno.EINVAL.negative(), as.mremap(va, PAGE, 0, MREMAP_MAYMOVE, 0), "new size 0");
        assertEquals(Errno.EINVAL.negative(), as.mremap(va, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, va + PAGE),
            "overlapping fixed ranges");
        assertEquals(Errno.EINVAL.negative(), as.mremap(va, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, va + MIB + 1),
            "unaligned new address");
        assertEquals(Errno.EFAULT.negative(), as.mremap(va + MIB, PAGE, 2 * PAGE, MREMAP_MAYMOVE, 0), "not mapped");
        assertEquals(Errno.EFAULT.negative(), as.mremap(va, 3 * PAGE, 4 * PAGE, MREMAP_MAYMOVE, 0), "past the mapping");
        assertEquals(va, as.mremap(va, 2 * PAGE, 2 * PAGE, 0, 0), "same size is a no-op");
    }

    @Test
    void shouldMoveBreakWithBrkAndSbrk() {
        final long base = AddressSpace.BRK_BASE;
        assertEquals(base, as.programBreak());
        assertEquals(base, as.sbrk(0));
        assertEquals(base, as.sbrk(10_000));
        assertEquals(base + 10_000, as.programBreak());
        as.putLong(base, 1);
        as.putLong(base + 3 * PAGE - 8, 2); // the heap is whole pages: 10 000 rounds up to 3
        expectFault(base + 3 * PAGE);
        assertEquals(base + 10_000, as.sbrk(-10_000 + 100));
        expectFault(base + PAGE);
        assertEquals(1, as.getLong(base), "the first page stays");
        assertEquals(0, as.brk(base + 2 * PAGE));
        assertEquals(0, as.getLong(base + PAGE), "a regrown page reads as zero");
        assertEquals(Errno.ENOMEM.negative(), as.brk(base - PAGE), "below the heap's start");
        assertEquals(Errno.ENOMEM.negative(), as.brk(AddressSpace.MMAP_BASE + PAGE), "into the mmap area");
        ok(as.mmap(base + 4 * PAGE, PAGE, RW, ANON | MAP_FIXED));
        assertEquals(Errno.ENOMEM.negative(), as.brk(base + 8 * PAGE), "another mapping is in the way");
        assertEquals(base + 2 * PAGE, as.programBreak(), "a failed brk leaves the break");
        assertEquals(Errno.ENOMEM.negative(), as.sbrk(Long.MAX_VALUE));
        assertEquals(0, as.brk(base));
        expectFault(base);
    }

    @Test
    void shouldDropPageCacheMappingsOnMsyncInvalidate() {
        final byte[] content = new byte[2 * (int)PAGE];
        content[5] = 55;
        final TestFile file = new TestFile(f.memory, f.frames, content, true);
        final long shared = ok(as.mmap(0, 2 * PAGE, RW, MAP_SHARED, file, 0));
        assertEquals(55, as.getByte(shared + 5));
        as.putByte(shared + PAGE, (byte)66);
        final long priv = ok(as.mmap(0, 2 * PAGE, RW, MAP_PRIVATE, file, 0));
        as.putByte(priv + 6, (byte)77); // a private copy
        assertEquals(66, as.getByte(priv + PAGE), "reads the cache page the shared mapping wrote");
        assertEquals(3, file.references(), "two shared pages and the private mapping's read page");

        assertEquals(0, as.msync(shared, 2 * PAGE, MS_INVALIDATE));
        assertEquals(0, as.pageTable().entry(shared));
        assertEquals(0, as.pageTable().entry(shared + PAGE));
        assertEquals(1, file.writes, "the written shared page was written back before its mapping went");
        assertEquals(66, file.content[(int)PAGE]);
        assertEquals(1, file.references(), "only the private mapping's page is still mapped");
        assertEquals(66, as.getByte(shared + PAGE), "mapped again from the cache");

        assertEquals(0, as.msync(priv, 2 * PAGE, MS_SYNC | MS_INVALIDATE));
        assertEquals(77, as.getByte(priv + 6), "private modifications stay");
        assertEquals(0, as.pageTable().entry(priv + 4096) & Pte.PRESENT);
        assertEquals(0, as.munmap(shared, 2 * PAGE));
        assertEquals(0, as.munmap(priv, 2 * PAGE));
        assertEquals(0, file.references());
        file.drop();
    }
}
