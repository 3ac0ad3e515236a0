package dev.osvj.mmu.phys;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PageAllocatorTest {
    private static final long MIB = 1L << 20;
    private PhysicalMemory memory;

    @AfterEach
    void close() {
        if (memory != null) {
            memory.close();
        }
    }

    @Test
    void shouldStartWithAllMemoryFreeInMaximalBlocks() {
        memory = PhysicalMemory.allocate(6 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        assertEquals(6 * MIB, pages.totalBytes());
        assertEquals(6 * MIB, pages.freeBytes());
        // 1536 frames = one 1024-frame block (4 MiB) + one 512-frame block (2 MiB).
        assertEquals(1, pages.freeBlocks(10));
        assertEquals(1, pages.freeBlocks(9));
        assertEquals(3, pages.freeHugePages());
        pages.verify();
    }

    @Test
    void shouldSplitAndMergeBuddies() {
        memory = PhysicalMemory.allocate(2 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        final long a = pages.allocPage();
        assertEquals(0, a);
        // Splitting order 9 down to order 0 leaves one free block of each order 0..8.
        for (int o = 0; o < 9; o++) {
            assertEquals(1, pages.freeBlocks(o), "order " + o);
        }
        final long b = pages.allocPage();
        assertEquals(4096, b);
        pages.verify();
        pages.freeOrder(a, 0);
        pages.freeOrder(b, 0);
        assertEquals(1, pages.freeBlocks(9));
        assertEquals(2 * MIB, pages.freeBytes());
        pages.verify();
    }

    @Test
    void shouldHandOutAlignedHugePagesAndFreeThemPageByPage() {
        memory = PhysicalMemory.allocate(8 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        final long small = pages.allocPage();
        final long huge = pages.allocHugePage();
        assertEquals(0, huge % (2 * MIB));
        assertNotEquals(small >>> 21, huge >>> 21);
        // A split huge page goes back 4 KiB at a time (partial munmap of a THP).
        for (int i = 0; i < 512; i++) {
            pages.freeOrder(huge + i * 4096L, 0);
        }
        pages.freeOrder(small, 0);
        assertEquals(8 * MIB, pages.freeBytes());
        assertEquals(4, pages.freeHugePages());
        pages.verify();
    }

    @Test
    void shouldAllocateExactRangesAndAlignment() {
        memory = PhysicalMemory.allocate(8 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        final long r = pages.allocPages(5, 1);
        assertEquals(8 * MIB - 5 * 4096, pages.freeBytes());
        final long aligned = pages.allocPages(3, 64);
        assertEquals(0, aligned % (64 * 4096));
        assertEquals(8 * MIB - 8 * 4096, pages.freeBytes());
        pages.verify();
        pages.freePages(r, 5);
        pages.freePages(aligned, 3);
        assertEquals(8 * MIB, pages.freeBytes());
        pages.verify();
    }

    @Test
    void shouldDetectDoubleFree() {
        memory = PhysicalMemory.allocate(2 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        final long a = pages.allocPage();
        pages.freeOrder(a, 0);
        assertThrows(IllegalStateException.class, () -> pages.freeOrder(a, 0));
        assertThrows(IllegalArgumentException.class, () -> pages.freeOrder(4097, 0));
    }

    @Test
    void shouldReturnNoMemoryWhenExhaustedAndRecover() {
        memory = PhysicalMemory.allocate(2 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        final List<Long> got = new ArrayList<>();
        for (long pa; (pa = pages.allocPage()) != PageAllocator.NO_MEMORY; ) {
            got.add(pa);
        }
        assertEquals(512, got.size());
        assertEquals(512, new HashSet<>(got).size());
        assertEquals(1, pages.failures());
        assertEquals(PageAllocator.NO_MEMORY, pages.allocHugePage());
        pages.freeOrder(got.remove(7), 0);
        assertNotEquals(PageAllocator.NO_MEMORY, pages.allocPage());
    }

    @Test
    void shouldCallShrinkersBelowLowWatermarkAndOnExhaustion() {
        memory = PhysicalMemory.allocate(4 * MIB);
        final PageAllocator pages = new PageAllocator(memory, MIB);
        final List<Long> cache = new ArrayList<>();
        final AtomicLong asked = new AtomicLong();
        pages.registerShrinker(new Shrinker() {
            @Override
            public String name() {
                return "test-cache";
            }

            @Override
            public long shrink(final long bytesWanted) {
                asked.incrementAndGet();
                long released = 0;
                while (released < bytesWanted && !cache.isEmpty()) {
                    pages.freeOrder(cache.removeLast(), 0);
                    released += 4096;
                }
                return released;
            }
        });
        // Fill 3.5 MiB into the "cache" without crossing the shrinker (we hold references).
        for (int i = 0; i < 768; i++) {
            cache.add(pages.allocPage());
        }
        assertEquals(0, asked.get());
        // Crossing below 1 MiB free triggers reclaim back up to the watermark.
        for (int i = 0; i < 100; i++) {
            cache.add(pages.allocPage());
        }
        assertTrue(asked.get() > 0);
        assertTrue(pages.freeBytes() >= MIB - 4096, "free " + pages.freeBytes());
        assertTrue(pages.reclaimedBytes() > 0);
        pages.verify();
    }

    @Test
    void shouldKeepInvariantsUnderRandomAllocationAcrossThreads() throws Exception {
        memory = PhysicalMemory.allocate(16 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        final Thread[] threads = new Thread[4];
        final Set<Long> owned = java.util.concurrent.ConcurrentHashMap.newKeySet();
        final Throwable[] failure = new Throwable[1];
        for (int t = 0; t < threads.length; t++) {
            final int seed = t;
            threads[t] = new Thread(() -> {
                try {
                    final Random random = new Random(seed);
                    final List<long[]> mine = new ArrayList<>();
                    for (int i = 0; i < 5000; i++) {
                        if (mine.isEmpty() || random.nextInt(3) > 0) {
                            final int order = random.nextInt(4) == 0 ? random.nextInt(10) : 0;
                            final long pa = pages.allocOrder(order);
                            if (pa != PageAllocator.NO_MEMORY) {
                                for (int f = 0; f < 1 << order; f++) {
                                    if (!owned.add(pa + f * 4096L)) {
                                        throw new AssertionError("frame handed out twice: " + (pa + f * 4096L));
                                    }
                                }
                                memory.putLong(pa, pa);
                                mine.add(new long[] {pa, order});
                            }
                        } else {
                            final long[] b = mine.remove(random.nextInt(mine.size()));
                            if (memory.getLong(b[0]) != b[0]) {
                                throw new AssertionError("block overwritten");
                            }
                            for (int f = 0; f < 1 << b[1]; f++) {
                                owned.remove(b[0] + f * 4096L);
                            }
                            pages.freeOrder(b[0], (int)b[1]);
                        }
                    }
                    for (final long[] b : mine) {
                        for (int f = 0; f < 1 << b[1]; f++) {
                            owned.remove(b[0] + f * 4096L);
                        }
                        pages.freeOrder(b[0], (int)b[1]);
                    }
                } catch (final Throwable e) {
                    failure[0] = e;
                }
            });
            threads[t].start();
        }
        for (final Thread t : threads) {
            t.join();
        }
        if (failure[0] != null) {
            throw new AssertionError(failure[0]);
        }
        pages.verify();
        assertEquals(16 * MIB, pages.freeBytes());
    }
}
