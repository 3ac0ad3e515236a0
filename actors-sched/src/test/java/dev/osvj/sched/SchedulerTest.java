package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SchedulerTest {
    private final ActorTestKit kit = ActorTestKit.create("sched-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    @Test
    void shouldRunAndJoinThreads() {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2), KernelClock.SYSTEM);
        try {
            final AtomicInteger ran = new AtomicInteger();
            final List<KThread> ts = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                ts.add(s.spawn("t" + i, () -> {
                    ran.incrementAndGet();
                    KThread.yield();
                    ran.incrementAndGet();
                }));
            }
            for (final KThread t : ts) {
                SchedTestSupport.join(t);
                assertEquals(ThreadState.TERMINATED, t.state());
            }
            assertEquals(40, ran.get());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldSleepAtLeastTheRequestedTime() {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), KernelClock.SYSTEM);
        try {
            final AtomicLong slept = new AtomicLong();
            final KThread t = s.spawn("sleeper", () -> {
                final long t0 = System.nanoTime();
                try {
                    KThread.sleep(10_000_000);
                } catch (final InterruptedException e) {
                    throw new AssertionError(e);
                }
                slept.set(System.nanoTime() - t0);
            });
            SchedTestSupport.join(t);
            assertTrue(slept.get() >= 10_000_000, "slept " + slept.get() + " ns");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
