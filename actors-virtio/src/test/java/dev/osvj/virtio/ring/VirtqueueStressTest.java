package dev.osvj.virtio.ring;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Driver and device on two threads under randomised interleavings: random chain lengths and
 * splits, random indirect use, random batch sizes and random yields. Both sides sleep (park without
 * a timeout) whenever they have nothing to do and rely only on kicks and interrupts to wake up, so a
 * lost notification (a broken Dekker pair in the event-index protocol) hangs a thread and fails the
 * test at the join deadline. Every payload is checked end to end, across more than 65536 operations
 * (the 16-bit indices wrap).
 */
class VirtqueueStressTest {
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long DATA = 0x80000;

    @ParameterizedTest
    @CsvSource({"64, true, true, 1", "16, true, false, 2", "8, false, true, 3", "128, false, false, 4"})
    void shouldDeliverEveryChainInOrderAcrossThreads(final int size, final boolean eventIdx, final boolean indirect,
        final long seed) throws Exception {
        final int total = 150_000;
        try (Arena arena = Arena.ofShared()) {
            final MemorySegment memory = arena.allocate(2 << 20, 4096);
            final VirtqueueLayout.Placement p = VirtqueueLayout.contiguous(0, size);
            final Thread[] threads = new Thread[2];
            final VirtqueueDriver driver = new VirtqueueDriver(memory, 0, p, eventIdx, indirect ? 0x40000 : -1, 4,
                q -> LockSupport.unpark(threads[1]));
            final VirtqueueDevice device = new VirtqueueDevice(memory, 0, p, eventIdx, indirect,
                q -> LockSupport.unpark(threads[0]));
            final AtomicReference<Throwable> failure = new AtomicReference<>();
            threads[0] = new Thread(() -> runDriver(driver, memory, size, total, seed, failure), "driver");
            threads[1] = new Thread(() -> runDevice(device, memory, total, seed + 100, failure), "device");
            for (final Thread t : threads) {
                t.setDaemon(true);
                t.start();
            }
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            for (final Thread t : threads) {
                while (t.isAlive() && failure.get() == null && System.nanoTime() < deadline) {
                    t.join(100);
                }
            }
            final boolean hung = failure.get() == null && (threads[0].isAlive() || threads[1].isAlive());
            if (threads[0].isAlive() || threads[1].isAlive()) {
                for (final Thread t : threads) {
                    t.interrupt();
                    LockSupport.unpark(t);
                }
                for (final Thread t : threads) {
                    t.join(5000);
                }
            }
            assertNull(failure.get());
            assertFalse(hung, "a side slept forever: lost notification; driver " + driver + ", device " + device);
            assertEquals(total, driver.counters().get(QueueCounters.COMPLETIONS));
            assertEquals(total, device.counters().get(QueueCounters.CHAINS));
            assertEquals(0, device.counters().get(QueueCounters.MALFORMED));
            assertEquals(size, driver.freeDescriptors());
        }
    }

    private static void runDriver(final VirtqueueDriver driver, final MemorySegment memory, final int size, final int total,
        final long seed, final AtomicReference<Throwable> failure) {
        try {
            final SplittableRandom random = new SplittableRandom(seed);
            final ScatterList sg = new ScatterList(4);
            final long[] completed = {0};
            long submitted = 0;
            while (completed[0] < total && !Thread.currentThread().isInterrupted()) {
                int progress = 0;
                final int batch = 1 + random.nextInt(size);
                // At most size chains are in flight, so the data slot of a new chain is never in use.
                for (int i = 0; i < batch && submitted < total && submitted - completed[0] < size; i++) {
                    final long slot = DATA + (submitted % size) * 32;
                    memory.set(LE64, slot, submitted);
                    memory.set(LE64, slot + 16, -1L);
                    // 8 readable bytes and 8 writable bytes, each split in one or two buffers.
                    sg.clear();
                    if (random.nextBoolean()) {
                        sg.readable(slot, 8);
                    } else {
                        sg.readable(slot, 3).readable(slot + 3, 5);
                    }
                    if (random.nextBoolean()) {
                        sg.writable(slot + 16, 8);
                    } else {
                        sg.writable(slot + 16, 6).writable(slot + 22, 2);
                    }
                    if (driver.add(sg, submitted) < 0) {
                        break;
                    }
                    submitted++;
                    progress++;
                }
                driver.publish();
                if (random.nextInt(8) == 0) {
                    Thread.yield();
                }
                progress += driver.poll((cookie, len) -> {
                    if (cookie != completed[0] || len != 8) {
                        throw new AssertionError("completion " + cookie + " len " + len + ", expected " + completed[0]);
                    }
                    final long got = memory.get(LE64, DATA + (cookie % size) * 32 + 16);
                    if (got != cookie * 7 + 1) {
                        throw new AssertionError("payload of " + cookie + " = " + got);
                    }
                    completed[0]++;
                }, 1 + random.nextInt(size));
                if (progress == 0) {
                    if (driver.enableInterrupts()) {
                        continue;
                    }
                    LockSupport.park();
                    driver.disableInterrupts();
                } else if (random.nextInt(4) == 0) {
                    driver.disableInterrupts();
                }
            }
        } catch (final Throwable t) {
            failure.compareAndSet(null, t);
        }
    }

    private static void runDevice(final VirtqueueDevice device, final MemorySegment memory, final int total, final long seed,
        final AtomicReference<Throwable> failure) {
        try {
            final SplittableRandom random = new SplittableRandom(seed);
            final DescriptorChain chain = device.newChain();
            final MemorySegment scratch = Arena.ofAuto().allocate(8, 8);
            long expected = 0;
            int sinceFlush = 0;
            while (expected < total && !Thread.currentThread().isInterrupted()) {
                final int head = device.pop(chain);
                if (head >= 0) {
                    if (chain.readableBytes() != 8 || chain.writableBytes() != 8) {
                        throw new AssertionError("chain shape " + chain.readableBytes() + "/" + chain.writableBytes());
                    }
                    chain.copyFromReadable(0, scratch, 0, 8);
                    final long value = scratch.get(LE64, 0);
                    if (value != expected) {
                        throw new AssertionError("chain carries " + value + ", expected " + expected);
                    }
                    scratch.set(LE64, 0, value * 7 + 1);
                    chain.copyToWritable(0, scratch, 0, 8);
                    device.pushUsed(head, 8);
                    expected++;
                    if (++sinceFlush >= 1 + random.nextInt(8)) {
                        device.publishUsed();
                        sinceFlush = 0;
                    }
                    if (random.nextInt(16) == 0) {
                        Thread.yield();
                    }
                    continue;
                }
                if (head == VirtqueueDevice.MALFORMED) {
                    throw new AssertionError("malformed chain");
                }
                device.publishUsed();
                sinceFlush = 0;
                if (device.enableNotifications()) {
                    device.disableNotifications();
                    continue;
                }
                LockSupport.park();
                device.disableNotifications();
            }
            device.publishUsed();
        } catch (final Throwable t) {
            failure.compareAndSet(null, t);
        }
    }
}
