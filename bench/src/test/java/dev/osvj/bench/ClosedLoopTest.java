package dev.osvj.bench;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The closed-loop load: every client runs on its own connection, is closed, and its failures surface. */
class ClosedLoopTest {
    @Test
    void shouldRunEveryClientOnItsOwnConnectionAndCloseIt() throws Exception {
        final ConcurrentHashMap<Integer, AtomicLong> requests = new ConcurrentHashMap<>();
        final AtomicLong closed = new AtomicLong();
        final ClosedLoop.Result r = ClosedLoop.run(index -> new ClosedLoop.Client() {
            @Override
            public void request() {
                requests.computeIfAbsent(index, i -> new AtomicLong()).incrementAndGet();
            }

            @Override
            public void close() {
                closed.incrementAndGet();
            }
        }, 3, TimeUnit.MILLISECONDS.toNanos(50));
        assertEquals(3, requests.size());
        assertEquals(3, closed.get());
        assertTrue(r.opsPerSecond() > 0);
        final long total = requests.values().stream().mapToLong(AtomicLong::get).sum();
        assertTrue(r.latencyNanos().getTotalCount() > 0 && r.latencyNanos().getTotalCount() <= total,
            r.latencyNanos().getTotalCount() + " recorded of " + total);
    }

    @Test
    void shouldFailWithAClientsFailure() {
        final Exception e = assertThrows(Exception.class, () -> ClosedLoop.run(index -> new ClosedLoop.Client() {
            @Override
            public void request() throws IOException {
                if (index == 1) {
                    throw new IOException("server closed the connection");
                }
            }

            @Override
            public void close() {
            }
        }, 2, TimeUnit.MILLISECONDS.toNanos(50)));
        assertTrue(e.toString().contains("server closed the connection"), e.toString());
    }

    @Test
    void shouldRunEveryClientOnTheLaunchersThreads() throws Exception {
        final ConcurrentHashMap<String, Boolean> started = new ConcurrentHashMap<>();
        final ConcurrentHashMap<Integer, String> ranOn = new ConcurrentHashMap<>();
        final ClosedLoop.Launcher launcher = new ClosedLoop.Launcher() {
            @Override
            public void start(final String name, final Runnable body) {
                started.put(name, true);
                Thread.ofPlatform().name("launched-" + name).daemon().start(body);
            }

            @Override
            public void pause() {
                Thread.onSpinWait();
            }
        };
        ClosedLoop.run(index -> new ClosedLoop.Client() {
            @Override
            public void request() {
                ranOn.put(index, Thread.currentThread().getName());
            }

            @Override
            public void close() {
            }
        }, 3, TimeUnit.MILLISECONDS.toNanos(50), launcher);
        assertEquals(3, started.size());
        for (int i = 0; i < 3; i++) {
            assertEquals("launched-bench-client-" + i, ranOn.get(i));
        }
    }

    /**
     * Four clients on the kernel threads of a one-vCPU kernel: each runs on a kernel thread, and the start
     * gate, which waits for every client to connect, yields the vCPU to the clients still connecting (a
     * blocking barrier would hold the only vCPU's carrier and the others would never run).
     */
    @Test
    void shouldRunClientsOnAKernelsThreadsThroughTheStartGateOnOneVcpu() throws Exception {
        try (BenchKernel kernel = BenchKernel.boot("closed-loop-kthreads", List.of("osvj.cpus = 1"), false)) {
            final dev.osvj.sched.Scheduler scheduler = kernel.kernel().services().require(dev.osvj.sched.Scheduler.class);
            final ConcurrentHashMap<Integer, String> ranOn = new ConcurrentHashMap<>();
            final ClosedLoop.Result r = ClosedLoop.run(index -> new ClosedLoop.Client() {
                @Override
                public void request() {
                    final dev.osvj.sched.KThread self = dev.osvj.sched.KThread.current();
                    ranOn.put(index, self == null ? "not a kernel thread" : self.name());
                    dev.osvj.sched.KThread.yield(); // a request that gives the vCPU away, as a blocking receive does
                }

                @Override
                public void close() {
                }
            }, 4, TimeUnit.MILLISECONDS.toNanos(100), ClosedLoop.kernelThreads(scheduler));
            for (int i = 0; i < 4; i++) {
                assertEquals("bench-client-" + i, ranOn.get(i));
            }
            assertTrue(r.opsPerSecond() > 0);
        }
    }
}
