package dev.osvj.mmu.vm;

import dev.osvj.mmu.PageFault;
import dev.osvj.mmu.PageFault.Cause;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static dev.osvj.mmu.Mman.MAP_ANONYMOUS;
import static dev.osvj.mmu.Mman.MAP_FIXED;
import static dev.osvj.mmu.Mman.MAP_PRIVATE;
import static dev.osvj.mmu.Mman.PROT_READ;
import static dev.osvj.mmu.Mman.PROT_WRITE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The TLB shootdown protocol with the per-vCPU TLB actors, and a multi-thread stress. */
class TlbShootdownTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final int RW = PROT_READ | PROT_WRITE;
    private static final int ANON = MAP_PRIVATE | MAP_ANONYMOUS;

    private Fixture f;

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    @AfterEach
    void tearDown() {
        if (f != null) {
            f.close();
        }
    }

    record Acked(int cpu) {
    }

    /** Wire the fixture's shootdown to real TLB actors; returns the actors. */
    private List<ActorRef<TlbActor.Command>> actors(final Fixture fixture) {
        final List<ActorRef<TlbActor.Command>> refs = new ArrayList<>();
        for (int i = 0; i < fixture.tlbs.length; i++) {
            refs.add(KIT.spawn(TlbActor.create(fixture.tlbs[i])));
        }
        fixture.shootdown.setDoorbell(cpu -> refs.get(cpu).tell(TlbActor.Ipi.INSTANCE));
        return refs;
    }

    /** Run {@code body} on a new thread bound to {@code cpu} and wait for it. */
    private static void onCpu(final Fixture fixture, final int cpu, final boolean application, final Runnable body)
        throws Exception {
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread t = new Thread(() -> {
            fixture.cpus.bind(cpu, application);
            try {
                body.run();
            } catch (final Throwable e) {
                failure.set(e);
            } finally {
                fixture.cpus.unbind();
            }
        });
        t.start();
        t.join();
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
    }

    @Test
    void shouldFlushAndAcknowledgeOnFlushMessage() {
        f = new Fixture(8L << 20, 2, true);
        final ActorRef<TlbActor.Command> actor = KIT.spawn(TlbActor.create(f.tlbs[1]));
        f.tlbs[1].fill(new Tlb.Entry(0x2000_0000_0L, 0x5000, true, false), f.tlbs[1].generation());
        assertEquals(1, f.tlbs[1].occupied());
        final TestProbe<Acked> probe = KIT.createTestProbe();
        actor.tell(new TlbActor.Flush(cpu -> probe.ref().tell(new Acked(cpu))));
        assertEquals(new Acked(1), probe.receiveMessage());
        assertEquals(0, f.tlbs[1].occupied());
        assertEquals(1, f.tlbs[1].ipisServiced());
    }

    @Test
    void shouldServiceQueuedIpisOnDoorbellWithOneFlush() {
        f = new Fixture(8L << 20, 2, true);
        final ActorRef<TlbActor.Command> actor = KIT.spawn(TlbActor.create(f.tlbs[1]));
        final TestProbe<Acked> probe = KIT.createTestProbe();
        f.tlbs[1].postIpi(cpu -> probe.ref().tell(new Acked(cpu)));
        f.tlbs[1].postIpi(cpu -> probe.ref().tell(new Acked(cpu + 100)));
        final long flushes = f.tlbs[1].flushes();
        actor.tell(TlbActor.Ipi.INSTANCE);
        actor.tell(TlbActor.Ipi.INSTANCE); // a second doorbell finds the queue drained
        assertEquals(new Acked(1), probe.receiveMessage());
        assertEquals(new Acked(101), probe.receiveMessage());
        final TestProbe<Acked> done = KIT.createTestProbe();
        actor.tell(new TlbActor.Flush(cpu -> done.ref().tell(new Acked(cpu))));
        done.receiveMessage();
        assertEquals(flushes + 2, f.tlbs[1].flushes(), "one flush for both queued IPIs, one for Flush");
        probe.expectNoMessage(Duration.ofMillis(50));
    }

    @Test
    void shouldIpiVcpuRunningApplicationAndMakeItFault() throws Exception {
        f = new Fixture(16L << 20, 2, true);
        actors(f);
        f.cpus.bind(0, true);
        final long va = f.space.mmap(0, 4096, RW, ANON);
        f.space.putLong(va, 77);
        final CountDownLatch filled = new CountDownLatch(1);
        final CountDownLatch unmapped = new CountDownLatch(1);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Thread reader = new Thread(() -> {
            f.cpus.bind(1, true);
            try {
                assertEquals(77, f.space.getLong(va));
                assertEquals(1, f.tlbs[1].occupied());
                filled.countDown();
                assertTrue(unmapped.await(30, TimeUnit.SECONDS));
                final PageFault e = assertThrows(PageFault.class, () -> f.space.getLong(va));
                assertEquals(Cause.NOT_PRESENT, e.kind());
            } catch (final Throwable e) {
                failure.set(e);
            } finally {
                f.cpus.unbind();
            }
        });
        reader.start();
        assertTrue(filled.await(30, TimeUnit.SECONDS));
        assertEquals(0, f.space.munmap(va, 4096));
        unmapped.countDown();
        reader.join();
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertEquals(1, f.shootdown.ipisSent());
        assertEquals(0, f.shootdown.lazyMarks());
        assertEquals(1, f.tlbs[1].ipisServiced());
    }

    @Test
    void shouldFlushIdleVcpuLazilyAtNextApplicationSwitchIn() throws Exception {
        f = new Fixture(16L << 20, 2, true);
        actors(f);
        f.cpus.bind(0, true);
        final long va = f.space.mmap(0, 4096, RW, ANON);
        f.space.putLong(va, 5);
        onCpu(f, 1, true, () -> assertEquals(5, f.space.getLong(va)));
        assertEquals(1, f.tlbs[1].occupied(), "cpu 1 is idle but still caches the entry");
        assertEquals(0, f.space.mprotect(va, 4096, PROT_READ));
        assertEquals(0, f.shootdown.ipisSent(), "no IPI to a vCPU not running application code");
        assertEquals(1, f.shootdown.lazyMarks());
        assertTrue(f.tlbs[1].lazyPending());
        onCpu(f, 1, true, () -> {
            assertEquals(0, f.tlbs[1].occupied(), "flushed at switch-in");
            assertThrows(PageFault.class, () -> f.space.putLong(va, 6));
        });
        assertEquals(1, f.tlbs[1].lazyFlushes());
    }

    @Test
    void shouldIpiEveryVcpuForKernelCallers() {
        f = new Fixture(16L << 20, 4, true);
        actors(f);
        f.cpus.bind(0, false);
        final long va = f.space.mmap(0, 4096, RW, ANON);
        f.space.putLong(va, 1);
        assertEquals(0, f.space.munmap(va, 4096));
        assertEquals(3, f.shootdown.ipisSent());
        assertEquals(0, f.shootdown.lazyMarks());
    }

    @Test
    void shouldTakeSingleCpuShortcut() {
        f = new Fixture(8L << 20, 1, true);
        f.shootdown.setDoorbell(cpu -> {
            throw new AssertionError("no IPI with one vCPU");
        });
        final long va = f.space.mmap(0, 4096, RW, ANON);
        f.space.putLong(va, 1);
        assertEquals(0, f.space.munmap(va, 4096));
        assertEquals(1, f.shootdown.singleCpuShortcuts());
        assertThrows(PageFault.class, () -> f.space.getLong(va));
    }

    @Test
    void shouldNotDeadlockWhenTwoVcpusShootEachOtherDown() throws Exception {
        f = new Fixture(8L << 20, 2, true);
        // Doorbells that reach nobody: a request to a vCPU is only serviced by that vCPU itself, while
        // it waits for its own shootdown or while idle (as OSv services IPIs with interrupts enabled).
        f.shootdown.setDoorbell(cpu -> { });
        final java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(2);
        final java.util.concurrent.atomic.AtomicInteger finished = new java.util.concurrent.atomic.AtomicInteger();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final List<Thread> threads = new ArrayList<>();
        for (int cpu = 0; cpu < 2; cpu++) {
            final int c = cpu;
            final Thread t = new Thread(() -> {
                f.cpus.bind(c, false);
                try {
                    start.await();
                    for (int i = 0; i < 500; i++) {
                        f.shootdown.flushAll();
                    }
                    finished.incrementAndGet();
                    while (finished.get() < 2) {
                        f.tlbs[c].serviceIpis();
                        Thread.onSpinWait();
                    }
                } catch (final Throwable e) {
                    failure.set(e);
                    finished.incrementAndGet();
                } finally {
                    f.cpus.unbind();
                }
            });
            threads.add(t);
            t.start();
        }
        for (final Thread t : threads) {
            t.join();
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertEquals(1000, f.shootdown.ipisSent());
        assertEquals(1000, f.tlbs[0].ipisServiced() + f.tlbs[1].ipisServiced());
    }

    /**
     * Stress: one vCPU maps, writes, publishes and unmaps pages at fresh addresses; readers on the other
     * vCPUs read them. Once a reader has seen that a page was unmapped, every later read of it must fault:
     * a value read through a stale TLB entry (the old frame, or a reused one) is a failure.
     */
    @Test
    void shouldNeverReadThroughStaleEntryAfterMunmapOrMprotect() throws Exception {
        f = new Fixture(32L << 20, 3, true);
        actors(f);
        final int rounds = 1500;
        final long[] vas = new long[rounds];
        final long base = 0x2000_1000_0000L;
        final java.util.concurrent.atomic.AtomicInteger published = new java.util.concurrent.atomic.AtomicInteger(-1);
        final java.util.concurrent.atomic.AtomicInteger revoking = new java.util.concurrent.atomic.AtomicInteger(-1);
        final java.util.concurrent.atomic.AtomicInteger revoked = new java.util.concurrent.atomic.AtomicInteger(-1);
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final CountDownLatch readersDone = new CountDownLatch(2);
        final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        for (int r = 1; r <= 2; r++) {
            final int cpu = r;
            new Thread(() -> {
                f.cpus.bind(cpu, true);
                try {
                    while (!stop.get()) {
                        final int i = published.get();
                        if (i < 0) {
                            Thread.onSpinWait();
                            continue;
                        }
                        final boolean wasRevoked = revoked.get() >= i;
                        try {
                            final long v = f.space.getLong(vas[i]);
                            if (wasRevoked && i % 2 == 0) {
                                throw new AssertionError("read " + v + " from page " + i + " after munmap");
                            }
                            if (v != i * 1000L + 1) {
                                throw new AssertionError("page " + i + " holds " + v);
                            }
                            if (i % 2 == 1) {
                                // Writes only go to mprotect'ed pages: their frame is never reused, and
                                // a write racing with mprotect may land (as on hardware).
                                f.space.putLong(vas[i] + 8, i);
                                if (wasRevoked) {
                                    final Tlb.Entry e = f.tlbs[cpu].lookup(vas[i] >>> 12);
                                    throw new AssertionError("wrote page " + i + " after mprotect(PROT_READ); pte "
                                        + Pte.describe(f.space.pageTable().entry(vas[i])) + " tlb entry "
                                        + (e == null ? "none" : "writable=" + e.writable) + " revoked " + revoked.get());
                                }
                            }
                        } catch (final PageFault e) {
                            if (revoking.get() < i) {
                                throw new AssertionError("fault on live page " + i + ": " + e.getMessage());
                            }
                        }
                    }
                } catch (final Throwable e) {
                    failure.compareAndSet(null, e);
                } finally {
                    f.cpus.unbind();
                    readersDone.countDown();
                }
            }).start();
        }
        f.cpus.bind(0, true);
        for (int i = 0; i < rounds && failure.get() == null; i++) {
            final long va = f.space.mmap(base + i * 8192L, 4096, RW, ANON | MAP_FIXED);
            assertEquals(base + i * 8192L, va);
            vas[i] = va;
            f.space.putLong(va, i * 1000L + 1);
            published.set(i);
            // Give the readers a chance to cache the page, without depending on it.
            for (int spin = 0; spin < 200; spin++) {
                Thread.onSpinWait();
            }
            revoking.set(i);
            if (i % 2 == 0) {
                assertEquals(0, f.space.munmap(va, 4096));
            } else {
                assertEquals(0, f.space.mprotect(va, 4096, PROT_READ));
            }
            revoked.set(i);
        }
        stop.set(true);
        assertTrue(readersDone.await(60, TimeUnit.SECONDS));
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertTrue(f.shootdown.ipisSent() > 0);
        f.frames.verify();
    }
}
