package dev.osvj.mmu.vm;

import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PageTableTest {
    private PhysicalMemory memory;
    private PageAllocator frames;
    private PageTable pt;

    @BeforeEach
    void setUp() {
        memory = PhysicalMemory.allocate(8L << 20);
        // Pre-fill all RAM with 0xA5 so nothing relies on fresh memory being zero.
        memory.segment().fill((byte)0xA5);
        frames = new PageAllocator(memory, 0);
        pt = new PageTable(memory, frames);
    }

    @AfterEach
    void tearDown() {
        memory.close();
    }

    @Test
    void shouldUseTheArchitecturalBitPositions() {
        assertEquals(0x1L, Pte.PRESENT);
        assertEquals(0x2L, Pte.WRITE);
        assertEquals(0x4L, Pte.USER);
        assertEquals(0x20L, Pte.ACCESSED);
        assertEquals(0x40L, Pte.DIRTY);
        assertEquals(0x80L, Pte.HUGE);
        assertEquals(0x100L, Pte.GLOBAL);
        assertEquals(0x8000_0000_0000_0000L, Pte.NX);
        assertEquals(0x000F_FFFF_FFFF_F000L, Pte.ADDRESS_MASK);
    }

    @Test
    void shouldSplitVirtualAddressIntoNineBitIndices() {
        final long va = 0x0000_7F12_3456_7ABCL;
        assertEquals(0xFE, PageTable.index(va, 3));
        assertEquals(0x48, PageTable.index(va, 2));
        assertEquals(0x1A2, PageTable.index(va, 1));
        assertEquals(0x167, PageTable.index(va, 0));
    }

    @Test
    void shouldWriteLiteralEntriesAtEveryLevelFor4kMapping() {
        final long va = 0x2000_0000_3000L; // PML4 64, PDPT 0, PD 0, PT 3
        final long pa = 0x0012_3000L & (memory.size() - 1);
        final long flags = Pte.PRESENT | Pte.WRITE | Pte.USER | Pte.NX;
        assertEquals(0, pt.map4k(va, pa, flags));

        final long pml4e = memory.getLong(pt.root() + 8 * 64);
        assertEquals(Pte.TABLE_FLAGS, pml4e & 0xFFF, "PML4 entry flags");
        final long pdpte = memory.getLong((pml4e & Pte.ADDRESS_MASK) + 0);
        assertEquals(0x7, pdpte & 0xFFF);
        final long pde = memory.getLong(pdpte & Pte.ADDRESS_MASK);
        assertEquals(0x7, pde & 0xFFF);
        final long pteSlot = (pde & Pte.ADDRESS_MASK) + 8 * 3;
        // Literal little-endian bytes of the leaf: 0x8000000000123007 for pa 0x123000 (NX, U, W, P).
        final byte[] bytes = new byte[8];
        memory.read(pteSlot, bytes, 0, 8);
        final long expected = 0x8000_0000_0000_0007L | pa;
        for (int i = 0; i < 8; i++) {
            assertEquals((byte)(expected >>> (8 * i)), bytes[i], "byte " + i);
        }
        // Other slots of the fresh table are zero even though RAM was pre-filled with 0xA5.
        assertEquals(0, memory.getLong(pteSlot + 8));
        assertEquals(pa + 0xABC, pt.translate(va + 0xABC));
        assertEquals(-1, pt.translate(va + 0x1000));
        assertEquals(4, pt.tableFrames());
        assertEquals(1, pt.map4k(va, pa, flags), "occupied slot is not overwritten");
    }

    @Test
    void shouldMapHugePageWithPsBitInPageDirectory() {
        final long va = 0x2000_0040_0000L; // 2 MiB aligned
        final long pa = 0x20_0000L;
        assertEquals(0, pt.map2m(va, pa, Pte.PRESENT | Pte.WRITE));
        final long w = pt.walk(va + 0x1234);
        assertEquals(1, PageTable.levelOf(w));
        assertEquals(pa | 0x83, memory.getLong(PageTable.slotOf(w)));
        assertEquals(pa + 0x12_3456, pt.translate(va + 0x12_3456));
        assertEquals(PageTable.HUGE_IN_WAY, pt.slot(va + 0x5000, 0));
    }

    @Test
    void shouldSplitHugePageIntoFiveHundredTwelveEntriesKeepingFlags() {
        final long va = 0x2000_0000_0000L;
        final long pa = 0x40_0000L;
        pt.map2m(va, pa, Pte.PRESENT | Pte.WRITE | Pte.USER | Pte.ACCESSED | Pte.DIRTY | Pte.NX);
        assertTrue(pt.split(va + 0x3000));
        final long w = pt.walk(va + 0x3000);
        assertEquals(0, PageTable.levelOf(w));
        assertEquals(0x8000_0000_0040_3067L, memory.getLong(PageTable.slotOf(w)));
        final List<Long> leaves = new ArrayList<>();
        pt.forEachLeaf(va, va + PageTable.SIZE_2M, (v, slot, level, e) -> {
            assertEquals(0, level);
            assertEquals(pa + (v - va), Pte.address(e));
            leaves.add(v);
        });
        assertEquals(512, leaves.size());
        for (int i = 0; i < 512; i++) {
            assertEquals(pa + i * 4096L + 7, pt.translate(va + i * 4096L + 7));
        }
    }

    @Test
    void shouldFreeTablesOnlyWhenWholeSpanIsUnused() {
        final long before = frames.freeBytes();
        final long va = 0x2000_0000_0000L;
        final long page = frames.allocPage();
        pt.map4k(va, page, Pte.PRESENT);
        final long tablesAfterMap = pt.tableFrames();
        assertEquals(4, tablesAfterMap);
        pt.store(PageTable.slotOf(pt.walk(va)), 0);
        assertEquals(0, pt.freeTables(va + 4096, va + (1L << 21)), "range does not cover the PT span");
        assertEquals(3, pt.freeTables(va, va + (1L << 39)));
        assertEquals(1, pt.tableFrames());
        frames.freeOrder(page, 0);
        assertEquals(before, frames.freeBytes());
        frames.verify();
    }

    @Test
    void shouldReportMissingTablesAsNone() {
        assertEquals(PageTable.NONE, pt.walk(0x1234_5000L));
        assertEquals(0, pt.entry(0x1234_5000L));
        assertFalse(Pte.present(pt.entry(0x1234_5000L)));
    }
}
