package dev.osvj.sched;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The mutex's lock boost (see {@link Mutex}, {@link KThread#lockBoost}), on a {@link ManualClock}: a
 * holder on vCPU 0 releases the mutex to a waiter on vCPU 1 (a shared-mode release wakes the waiter
 * to compete; nobody else wants the mutex here, so the waiter takes it when it runs) while vCPU 1 runs
 * a CPU-bound thread of equal runtime. The hog burns virtual time only after the hand-off (the clock is frozen until then),
 * so the virtual delay between the unlock and the waiter's return from {@code lock()} depends on the
 * policy alone, not on the host's load: without the boost the fair policy keeps the hog until its R''
 * is ahead by the hysteresis (thyst, 5 ms); with it the waiter runs at the hog's next preemption point.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LockBoostTest {
    /** Virtual time the hog burns between two preemption points. */
    private static final long STEP = 50_000;
    /** How long the hog burns after the hand-off (virtual). */
    private static final long HOG_RUN = 20_000_000;

    private final ActorTestKit kit = ActorTestKit.create("lock-boost-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    /** Virtual times of one hand-off: the unlock, the waiter's return from lock(), the hog's end. */
    private record HandOff(long unlocked, long acquired, long hogEnded, long boosts) {
        long delay() {
            return acquired - unlocked;
        }
    }

    /** Spin at preemption points until {@code condition} holds (a generous host-time bound). */
    private static void spinUntil(final String what, final BooleanSupplier condition) {
        final long deadline = System.nanoTime() + SchedTestSupport.TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.onSpinWait();
            KThread.preemptionPoint();
        }
    }

    private HandOff handOff(final ThreadAttr hogAttr) {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2), clock);
        try {
            final long start = clock.monotonicNanos();
            final Mutex mutex = new Mutex();
            final long[] times = new long[3];
            // 0: the holder holds the mutex, 1: the hog spins with the clock frozen, 2: the clock thaws.
            final AtomicIntegerArray flags = new AtomicIntegerArray(3);
            final AtomicReference<KThread> waiter = new AtomicReference<>();
            final KThread holder = s.spawn(ThreadAttr.named("holder").pinnedTo(0), () -> {
                mutex.lock();
                flags.set(0, 1);
                spinUntil("waiter and hog", () -> waiter.get() != null
                    && waiter.get().state() == ThreadState.SENDING_LOCK && flags.get(1) == 1);
                times[0] = clock.monotonicNanos();
                mutex.unlock();
                flags.set(2, 1);
            });
            SchedTestSupport.await("holder holds the mutex", () -> flags.get(0) == 1);
            final KThread w = s.spawn(ThreadAttr.named("waiter").pinnedTo(1), () -> {
                mutex.lock();
                times[1] = clock.monotonicNanos();
                mutex.unlock();
            });
            SchedTestSupport.await("waiter blocked", () -> w.state() == ThreadState.SENDING_LOCK);
            waiter.set(w);
            final KThread hog = s.spawn(hogAttr.pinnedTo(1), () -> {
                while (clock.monotonicNanos() < start + HOG_RUN) {
                    if (flags.get(2) == 1) {
                        clock.advance(STEP);
                    } else {
                        flags.set(1, 1);
                        Thread.onSpinWait();
                    }
                    KThread.preemptionPoint();
                }
                times[2] = clock.monotonicNanos();
            });
            SchedTestSupport.join(holder);
            SchedTestSupport.join(w);
            SchedTestSupport.join(hog);
            return new HandOff(times[0], times[1], times[2], s.cpus[1].stats().lockBoosts());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldGiveTheCpuToTheNewOwnerAtTheHandOffNotAfterThyst() {
        final HandOff h = handOff(ThreadAttr.named("hog"));
        assertTrue(h.delay() <= 2 * STEP, "the waiter got the mutex " + h.delay()
            + " ns (virtual) after the unlock; thyst is " + Policy.THYST_NS + " ns");
        assertEquals(1, h.boosts(), "preemptions by the lock boost alone on vCPU 1");
    }

    @Test
    void shouldNeverPreemptARealtimeThreadForABoostedOwner() {
        final HandOff h = handOff(ThreadAttr.named("rt-hog").withRealtimePriority(1));
        assertTrue(h.acquired() >= h.hogEnded(), "the waiter ran at " + h.acquired()
            + " ns, before the real-time hog ended at " + h.hogEnded() + " ns");
        assertEquals(0, h.boosts(), "preemptions by the lock boost alone on vCPU 1");
    }

    /**
     * The local hand-off: holder and waiter share one vCPU, and the holder, after the unlock, is the
     * CPU-bound thread of equal runtime (both ran no virtual time before it). Returns the virtual delay
     * from the unlock to the waiter's return from {@code lock()}. A mutex first used by a host thread
     * (the test thread) is shared from the start; otherwise it is bound to the vCPU.
     */
    private long[] localHandOff(final boolean shared) {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long start = clock.monotonicNanos();
            final Mutex mutex = new Mutex();
            if (shared) {
                mutex.lock();
                mutex.unlock();
            }
            final long[] times = new long[2];
            final AtomicReference<KThread> waiter = new AtomicReference<>();
            final KThread holder = s.newThread(ThreadAttr.named("holder"), () -> {
                mutex.lock();
                // The waiter is queued behind us: let it run into the contended lock().
                while (waiter.get().state() != ThreadState.SENDING_LOCK) {
                    KThread.yield();
                }
                times[0] = clock.monotonicNanos();
                mutex.unlock();
                while (clock.monotonicNanos() < start + HOG_RUN) {
                    clock.advance(STEP);
                    KThread.preemptionPoint();
                }
            });
            final KThread w = s.newThread(ThreadAttr.named("waiter"), () -> {
                mutex.lock();
                times[1] = clock.monotonicNanos();
                mutex.unlock();
            });
            waiter.set(w);
            SchedTestSupport.startTogether(s, java.util.List.of(holder, w));
            SchedTestSupport.join(holder);
            SchedTestSupport.join(w);
            assertEquals(!shared, mutex.perVcpuMode());
            return new long[] {times[1] - times[0], s.cpus[0].stats().lockBoosts()};
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldRunTheNewOwnerOfASharedMutexAtTheUnlockersNextPreemptionPoint() {
        final long[] h = localHandOff(true);
        assertTrue(h[0] <= STEP, "the waiter got the mutex " + h[0]
            + " ns (virtual) after the unlock; thyst is " + Policy.THYST_NS + " ns");
        assertEquals(1, h[1], "preemptions by the lock boost alone");
    }

    /**
     * A mutex bound to one vCPU has no contender elsewhere, so its hand-over does not boost (the
     * colocated condvar ping-pong keeps blocking instead of being preempted): the fair policy decides.
     */
    @Test
    void shouldNotBoostAHandOffOfAMutexBoundToTheVcpu() {
        final long[] h = localHandOff(false);
        assertTrue(h[0] > 2 * STEP, "the waiter got the mutex " + h[0] + " ns (virtual) after the unlock");
        assertEquals(0, h[1], "preemptions by the lock boost alone");
    }

    /**
     * The boost changes who runs first, not what anyone pays: two threads on one vCPU that hand a
     * mutex back and forth all the time (each hand-off boosts the other) still share the vCPU
     * equally within 5%, since R'' accounting is unchanged.
     */
    @Test
    void shouldKeepEqualSharesWhenTwoThreadsHandAMutexBackAndForth() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long end = clock.monotonicNanos() + 2_000_000_000L;
            final Mutex mutex = new Mutex();
            final Runnable body = () -> {
                while (clock.monotonicNanos() < end) {
                    mutex.lock();
                    clock.advance(STEP);
                    KThread.preemptionPoint();
                    mutex.unlock();
                    clock.advance(STEP);
                    KThread.preemptionPoint();
                }
            };
            final KThread a = s.newThread(ThreadAttr.named("a"), body);
            final KThread b = s.newThread(ThreadAttr.named("b"), body);
            SchedTestSupport.startTogether(s, java.util.List.of(a, b));
            SchedTestSupport.join(a);
            SchedTestSupport.join(b);
            final double share = (double)a.cpuTimeNanos() / (a.cpuTimeNanos() + b.cpuTimeNanos());
            assertTrue(Math.abs(share - 0.5) / 0.5 <= 0.05, "a got " + share + " of the vCPU");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
