package dev.osvj.sched;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * OSv's fair policy measured exactly: CPU-bound threads burn virtual time on a {@link ManualClock}
 * (advance, then a preemption point), so the accounted runtimes do not depend on the host's load.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FairnessTest {
    /** Virtual time a hog burns between two preemption points. */
    private static final long STEP = 50_000;
    /** Virtual length of a run: long against tau (200 ms) and the 10 ms slices. */
    private static final long RUN = 20_000_000_000L;

    private final ActorTestKit kit = ActorTestKit.create("fairness-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    private static Runnable hog(final ManualClock clock, final long end) {
        return () -> {
            while (clock.monotonicNanos() < end) {
                clock.advance(STEP);
                KThread.preemptionPoint();
            }
        };
    }

    private double[] shares(final double... priorities) {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long end = clock.monotonicNanos() + RUN;
            final List<KThread> hogs = new ArrayList<>();
            for (int i = 0; i < priorities.length; i++) {
                hogs.add(s.newThread(ThreadAttr.named("hog" + i).withPriority(priorities[i]), hog(clock, end)));
            }
            SchedTestSupport.startTogether(s, hogs);
            hogs.forEach(SchedTestSupport::join);
            double total = 0;
            for (final KThread t : hogs) {
                total += t.cpuTimeNanos();
            }
            final double[] out = new double[hogs.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = hogs.get(i).cpuTimeNanos() / total;
            }
            return out;
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    private static void assertShares(final double[] shares, final double[] expected) {
        for (int i = 0; i < shares.length; i++) {
            final double error = Math.abs(shares[i] - expected[i]) / expected[i];
            assertTrue(error <= 0.05, "thread " + i + " got " + shares[i] + ", expected " + expected[i]
                + " (error " + error + ")");
        }
    }

    @Test
    void shouldShareOneVcpuEquallyBetweenTwoHogs() {
        assertShares(shares(1, 1), new double[] {0.5, 0.5});
    }

    @Test
    void shouldShareOneVcpuEquallyBetweenFourHogs() {
        assertShares(shares(1, 1, 1, 1), new double[] {0.25, 0.25, 0.25, 0.25});
    }

    @Test
    void shouldGivePriorityOneTwiceTheShareOfPriorityTwo() {
        assertShares(shares(1, 2), new double[] {2.0 / 3, 1.0 / 3});
    }

    private double[] sharesOf(final ManualClock clock, final Scheduler s, final List<KThread> hogs) {
        SchedTestSupport.startTogether(s, hogs);
        hogs.forEach(SchedTestSupport::join);
        final double total = hogs.get(0).cpuTimeNanos() + hogs.get(1).cpuTimeNanos();
        return new double[] {hogs.get(0).cpuTimeNanos() / total, hogs.get(1).cpuTimeNanos() / total};
    }

    @Test
    void shouldShareByTheNewPriorityAfterAThreadChangesItsOwn() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long end = clock.monotonicNanos() + RUN;
            final Runnable hog = hog(clock, end);
            final KThread a = s.newThread(ThreadAttr.named("a"), hog);
            final KThread b = s.newThread(ThreadAttr.named("b"), () -> {
                KThread.current().setPriority(2);
                hog.run();
            });
            assertShares(sharesOf(clock, s, List.of(a, b)), new double[] {2.0 / 3, 1.0 / 3});
            assertEquals(2.0, b.priority());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldApplyAPriorityChangeFromAnotherThreadAtTheNextSwitchIn() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long end = clock.monotonicNanos() + RUN;
            final KThread a = s.newThread(ThreadAttr.named("a").withPriority(2), hog(clock, end));
            final KThread b = s.newThread(ThreadAttr.named("b").withPriority(2), hog(clock, end));
            a.setPriority(1);
            assertThrows(IllegalArgumentException.class, () -> b.setPriority(0));
            assertShares(sharesOf(clock, s, List.of(a, b)), new double[] {2.0 / 3, 1.0 / 3});
            assertEquals(1.0, a.priority());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldStayFairWhileControlRequestsInterruptTheVcpu() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long end = clock.monotonicNanos() + RUN;
            // Hogs that also raise balancer periods (control interrupt + mailbox turn), often in the
            // same step in which their preemption deadline passes.
            final Runnable hog = () -> {
                long i = 0;
                while (clock.monotonicNanos() < end) {
                    clock.advance(STEP);
                    if (++i % 7 == 0) {
                        s.cpus[0].balancePeriodElapsed();
                    }
                    KThread.preemptionPoint();
                }
            };
            final List<KThread> hogs = List.of(s.newThread(ThreadAttr.named("a"), hog), s.newThread(ThreadAttr.named("b"), hog));
            SchedTestSupport.startTogether(s, hogs);
            hogs.forEach(SchedTestSupport::join);
            final double total = hogs.get(0).cpuTimeNanos() + hogs.get(1).cpuTimeNanos();
            assertShares(new double[] {hogs.get(0).cpuTimeNanos() / total, hogs.get(1).cpuTimeNanos() / total},
                new double[] {0.5, 0.5});
            assertTrue(s.cpus[0].balanceTicks > 0, "no control request reached the mailbox");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldGiveAWokenSleeperTheCpuWithinOneSlice() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long end = clock.monotonicNanos() + 5_000_000_000L;
            final AtomicLong worst = new AtomicLong();
            final AtomicLong wakeups = new AtomicLong();
            final KThread hog = s.newThread(ThreadAttr.named("hog"), hog(clock, end));
            final KThread sleeper = s.newThread(ThreadAttr.named("sleeper"), () -> {
                final Timer timer = new Timer();
                while (clock.monotonicNanos() < end - 200_000_000L) {
                    final long deadline = clock.monotonicNanos() + 50_000_000L;
                    timer.set(deadline);
                    KThread.waitUntil(timer::expired);
                    worst.accumulateAndGet(clock.monotonicNanos() - deadline, Math::max);
                    wakeups.incrementAndGet();
                    clock.advance(1_000_000); // a little work after each wakeup
                }
            });
            SchedTestSupport.startTogether(s, List.of(hog, sleeper));
            SchedTestSupport.join(sleeper);
            SchedTestSupport.join(hog);
            assertTrue(wakeups.get() >= 50, "sleeper woke " + wakeups.get() + " times, worst latency " + worst.get());
            // One slice: two equal threads alternate every 2 * thyst.
            assertTrue(worst.get() <= 2 * Policy.THYST_NS, "worst wakeup latency " + worst.get() + " ns");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldLetAThreadWokenByTheRunningOnePreemptItAtItsNextPreemptionPoint() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long end = clock.monotonicNanos() + 3_000_000_000L;
            final Semaphore kick = new Semaphore(0);
            final AtomicLong postedAt = new AtomicLong();
            final AtomicLong worst = new AtomicLong();
            final AtomicLong wakeups = new AtomicLong();
            final AtomicLong stop = new AtomicLong();
            // The hog wakes the waiter itself (a local wakeup, no IPI, no timer) every 50 ms of
            // virtual time; the waiter has slept, so its R'' is lower and it must get the vCPU at
            // the hog's next preemption point, one STEP later, not at the end of a slice.
            final KThread hog = s.newThread(ThreadAttr.named("hog"), () -> {
                long next = clock.monotonicNanos() + 50_000_000L;
                while (clock.monotonicNanos() < end) {
                    clock.advance(STEP);
                    if (clock.monotonicNanos() >= next) {
                        next += 50_000_000L;
                        postedAt.set(clock.monotonicNanos());
                        kick.post();
                    }
                    KThread.preemptionPoint();
                }
                stop.set(1);
                kick.post();
            });
            final KThread waiter = s.newThread(ThreadAttr.named("waiter"), () -> {
                while (true) {
                    kick.acquire();
                    if (stop.get() != 0) {
                        return;
                    }
                    worst.accumulateAndGet(clock.monotonicNanos() - postedAt.get(), Math::max);
                    wakeups.incrementAndGet();
                }
            });
            SchedTestSupport.startTogether(s, List.of(hog, waiter));
            SchedTestSupport.join(hog);
            SchedTestSupport.join(waiter);
            assertTrue(wakeups.get() >= 50, "waiter woke " + wakeups.get() + " times");
            assertTrue(worst.get() <= STEP, "worst latency " + worst.get() + " ns of virtual time");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * The other side of a local wakeup: the woken thread has the higher R'' (it burned time before it
     * slept), so the waker keeps the vCPU, and the preemption deadline for when the waker's R'' reaches
     * the woken thread's is computed only at the waker's next preemption point (it is deferred at the
     * wakeup, see {@code Cpu.deadlinePending}). The woken thread must still get the vCPU then: not at
     * once, and not only when the waker ends.
     */
    @Test
    void shouldPreemptAWakerThatKeepsRunningWhenItsRuntimeReachesTheWokenThreads() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final Semaphore kick = new Semaphore(0);
            final AtomicLong ready = new AtomicLong();
            final AtomicLong postedAt = new AtomicLong();
            final AtomicLong ranAt = new AtomicLong();
            final KThread waiter = s.spawn("burned-then-waits", () -> {
                final long until = clock.monotonicNanos() + 20_000_000L;
                while (clock.monotonicNanos() < until) {
                    clock.advance(STEP);
                    KThread.preemptionPoint();
                }
                ready.set(1);
                kick.acquire();
                ranAt.set(clock.monotonicNanos());
            });
            SchedTestSupport.await("waiter burned its time and sleeps", () -> ready.get() == 1
                && waiter.state() == ThreadState.WAITING);
            final long limit = 1_000_000_000L;
            final KThread waker = s.spawn("waker", () -> {
                postedAt.set(clock.monotonicNanos());
                kick.post();
                final long end = clock.monotonicNanos() + limit;
                while (ranAt.get() == 0 && clock.monotonicNanos() < end) {
                    clock.advance(STEP);
                    KThread.preemptionPoint();
                }
            });
            SchedTestSupport.join(waker);
            SchedTestSupport.join(waiter);
            final long latency = ranAt.get() - postedAt.get();
            // 20 ms of decayed runtime plus the two hysteresis credits: about 29 ms of the waker's.
            assertTrue(latency >= 10_000_000L && latency <= 60_000_000L,
                "the woken thread ran " + latency + " ns of virtual time after the wakeup");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldPreemptEqualHogsEveryTwoThystAtMost() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long end = clock.monotonicNanos() + 2_000_000_000L;
            final KThread a = s.newThread(ThreadAttr.named("a"), hog(clock, end));
            final KThread b = s.newThread(ThreadAttr.named("b"), hog(clock, end));
            SchedTestSupport.startTogether(s, List.of(a, b));
            SchedTestSupport.join(a);
            SchedTestSupport.join(b);
            final long switches = a.switches() + b.switches();
            // 2 s of alternation with slices of ~2 * thyst = 10 ms: about 200 switches, and never
            // more than one preemption per thyst.
            assertTrue(switches >= 100 && switches <= 2_000_000_000L / Policy.THYST_NS + 10,
                "switches " + switches);
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * Real-time round-robin ({@link ThreadAttr#withRealtimeSlice}): two CPU-bound threads of the same
     * real-time priority with a 1 ms slice take turns every slice and share the vCPU equally, while
     * under FIFO the first one keeps the vCPU until it ends. A fair thread gets nothing meanwhile.
     */
    @Test
    void shouldTakeTurnsEverySliceAmongEqualRoundRobinThreads() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long run = 200_000_000L;
            final long slice = 1_000_000L;
            final long end = clock.monotonicNanos() + run;
            final ThreadAttr rr = ThreadAttr.named("rr").withRealtimePriority(5)
                .withRealtimeSlice(Duration.ofNanos(slice));
            final KThread a = s.newThread(rr, hog(clock, end));
            final KThread b = s.newThread(rr, hog(clock, end));
            final KThread fair = s.newThread(ThreadAttr.named("fair"), hog(clock, end));
            SchedTestSupport.startTogether(s, List.of(a, b, fair));
            List.of(a, b, fair).forEach(SchedTestSupport::join);
            final double total = a.cpuTimeNanos() + b.cpuTimeNanos();
            assertShares(new double[] {a.cpuTimeNanos() / total, b.cpuTimeNanos() / total}, new double[] {0.5, 0.5});
            // About one switch per slice each (run / slice in all); never finer than the slice.
            final long turns = a.switches() + b.switches();
            assertTrue(turns >= run / slice / 2 && turns <= run / slice + 4, "turns " + turns);
            assertEquals(0, fair.cpuTimeNanos(), "a fair thread runs only when no real-time thread can");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldNotTimeSliceFifoRealtimeThreads() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long end = clock.monotonicNanos() + 50_000_000L;
            final ThreadAttr fifo = ThreadAttr.named("fifo").withRealtimePriority(5);
            final KThread a = s.newThread(fifo, hog(clock, end));
            final KThread b = s.newThread(fifo, hog(clock, end));
            SchedTestSupport.startTogether(s, List.of(a, b));
            List.of(a, b).forEach(SchedTestSupport::join);
            assertEquals(1, a.switches(), "the first FIFO thread ran to its end in one go");
            assertEquals(0, a.preemptions());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
