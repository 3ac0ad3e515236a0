package dev.osvj.mmu.phys;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The page allocator's zero pool: frames zeroed at idle time and handed out by {@code allocZeroedPage}. */
class ZeroPoolTest {
    private static final long MIB = 1L << 20;
    private static final long PAGE = PageAllocator.PAGE_SIZE;
    private PhysicalMemory memory;

    @AfterEach
    void close() {
        if (memory != null) {
            memory.close();
        }
    }

    /** Offset of the first non-zero byte of the frame at {@code pa}, or -1. */
    private int firstNonZero(final long pa) {
        for (int off = 0; off < PAGE; off += 8) {
            if (memory.getLong(pa + off) != 0) {
                return off;
            }
        }
        return -1;
    }

    @Test
    void shouldHandOutOnlyZeroFramesFromThePoolAndInline() {
        memory = PhysicalMemory.allocate(4 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        memory.segment().fill((byte)0xA5); // every frame dirty
        pages.setZeroPoolCapacity(256);
        assertEquals(100, pages.zeroIdle(100));
        assertEquals(100, pages.zeroPoolSize());
        assertEquals(4 * MIB, pages.freeBytes(), "pooled frames are free memory");
        pages.verify();

        // Every frame of RAM, whether it comes from the pool or is zeroed inline, reads as zero: this
        // fails if either the idle zeroing or the inline zeroing is skipped.
        final List<Long> got = new ArrayList<>();
        long pa;
        while ((pa = pages.allocZeroedPage()) != PageAllocator.NO_MEMORY) {
            assertEquals(-1, firstNonZero(pa), "frame 0x" + Long.toHexString(pa) + " not zero");
            got.add(pa);
        }
        assertEquals(4 * MIB / PAGE, got.size());
        assertEquals(100, pages.zeroPoolHits());
        assertEquals(got.size() - 100, pages.inlineZeroedPages());
        assertEquals(100, pages.idleZeroedPages());
        assertEquals(0, pages.freeBytes());
        for (final long p : got) {
            pages.freeOrder(p, 0);
        }
        pages.verify();
        assertEquals(4 * MIB, pages.freeBytes());
    }

    @Test
    void shouldNeverHandOutAFrameFreedDirtyWithoutZeroingItAgain() {
        memory = PhysicalMemory.allocate(2 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        pages.setZeroPoolCapacity(64);
        assertEquals(64, pages.zeroIdle(64));
        // Take every pooled frame, dirty it as an application would, and free it again.
        final List<Long> dirty = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            final long pa = pages.allocZeroedPage();
            memory.putLong(pa + 8 * i, -1L);
            dirty.add(pa);
        }
        assertEquals(0, pages.zeroPoolSize());
        for (final long pa : dirty) {
            pages.freeOrder(pa, 0);
        }
        // The freed frames are the most recently freed, so the zeroer and the inline path take them
        // first: they must come back zero either way.
        assertEquals(32, pages.zeroIdle(32));
        for (int i = 0; i < 512; i++) {
            final long pa = pages.allocZeroedPage();
            assertNotEquals(PageAllocator.NO_MEMORY, pa);
            assertEquals(-1, firstNonZero(pa), "frame 0x" + Long.toHexString(pa) + " not zero");
        }
        assertEquals(PageAllocator.NO_MEMORY, pages.allocZeroedPage());
    }

    @Test
    void shouldGivePooledFramesBackWhenAnAllocationNeedsThem() {
        memory = PhysicalMemory.allocate(2 * MIB); // exactly one huge page
        final PageAllocator pages = new PageAllocator(memory, 0);
        pages.setZeroPoolCapacity(128);
        assertEquals(128, pages.zeroIdle(1000), "stops at capacity");
        assertEquals(0, pages.zeroIdle(1000), "nothing to do when full");
        assertEquals(0, pages.freeHugePages(), "the pool split the only huge page");
        // The huge page is still obtainable: the pool drains back into the free lists and merges.
        final long huge = pages.allocHugePage();
        assertEquals(0, huge);
        assertEquals(1, pages.zeroPoolDrains());
        assertEquals(0, pages.zeroPoolSize());
        assertEquals(0, pages.freeBytes());
        pages.freeOrder(huge, PageAllocator.HUGE_ORDER);
        pages.verify();
        assertEquals(1, pages.freeHugePages());

        // Shrinking the capacity gives the surplus back.
        assertEquals(128, pages.zeroIdle(128));
        pages.setZeroPoolCapacity(16);
        assertEquals(16, pages.zeroPoolSize());
        pages.setZeroPoolCapacity(0);
        assertEquals(0, pages.zeroPoolSize());
        pages.verify();
        assertEquals(2 * MIB, pages.freeBytes());
        assertEquals(1, pages.freeHugePages());
    }

    @Test
    void shouldWakeABlockedZeroerWhenThePoolIsHalfEmpty() {
        memory = PhysicalMemory.allocate(2 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        final AtomicInteger wakeups = new AtomicInteger();
        pages.setZeroerWakeup(wakeups::incrementAndGet);
        pages.setZeroPoolCapacity(64);
        assertTrue(pages.zeroPoolWantsFrames());
        assertFalse(pages.zeroerMayBlock(), "an empty pool is work to do");
        assertEquals(64, pages.zeroIdle(64));
        assertFalse(pages.zeroPoolWantsFrames());
        assertTrue(pages.zeroerMayBlock());
        for (int i = 0; i < 31; i++) {
            pages.allocZeroedPage();
        }
        assertEquals(0, wakeups.get(), "more than half full: no wakeup");
        pages.allocZeroedPage();
        assertEquals(1, wakeups.get(), "half empty: the zeroer is woken once");
        pages.allocZeroedPage();
        assertEquals(1, wakeups.get(), "not again until it blocks again");
        assertFalse(pages.zeroerMayBlock(), "at or below half: refill before blocking");
        pages.setZeroPoolCapacity(0);
        assertTrue(pages.zeroerMayBlock(), "a disabled pool is no work");
    }

    @Test
    void shouldKeepFramesZeroAndAccountedWithAZeroerAndFaultingThreads() throws Exception {
        memory = PhysicalMemory.allocate(8 * MIB);
        final PageAllocator pages = new PageAllocator(memory, 0);
        memory.segment().fill((byte)0x5A);
        pages.setZeroPoolCapacity(128);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final PlatformZeroer zeroer = new PlatformZeroer(pages, "zeroer");
        final Thread[] users = new Thread[2];
        for (int t = 0; t < users.length; t++) {
            final int id = t;
            users[t] = new Thread(() -> {
                try {
                    final long[] held = new long[256];
                    for (int round = 0; round < 40; round++) {
                        for (int i = 0; i < held.length; i++) {
                            held[i] = pages.allocZeroedPage();
                            if (held[i] == PageAllocator.NO_MEMORY) {
                                throw new AssertionError("out of memory");
                            }
                            final int bad = firstNonZero(held[i]);
                            if (bad >= 0) {
                                throw new AssertionError("frame 0x" + Long.toHexString(held[i]) + " dirty at " + bad);
                            }
                            memory.putLong(held[i] + 8L * ((i + id) & 511), 0x5A5A5A5AL + i); // dirty it
                        }
                        for (final long pa : held) {
                            pages.freeOrder(pa, 0);
                        }
                    }
                } catch (final Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "user-" + t);
            users[t].start();
        }
        for (final Thread u : users) {
            u.join(TimeUnit.MINUTES.toMillis(2));
            assertFalse(u.isAlive(), "user thread stuck");
        }
        zeroer.close();
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertEquals(2L * 40 * 256, pages.zeroPoolHits() + pages.inlineZeroedPages());
        assertEquals(8 * MIB, pages.freeBytes());
        pages.setZeroPoolCapacity(0);
        pages.verify();
        assertEquals(8 * MIB, pages.freeBytes());
    }
}
