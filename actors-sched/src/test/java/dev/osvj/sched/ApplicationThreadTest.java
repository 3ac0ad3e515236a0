package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scheduler's view for the MMU's lazy TLB flush: which vCPU a caller runs on, whether a vCPU runs an
 * application thread, and the switch-in hook that runs before an application thread does.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApplicationThreadTest {
    private final ActorTestKit kit = ActorTestKit.create("app-thread-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    @Test
    void shouldFlagApplicationThreadsAndTheirVcpu() {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2), KernelClock.SYSTEM);
        try {
            final AtomicReference<String> seen = new AtomicReference<>();
            final KThread app = s.spawn(ThreadAttr.named("app").pinnedTo(1).asApplication(), () -> {
                final KThread self = KThread.current();
                seen.set("cpu=" + s.currentCpu() + " app=" + self.isApplication() + " running="
                    + s.runningApplication(1));
            });
            SchedTestSupport.join(app);
            assertEquals("cpu=1 app=true running=true", seen.get());

            final KThread kernel = s.spawn(ThreadAttr.named("kernel").pinnedTo(0), () -> {
                seen.set("cpu=" + s.currentCpu() + " app=" + KThread.current().isApplication() + " running="
                    + s.runningApplication(0));
            });
            SchedTestSupport.join(kernel);
            assertEquals("cpu=0 app=false running=false", seen.get());
            assertEquals(-1, s.currentCpu(), "the test thread is not on a vCPU");
            // Once vCPU 1 has nothing to run it no longer runs application code.
            SchedTestSupport.await("vCPU 1 idle", () -> !s.runningApplication(1));
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldRunTheSwitchInHookBeforeEachApplicationSwitchIn() {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), KernelClock.SYSTEM);
        try {
            final AtomicInteger hooks = new AtomicInteger();
            final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
            final AtomicInteger lastHookSeenByApp = new AtomicInteger(-1);
            s.onApplicationSwitchIn(cpu -> {
                if (cpu != 0 || !s.runningApplication(cpu)) {
                    problems.add("hook on cpu " + cpu + " running=" + s.runningApplication(cpu));
                }
                hooks.incrementAndGet();
            });
            final int rounds = 50;
            final Semaphore ping = new Semaphore(0);
            final Semaphore pong = new Semaphore(0);
            // A kernel thread and an application thread alternate on one vCPU: every time the
            // application thread resumes, a hook ran since it last blocked.
            final KThread kernel = s.spawn(ThreadAttr.named("kernel"), () -> {
                for (int i = 0; i < rounds; i++) {
                    ping.post();
                    pong.acquire();
                    if (s.runningApplication(0)) {
                        problems.add("kernel thread runs while the vCPU says application");
                    }
                }
            });
            final KThread app = s.spawn(ThreadAttr.named("app").asApplication(), () -> {
                for (int i = 0; i < rounds; i++) {
                    ping.acquire();
                    final int h = hooks.get();
                    if (h <= lastHookSeenByApp.get()) {
                        problems.add("resumed without a hook (round " + i + ")");
                    }
                    lastHookSeenByApp.set(h);
                    pong.post();
                }
            });
            SchedTestSupport.join(kernel);
            SchedTestSupport.join(app);
            assertNull(problems.peek(), String.join("; ", problems));
            assertTrue(hooks.get() >= rounds, "hooks " + hooks.get());
            assertFalse(kernel.isApplication());
        } finally {
            s.onApplicationSwitchIn(null);
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
