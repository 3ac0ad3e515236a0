package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import dev.osvj.sched.arch.ContextSwitch;
import dev.osvj.sched.arch.KernelThreadIdentity;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A kernel thread's host identity ({@code Thread.currentThread()}) is its own on every carrier, so the
 * JDK state keyed by it - lock ownership, {@code ThreadLocal}s, {@code LockSupport} waiters - survives
 * migration between vCPUs. Before, a kernel thread was its carrier to the JDK, and a thread that
 * migrated while the JIT kept the old value released socket locks in another carrier's name
 * ({@code IllegalMonitorStateException} in {@code TcpSocket.recv} on 2-vCPU kernels).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KernelThreadIdentityTest {
    private final ActorTestKit kit = ActorTestKit.create("kthread-identity-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    private Scheduler twoVcpus() {
        return SchedTestSupport.start(kit, SchedConfig.defaults(2), KernelClock.SYSTEM);
    }

    @Test
    void shouldGiveAKernelThreadTheSameHostIdentityOnEveryVcpu() {
        assertTrue(ContextSwitch.kernelThreadsHaveOwnIdentity(), "the test JVM has --add-opens java.base/java.lang");
        final Scheduler s = twoVcpus();
        try {
            final AtomicReference<Thread> on0 = new AtomicReference<>();
            final AtomicReference<Thread> on1 = new AtomicReference<>();
            final AtomicReference<Object> owner = new AtomicReference<>();
            final AtomicReference<KThread> self = new AtomicReference<>();
            final KThread t = s.spawn(ThreadAttr.named("wanderer").pinnedTo(0), () -> {
                self.set(KThread.current());
                on0.set(Thread.currentThread());
                KThread.pinCurrent(1);
                on1.set(Thread.currentThread());
                owner.set(((KernelThreadIdentity)Thread.currentThread()).owner());
            });
            SchedTestSupport.join(t);
            assertTrue(t.migrations() >= 1, "moved to vCPU 1");
            assertSame(on0.get(), on1.get(), "one identity on both carriers");
            assertSame(t, owner.get());
            assertEquals("wanderer", on0.get().getName());
            assertNotSame(Thread.currentThread(), on0.get());
            assertTrue(KernelThreadIdentity.hasEnded(on0.get()));
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * A kernel thread holds a JDK lock and a ThreadLocal across thousands of migrations, in a loop hot
     * enough for C2 to compile it (where {@code currentThread()} is read once per compiled method). With the
     * carrier as identity the first unlock after a move throws IllegalMonitorStateException.
     */
    @Test
    void shouldKeepJdkLockOwnershipAndThreadLocalsAcrossMigrations() {
        final Scheduler s = twoVcpus();
        try {
            final ReentrantLock lock = new ReentrantLock();
            final ThreadLocal<long[]> local = new ThreadLocal<>();
            final int moves = 20_000;
            final AtomicLong wrongIdentity = new AtomicLong();
            final KThread t = s.spawn(ThreadAttr.named("mover").pinnedTo(0), () -> {
                final Thread me = Thread.currentThread();
                local.set(new long[1]);
                for (int i = 1; i <= moves; i++) {
                    lock.lock();
                    try {
                        KThread.pinCurrent(i & 1);
                        if (!lock.isHeldByCurrentThread() || Thread.currentThread() != me) {
                            wrongIdentity.incrementAndGet();
                        }
                        local.get()[0]++;
                    } finally {
                        lock.unlock();
                    }
                }
            });
            SchedTestSupport.join(t);
            assertTrue(t.migrations() >= moves - 1, "migrations " + t.migrations());
            assertEquals(0, wrongIdentity.get());
            assertFalse(lock.isLocked());
            assertEquals(null, local.get(), "the test thread's ThreadLocal is its own");
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }

    /**
     * A kernel thread that blocks its carrier on a JDK lock a host thread holds is parked as its identity;
     * the release must unpark the carrier it is mounted on (a lost unpark hangs the vCPU).
     */
    @Test
    void shouldWakeAKernelThreadBlockedOnAJdkLockWhenAHostThreadReleasesIt() throws Exception {
        final Scheduler s = twoVcpus();
        try {
            final ReentrantLock lock = new ReentrantLock();
            final CountDownLatch waiting = new CountDownLatch(1);
            final int rounds = 200;
            final AtomicLong acquired = new AtomicLong();
            lock.lock();
            final KThread t = s.spawn(ThreadAttr.named("blocker").pinnedTo(1), () -> {
                for (int i = 0; i < rounds; i++) {
                    if (i == 0) {
                        waiting.countDown();
                    }
                    lock.lock();
                    try {
                        acquired.incrementAndGet();
                    } finally {
                        lock.unlock();
                    }
                    KThread.pinCurrent(i & 1);
                }
            });
            assertTrue(waiting.await(60, java.util.concurrent.TimeUnit.SECONDS));
            SchedTestSupport.await("the kernel thread queues on the lock", lock::hasQueuedThreads);
            lock.unlock();
            for (int i = 1; i < rounds; i++) {
                lock.lock(); // contend with it on whichever carrier it runs now
                lock.unlock();
            }
            SchedTestSupport.join(t);
            assertEquals(rounds, acquired.get());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
