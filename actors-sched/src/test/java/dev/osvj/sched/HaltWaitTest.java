package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An idle vCPU waits in an installed {@link HaltWait} instead of halting into its mailbox: a foreign
 * wakeup reaches it through the wait's wakeup (not an IPI message), work the wait itself does on the
 * carrier (waking a kernel thread, as the user gateway's selector does) runs next on that vCPU, and a
 * wait that declines leaves the usual halt and IPI in place.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HaltWaitTest {
    private final ActorTestKit kit = ActorTestKit.create("halt-wait-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    /** A host event source stand-in: blocks on a JDK semaphore that wakeup releases; runs queued work. */
    private static final class FakeWait implements HaltWait {
        final AtomicInteger awaits = new AtomicInteger();
        final AtomicInteger wakeups = new AtomicInteger();
        final AtomicReference<Runnable> work = new AtomicReference<>();
        final java.util.concurrent.Semaphore signal = new java.util.concurrent.Semaphore(0);
        volatile boolean decline;
        volatile Thread carrier;

        @Override
        public boolean await(final long timeoutNanos, final BooleanSupplier woken) {
            if (decline) {
                return false;
            }
            carrier = Thread.currentThread();
            awaits.incrementAndGet();
            final Runnable w = work.getAndSet(null);
            if (w != null) {
                w.run(); // a host event served on the carrier
                return true;
            }
            if (woken.getAsBoolean()) {
                return true;
            }
            try {
                signal.tryAcquire(timeoutNanos, TimeUnit.NANOSECONDS);
            } catch (final InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            signal.drainPermits();
            return true;
        }

        @Override
        public void wakeup() {
            wakeups.incrementAndGet();
            signal.release();
        }
    }

    private static long ipisReceived(final Scheduler s) {
        return s.cpuStats().stream().mapToLong(CpuStats::ipisReceived).sum();
    }

    @Test
    void shouldWaitInTheHaltWaitAndBeWokenThroughItByAForeignWakeup() {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1).withIdleSpin(Duration.ZERO),
            KernelClock.SYSTEM);
        final FakeWait wait = new FakeWait();
        try {
            final Semaphore sem = new Semaphore(0);
            final AtomicInteger ran = new AtomicInteger();
            final KThread t = s.spawn("waiter", () -> {
                for (int i = 0; i < 20; i++) {
                    sem.acquire();
                    ran.incrementAndGet();
                }
            });
            // halted in its mailbox first: installing the wait must bring it round to the wait
            SchedTestSupport.await("the thread blocked and the vCPU halted", () -> t.state() == ThreadState.WAITING
                && s.cpuStats().get(0).state().equals("halted"));
            s.setHaltWait(wait);
            SchedTestSupport.await("the idle vCPU in the halt wait", () -> wait.awaits.get() > 0 && wait.carrier != null);
            final long ipis = ipisReceived(s);
            final long halts = s.haltWaits();
            for (int i = 0; i < 20; i++) {
                final int before = ran.get();
                sem.post(); // from the test thread: a foreign wakeup of a vCPU that waits in the halt wait
                SchedTestSupport.await("the thread ran", () -> ran.get() == before + 1);
            }
            SchedTestSupport.join(t);
            assertEquals(20, ran.get());
            assertTrue(wait.wakeups.get() > 0, "wakers must wake the halt wait");
            assertTrue(s.haltWaits() > halts, "waits are counted");
            // Every wakeup found the vCPU in the wait (it has nothing else to do): no IPI message at all.
            // Balancer ticks and mailbox turns send none either; only a waker that caught the vCPU outside
            // the wait would, and with one vCPU and one thread that cannot happen while it waits.
            assertEquals(ipis, ipisReceived(s), "a vCPU in the halt wait is woken by the wait, not by IPI messages");
        } finally {
            s.setHaltWait(null);
            wait.wakeup();
            s.stop(Duration.ofSeconds(10));
        }
    }

    @Test
    void shouldRunAKernelThreadThatTheWaitWokeOnTheCarrier() {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1).withIdleSpin(Duration.ZERO),
            KernelClock.SYSTEM);
        final FakeWait wait = new FakeWait();
        try {
            final Semaphore sem = new Semaphore(0);
            final AtomicReference<Thread> ranOn = new AtomicReference<>();
            final KThread t = s.spawn("woken-by-the-wait", () -> {
                sem.acquire();
                ranOn.set(Thread.currentThread());
            });
            SchedTestSupport.await("the thread blocked and the vCPU halted", () -> t.state() == ThreadState.WAITING
                && s.cpuStats().get(0).state().equals("halted"));
            s.setHaltWait(wait);
            SchedTestSupport.await("the idle vCPU in the halt wait", () -> wait.awaits.get() > 0);
            wait.work.set(sem::post); // the wait's own host event wakes the thread, on the carrier itself
            wait.wakeup();
            SchedTestSupport.join(t);
            assertEquals(null, wait.work.get());
        } finally {
            s.setHaltWait(null);
            wait.wakeup();
            s.stop(Duration.ofSeconds(10));
        }
    }

    @Test
    void shouldHaltAsUsualWhenTheWaitDeclines() {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1).withIdleSpin(Duration.ZERO),
            KernelClock.SYSTEM);
        final FakeWait wait = new FakeWait();
        wait.decline = true;
        try {
            final Semaphore sem = new Semaphore(0);
            final KThread t = s.spawn("waiter", sem::acquire);
            s.setHaltWait(wait);
            SchedTestSupport.await("the thread blocked and the vCPU halted", () -> t.state() == ThreadState.WAITING
                && s.cpuStats().get(0).state().equals("halted"));
            final long ipis = ipisReceived(s);
            sem.post();
            SchedTestSupport.join(t);
            assertEquals(0, wait.awaits.get());
            assertEquals(0, s.haltWaits());
            assertTrue(ipisReceived(s) > ipis, "a declined wait leaves the IPI message");
        } finally {
            s.setHaltWait(null);
            s.stop(Duration.ofSeconds(10));
        }
    }
}
