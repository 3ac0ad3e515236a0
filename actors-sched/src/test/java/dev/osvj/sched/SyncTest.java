package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** OSv's synchronisation primitives on kernel threads (and host threads) across vCPUs. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SyncTest {
    private final ActorTestKit kit = ActorTestKit.create("sync-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    private Scheduler start(final String arch) {
        return SchedTestSupport.start(kit, SchedConfig.defaults(2).withArch(arch), KernelClock.SYSTEM);
    }

    private static Thread hostThread(final Runnable body) {
        final Thread t = new Thread(body, "host-locker");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * A counter incremented under a mutex by many lockers, which also checks that no two of them hold
     * the mutex at once. {@link #increment} takes the mutex ({@code viaTryLock}: try {@code tryLock()}
     * first), counts, runs {@code whileHeld} still holding it, and releases.
     */
    private static final class GuardedCounter {
        final Mutex mutex = new Mutex();
        final AtomicInteger inside = new AtomicInteger();
        final AtomicBoolean overlap = new AtomicBoolean();
        long counter;

        void increment(final boolean viaTryLock, final Runnable whileHeld) {
            if (!viaTryLock || !mutex.tryLock()) {
                mutex.lock();
            }
            if (inside.incrementAndGet() != 1) {
                overlap.set(true);
            }
            counter++;
            whileHeld.run();
            inside.decrementAndGet();
            mutex.unlock();
        }

        /** A host thread doing {@code n} plain increments. */
        Thread hostLocker(final int n) {
            return hostThread(() -> {
                for (int j = 0; j < n; j++) {
                    increment(false, () -> { });
                }
            });
        }

        /** After every locker finished: no overlap, and exactly {@code expected} increments. */
        void assertExact(final long expected) {
            assertFalse(overlap.get(), "two holders at once");
            mutex.lock();
            assertEquals(expected, counter);
            mutex.unlock();
            assertFalse(mutex.isLocked());
        }
    }

    private static void joinHost(final Thread h) throws InterruptedException {
        h.join(SchedTestSupport.TIMEOUT.toMillis());
        assertFalse(h.isAlive(), "the host locker finished");
    }

    @ParameterizedTest
    @ValueSource(strings = {"continuation", "platform"})
    void shouldKeepACounterExactAcrossVcpus(final String arch) throws Exception {
        final Scheduler s = start(arch);
        try {
            final Mutex mutex = new Mutex();
            final int[] counter = {0};
            final int threads = 8;
            final int increments = "platform".equals(arch) ? 2_000 : 20_000;
            final List<KThread> ts = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                ts.add(s.spawn("inc" + i, () -> {
                    for (int j = 0; j < increments; j++) {
                        mutex.lock();
                        counter[0]++;
                        mutex.unlock();
                    }
                }));
            }
            final Thread host = hostThread(() -> {
                for (int j = 0; j < increments; j++) {
                    mutex.lock();
                    counter[0]++;
                    mutex.unlock();
                }
            });
            ts.forEach(SchedTestSupport::join);
            host.join(SchedTestSupport.TIMEOUT.toMillis());
            assertFalse(host.isAlive());
            mutex.lock();
            assertEquals((threads + 1) * increments, counter[0]);
            mutex.unlock();
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldHandTheLockOverUnderHeavyContention() throws Exception {
        final Scheduler s = start("continuation");
        try {
            final GuardedCounter g = new GuardedCounter();
            final int threads = 32;
            final int increments = 3_000;
            final List<KThread> ts = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                ts.add(s.spawn("contender" + i, () -> {
                    for (int j = 0; j < increments; j++) {
                        // Every 16th: hold the lock across a switch, so others must queue.
                        g.increment(false, (j & 15) == 0 ? KThread::yield : () -> { });
                    }
                }));
            }
            final List<Thread> hosts = List.of(g.hostLocker(increments), g.hostLocker(increments));
            ts.forEach(SchedTestSupport::join);
            for (final Thread h : hosts) {
                joinHost(h);
            }
            g.assertExact((long)(threads + 2) * increments);
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldTryLockAndRecurse() {
        final Scheduler s = start("continuation");
        try {
            final Mutex mutex = new Mutex();
            final AtomicBoolean held = new AtomicBoolean();
            final AtomicBoolean release = new AtomicBoolean();
            final KThread[] holder = new KThread[1];
            holder[0] = s.spawn("holder", () -> {
                mutex.lock();
                mutex.lock();
                assertTrue(mutex.tryLock());
                held.set(true);
                KThread.waitUntil(release::get);
                mutex.unlock();
                mutex.unlock();
                assertTrue(mutex.isOwnedByCurrent());
                mutex.unlock();
                assertFalse(mutex.isOwnedByCurrent());
            });
            SchedTestSupport.await("held", held::get);
            final AtomicBoolean tried = new AtomicBoolean(true);
            SchedTestSupport.join(s.spawn("trier", () -> tried.set(mutex.tryLock())));
            assertFalse(tried.get());
            assertThrows(IllegalMonitorStateException.class, mutex::unlock);
            release.set(true);
            holder[0].wake();
            SchedTestSupport.join(holder[0]);
            final AtomicBoolean taken = new AtomicBoolean();
            SchedTestSupport.join(s.spawn("taker", () -> {
                taken.set(mutex.tryLock());
                mutex.unlock();
            }));
            assertTrue(taken.get());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldLoseNoWakeupsInAProducerConsumerQueue() throws Exception {
        final Scheduler s = start("continuation");
        try {
            final Mutex mutex = new Mutex();
            final CondVar notEmpty = new CondVar();
            final CondVar notFull = new CondVar();
            final ArrayDeque<Long> queue = new ArrayDeque<>();
            final int capacity = 4;
            final int producers = 4;
            final int consumers = 4;
            final long perProducer = 5_000;
            final AtomicLong consumedSum = new AtomicLong();
            final AtomicLong consumedCount = new AtomicLong();
            final List<KThread> ts = new ArrayList<>();
            for (int p = 0; p < producers; p++) {
                final long base = p * perProducer;
                ts.add(s.spawn("producer" + p, () -> {
                    for (long i = 1; i <= perProducer; i++) {
                        mutex.lock();
                        while (queue.size() == capacity) {
                            notFull.await(mutex);
                        }
                        queue.add(base + i);
                        notEmpty.wakeOne();
                        mutex.unlock();
                    }
                }));
            }
            final long total = producers * perProducer;
            for (int c = 0; c < consumers; c++) {
                ts.add(s.spawn("consumer" + c, () -> {
                    while (true) {
                        mutex.lock();
                        while (queue.isEmpty() && consumedCount.get() < total) {
                            notEmpty.await(mutex);
                        }
                        if (queue.isEmpty()) {
                            mutex.unlock();
                            return;
                        }
                        final long v = queue.poll();
                        if (consumedCount.incrementAndGet() == total) {
                            notEmpty.wakeAll(); // release the other consumers
                        }
                        notFull.wakeOne();
                        mutex.unlock();
                        consumedSum.addAndGet(v);
                    }
                }));
            }
            ts.forEach(SchedTestSupport::join);
            assertEquals(total, consumedCount.get());
            assertEquals(total * (total + 1) / 2, consumedSum.get(), "checksum");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldTimeOutAConditionWaitHoldingTheMutex() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final Mutex mutex = new Mutex();
            final CondVar cv = new CondVar();
            final AtomicBoolean woken = new AtomicBoolean(true);
            final AtomicBoolean owned = new AtomicBoolean();
            final KThread t = s.spawn("timed-waiter", () -> {
                mutex.lock();
                woken.set(cv.await(mutex, 3_000_000));
                owned.set(mutex.isOwnedByCurrent());
                mutex.unlock();
            });
            SchedTestSupport.await("waiting", () -> t.state() == ThreadState.WAITING);
            clock.advance(5_000_000);
            SchedTestSupport.join(t);
            assertFalse(woken.get());
            assertTrue(owned.get());
            assertFalse(cv.hasWaiters());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldWakeWaitersThroughAWaitQueueOwningTheMutex() {
        final Scheduler s = start("continuation");
        try {
            final Mutex mutex = new Mutex();
            final WaitQueue wq = new WaitQueue();
            final boolean[] flag = {false};
            final AtomicInteger done = new AtomicInteger();
            final List<KThread> waiters = new ArrayList<>();
            final AtomicInteger waiting = new AtomicInteger();
            for (int i = 0; i < 6; i++) {
                waiters.add(s.spawn("wq" + i, () -> {
                    mutex.lock();
                    waiting.incrementAndGet();
                    while (!flag[0]) {
                        wq.await(mutex);
                    }
                    assertTrue(mutex.isOwnedByCurrent());
                    done.incrementAndGet();
                    mutex.unlock();
                }));
            }
            SchedTestSupport.await("all waiting", () -> waiting.get() == 6
                && waiters.stream().allMatch(w -> w.state() == ThreadState.WAITING));
            SchedTestSupport.join(s.spawn("waker", () -> {
                mutex.lock();
                flag[0] = true;
                wq.wakeAll(mutex);
                mutex.unlock();
            }));
            waiters.forEach(SchedTestSupport::join);
            assertEquals(6, done.get());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldCountSemaphoreUnits() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2), clock);
        try {
            final Semaphore sem = new Semaphore(2);
            final AtomicInteger got = new AtomicInteger();
            final AtomicBoolean timedOut = new AtomicBoolean();
            assertTrue(sem.tryAcquire(2));
            assertFalse(sem.tryAcquire(1));
            final KThread big = s.spawn("big", () -> {
                sem.acquire(3);
                got.addAndGet(3);
            });
            final KThread small = s.spawn("small", () -> {
                sem.acquire(1);
                got.addAndGet(1);
            });
            final KThread timed = s.spawn("timed", () -> timedOut.set(!sem.acquire(10, 1_000_000)));
            // Advance until the timed acquire gave up (it may still be queueing when time first moves).
            while (timed.state() != ThreadState.TERMINATED) {
                SchedTestSupport.await("timed waiter blocked or done", () -> timed.state() == ThreadState.WAITING
                    || timed.state() == ThreadState.TERMINATED);
                clock.advance(2_000_000);
            }
            SchedTestSupport.join(timed);
            SchedTestSupport.await("blocked", () -> big.state() == ThreadState.WAITING && small.state() == ThreadState.WAITING);
            assertTrue(timedOut.get());
            sem.post(1); // small fits, big does not: small must not wait behind big
            SchedTestSupport.join(small);
            assertEquals(1, got.get());
            sem.post(3);
            SchedTestSupport.join(big);
            assertEquals(4, got.get());
            assertEquals(0, sem.value());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldExcludeWritersFromReadersAndEachOther() {
        final Scheduler s = start("continuation");
        try {
            final RwLock rw = new RwLock();
            final long[] a = {0};
            final long[] b = {0};
            final AtomicBoolean torn = new AtomicBoolean();
            final List<KThread> ts = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                ts.add(s.spawn("writer" + i, () -> {
                    for (int j = 0; j < 2_000; j++) {
                        rw.writeLock();
                        a[0]++;
                        if ((j & 7) == 0) {
                            KThread.yield();
                        }
                        b[0]++;
                        rw.writeUnlock();
                    }
                }));
            }
            for (int i = 0; i < 5; i++) {
                ts.add(s.spawn("reader" + i, () -> {
                    for (int j = 0; j < 4_000; j++) {
                        rw.readLock();
                        if (a[0] != b[0]) {
                            torn.set(true);
                        }
                        rw.readUnlock();
                    }
                }));
            }
            ts.forEach(SchedTestSupport::join);
            assertFalse(torn.get(), "a reader saw a half-done write");
            assertEquals(6_000, a[0]);
            assertEquals(6_000, b[0]);
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * A kernel thread blocked in a contended lock() waits in SENDING_LOCK, which only the mutex
     * hand-off ends: a wake() of the thread is refused (it would be spurious) and leaves it blocked,
     * and lock() returns only once the thread owns the mutex.
     */
    @Test
    void shouldLeaveALockWaiterBlockedUntilTheHandOver() {
        final Scheduler s = start("continuation");
        try {
            final Mutex mutex = new Mutex();
            final AtomicBoolean release = new AtomicBoolean();
            final AtomicBoolean acquired = new AtomicBoolean();
            final AtomicInteger holderState = new AtomicInteger();
            final KThread holder = s.spawn(ThreadAttr.named("holder").pinnedTo(0), () -> {
                mutex.lock();
                holderState.set(1);
                KThread.waitUntil(release::get);
                mutex.unlock();
            });
            SchedTestSupport.await("holder owns the mutex", () -> holderState.get() == 1);
            final KThread waiter = s.spawn(ThreadAttr.named("waiter").pinnedTo(0), () -> {
                mutex.lock();
                acquired.set(mutex.isOwnedByCurrent());
                mutex.unlock();
            });
            SchedTestSupport.await("waiter blocked in lock()", () -> waiter.state() == ThreadState.SENDING_LOCK);
            final long before = waiter.wakeups();
            for (int i = 0; i < 3; i++) {
                assertFalse(waiter.wake(), "a wake() of a thread blocked in lock() is refused");
            }
            assertEquals(ThreadState.SENDING_LOCK, waiter.state());
            assertEquals(before, waiter.wakeups());
            assertFalse(acquired.get(), "lock() returned without the hand-over");
            release.set(true);
            holder.wake();
            SchedTestSupport.join(holder);
            SchedTestSupport.join(waiter);
            assertTrue(acquired.get(), "the waiter owned the mutex when lock() returned");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * The same-vCPU hand-off (no atomic on the waiter) mixed with remote ones: on each of two vCPUs
     * pinned kernel threads contend with each other (local hand-overs, often while the holder is
     * switched out by a yield inside the critical section) and with the other vCPU's threads and a
     * host thread (remote hand-overs, handoff sequences, tryLock). The counter must be exact, no two
     * holders may overlap, and every thread must finish (no waiter lost).
     */
    @Test
    void shouldHandOverExactlyBetweenLocalAndRemoteLockers() throws Exception {
        final Scheduler s = start("continuation");
        try {
            final GuardedCounter g = new GuardedCounter();
            final int perCpu = 4;
            final int increments = 5_000;
            final List<KThread> ts = new ArrayList<>();
            for (int cpu = 0; cpu < 2; cpu++) {
                for (int i = 0; i < perCpu; i++) {
                    final int mode = i;
                    ts.add(s.newThread(ThreadAttr.named("mix" + cpu + "." + i).pinnedTo(cpu), () -> {
                        for (int j = 0; j < increments; j++) {
                            // mode 0 holds the lock across a switch every 8th time (local lockers
                            // queue behind it); mode 3 tries tryLock() first every other time.
                            final boolean viaTryLock = mode == 3 && (j & 1) == 0;
                            g.increment(viaTryLock, mode == 0 && (j & 7) == 0 ? KThread::yield : () -> { });
                        }
                    }));
                }
            }
            final Thread host = g.hostLocker(increments);
            SchedTestSupport.startTogether(s, ts);
            ts.forEach(SchedTestSupport::join);
            joinHost(host);
            g.assertExact((2L * perCpu + 1) * increments);
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * Per-vCPU mode: a mutex whose lockers all run on one vCPU stays bound to it (plain fields, no
     * atomics) through contention, recursion and tryLock, and keeps the counter exact; a mutex first
     * taken by a host thread is shared from the start.
     */
    @Test
    void shouldKeepAMutexUsedOnOneVcpuInPerVcpuMode() {
        final Scheduler s = start("continuation");
        try {
            final GuardedCounter g = new GuardedCounter();
            final int increments = 5_000;
            final List<KThread> ts = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                final int mode = i;
                ts.add(s.newThread(ThreadAttr.named("local" + i).pinnedTo(0), () -> {
                    for (int j = 0; j < increments; j++) {
                        g.increment(mode == 2 && (j & 1) == 0, mode == 0 && (j & 7) == 0 ? () -> {
                            g.mutex.lock();
                            KThread.yield();
                            g.mutex.unlock();
                        } : () -> { });
                    }
                }));
            }
            SchedTestSupport.startTogether(s, ts);
            ts.forEach(SchedTestSupport::join);
            assertTrue(g.mutex.perVcpuMode(), "bound to vCPU 0");
            assertFalse(g.mutex.isLocked());
            assertEquals(3L * increments, g.counter);
            assertFalse(g.overlap.get(), "two holders at once");

            final Mutex hostFirst = new Mutex();
            hostFirst.lock();
            hostFirst.unlock();
            assertFalse(hostFirst.perVcpuMode(), "a host thread's mutex is shared");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * The revocation under load, many times: in each round three threads of vCPU 0 contend for a fresh
     * mutex in per-vCPU mode (one of them holds it across a switch every 4th time, so the others sit
     * in the local FIFO), and half-way one of them, while holding the mutex with waiters queued,
     * starts a locker on vCPU 1 and a host locker. Their first lock converts the state (holder plus
     * queued waiters) to the lock-free algorithm; the counter must stay exact, no two holders may
     * overlap and every locker must finish (no waiter lost in the conversion).
     */
    @Test
    void shouldConvertToLockFreeWithQueuedWaitersWhenRemoteLockersArrive() throws Exception {
        final Scheduler s = start("continuation");
        try {
            final int rounds = 25;
            final int increments = 1_000;
            for (int round = 0; round < rounds; round++) {
                final GuardedCounter g = new GuardedCounter();
                final KThread remote = s.newThread(ThreadAttr.named("remote").pinnedTo(1), () -> {
                    for (int j = 0; j < increments; j++) {
                        g.increment((j & 3) == 1, (j & 15) == 0 ? KThread::yield : () -> { });
                    }
                });
                final Thread host = new Thread(() -> {
                    for (int j = 0; j < increments; j++) {
                        g.increment((j & 3) == 2, () -> { });
                    }
                }, "host-locker");
                host.setDaemon(true);
                final boolean[] bound = new boolean[1];
                final List<KThread> ts = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    final int mode = i;
                    ts.add(s.newThread(ThreadAttr.named("local" + i).pinnedTo(0), () -> {
                        for (int j = 0; j < increments; j++) {
                            final boolean starter = mode == 0 && j == increments / 2;
                            final boolean yields = mode == 0 && (j & 3) == 0;
                            g.increment(mode == 2 && (j & 1) == 0, () -> {
                                if (starter) {
                                    bound[0] = g.mutex.perVcpuMode();
                                    remote.start();
                                    host.start();
                                    KThread.yield();
                                } else if (yields) {
                                    KThread.yield();
                                }
                            });
                        }
                    }));
                }
                SchedTestSupport.startTogether(s, ts);
                ts.forEach(SchedTestSupport::join);
                SchedTestSupport.join(remote);
                joinHost(host);
                assertTrue(bound[0], "round " + round + ": per-vCPU mode before the remote lockers");
                assertFalse(g.mutex.perVcpuMode(), "round " + round + ": shared after them");
                g.assertExact(5L * increments);
            }
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * A condition wait on a mutex in per-vCPU mode, then a consumer on another vCPU: the producer's
     * morphed records sit in the local FIFO when the remote consumer's first lock converts it. Every
     * item is consumed exactly once (checksum), nobody waits forever.
     */
    @Test
    void shouldKeepCondvarHandOffsExactAcrossTheConversion() {
        final Scheduler s = start("continuation");
        try {
            final Mutex mutex = new Mutex();
            final CondVar notEmpty = new CondVar();
            final ArrayDeque<Long> queue = new ArrayDeque<>();
            final int items = 10_000;
            final AtomicLong consumedSum = new AtomicLong();
            final AtomicLong consumedCount = new AtomicLong();
            final boolean[] boundAtStart = new boolean[1];
            final Runnable consume = () -> {
                while (true) {
                    mutex.lock();
                    while (queue.isEmpty()) {
                        notEmpty.await(mutex);
                    }
                    final long v = queue.poll();
                    mutex.unlock();
                    if (v < 0) {
                        return;
                    }
                    consumedSum.addAndGet(v);
                    consumedCount.incrementAndGet();
                }
            };
            final KThread remoteConsumer = s.newThread(ThreadAttr.named("remote-consumer").pinnedTo(1), consume);
            final List<KThread> ts = new ArrayList<>();
            ts.add(s.newThread(ThreadAttr.named("local-consumer0").pinnedTo(0), consume));
            ts.add(s.newThread(ThreadAttr.named("local-consumer1").pinnedTo(0), consume));
            ts.add(s.newThread(ThreadAttr.named("producer").pinnedTo(0), () -> {
                for (int i = 1; i <= items; i++) {
                    mutex.lock();
                    if (i == items / 2) {
                        boundAtStart[0] = mutex.perVcpuMode();
                        remoteConsumer.start();
                    }
                    queue.add((long)i);
                    notEmpty.wakeOne();
                    mutex.unlock();
                    if ((i & 7) == 0) {
                        KThread.yield();
                    }
                }
                mutex.lock();
                for (int c = 0; c < 3; c++) {
                    queue.add(-1L);
                }
                notEmpty.wakeAll();
                mutex.unlock();
            }));
            SchedTestSupport.startTogether(s, ts);
            ts.forEach(SchedTestSupport::join);
            SchedTestSupport.join(remoteConsumer);
            assertTrue(boundAtStart[0], "per-vCPU mode before the remote consumer");
            assertFalse(mutex.perVcpuMode());
            assertEquals(items, consumedCount.get());
            assertEquals((long)items * (items + 1) / 2, consumedSum.get());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * A remote caller revokes the binding of a vCPU that has nothing to run (idle-polling or halted:
     * the request raises an interrupt and, when halted, sends the IPI), and once the scheduler has
     * stopped the revoker converts the mutex itself.
     */
    @Test
    void shouldRevokeTheBindingOfAnIdleOrStoppedVcpu() throws Exception {
        final Scheduler s = start("continuation");
        final Mutex idle = new Mutex();
        final Mutex stopped = new Mutex();
        try {
            SchedTestSupport.join(s.spawn(ThreadAttr.named("binder").pinnedTo(0), () -> {
                idle.lock();
                idle.unlock();
                stopped.lock();
                stopped.lock();
                stopped.unlock();
                stopped.unlock();
            }));
            assertTrue(idle.perVcpuMode());
            final Thread host = hostThread(() -> {
                assertTrue(idle.tryLock());
                idle.unlock();
            });
            joinHost(host);
            assertFalse(idle.perVcpuMode());
            assertFalse(idle.isLocked());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
        assertTrue(stopped.perVcpuMode());
        final Thread host = hostThread(() -> {
            stopped.lock();
            stopped.unlock();
        });
        joinHost(host);
        assertFalse(stopped.perVcpuMode());
        assertFalse(stopped.isLocked());
    }

    /**
     * OSv's misc-ctxsw on one vCPU: two threads alternate through a mutex and a condvar, every
     * hand-over a local wakeup (the same-vCPU paths: the waiter's record cleared and the waiter queued
     * without an atomic, the wait prepared before the record is pushed). The sequence of turns must be
     * exact.
     */
    @Test
    void shouldAlternateTwoThreadsOnOneVcpuThroughMutexAndCondvar() {
        final Scheduler s = start("continuation");
        try {
            final Mutex mutex = new Mutex();
            final CondVar cv = new CondVar();
            final int rounds = 20_000;
            final int[] turn = {0};
            final long[] sequence = {0};
            final AtomicBoolean outOfTurn = new AtomicBoolean();
            final List<KThread> ts = new ArrayList<>();
            for (int me = 0; me < 2; me++) {
                final int self = me;
                ts.add(s.newThread(ThreadAttr.named("ping" + me).pinnedTo(0), () -> {
                    for (int i = 0; i < rounds; i++) {
                        mutex.lock();
                        while (turn[0] != self) {
                            cv.await(mutex);
                        }
                        if ((sequence[0] & 1) != self) {
                            outOfTurn.set(true);
                        }
                        sequence[0]++;
                        turn[0] = 1 - self;
                        cv.wakeOne();
                        mutex.unlock();
                    }
                }));
            }
            SchedTestSupport.startTogether(s, ts);
            ts.forEach(SchedTestSupport::join);
            assertFalse(outOfTurn.get(), "a thread ran out of turn");
            assertEquals(2L * rounds, sequence[0]);
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * OSv's {@code wake_all} grouping: the waiters are morphed onto the mutex vCPU by vCPU, the
     * waker's own first, FIFO within each, so the mutex travels within a vCPU (local wakeups) before
     * it crosses to the next. Plain FIFO would give w0, w1, w2, w3.
     */
    @Test
    void shouldWakeAllGroupedByVcpuWakersFirst() {
        final Scheduler s = start("continuation");
        try {
            final Mutex mutex = new Mutex();
            // Shared from the start (a host thread's lock): otherwise the first waiter on vCPU 1 would
            // wait in WAITING for the revocation of vCPU 0's binding, and the state check below could
            // let w3 reach the condvar before w1.
            mutex.lock();
            mutex.unlock();
            final CondVar cv = new CondVar();
            final boolean[] go = {false};
            final List<String> order = new ArrayList<>();
            final List<KThread> ts = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                final String name = "w" + i + "@" + (i % 2);
                final KThread w = s.spawn(ThreadAttr.named(name).pinnedTo(i % 2), () -> {
                    mutex.lock();
                    while (!go[0]) {
                        cv.await(mutex);
                    }
                    order.add(name);
                    mutex.unlock();
                });
                ts.add(w);
                SchedTestSupport.await(name + " waits on the condvar", () -> w.state() == ThreadState.WAITING);
            }
            ts.add(s.spawn(ThreadAttr.named("waker").pinnedTo(1), () -> {
                mutex.lock();
                go[0] = true;
                cv.wakeAll();
                mutex.unlock();
            }));
            ts.forEach(SchedTestSupport::join);
            assertEquals(List.of("w1@1", "w3@1", "w0@0", "w2@0"), order);
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
