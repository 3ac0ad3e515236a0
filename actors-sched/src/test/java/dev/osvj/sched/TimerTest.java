package dev.osvj.sched;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TimerTest {
    private final ActorTestKit kit = ActorTestKit.create("timer-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    @Test
    void shouldKeepTheTimerHeapInDeadlineOrderWithCancels() {
        final TimerHeap heap = new TimerHeap();
        final PriorityQueue<long[]> model = new PriorityQueue<>((a, b) -> a[0] != b[0]
            ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        final Random random = new Random(42);
        final List<Timer> armed = new ArrayList<>();
        final KThread owner = null;
        long seq = 0;
        for (int i = 0; i < 5000; i++) {
            final int op = random.nextInt(3);
            if (op < 2 || armed.isEmpty()) {
                final Timer t = new Timer(owner);
                t.deadline = random.nextInt(1000);
                heap.add(t);
                armed.add(t);
                model.add(new long[] {t.deadline, seq++, System.identityHashCode(t)});
                assertEquals(t.sequence, seq - 1);
            } else {
                final Timer t = armed.remove(random.nextInt(armed.size()));
                heap.remove(t);
                model.removeIf(m -> m[1] == t.sequence);
            }
            assertEquals(model.size(), heap.size());
            if (!model.isEmpty()) {
                assertEquals(model.peek()[0], heap.minDeadline());
            }
        }
        long last = -1;
        long lastSeq = -1;
        Timer t;
        while ((t = heap.poll()) != null) {
            assertTrue(t.deadline > last || t.deadline == last && t.sequence > lastSeq, "order broken");
            last = t.deadline;
            lastSeq = t.sequence;
            assertEquals(-1, t.heapIndex);
        }
        assertNull(heap.peek());
    }

    @Test
    void shouldFireTimersInDeadlineOrder() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2), clock);
        try {
            final long t0 = clock.monotonicNanos();
            final long[] delaysMs = {7, 3, 11, 1, 5, 9, 2, 13};
            final AtomicInteger armedCount = new AtomicInteger();
            final ConcurrentLinkedQueue<Long> fired = new ConcurrentLinkedQueue<>();
            final List<KThread> ts = new ArrayList<>();
            for (final long d : delaysMs) {
                ts.add(s.spawn("timer-" + d, () -> {
                    final Timer timer = new Timer();
                    timer.set(t0 + d * 1_000_000);
                    armedCount.incrementAndGet();
                    KThread.waitUntil(timer::expired);
                    assertTrue(clock.monotonicNanos() >= t0 + d * 1_000_000);
                    fired.add(d);
                }));
            }
            SchedTestSupport.await("timers armed", () -> armedCount.get() == delaysMs.length);
            for (int ms = 1; ms <= 14; ms++) {
                clock.advanceTo(t0 + ms * 1_000_000L);
                final long due = java.util.Arrays.stream(delaysMs).filter(x -> x <= clock.monotonicNanos() / 1_000_000 - t0 / 1_000_000).count();
                SchedTestSupport.await("timers due at " + ms + " ms fired", () -> fired.size() == due);
            }
            ts.forEach(SchedTestSupport::join);
            assertEquals(List.of(1L, 2L, 3L, 5L, 7L, 9L, 11L, 13L), new ArrayList<>(fired));
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldNotFireACancelledTimer() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final long t0 = clock.monotonicNanos();
            final AtomicBoolean ready = new AtomicBoolean();
            final AtomicBoolean firstExpired = new AtomicBoolean(true);
            final AtomicLong wokeAt = new AtomicLong();
            final KThread t = s.spawn("canceller", () -> {
                final Timer first = new Timer();
                final Timer second = new Timer();
                first.set(t0 + 10_000_000);
                second.set(t0 + 20_000_000);
                first.cancel();
                ready.set(true);
                KThread.waitFor(first, second);
                wokeAt.set(clock.monotonicNanos());
                firstExpired.set(first.expired());
                assertTrue(second.expired());
                assertFalse(first.armed());
            });
            SchedTestSupport.await("timers set", ready::get);
            while (t.state() != ThreadState.TERMINATED) {
                clock.advance(1_000_000);
                SchedTestSupport.await("thread idle or done", () -> t.state() == ThreadState.WAITING
                    || t.state() == ThreadState.TERMINATED);
            }
            SchedTestSupport.join(t);
            assertFalse(firstExpired.get());
            assertTrue(wokeAt.get() >= t0 + 20_000_000, "woke at +" + (wokeAt.get() - t0));
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldTimeOutAWaitForOnTheKernelClock() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        try {
            final AtomicBoolean result = new AtomicBoolean(true);
            final AtomicBoolean waiting = new AtomicBoolean();
            final WaitRecord[] never = new WaitRecord[1];
            final KThread t = s.spawn("timed", () -> {
                never[0] = new WaitRecord();
                waiting.set(true);
                result.set(KThread.waitFor(5_000_000, never[0]));
            });
            SchedTestSupport.await("waiting", waiting::get);
            SchedTestSupport.await("blocked", () -> t.state() == ThreadState.WAITING);
            clock.advance(4_000_000);
            assertTrue(t.state() != ThreadState.TERMINATED);
            clock.advance(2_000_000);
            SchedTestSupport.join(t);
            assertFalse(result.get());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldCountPeriodicTicksButNoTicklessInterruptsOnIdleVcpus() {
        final ManualClock clock = new ManualClock();
        final Scheduler tickless = SchedTestSupport.start(kit, SchedConfig.defaults(2), clock);
        final Scheduler periodic = SchedTestSupport.start(kit, SchedConfig.defaults(2).withTickHz(100), clock);
        try {
            // Booted (ran their dispatcher worker) and halted since: nothing pending any more.
            SchedTestSupport.await("vCPUs halted", () -> java.util.stream.Stream.concat(tickless.cpuStats().stream(),
                periodic.cpuStats().stream()).allMatch(c -> c.halts() >= 1 && c.state().equals("halted")));
            for (int i = 0; i < 100; i++) {
                clock.advance(10_000_000); // one second in 10 ms steps
            }
            for (final CpuStats c : tickless.cpuStats()) {
                assertEquals(0, c.timerInterrupts(), "tickless vCPU " + c.cpu());
            }
            for (final CpuStats c : periodic.cpuStats()) {
                assertEquals(100, c.timerInterrupts(), "100 Hz vCPU " + c.cpu());
            }
            // A tick wakes a vCPU only when it finds it halted with no interrupt pending; a loaded host
            // may have had a vCPU awake during the whole burst above, so keep ticking until each one
            // has been woken by a tick.
            SchedTestSupport.await("tick wakeups", () -> {
                if (periodic.cpuStats().stream().allMatch(c -> c.timerWakeups() >= 1)) {
                    return true;
                }
                clock.advance(10_000_000);
                return false;
            });
        } finally {
            assertTrue(tickless.stop(Duration.ofSeconds(10)));
            assertTrue(periodic.stop(Duration.ofSeconds(10)));
        }
    }
}
