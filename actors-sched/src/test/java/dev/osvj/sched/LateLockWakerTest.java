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
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A shared-mode mutex's waker that is late: it claimed a waiter's lock record (the releaser's
 * {@link WaitRecord#claim()}) while the waiter was still running, and is preempted before it moves the
 * waiter's state ({@link WaitRecord#wakeClaimed}). The waiter must not leave its lock wait before that
 * waker is done: otherwise the waker's SENDING_LOCK-to-WAKING CAS lands on the waiter's next lock wait,
 * whose same-vCPU hand-over and cancellation assume that nobody else touches the state (the thread was
 * then queued twice: a wake queue entry behind a state overwritten to RUNNING). The interleaving is
 * driven step by step: the waiter spins between its steps with preemption off on its own vCPU, and the
 * test thread (a host thread, like a releaser outside the vCPUs) is the late waker.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LateLockWakerTest {
    private final ActorTestKit kit = ActorTestKit.create("late-lock-waker-test");

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
    void shouldNotLetALateWakerMoveTheWaitersNextLockWait() {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2), new ManualClock());
        final AtomicReference<WaitRecord> first = new AtomicReference<>();
        final AtomicReference<WaitRecord> second = new AtomicReference<>();
        final AtomicBoolean claimed = new AtomicBoolean();
        final AtomicBoolean release = new AtomicBoolean();
        try {
            final KThread w = s.spawn(ThreadAttr.named("lock-waiter").pinnedTo(0), () -> {
                final KThread k = KThread.current();
                // First lock wait: the record is queued (published), and a releaser claims it while this
                // thread still runs, before it went to sleep.
                final WaitRecord r = k.lockRecord();
                k.prepareLockWait();
                first.set(r);
                spinUntil(claimed);
                k.awaitLockHandOff(r);
                // Second lock wait, on the reused record: nobody claims it until the test lets go.
                final WaitRecord r2 = k.lockRecord();
                k.prepareLockWait();
                second.set(r2);
                spinUntil(release);
                assertTrue(r2.cancel(), "the second record was never claimed");
                k.cancelLockWait();
                k.dropLockRecord();
            });
            SchedTestSupport.await("the waiter queued its record", () -> first.get() != null);
            final WaitRecord r = first.get();
            assertTrue(r.claim(), "the releaser claims the armed record");
            claimed.set(true);
            // The waiter either reaches its second wait (it left the first one on seeing the record
            // cleared) or waits for the waker (the record shows the claim in flight).
            SchedTestSupport.await("the waiter is in its second wait or waits for the waker",
                () -> second.get() != null || r.describe().endsWith("claimed"));
            // The late waker finishes: it moves the waiter out of SENDING_LOCK.
            r.wakeClaimed(null);
            SchedTestSupport.await("the waiter is in its second wait", () -> second.get() != null);
            assertEquals(ThreadState.SENDING_LOCK, w.state(),
                "the late waker moved the thread out of a lock wait whose record nobody claimed");
            assertFalse(second.get().woken());
            release.set(true);
            SchedTestSupport.join(w);
            assertNull(w.failure());
        } finally {
            claimed.set(true);
            release.set(true);
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
