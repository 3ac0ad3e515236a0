package dev.osvj.mmu.vm;

import dev.osvj.kernel.Errno;
import dev.osvj.mmu.PageFault;
import dev.osvj.mmu.PageFault.Access;
import dev.osvj.mmu.PageFault.Cause;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static dev.osvj.mmu.Mman.MADV_DONTNEED;
import static dev.osvj.mmu.Mman.MADV_NOHUGEPAGE;
import static dev.osvj.mmu.Mman.MAP_ANONYMOUS;
import static dev.osvj.mmu.Mman.MAP_FIXED;
import static dev.osvj.mmu.Mman.MAP_POPULATE;
import static dev.osvj.mmu.Mman.MAP_PRIVATE;
import static dev.osvj.mmu.Mman.MAP_SHARED;
import static dev.osvj.mmu.Mman.MS_ASYNC;
import static dev.osvj.mmu.Mman.MS_SYNC;
import static dev.osvj.mmu.Mman.PROT_EXEC;
import static dev.osvj.mmu.Mman.PROT_NONE;
import static dev.osvj.mmu.Mman.PROT_READ;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Modelled on OSv's tests/tst-mmap.cc, plus literal page-table bits after faults. */
class MmapTest extends AddressSpaceTestBase {
    @Test
    void shouldRecycleMemoryOnMunmapIncludingHugePages() {
        final long free = f.frames.freeBytes();
        final long tables = as.pageTableBytes();
        // 10 x 16 MiB through 32 MiB of RAM: only possible if munmap gives everything back.
        for (int round = 0; round < 10; round++) {
            final long va = ok(as.mmap(0, 16 * MIB, RW, ANON));
            assertEquals(0, va % (2 * MIB), "large mappings are 2 MiB aligned");
            for (long off = 0; off < 16 * MIB; off += 4096) {
                as.putLong(va + off, off ^ round);
            }
            assertEquals(8, as.hugePagesMapped());
            assertTrue(f.frames.freeBytes() <= free - 16 * MIB);
            for (long off = 0; off < 16 * MIB; off += 4096) {
                assertEquals(off ^ round, as.getLong(va + off));
            }
            assertEquals(0, as.munmap(va, 16 * MIB));
            // Every data frame is back; only the page tables spanning more than the mapping stay.
            assertEquals(free - as.pageTableBytes() + tables, f.frames.freeBytes(), "round " + round);
        }
        assertEquals(80, as.hugeFaults());
        assertTrue(as.trimPageTables() > 0);
        assertEquals(free, f.frames.freeBytes(), "the gap's page tables are freed by the trim");
        f.frames.verify();
    }

    @Test
    void shouldRecycleSmallPagesAndPageTables() {
        final long free = f.frames.freeBytes();
        final long va = ok(as.mmap(0, 5 * 4096, RW, ANON));
        for (int i = 0; i < 5; i++) {
            as.putInt(va + i * 4096L + 100, i);
        }
        assertEquals(0, as.hugeFaults());
        assertEquals(5 * 4096, as.anonymousBytes());
        assertEquals(0, as.munmap(va, 5 * 4096));
        assertEquals(0, as.anonymousBytes());
        // OSv's rule: the PT, PD and PDPT span more than the 5 pages, so munmap keeps them.
        assertEquals(free - 3 * 4096, f.frames.freeBytes());
        assertEquals(3 * 4096, as.trimPageTables());
        assertEquals(free, f.frames.freeBytes());
    }

    @Test
    void shouldFreePageTablesThatMunmapCoversWhole() {
        final long free = f.frames.freeBytes();
        final long va = ok(as.mmap(0, 4 * MIB, RW, ANON));
        assertEquals(0, as.madvise(va, 4 * MIB, MADV_NOHUGEPAGE));
        as.putByte(va, (byte)1);
        as.putByte(va + 2 * MIB, (byte)2);
        assertEquals(0, as.munmap(va + 2 * MIB, 2 * MIB));
        // The second PT's 2 MiB span was unmapped whole: freed with its page; the PD still serves va.
        assertEquals(free - 4096 - 3 * 4096, f.frames.freeBytes());
        assertEquals(1, as.getByte(va));
    }

    @Test
    void shouldGivePageTablesBackUnderMemoryPressure() {
        // Small mappings in many 1 GiB regions leave a PT and a PD behind each (12 MiB of the 32 MiB);
        // touching 24 MiB afterwards only works if the faults get those tables back.
        final long base = 0x3000_0000_0000L;
        for (int i = 0; i < 1500; i++) {
            final long at = base + ((long)i << 30);
            ok(as.mmap(at, 4096, RW, ANON | MAP_FIXED));
            as.putByte(at, (byte)i);
            assertEquals(0, as.munmap(at, 4096));
        }
        assertTrue(as.pageTableBytes() >= 3000 * 4096L);
        final long va = ok(as.mmap(0, 24 * MIB, RW, ANON));
        assertEquals(0, as.madvise(va, 24 * MIB, MADV_NOHUGEPAGE));
        for (long off = 0; off < 24 * MIB; off += 4096) {
            as.putLong(va + off, off);
        }
        assertTrue(as.pageTableBytes() < 100 * 4096L, "the gap tables were freed");
        for (long off = 0; off < 24 * MIB; off += 4096) {
            assertEquals(off, as.getLong(va + off));
        }
        assertEquals(0, as.munmap(va, 24 * MIB));
    }

    @Test
    void shouldOverlayMappingsWithMapFixed() {
        final long va = ok(as.mmap(0, 3 * 4096, RW, ANON));
        for (int i = 0; i < 3; i++) {
            as.putLong(va + i * 4096L, 0x1111L * (i + 1));
        }
        assertEquals(va + 4096, as.mmap(va + 4096, 4096, PROT_READ, ANON | MAP_FIXED));
        assertEquals(0x1111L, as.getLong(va));
        assertEquals(0, as.getLong(va + 4096), "the overlay is a fresh zero page");
        assertEquals(0x3333L, as.getLong(va + 8192));
        final PageFault e = assertThrows(PageFault.class, () -> as.putLong(va + 4096 + 8, 1));
        assertEquals(va + 4096 + 8, e.address());
        assertEquals(Cause.PROTECTION, e.kind());
        assertEquals(3, as.vmaCount());
        assertEquals(Errno.EINVAL.negative(), as.mmap(va + 1, 4096, RW, ANON | MAP_FIXED));
        assertEquals(Errno.ENOMEM.negative(), as.mmap(AddressSpace.USER_END, 4096, RW, ANON | MAP_FIXED));
    }

    @Test
    void shouldCheckArgumentsLikePosix() {
        assertEquals(Errno.EINVAL.negative(), as.mmap(0, 4096, RW, MAP_ANONYMOUS), "neither PRIVATE nor SHARED");
        assertEquals(Errno.EINVAL.negative(), as.mmap(0, 4096, RW, MAP_ANONYMOUS | MAP_PRIVATE | MAP_SHARED));
        assertEquals(Errno.EINVAL.negative(), as.mmap(0, 0, RW, ANON));
        assertEquals(Errno.EINVAL.negative(), as.mmap(0, 4096, 0x10, ANON));
        assertEquals(Errno.EINVAL.negative(), as.mmap(0, 4096, RW, MAP_PRIVATE, null, 100));
        assertEquals(Errno.EBADF.negative(), as.mmap(0, 4096, RW, MAP_PRIVATE, null, 0));
        assertEquals(Errno.ENOMEM.negative(), as.mmap(0, Long.MAX_VALUE, RW, ANON));
        final TestFile ro = new TestFile(f.memory, f.frames, new byte[4096], false);
        assertEquals(Errno.EACCES.negative(), as.mmap(0, 4096, RW, MAP_SHARED, ro, 0));
        ok(as.mmap(0, 4096, RW, MAP_PRIVATE, ro, 0));

        final long va = ok(as.mmap(0, 4096, RW, ANON));
        assertEquals(Errno.EINVAL.negative(), as.munmap(va + 1, 4096));
        assertEquals(Errno.EINVAL.negative(), as.munmap(va, 0));
        assertEquals(0, as.munmap(va + 0x10_0000, 4096), "unmapping nothing is fine");
        assertEquals(Errno.EINVAL.negative(), as.mprotect(va + 1, 4096, PROT_READ));
        assertEquals(Errno.EINVAL.negative(), as.mprotect(va, 4096, 0x80));
        assertEquals(Errno.ENOMEM.negative(), as.mprotect(va, 8192, PROT_READ), "second page not mapped");
        assertEquals(Errno.EINVAL.negative(), as.madvise(va, 4096, 12345));
        assertEquals(Errno.ENOMEM.negative(), as.madvise(va + 4096, 4096, MADV_DONTNEED));
        assertEquals(Errno.EINVAL.negative(), as.msync(va, 4096, MS_SYNC | MS_ASYNC));
        assertEquals(Errno.EINVAL.negative(), as.msync(va, 4096, 0x100));
        assertEquals(Errno.ENOMEM.negative(), as.msync(va + 4096, 4096, MS_SYNC));
        assertEquals(Errno.EINVAL.negative(), as.mincore(va + 8, 4096, new byte[1]));
        assertEquals(Errno.EFAULT.negative(), as.mincore(va, 8192, new byte[1]));
        assertEquals(Errno.ENOMEM.negative(), as.mincore(va, 8192, new byte[2]));
    }

    @Test
    void shouldSplitHugePageOnPartialMprotect() {
        final long va = ok(as.mmap(0, 4 * MIB, RW, ANON));
        for (long off = 0; off < 4 * MIB; off += 4096) {
            as.putLong(va + off, ~off);
        }
        assertEquals(2, as.hugePagesMapped());
        assertEquals(1, PageTable.levelOf(as.pageTable().walk(va)));
        assertEquals(0, as.mprotect(va + 4096, 4096, PROT_READ));
        assertEquals(1, as.hugePageSplits());
        assertEquals(0, PageTable.levelOf(as.pageTable().walk(va)), "now 4 KiB entries");
        // Same frames, same data, new protection on exactly one page.
        for (long off = 0; off < 4 * MIB; off += 4096) {
            assertEquals(~off, as.getLong(va + off));
        }
        as.putLong(va, 1);
        as.putLong(va + 8192, 2);
        final PageFault e = assertThrows(PageFault.class, () -> as.putLong(va + 4096 + 24, 3));
        assertEquals(va + 4096 + 24, e.address());
        assertEquals(Access.WRITE, e.access());
        assertEquals(Cause.PROTECTION, e.kind());
        assertEquals(PageFault.Signal.SIGSEGV, e.signal());
        assertEquals(4, as.vmaCount() + 1, "split into three VMAs");
        // The other huge page is untouched.
        assertEquals(1, PageTable.levelOf(as.pageTable().walk(va + 2 * MIB)));
        // Back to RW: VMAs merge again.
        assertEquals(0, as.mprotect(va + 4096, 4096, RW));
        assertEquals(1, as.vmaCount());
        as.putLong(va + 4096 + 24, 3);
        final long free = f.frames.freeBytes();
        assertEquals(0, as.munmap(va, 4 * MIB));
        assertTrue(f.frames.freeBytes() >= free + 4 * MIB);
        f.frames.verify();
    }

    @Test
    void shouldFaultOnProtNoneAndKeepData() {
        final long va = ok(as.mmap(0, 2 * 4096, RW, ANON));
        as.putLong(va, 42);
        assertEquals(0, as.mprotect(va, 4096, PROT_NONE));
        final long pte = as.pageTable().entry(va);
        assertEquals(0, pte & 1, "not present");
        assertTrue((pte & Pte.SW_PROTNONE) != 0);
        final PageFault read = assertThrows(PageFault.class, () -> as.getLong(va + 16));
        assertEquals(Access.READ, read.access());
        assertEquals(Cause.PROTECTION, read.kind());
        assertEquals(va + 16, read.address());
        final byte[] vec = new byte[2];
        assertEquals(0, as.mincore(va, 8192, vec));
        assertArrayEquals(new byte[] {1, 0}, vec, "PROT_NONE page still resident, second never touched");
        assertEquals(0, as.mprotect(va, 4096, PROT_READ));
        assertEquals(42, as.getLong(va));
    }

    @Test
    void shouldSplitHugePageOnPartialMunmap() {
        final long va = ok(as.mmap(0, 2 * MIB, RW, ANON));
        for (long off = 0; off < 2 * MIB; off += 4096) {
            as.putLong(va + off, off + 7);
        }
        final long free = f.frames.freeBytes();
        assertEquals(0, as.munmap(va + 8192, 4096));
        assertEquals(free, f.frames.freeBytes(), "one page freed, one page-table frame for the split");
        assertEquals(1, as.hugePageSplits());
        final PageFault e = assertThrows(PageFault.class, () -> as.getByte(va + 8192 + 5));
        assertEquals(Cause.NOT_PRESENT, e.kind());
        assertEquals(va + 8192 + 5, e.address());
        for (long off = 0; off < 2 * MIB; off += 4096) {
            if (off != 8192) {
                assertEquals(off + 7, as.getLong(va + off));
            }
        }
        assertEquals(0, as.munmap(va, 2 * MIB));
        f.frames.verify();
    }

    @Test
    void shouldFreeExactlyTheUnmappedPageOfASplitHugePage() {
        final long va = ok(as.mmap(0, 2 * MIB, RW, ANON));
        as.putLong(va, 1);
        final long afterFault = f.frames.freeBytes();
        assertEquals(0, as.munmap(va + 8192, 4096));
        // +4 KiB for the freed page, -4 KiB for the new page table that the split needed.
        assertEquals(afterFault, f.frames.freeBytes());
    }

    @Test
    void shouldReportFaultAddressAndKind() {
        final PageFault unmapped = assertThrows(PageFault.class, () -> as.getInt(0x1234_5678L));
        assertEquals(0x1234_5678L, unmapped.address());
        assertEquals(Access.READ, unmapped.access());
        assertEquals(Cause.NOT_PRESENT, unmapped.kind());
        assertTrue(unmapped.getMessage().contains("0x12345678"), unmapped.getMessage());

        final long ro = ok(as.mmap(0, 4096, PROT_READ, ANON));
        assertEquals(0, as.getLong(ro));
        final PageFault write = assertThrows(PageFault.class, () -> as.putByte(ro + 3, (byte)1));
        assertEquals(Access.WRITE, write.access());
        assertEquals(Cause.PROTECTION, write.kind());
        final PageFault exec = assertThrows(PageFault.class, () -> as.translate(ro, Access.EXEC));
        assertEquals(Access.EXEC, exec.access());
        final long rx = ok(as.mmap(0, 4096, PROT_READ | PROT_EXEC, ANON));
        as.translate(rx, Access.EXEC);

        final TestFile file = new TestFile(f.memory, f.frames, new byte[5000], false);
        final long fm = ok(as.mmap(0, 3 * 4096, PROT_READ, MAP_PRIVATE, file, 0));
        assertEquals(0, as.getByte(fm + 4999));
        final PageFault bus = assertThrows(PageFault.class, () -> as.getByte(fm + 8192));
        assertEquals(Cause.BEYOND_EOF, bus.kind());
        assertEquals(PageFault.Signal.SIGBUS, bus.signal());

        // A value straddling into an unmapped page faults at the first bad byte's page.
        final long two = ok(as.mmap(0, 8192, RW, ANON));
        assertEquals(0, as.munmap(two + 4096, 4096));
        final PageFault straddle = assertThrows(PageFault.class, () -> as.putLong(two + 4092, -1L));
        assertEquals(two + 4092 + 7, straddle.address());
        assertEquals(0, as.getInt(two + 4092), "nothing was written");
        assertTrue(as.failedFaults() >= 5);
    }

    @Test
    void shouldSetLiteralPageTableBitsOnDemandFaults() {
        final long va = ok(as.mmap(0, 3 * 4096, RW, ANON));
        as.getLong(va);
        final long readOnly = as.pageTable().entry(va);
        // P | W | U | A, NX, not dirty: read fault of a writable anonymous page.
        assertEquals(0x8000_0000_0000_0027L, readOnly & ~Pte.ADDRESS_MASK);
        as.putLong(va, 5);
        assertEquals(0x8000_0000_0000_0067L, as.pageTable().entry(va) & ~Pte.ADDRESS_MASK, "write sets D");
        assertEquals(Pte.address(readOnly), Pte.address(as.pageTable().entry(va)), "same frame");
        assertEquals(0, as.pageTable().entry(va + 4096), "untouched page has no entry");
        final long x = ok(as.mmap(0, 4096, PROT_READ | PROT_EXEC, ANON));
        as.getByte(x);
        assertEquals(0x25L, as.pageTable().entry(x) & ~Pte.ADDRESS_MASK, "P | U | A, executable");
    }

    @Test
    void shouldPopulateAndReportMincore() {
        final long va = ok(as.mmap(0, 4 * 4096, RW, ANON | MAP_POPULATE));
        final byte[] vec = new byte[4];
        assertEquals(0, as.mincore(va, 4 * 4096, vec));
        assertArrayEquals(new byte[] {1, 1, 1, 1}, vec);
        final long lazy = ok(as.mmap(0, 4 * 4096, RW, ANON));
        as.putByte(lazy + 2 * 4096, (byte)1);
        assertEquals(0, as.mincore(lazy, 4 * 4096, vec));
        assertArrayEquals(new byte[] {0, 0, 1, 0}, vec);
    }

    @Test
    void shouldDropPagesOnMadviseDontneed() {
        final long va = ok(as.mmap(0, 2 * 4096, RW, ANON));
        as.putLong(va, 99);
        as.putLong(va + 4096, 98);
        final long free = f.frames.freeBytes();
        assertEquals(0, as.madvise(va, 4096, MADV_DONTNEED));
        assertEquals(free + 4096, f.frames.freeBytes());
        assertEquals(0, as.getLong(va), "zero-filled again");
        assertEquals(98, as.getLong(va + 4096));
    }

    @Test
    void shouldUseSmallPagesAfterMadviseNohugepage() {
        final long va = ok(as.mmap(0, 4 * MIB, RW, ANON));
        assertEquals(0, as.madvise(va, 4 * MIB, MADV_NOHUGEPAGE));
        as.putLong(va + MIB, 1);
        assertEquals(0, as.hugeFaults());
        assertEquals(4096, as.anonymousBytes());
    }

    @Test
    void shouldCopyOnWriteForPrivateFileMappings() {
        final byte[] data = new byte[8192];
        final byte[] hello = "hello, file".getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(hello, 0, data, 4096, hello.length);
        final TestFile file = new TestFile(f.memory, f.frames, data, true);
        final long priv = ok(as.mmap(0, 8192, RW, MAP_PRIVATE, file, 0));
        final long shared = ok(as.mmap(0, 8192, PROT_READ, MAP_SHARED, file, 0));
        assertEquals('h', as.getByte(priv + 4096));
        final long cachePa = file.cache.get(4096L);
        assertEquals(cachePa, Pte.address(as.pageTable().entry(priv + 4096)), "read maps the cache page");
        assertEquals(0, as.pageTable().entry(priv + 4096) & Pte.WRITE, "read-only until written");
        as.putByte(priv + 4096, (byte)'J');
        assertEquals(1, as.cowFaults());
        assertEquals('J', as.getByte(priv + 4096));
        assertEquals('h', as.getByte(shared + 4096), "the file and other mappings do not see it");
        assertEquals('h', data[4096]);
        assertTrue(Pte.address(as.pageTable().entry(priv + 4096)) != cachePa);
        assertEquals(0, as.munmap(priv, 8192));
        assertEquals(0, as.munmap(shared, 8192));
        assertEquals(0, file.references(), "every getPage was matched by a putPage");
        file.drop();
    }

    @Test
    void shouldWriteSharedFileMappingsBackOnMsync() {
        final TestFile file = new TestFile(f.memory, f.frames, new byte[3 * 4096], true);
        final long va = ok(as.mmap(0, 3 * 4096, RW, MAP_SHARED, file, 0));
        as.write(va + 4090, "straddles".getBytes(StandardCharsets.US_ASCII), 0, 9);
        assertEquals(0, file.content[4090], "not written back yet");
        assertEquals(0, as.msync(va, 3 * 4096, MS_SYNC));
        assertEquals("straddles", new String(file.content, 4090, 9, StandardCharsets.US_ASCII));
        assertEquals(2, file.writes, "only the two dirty pages");
        assertEquals(0, as.pageTable().entry(va) & Pte.DIRTY, "clean after msync");
        assertEquals(0, as.msync(va, 3 * 4096, MS_SYNC));
        assertEquals(2, file.writes, "nothing dirty any more");
        as.putByte(va + 3, (byte)7);
        assertEquals(0, as.msync(va, 4096, MS_ASYNC));
        assertEquals(7, file.content[3]);
        assertEquals(0, as.munmap(va, 3 * 4096));
        assertEquals(0, file.references());
        file.drop();
    }

    @Test
    void shouldReachLinearMapAndBulkCopyAcrossPages() {
        final long pa = f.frames.allocPage();
        f.memory.putLong(pa, 0xCAFEL);
        assertEquals(0xCAFEL, as.getLong(dev.osvj.mmu.phys.PhysicalMemory.virt(pa)));
        final long va = ok(as.mmap(0, 3 * 4096, RW, ANON | MAP_NORESERVE_IGNORED));
        final byte[] src = new byte[10_000];
        for (int i = 0; i < src.length; i++) {
            src[i] = (byte)(i * 31);
        }
        as.write(va + 100, src, 0, src.length);
        final byte[] back = new byte[src.length];
        as.read(va + 100, back, 0, back.length);
        assertArrayEquals(src, back);
        final long other = ok(as.mmap(0, 3 * 4096, RW, ANON));
        as.copy(va + 100, other + 5, src.length);
        as.read(other + 5, back, 0, back.length);
        assertArrayEquals(src, back);
        as.fill(other, 3 * 4096, (byte)0x5A);
        assertEquals(0x5A5A5A5A5A5A5A5AL, as.getLong(other + 4092));
        f.frames.freeOrder(pa, 0);
    }

    private static final int MAP_NORESERVE_IGNORED = dev.osvj.mmu.Mman.MAP_NORESERVE;
}
