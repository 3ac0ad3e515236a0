package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kernels sharing a {@link DirectedYield}: a vCPU whose thread woke a parked vCPU of another kernel runs that
 * vCPU's loop on its own carrier (the woken thread runs on the waker's carrier, the parked carrier is not
 * woken); nothing is lost when both kernels' threads wake each other from every side; a waker that runs on
 * without a switch still gets the woken vCPU served; and kernels stop cleanly in the middle of it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DirectedYieldTest {
    private final ActorTestKit kit = ActorTestKit.create("directed-yield-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    private Scheduler start(final int cpus, final DirectedYield yield) {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(cpus).withIdleSpin(Duration.ZERO),
            KernelClock.SYSTEM);
        assertTrue(s.installHaltWait(yield));
        return s;
    }

    /** The host thread running the caller's vCPU right now (a kernel thread's identity is not its carrier). */
    private static Thread carrierNow() {
        return Cpu.current().carrier;
    }

    private static void stop(final Scheduler... kernels) {
        for (final Scheduler s : kernels) {
            s.setHaltWait(null);
            assertTrue(s.stop(Duration.ofSeconds(20)), "kernel " + s.name() + " stops");
        }
    }

    @ParameterizedTest
    @EnumSource(DirectedYield.When.class)
    void shouldRunTheWokenKernelsThreadOnTheWakersCarrierWithoutWakingItsOwn(final DirectedYield.When when) {
        // a delay no switch ever waits for: every deferral is served by the waker's carrier (at its next switch,
        // or, IDLE, when its vCPU goes idle: here the same moment, the waking thread blocks right after)
        final DirectedYield yield = new DirectedYield(when, Duration.ofSeconds(30));
        final Scheduler a = start(1, yield);
        final Scheduler b = start(1, yield);
        final int rounds = 2000;
        final Semaphore toB = new Semaphore(0);
        final Semaphore toA = new Semaphore(0);
        final AtomicReference<Thread> aCarrier = new AtomicReference<>();
        final AtomicInteger onACarrier = new AtomicInteger();
        try {
            final KThread server = b.spawn("b-server", () -> {
                for (int i = 0; i < rounds; i++) {
                    toB.acquire();
                    if (carrierNow() == aCarrier.get()) {
                        onACarrier.incrementAndGet();
                    }
                    toA.post();
                }
            });
            SchedTestSupport.await("b's thread blocked and its vCPU parked in the yield",
                () -> server.state() == ThreadState.WAITING && b.cpus[0].lendState() == Cpu.LEND_PARKED);
            final long bWakeups = b.directedYields().carrierWakeups();
            final KThread client = a.spawn("a-client", () -> {
                aCarrier.set(carrierNow());
                for (int i = 0; i < rounds; i++) {
                    toB.post(); // wakes b's thread: b's vCPU is parked, so a defers it and runs it at its switch
                    toA.acquire();
                }
            });
            SchedTestSupport.join(client);
            SchedTestSupport.join(server);
            assertNotNull(aCarrier.get());
            final DirectedYield.Stats bStats = b.directedYields();
            final DirectedYield.Stats aStats = a.directedYields();
            // Each kernel's loop runs on whichever carrier is awake: a's while a's carrier lends itself to b, and
            // b's if b's carrier came back on its own (its mailbox turn every 20 ms) and then lent itself to a.
            // Either way a round needs no host wake-up: a parked carrier is woken only by a wakeup nobody can
            // defer (the test thread starting a's thread), a few times at most however long the run takes.
            final long wakeups = bStats.carrierWakeups() - bWakeups + aStats.carrierWakeups();
            assertTrue(wakeups <= 8, wakeups + " wake-ups of parked carriers in " + rounds + " rounds (b " + bStats
                + ", a " + aStats + ")");
            assertTrue(aStats.lentRuns() + bStats.lentRuns() >= rounds / 2, "the kernels ran on each other's carriers: "
                + onACarrier.get() + " of b's rounds on a's (b " + bStats + ", a " + aStats + ")");
            assertEquals(0, aStats.expired(), "none waited past the delay");
        } finally {
            stop(a, b);
        }
    }

    @Test
    void shouldLoseNoWakeupWhenThreadsOfTwoKernelsWithTwoVcpusEachWakeEachOtherFromEverySide() {
        final DirectedYield yield = new DirectedYield(DirectedYield.When.SWITCH, Duration.ofNanos(20_000));
        final Scheduler a = start(2, yield);
        final Scheduler b = start(2, yield);
        final int pairs = 4;
        final int rounds = 3000;
        final List<KThread> threads = new ArrayList<>();
        final AtomicInteger done = new AtomicInteger();
        try {
            for (int p = 0; p < pairs; p++) {
                final Semaphore ping = new Semaphore(0);
                final Semaphore pong = new Semaphore(0);
                // pairs alternate which kernel starts, so wakeups cross both ways and within each kernel's vCPUs
                final Scheduler first = p % 2 == 0 ? a : b;
                final Scheduler second = p % 2 == 0 ? b : a;
                threads.add(second.spawn("pong-" + p, () -> {
                    for (int i = 0; i < rounds; i++) {
                        ping.acquire();
                        pong.post();
                    }
                    done.incrementAndGet();
                }));
                threads.add(first.spawn("ping-" + p, () -> {
                    for (int i = 0; i < rounds; i++) {
                        ping.post();
                        pong.acquire();
                        if ((i & 255) == 0) {
                            KThread.yield();
                        }
                    }
                    done.incrementAndGet();
                }));
            }
            for (final KThread t : threads) {
                SchedTestSupport.join(t);
            }
            assertEquals(2 * pairs, done.get());
            final DirectedYield.Stats s = a.directedYields();
            final DirectedYield.Stats t = b.directedYields();
            assertTrue(s.lentRuns() + t.lentRuns() > 0, "the vCPUs lent their carriers (" + s + ", " + t + ")");
        } finally {
            stop(a, b);
        }
    }

    @Test
    void shouldServeTheWokenVcpuWhileItsWakerRunsOnWithoutASwitch() {
        final DirectedYield yield = new DirectedYield(DirectedYield.When.SWITCH, Duration.ofMillis(1));
        final Scheduler a = start(1, yield);
        final Scheduler b = start(1, yield);
        final Semaphore toB = new Semaphore(0);
        final AtomicBoolean served = new AtomicBoolean();
        final AtomicBoolean spinning = new AtomicBoolean();
        try {
            final KThread server = b.spawn("b-server", () -> {
                toB.acquire();
                served.set(true);
            });
            SchedTestSupport.await("b's vCPU parked in the yield",
                () -> server.state() == ThreadState.WAITING && b.cpus[0].lendState() == Cpu.LEND_PARKED);
            final AtomicBoolean sawServedWhileSpinning = new AtomicBoolean();
            final KThread client = a.spawn("a-spinner", () -> {
                toB.post(); // deferred to a's next switch, which this thread does not reach until b has run
                spinning.set(true);
                while (!served.get()) {
                    Thread.onSpinWait();
                }
                sawServedWhileSpinning.set(true);
            });
            SchedTestSupport.join(client);
            SchedTestSupport.join(server);
            assertTrue(spinning.get());
            // served by the yield's watchdog past the delay, or by b's carrier's next mailbox turn
            assertTrue(sawServedWhileSpinning.get(), "b's thread ran while a's thread held a's only vCPU");
        } finally {
            stop(a, b);
        }
    }

    @Test
    void shouldStopAKernelWhoseVcpuRunsOnAnotherKernelsCarrier() {
        final DirectedYield yield = new DirectedYield(DirectedYield.When.SWITCH, Duration.ofMillis(10));
        final Scheduler a = start(1, yield);
        final Scheduler b = start(1, yield);
        final Semaphore toB = new Semaphore(0);
        final Semaphore toA = new Semaphore(0);
        final AtomicInteger rounds = new AtomicInteger();
        final AtomicBoolean quit = new AtomicBoolean();
        b.spawn("b-server", () -> {
            while (true) {
                toB.acquire();
                toA.post();
            }
        });
        final KThread client = a.spawn("a-client", () -> {
            while (!quit.get()) {
                toB.post();
                toA.acquire();
                rounds.incrementAndGet();
            }
        });
        SchedTestSupport.await("the kernels ping-pong", () -> rounds.get() > 2000);
        // b stops in the middle: its vCPU is parked, lent to a, or on its own carrier at any moment
        b.setHaltWait(null);
        assertTrue(b.stop(Duration.ofSeconds(20)), "b stops though a's carrier may be running it");
        quit.set(true);
        toA.post(); // a's thread may wait for an answer b will never send
        SchedTestSupport.join(client);
        a.setHaltWait(null);
        assertTrue(a.stop(Duration.ofSeconds(20)), "a stops");
        assertEquals(0, yield.members(), "stopped vCPUs leave the yield");
    }
}
