package dev.osvj.mmu.vm;

import dev.osvj.mmu.Mman;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Demand faults served from the page allocator's zero pool read as zero, like inline-zeroed ones. */
class ZeroPoolFaultTest extends AddressSpaceTestBase {
    private static final int PAGES = 64;

    private void assertZeroPages(final long va) {
        for (int p = 0; p < PAGES; p++) {
            for (int off = 0; off < 4096; off += 8) {
                assertEquals(0, as.getLong(va + p * 4096L + off), "page " + p + " offset " + off);
            }
        }
    }

    @Test
    void shouldFaultInZeroPagesFromThePoolAfterDirtyMunmap() {
        f.frames.setZeroPoolCapacity(PAGES);
        for (int round = 0; round < 3; round++) {
            final long va = ok(as.mmap(0, PAGES * 4096L, RW, ANON));
            ok(as.madvise(va, PAGES * 4096L, Mman.MADV_NOHUGEPAGE));
            // Guest RAM starts filled with 0xA5 (Fixture), and every round leaves its pages dirty, so a
            // frame handed out without zeroing shows up here.
            assertZeroPages(va);
            for (int p = 0; p < PAGES; p++) {
                as.putLong(va + p * 4096L + 8 * p, -1L);
            }
            ok(as.munmap(va, PAGES * 4096L));
            // The idle step: the most recently freed (dirty) frames are taken and zeroed into the pool.
            assertEquals(PAGES, f.frames.zeroIdle(PAGES));
        }
        assertTrue(f.frames.zeroPoolHits() >= 2L * PAGES, "faults took pooled frames: " + f.frames.zeroPoolHits());
    }
}
