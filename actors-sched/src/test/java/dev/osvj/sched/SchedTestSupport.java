package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/** Helpers for scheduler tests: a started scheduler on an ActorTestKit, and condition waits. */
final class SchedTestSupport {
    private static final AtomicInteger KERNELS = new AtomicInteger();
    /** Generous: the machine is a loaded 2-core host. */
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    private SchedTestSupport() {
    }

    static String kernelName(final String prefix) {
        return prefix + "-" + KERNELS.incrementAndGet();
    }

    static Scheduler start(final ActorTestKit kit, final SchedConfig config, final KernelClock clock) {
        final Scheduler s = Scheduler.create(kernelName("k"), config, clock, null);
        s.start((b, n, p) -> kit.spawn(b, s.name() + "-" + n, p));
        return s;
    }

    /** Poll {@code condition} (no sleeping assumptions: a bounded wait with a generous timeout). */
    static void await(final String what, final BooleanSupplier condition) {
        final long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.onSpinWait();
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
    }

    /**
     * Start {@code threads} from one kernel thread on vCPU 0, so none of them runs before all are
     * queued (from the test thread, the first could burn a lot of virtual time before the next start).
     */
    static void startTogether(final Scheduler s, final java.util.List<KThread> threads) {
        join(s.spawn(ThreadAttr.named("starter").pinnedTo(0), () -> threads.forEach(KThread::start)));
    }

    static void join(final KThread t) {
        if (!t.join(TIMEOUT.toNanos())) {
            throw new AssertionError("thread did not end: " + t);
        }
        if (t.failure() != null) {
            throw new AssertionError("thread " + t.name() + " failed", t.failure());
        }
    }
}
