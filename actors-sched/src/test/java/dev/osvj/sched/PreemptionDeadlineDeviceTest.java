package dev.osvj.sched;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A lowered preemption deadline reaches the clock-event device only at the owner's next preemption
 * point ({@code Cpu.setPreemption}/{@code flushDevice}): a deadline armed at a switch that the next
 * decision replaces (the thread blocks first) never reprograms the device (on the host a syscall that
 * wakes the device thread), and a deadline that has passed by the owner's next preemption point
 * preempts there. One vCPU on a {@link ManualClock}; the first thread spins without preemption points
 * until the second one is queued, so the order of events is fixed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PreemptionDeadlineDeviceTest {
    private final ActorTestKit kit = ActorTestKit.create("preemption-deadline-device-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    private static void spinUntil(final AtomicBoolean flag) {
        while (!flag.get()) {
            Thread.onSpinWait();
        }
    }

    @Test
    void shouldNotProgramTheDeviceForADeadlineTheNextDecisionReplaces() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        final AtomicBoolean go = new AtomicBoolean();
        final AtomicReference<WaitRecord> bWait = new AtomicReference<>();
        try {
            final KThread a = s.newThread(ThreadAttr.named("a").pinnedTo(0), () -> {
                spinUntil(go);
                // b is in the incoming queue: the yield drains it and switches to it, arming thyst.
                KThread.yield();
            });
            final KThread b = s.newThread(ThreadAttr.named("b").pinnedTo(0), () -> {
                final WaitRecord r = new WaitRecord();
                bWait.set(r);
                r.await(); // blocks before any preemption point: the decision switches back to a
            });
            a.start();
            SchedTestSupport.await("a runs", () -> a.state() == ThreadState.RUNNING);
            b.start();
            go.set(true);
            SchedTestSupport.join(a);
            SchedTestSupport.await("b waits", () -> bWait.get() != null && b.state() == ThreadState.WAITING);
            assertEquals(0, clock.devicePrograms(),
                "the thyst deadline armed for b was replaced before b reached a preemption point");
            bWait.get().wake();
            SchedTestSupport.join(b);
        } finally {
            go.set(true);
            if (bWait.get() != null) {
                bWait.get().wake();
            }
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    @Test
    void shouldPreemptAtTheFirstPreemptionPointAfterADeferredDeadline() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1), clock);
        final AtomicBoolean go = new AtomicBoolean();
        final AtomicBoolean bRunning = new AtomicBoolean();
        final AtomicBoolean advanced = new AtomicBoolean();
        final AtomicBoolean aBack = new AtomicBoolean();
        final AtomicBoolean bStop = new AtomicBoolean();
        try {
            final KThread a = s.newThread(ThreadAttr.named("a").pinnedTo(0), () -> {
                spinUntil(go);
                KThread.yield();
                aBack.set(true);
            });
            final KThread b = s.newThread(ThreadAttr.named("b").pinnedTo(0), () -> {
                bRunning.set(true);
                // The yield armed thyst for b; the device learns it at b's first preemption point.
                spinUntil(advanced);
                while (!bStop.get()) {
                    KThread.preemptionPoint();
                    Thread.onSpinWait();
                }
            });
            a.start();
            SchedTestSupport.await("a runs", () -> a.state() == ThreadState.RUNNING);
            b.start();
            go.set(true);
            SchedTestSupport.await("b runs after a's yield", bRunning::get);
            // Past the deadline before b reached a preemption point: no interrupt was armed for it,
            // and b must still be preempted at its first preemption point (a has the lower R'' now).
            clock.advance(Policy.THYST_NS + 1_000_000);
            advanced.set(true);
            SchedTestSupport.await("a runs again while b still spins", aBack::get);
            assertFalse(bStop.get());
            SchedTestSupport.join(a);
            bStop.set(true);
            SchedTestSupport.join(b);
        } finally {
            go.set(true);
            advanced.set(true);
            bStop.set(true);
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
