package dev.osvj.mmu.malloc;

import dev.osvj.kernel.Errno;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.mmu.vm.ThreadCpuBinding;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MallocTest {
    private static final long MIB = 1L << 20;
    private PhysicalMemory memory;
    private PageAllocator pages;
    private ThreadCpuBinding cpus;
    private Malloc malloc;

    private void setUp(final long ram, final int cpuCount) {
        memory = PhysicalMemory.allocate(ram);
        memory.segment().fill((byte)0xA5);
        pages = new PageAllocator(memory, 0);
        cpus = new ThreadCpuBinding(cpuCount);
        malloc = new Malloc(memory, pages, cpus, 64);
    }

    @AfterEach
    void tearDown() {
        cpus.unbind();
        malloc.close();
        memory.close();
    }

    @Test
    void shouldUsePowerOfTwoClassesAlignedToTheirSize() {
        setUp(8 * MIB, 1);
        assertEquals(0, Malloc.sizeClass(1));
        assertEquals(0, Malloc.sizeClass(8));
        assertEquals(1, Malloc.sizeClass(9));
        assertEquals(7, Malloc.sizeClass(1024));
        for (final int size : new int[] {1, 8, 9, 24, 100, 512, 1000, 1024}) {
            final long p = malloc.malloc(size);
            final long usable = malloc.usableSize(p);
            assertEquals(Math.max(8, Integer.highestOneBit(size) == size ? size : Integer.highestOneBit(size) << 1), usable);
            assertEquals(0, p % usable, "object aligned to its size " + usable);
            assertTrue(memory.isLinear(p));
        }
        assertEquals(4096, malloc.usableSize(malloc.malloc(1025)));
        final long big = malloc.malloc(10_000);
        assertEquals(3 * 4096, malloc.usableSize(big));
        assertEquals(0, PhysicalMemory.phys(big) % 4096);
        assertNotEquals(malloc.malloc(0), malloc.malloc(0), "malloc(0) gives unique pointers");
    }

    @Test
    void shouldReuseFreedObjectsAndReturnEmptyPages() {
        setUp(8 * MIB, 1);
        final long a = malloc.malloc(32);
        final long b = malloc.malloc(32);
        assertEquals(32, b - a);
        malloc.free(a);
        assertEquals(a, malloc.malloc(32), "LIFO free list");
        malloc.free(a);
        malloc.free(b);
        assertEquals(0, malloc.smallBytesInUse());
        final long free = pages.freeBytes();
        malloc.trim();
        assertTrue(pages.freeBytes() > free);
        assertEquals(8 * MIB, pages.freeBytes(), "everything back after trim");
        assertThrows(IllegalStateException.class, () -> malloc.free(PhysicalMemory.virt(4096 * 100)));
    }

    @Test
    void shouldCatchAnImmediateDoubleFree() {
        setUp(8 * MIB, 1);
        final long a = malloc.malloc(64);
        final long b = malloc.malloc(64);
        malloc.free(a);
        assertThrows(IllegalStateException.class, () -> malloc.free(a));
        malloc.free(b);
        assertEquals(0, malloc.smallBytesInUse());
        // The first malloc refilled the bin with 32 objects: 30 left after two mallocs, plus the two freed.
        assertEquals(32 * 64, malloc.threadCachedBytes(), "both wait in the thread's bin");
        assertEquals(b, malloc.malloc(64), "LIFO");
        assertEquals(a, malloc.malloc(64));
        malloc.free(a);
        malloc.free(b);
        malloc.trim();
        assertEquals(0, malloc.threadCachedBytes());
        assertEquals(8 * MIB, pages.freeBytes());
        malloc.verify();
    }

    @Test
    void shouldGiveBackTheCachesOfEndedThreads() throws Exception {
        setUp(8 * MIB, 2);
        final Thread t = new Thread(() -> {
            cpus.bind(1, true);
            final long[] p = new long[100];
            for (int i = 0; i < p.length; i++) {
                p[i] = malloc.malloc(8 + i);
            }
            for (final long x : p) {
                malloc.free(x);
            }
            cpus.unbind();
        });
        t.start();
        t.join();
        assertTrue(malloc.threadCachedBytes() > 0, "the ended thread left objects in its bins");
        assertEquals(0, malloc.smallBytesInUse());
        malloc.trim();
        assertEquals(0, malloc.threadCachedBytes());
        assertEquals(0, malloc.poolPages());
        assertEquals(8 * MIB, pages.freeBytes(), "nothing stays behind the ended thread");
        malloc.verify();
        pages.verify();
    }

    @Test
    void shouldImplementCallocReallocAndPosixMemalign() {
        setUp(8 * MIB, 1);
        final long p = malloc.calloc(10, 100);
        for (int i = 0; i < 1000; i++) {
            assertEquals(0, memory.getByte(PhysicalMemory.phys(p) + i), "calloc zeroes 0xA5 memory");
        }
        assertEquals(0, malloc.calloc(Long.MAX_VALUE / 2, 3), "overflow");
        final long r = malloc.malloc(16);
        memory.putLong(PhysicalMemory.phys(r), 0x1122334455667788L);
        final long grown = malloc.realloc(r, 5000);
        assertEquals(0x1122334455667788L, memory.getLong(PhysicalMemory.phys(grown)));
        assertEquals(grown, malloc.realloc(grown, 7000), "fits in place");
        final long shrunk = malloc.realloc(grown, 8);
        assertEquals(0x1122334455667788L, memory.getLong(PhysicalMemory.phys(shrunk)));
        assertEquals(0, malloc.realloc(shrunk, 0));
        final long[] out = new long[1];
        assertEquals(Errno.EINVAL.number(), malloc.posixMemalign(out, 12, 100));
        assertEquals(Errno.EINVAL.number(), malloc.posixMemalign(out, 4, 100));
        for (final long align : new long[] {8, 64, 512, 4096, 65536, 1L << 21}) {
            assertEquals(0, malloc.posixMemalign(out, align, 100));
            assertEquals(0, PhysicalMemory.phys(out[0]) % align, "aligned to " + align);
            malloc.free(out[0]);
        }
        assertEquals(Errno.ENOMEM.number(), malloc.posixMemalign(out, 8, 64 * MIB));
    }

    @Test
    void shouldReturnNullWhenExhaustedAndRecoverAfterFrees() {
        setUp(4 * MIB, 2);
        cpus.bind(1, true);
        final List<Long> blocks = new ArrayList<>();
        long p;
        while ((p = malloc.malloc(1000)) != 0) {
            blocks.add(p);
        }
        // 4 MiB = 1024 pages of four 1 KiB objects, minus nothing: malloc can use all of RAM.
        assertEquals(4096, blocks.size());
        assertTrue(malloc.failures() > 0);
        assertEquals(0, malloc.malloc(100_000));
        assertEquals(0, malloc.realloc(blocks.get(0), 200_000), "realloc failure leaves the block");
        assertEquals(1024, malloc.usableSize(blocks.get(0)));
        for (final long b : blocks) {
            malloc.free(b);
        }
        malloc.verify();
        assertNotEquals(0, malloc.malloc(100_000), "memory is usable again");
        assertEquals(100_000 + 4096 - 100_000 % 4096, malloc.largeBytesInUse());
    }

    @Test
    void shouldGiveCachesBackThroughTheShrinker() {
        setUp(4 * MIB, 1);
        final List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            blocks.add(malloc.malloc(2048));
        }
        for (final long b : blocks) {
            malloc.free(b);
        }
        assertTrue(malloc.cachedPages() > 0);
        final long released = pages.reclaim(MIB);
        assertTrue(released > 0);
        assertEquals(0, malloc.cachedPages());
    }

    /**
     * Random sizes on several threads over 2 vCPUs; every block is filled with a pattern derived from its
     * address and checked before it is freed, often by another thread (remote frees). Overlap or corruption
     * breaks a pattern.
     */
    @Test
    void shouldSurviveStressAcrossThreadsWithoutOverlapOrCorruption() throws Exception {
        setUp(64 * MIB, 2);
        final int threads = 4;
        final ConcurrentLinkedQueue<long[]> handoff = new ConcurrentLinkedQueue<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final CyclicBarrier barrier = new CyclicBarrier(threads);
        final List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final int id = t;
            final Thread thread = new Thread(() -> {
                cpus.bind(id % 2, true);
                final Random random = new Random(42 + id);
                final List<long[]> mine = new ArrayList<>();
                try {
                    barrier.await();
                    for (int i = 0; i < 40_000 && failure.get() == null; i++) {
                        final int op = random.nextInt(10);
                        if (op < 5 || mine.isEmpty()) {
                            final int size = random.nextInt(20) == 0 ? 1 + random.nextInt(20_000) : 1 + random.nextInt(1024);
                            final long p = malloc.malloc(size);
                            if (p == 0) {
                                continue;
                            }
                            fill(p, size);
                            mine.add(new long[] {p, size});
                        } else if (op < 7) {
                            handoff.add(mine.remove(random.nextInt(mine.size())));
                        } else {
                            long[] b = op == 7 ? handoff.poll() : null;
                            if (b == null) {
                                b = mine.remove(random.nextInt(mine.size()));
                            }
                            check(b[0], (int)b[1]);
                            malloc.free(b[0]);
                        }
                    }
                    for (final long[] b : mine) {
                        check(b[0], (int)b[1]);
                        malloc.free(b[0]);
                    }
                } catch (final Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    cpus.unbind();
                }
            });
            all.add(thread);
            thread.start();
        }
        for (final Thread t : all) {
            t.join();
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        for (long[] b; (b = handoff.poll()) != null; ) {
            check(b[0], (int)b[1]);
            malloc.free(b[0]);
        }
        assertTrue(malloc.remoteFrees() > 0, "the stress exercised remote frees");
        malloc.verify();
        malloc.trim();
        assertEquals(0, malloc.smallBytesInUse());
        assertEquals(0, malloc.largeBytesInUse());
        assertEquals(0, malloc.poolPages());
        assertEquals(64 * MIB, pages.freeBytes(), "no page leaked");
        pages.verify();
    }

    private void fill(final long p, final int size) {
        final long pa = PhysicalMemory.phys(p);
        final byte seed = (byte)(p * 0x9E3779B97F4A7C15L >>> 56);
        for (int i = 0; i < size; i++) {
            memory.putByte(pa + i, (byte)(seed + i));
        }
    }

    private void check(final long p, final int size) {
        final long pa = PhysicalMemory.phys(p);
        final byte seed = (byte)(p * 0x9E3779B97F4A7C15L >>> 56);
        for (int i = 0; i < size; i++) {
            if (memory.getByte(pa + i) != (byte)(seed + i)) {
                throw new AssertionError("block 0x" + Long.toHexString(p) + " (" + size + " B) corrupted at +" + i);
            }
        }
    }

    @Test
    void shouldNeverHandOutOverlappingBlocks() {
        setUp(16 * MIB, 1);
        final TreeMap<Long, Long> live = new TreeMap<>();
        final Random random = new Random(7);
        for (int i = 0; i < 20_000; i++) {
            if (live.isEmpty() || random.nextBoolean()) {
                final int size = 1 + random.nextInt(random.nextInt(10) == 0 ? 9000 : 1024);
                final long p = malloc.malloc(size);
                final long end = p + malloc.usableSize(p);
                final var below = live.floorEntry(p);
                assertTrue(below == null || below.getValue() <= p, "overlaps the block below");
                final var above = live.ceilingEntry(p);
                assertTrue(above == null || above.getKey() >= end, "overlaps the block above");
                live.put(p, end);
            } else {
                final long p = live.keySet().toArray(new Long[0])[random.nextInt(live.size())];
                live.remove(p);
                malloc.free(p);
            }
        }
        malloc.verify();
    }
}
