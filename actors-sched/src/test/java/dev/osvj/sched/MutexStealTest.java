package dev.osvj.sched;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shared-mode mutex's release-and-compete protocol (see {@link Mutex}): an unlock with waiters
 * frees the mutex and wakes the oldest waiter to compete, so a woken waiter that cannot run yet (its
 * vCPU busy, as a vCPU the hypervisor descheduled) does not own it and a running locker may take it;
 * a waiter that has waited {@link Mutex#HANDOFF_AFTER_NS} and loses again gets the next release handed
 * over. The waiter's vCPU is kept busy by a real-time thread (the lock boost never preempts one) and
 * the kernel clock is a {@link ManualClock}, so what happens depends on the protocol, not on timing.
 * The mutex is shared from the start (first locked by the test's host thread), which is also the
 * holder and the stealer.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MutexStealTest {
    private final ActorTestKit kit = ActorTestKit.create("mutex-steal-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    /** A real-time thread pinned to {@code cpu} that keeps it from fair threads until {@code release}. */
    private static KThread occupy(final Scheduler s, final int cpu, final AtomicBoolean release) {
        final AtomicBoolean running = new AtomicBoolean();
        final KThread t = s.spawn(ThreadAttr.named("rt-occupier").pinnedTo(cpu).withRealtimePriority(1), () -> {
            running.set(true);
            while (!release.get()) {
                Thread.onSpinWait();
                KThread.preemptionPoint();
            }
        });
        SchedTestSupport.await("the real-time occupier runs", running::get);
        return t;
    }

    /** A waiter on vCPU 1: lock() then record whether it owned the mutex and whether {@code after} held. */
    private static KThread waiter(final Scheduler s, final Mutex mutex, final AtomicBoolean after,
                                  final AtomicInteger result) {
        final KThread w = s.spawn(ThreadAttr.named("waiter").pinnedTo(1), () -> {
            mutex.lock();
            result.set((mutex.isOwnedByCurrent() ? 1 : 0) | (after.get() ? 2 : 0));
            mutex.unlock();
        });
        SchedTestSupport.await("the waiter blocks in lock()", () -> w.state() == ThreadState.SENDING_LOCK);
        return w;
    }

    /**
     * The common start: the test thread holds {@code mutex}, a waiter on vCPU 1 blocks, a real-time
     * occupier keeps vCPU 1 until {@code occupierRelease}, the test thread unlocks (the waiter is woken
     * but cannot run) and takes the mutex again (a steal). Returns the waiter and the occupier.
     */
    private static KThread[] stealFromAWokenWaiter(final Scheduler s, final Mutex mutex,
                                                   final AtomicBoolean occupierRelease,
                                                   final AtomicBoolean waiterAfter, final AtomicInteger result) {
        mutex.lock();
        final KThread w = waiter(s, mutex, waiterAfter, result);
        final KThread occupier = occupy(s, 1, occupierRelease);
        mutex.unlock();
        SchedTestSupport.await("the waiter is woken", () -> w.state() != ThreadState.SENDING_LOCK);
        assertNotEquals(ThreadState.RUNNING, w.state(), "the waiter cannot run yet");
        assertFalse(mutex.isLocked(), "the woken waiter does not own the mutex before it runs");
        assertNull(mutex.holder());
        assertTrue(mutex.tryLock(), "a running locker takes the mutex released to the sleeping waiter");
        return new KThread[] {w, occupier};
    }

    @Test
    void shouldReleaseToAWokenWaiterThatCannotRunAndLetARunningLockerTakeIt() {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2), new ManualClock());
        final AtomicBoolean released = new AtomicBoolean();
        try {
            final Mutex mutex = new Mutex();
            final AtomicInteger result = new AtomicInteger();
            final KThread[] wo = stealFromAWokenWaiter(s, mutex, released, released, result);
            final KThread w = wo[0];
            // The waiter runs now and finds the mutex taken: not starved (the clock stands still), it
            // queues again instead of asking for a hand-off.
            released.set(true);
            SchedTestSupport.join(wo[1]);
            SchedTestSupport.await("the waiter queues again",
                () -> w.state() == ThreadState.SENDING_LOCK && mutex.hasQueuedWaiters());
            assertNull(mutex.starvedWaiter(), "a waiter that waited less than the bound asks for no hand-off");
            mutex.unlock();
            SchedTestSupport.join(w);
            assertEquals(3, result.get(), "the waiter owned the mutex when lock() returned, after it could run");
            assertEquals(0, mutex.handOffs);
            assertFalse(mutex.isLocked());
        } finally {
            released.set(true);
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldHandTheMutexToAWaiterStarvedPastTheBound() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2), clock);
        final AtomicBoolean firstRelease = new AtomicBoolean();
        final AtomicBoolean secondRelease = new AtomicBoolean();
        try {
            final Mutex mutex = new Mutex();
            final AtomicInteger result = new AtomicInteger();
            final KThread[] wo = stealFromAWokenWaiter(s, mutex, firstRelease, secondRelease, result);
            final KThread w = wo[0];

            // The waiter has now waited the bound; when it runs it loses again and asks for a hand-off.
            clock.advance(Mutex.HANDOFF_AFTER_NS);
            firstRelease.set(true);
            SchedTestSupport.join(wo[1]);
            SchedTestSupport.await("the waiter waits for a hand-off", () -> mutex.starvedWaiter() == w);
            final KThread second = occupy(s, 1, secondRelease);

            mutex.unlock();
            assertSame(w, mutex.holder(), "the release handed the mutex to the starved waiter");
            assertFalse(mutex.tryLock(), "a handed-over mutex is never free for a stealer");
            assertEquals(1, mutex.handOffs);
            assertNull(mutex.starvedWaiter());
            secondRelease.set(true);
            SchedTestSupport.join(second);
            SchedTestSupport.join(w);
            assertEquals(3, result.get(), "the waiter owned the mutex when lock() returned");
            assertFalse(mutex.isLocked());
        } finally {
            firstRelease.set(true);
            secondRelease.set(true);
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * Stealing, competing wakeups, starvation hand-offs (the virtual clock jumps past the bound
     * inside critical sections, some of them held across a switch) and tryLock together, from kernel
     * threads on both vCPUs and host threads: the counter is exact, no two holders overlap, and every
     * locker finishes (no wakeup lost).
     */
    @Test
    void shouldKeepACounterExactWithStealingAndHandOffs() throws Exception {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2), clock);
        try {
            final Mutex mutex = new Mutex();
            mutex.lock();
            mutex.unlock();
            final AtomicInteger inside = new AtomicInteger();
            final AtomicBoolean overlap = new AtomicBoolean();
            final long[] counter = {0};
            final int increments = 3_000;
            final Runnable body = () -> {
                for (int j = 0; j < increments; j++) {
                    if ((j & 3) != 0 || !mutex.tryLock()) {
                        mutex.lock();
                    }
                    if (inside.incrementAndGet() != 1) {
                        overlap.set(true);
                    }
                    counter[0]++;
                    if ((j & 15) == 0) {
                        clock.advance(Mutex.HANDOFF_AFTER_NS / 2);
                        if (KThread.current() != null) {
                            KThread.yield();
                        }
                    }
                    inside.decrementAndGet();
                    mutex.unlock();
                }
            };
            final List<KThread> ts = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                ts.add(s.spawn(ThreadAttr.named("locker" + i).pinnedTo(i % 2), body));
            }
            final List<Thread> hosts = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                final Thread h = new Thread(body, "host-locker" + i);
                h.setDaemon(true);
                h.start();
                hosts.add(h);
            }
            ts.forEach(SchedTestSupport::join);
            for (final Thread h : hosts) {
                h.join(SchedTestSupport.TIMEOUT.toMillis());
                assertFalse(h.isAlive(), "the host locker finished");
            }
            assertFalse(overlap.get(), "two holders at once");
            mutex.lock();
            assertEquals(8L * increments, counter[0], "hand-offs: " + mutex.handOffs);
            mutex.unlock();
            assertFalse(mutex.isLocked());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
