package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Adaptive halt polling: KVM's grow and shrink rules, and a scheduler that uses them loses no wakeup. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HaltPollTest {
    private static final long US = 1_000L;
    private final ActorTestKit kit = ActorTestKit.create("halt-poll-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    @Test
    void shouldGrowFromTheStartByDoublingUpToTheMaximumAfterHaltsPollingWouldHaveCaught() {
        final long max = 50 * US;
        long w = 0;
        w = HaltPoll.next(w, 30 * US, max);
        assertEquals(HaltPoll.GROW_START_NANOS, w);
        w = HaltPoll.next(w, 30 * US, max);
        assertEquals(20 * US, w);
        w = HaltPoll.next(w, 30 * US, max);
        assertEquals(40 * US, w);
        w = HaltPoll.next(w, 45 * US, max);
        assertEquals(max, w, "capped at the maximum");
        assertEquals(max, HaltPoll.next(w, 49 * US, max));
    }

    @Test
    void shouldStartAtTheMaximumWhenItIsUnderTheGrowStart() {
        assertEquals(4 * US, HaltPoll.next(0, 3 * US, 4 * US));
    }

    @Test
    void shouldHalveAfterAHaltLongerThanTheMaximumAndDropToZeroUnderTheGrowStart() {
        final long max = 80 * US;
        assertEquals(40 * US, HaltPoll.next(80 * US, 5_000 * US, max));
        assertEquals(20 * US, HaltPoll.next(40 * US, 5_000 * US, max));
        assertEquals(10 * US, HaltPoll.next(20 * US, 5_000 * US, max));
        assertEquals(0, HaltPoll.next(10 * US, 5_000 * US, max));
        assertEquals(0, HaltPoll.next(0, 5_000 * US, max));
    }

    @Test
    void shouldKeepTheWindowWhenTheWakeupCameWhilePollingOrThereIsNoMaximum() {
        assertEquals(40 * US, HaltPoll.next(40 * US, 25 * US, 50 * US));
        assertEquals(0, HaltPoll.next(0, 30 * US, 0));
    }

    /**
     * Two kernel threads on different vCPUs hand a token back and forth; each wait halts its vCPU or is caught
     * by its adaptive poll. Every hand-off must arrive (a lost wakeup would hang the ping-pong), and each
     * vCPU's window stays within 0..idle-spin.
     */
    @Test
    void shouldLoseNoWakeupBetweenVcpusThatPollAdaptively() {
        final SchedConfig config = SchedConfig.defaults(2).withIdleSpin(Duration.ofMillis(1)).withAdaptiveIdleSpin(true);
        final Scheduler s = SchedTestSupport.start(kit, config, KernelClock.SYSTEM);
        try {
            final Semaphore ping = new Semaphore(0);
            final Semaphore pong = new Semaphore(0);
            final int rounds = 3_000;
            final AtomicLong returned = new AtomicLong();
            final KThread a = s.spawn(ThreadAttr.named("ping").pinnedTo(0), () -> {
                for (int i = 0; i < rounds; i++) {
                    ping.post();
                    pong.acquire();
                    returned.incrementAndGet();
                }
            });
            final KThread b = s.spawn(ThreadAttr.named("pong").pinnedTo(1), () -> {
                for (int i = 0; i < rounds; i++) {
                    ping.acquire();
                    pong.post();
                }
            });
            SchedTestSupport.join(a);
            SchedTestSupport.join(b);
            assertEquals(rounds, returned.get());
            for (final Cpu c : s.cpus) {
                assertTrue(c.pollWindowNanos() >= 0 && c.pollWindowNanos() <= 1_000_000, "window " + c.pollWindowNanos());
            }
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
