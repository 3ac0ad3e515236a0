package dev.osvj.api;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.sched.KThread;
import dev.osvj.sched.Mutex;
import dev.osvj.sched.Semaphore;
import dev.osvj.sched.ThreadAttr;
import dev.osvj.sched.ThreadState;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The application thread calls of {@link Syscalls} on a booted kernel (2 vCPUs, host clock). */
class SyscallsThreadsTest {
    private static Kernel kernel;
    private static Syscalls sys;

    @BeforeAll
    static void boot() throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        kernel = Kernel.boot(KernelConfigLoader.load(null, List.of("osvj.name=syscalls-threads", "osvj.cpus=2"),
                new Properties(), subsystems, tracepoints),
            subsystems, tracepoints, new PrintStream(new ByteArrayOutputStream()), KernelClock.SYSTEM);
        sys = Syscalls.of(kernel);
    }

    @AfterAll
    static void powerOff() throws Exception {
        kernel.powerOff(0);
        kernel.awaitPoweredOff(Duration.ofSeconds(30));
    }

    @Test
    void shouldRunApplicationThreadsOnTheVcpusAndJoinThem() throws Exception {
        final Mutex mutex = new Mutex();
        final long[] counter = {0};
        final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
        final List<KThread> threads = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            threads.add(sys.threadSpawn("worker" + i, () -> {
                final KThread self = sys.threadSelf();
                if (self == null || !self.isApplication() || self.cpuId() < 0 || self.cpuId() >= 2) {
                    problems.add("not an application thread on a vCPU: " + self);
                }
                for (int k = 0; k < 1000; k++) {
                    mutex.lock();
                    counter[0]++;
                    mutex.unlock();
                    if (k % 100 == 0) {
                        sys.schedYield();
                    }
                }
            }));
        }
        for (final KThread t : threads) {
            assertEquals(0, sys.threadJoin(t));
            assertEquals(ThreadState.TERMINATED, t.state());
            assertNull(t.failure());
        }
        assertNull(problems.peek(), String.join("; ", problems));
        mutex.lock();
        assertEquals(4000, counter[0]);
        mutex.unlock();
    }

    @Test
    void shouldJoinFromAnApplicationThreadAndSleepOnTheKernelClock() throws Exception {
        final AtomicInteger result = new AtomicInteger(-1);
        final KThread sleeper = sys.threadCreate(ThreadAttr.named("sleeper").pinnedTo(1), () -> {
            final long t0 = System.nanoTime();
            if (sys.nanosleep(2_000_000) == 0 && System.nanoTime() - t0 >= 2_000_000) {
                result.compareAndSet(-1, 0);
            }
        });
        assertEquals(ThreadState.UNSTARTED, sleeper.state());
        assertTrue(sleeper.isApplication() && sleeper.isPinned());
        final AtomicInteger joined = new AtomicInteger(1);
        final KThread joiner = sys.threadSpawn("joiner", () -> joined.set(sys.threadJoin(sleeper)));
        assertEquals(0, sys.threadStart(sleeper));
        assertEquals(Errno.EINVAL.negative(), sys.threadStart(sleeper), "second start");
        assertEquals(0, sys.threadJoin(joiner));
        assertEquals(0, joined.get());
        assertEquals(0, result.get(), "slept at least 2 ms");
        assertEquals(Errno.EINVAL.negative(), sys.nanosleep(-1));
    }

    @Test
    void shouldReportPthreadErrors() throws Exception {
        final Semaphore gate = new Semaphore(0);
        final KThread blocked = sys.threadSpawn("blocked", gate::acquire);
        assertEquals(Errno.ETIMEDOUT.negative(), sys.threadJoin(blocked, TimeUnit.MILLISECONDS.toNanos(5)));
        gate.post();
        assertEquals(0, sys.threadJoin(blocked, TimeUnit.SECONDS.toNanos(60)));

        final AtomicInteger self = new AtomicInteger();
        assertEquals(0, sys.threadJoin(sys.threadSpawn("self-join", () -> self.set(sys.threadJoin(sys.threadSelf())))));
        assertEquals(Errno.EDEADLK.negative(), self.get());

        final Semaphore hold = new Semaphore(0);
        final KThread detached = sys.threadSpawn("detached", hold::acquire);
        assertEquals(0, sys.threadDetach(detached));
        assertEquals(Errno.EINVAL.negative(), sys.threadDetach(detached));
        assertEquals(Errno.EINVAL.negative(), sys.threadJoin(detached));
        hold.post();

        final ErrnoException e = assertThrows(ErrnoException.class,
            () -> sys.threadCreate(ThreadAttr.named("nowhere").pinnedTo(7), () -> { }));
        assertEquals(Errno.EINVAL, e.errno());
        assertNull(sys.threadSelf(), "the test thread is a host thread");
        assertEquals(0, sys.schedYield());
    }
}
