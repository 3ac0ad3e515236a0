package dev.osvj.bench;

import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A closed-loop load: {@code connections} clients, each on its own thread with its own connection,
 * each sending its next request as soon as the previous reply is complete. The clients start together
 * (all connected before any sends), warm up for a tenth of the duration without recording, then record
 * every request's latency (send to complete reply, nanoseconds) in an HdrHistogram for
 * {@code durationNanos}. The same loop drives osvj and its baseline, so only the server side differs.
 *
 * <p>Where the client threads run is the {@link Launcher}'s choice: host platform threads
 * ({@link #PLATFORM}, the default, for clients on JDK sockets or calling a kernel's socket API from
 * outside), or a kernel's own threads, for a load client that is that kernel's application (its
 * blocking socket calls are then function calls that switch kernel threads, as OSv's are).
 */
public final class ClosedLoop {
    private ClosedLoop() {
    }

    /** One client's connection: {@link #request()} sends one request and reads its whole reply. */
    public interface Client extends AutoCloseable {
        void request() throws IOException;

        @Override
        void close() throws IOException;
    }

    /** Opens client number {@code index}'s connection. */
    public interface Factory {
        Client open(int index) throws IOException;
    }

    /** Where the client threads run. */
    public interface Launcher {
        /** Start a thread named {@code name} running {@code body}. */
        void start(String name, Runnable body);

        /**
         * Let other threads run for a moment: the start gate's wait, on the launcher's kind of thread (a
         * kernel thread must give its vCPU to the clients that have not connected yet).
         */
        void pause();
    }

    /** Daemon platform threads (the default). */
    public static final Launcher PLATFORM = new Launcher() {
        @Override
        public void start(final String name, final Runnable body) {
            Thread.ofPlatform().name(name).daemon().start(body);
        }

        @Override
        public void pause() {
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
        }
    };

    /**
     * One run's outcome.
     *
     * @param opsPerSecond requests completed per second, summed over the clients.
     * @param latencyNanos request latency of all clients, nanoseconds.
     */
    public record Result(double opsPerSecond, Histogram latencyNanos) {
        public double p50Us() {
            return latencyNanos.getValueAtPercentile(50) / 1000.0;
        }

        public double p99Us() {
            return latencyNanos.getValueAtPercentile(99) / 1000.0;
        }
    }

    /**
     * Kernel threads of {@code scheduler}'s kernel: for a load client that is that kernel's application.
     * The start gate yields the vCPU, so clients still connecting on the same vCPU get to run.
     */
    public static Launcher kernelThreads(final dev.osvj.sched.Scheduler scheduler) {
        return new Launcher() {
            @Override
            public void start(final String name, final Runnable body) {
                scheduler.spawn(name, body);
            }

            @Override
            public void pause() {
                dev.osvj.sched.KThread.yield();
            }
        };
    }

    /** Run the load on platform threads; fails with the first client's failure. */
    public static Result run(final Factory factory, final int connections, final long durationNanos) throws Exception {
        return run(factory, connections, durationNanos, PLATFORM);
    }

    /** Run the load on {@code launcher}'s threads; fails with the first client's failure. */
    public static Result run(final Factory factory, final int connections, final long durationNanos,
        final Launcher launcher) throws Exception {
        final AtomicInteger connected = new AtomicInteger();
        final AtomicInteger failed = new AtomicInteger();
        final List<CompletableFuture<long[]>> done = new ArrayList<>();
        final List<Histogram> histograms = new ArrayList<>();
        for (int t = 0; t < connections; t++) {
            final Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
            histograms.add(h);
            final int index = t;
            final CompletableFuture<long[]> f = new CompletableFuture<>();
            done.add(f);
            launcher.start("bench-client-" + t, () -> {
                final long[] result;
                try (Client c = factory.open(index)) {
                    connected.incrementAndGet();
                    final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (connected.get() < connections) { // the start gate: every client connected
                        if (failed.get() > 0) {
                            throw new IOException("another client failed before the start");
                        }
                        if (System.nanoTime() > deadline) {
                            throw new IOException("only " + connected.get() + " of " + connections
                                + " clients connected within 30 s");
                        }
                        launcher.pause();
                    }
                    final long warmEnd = System.nanoTime() + durationNanos / 10;
                    while (System.nanoTime() < warmEnd) {
                        c.request();
                    }
                    final long t0 = System.nanoTime();
                    final long end = t0 + durationNanos;
                    long n = 0;
                    long now = t0;
                    while (now < end) {
                        c.request();
                        final long after = System.nanoTime();
                        h.recordValue(Math.min(after - now, h.getHighestTrackableValue()));
                        now = after;
                        n++;
                    }
                    result = new long[] {n, now - t0};
                } catch (final Throwable e) {
                    failed.incrementAndGet();
                    f.completeExceptionally(e);
                    return;
                }
                f.complete(result); // after the connection is closed: run() returns with every client closed
            });
        }
        double ops = 0;
        for (final CompletableFuture<long[]> f : done) {
            final long[] r = f.get(durationNanos / 1_000_000 + 120_000, TimeUnit.MILLISECONDS);
            ops += r[0] * 1e9 / r[1];
        }
        final Histogram all = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
        histograms.forEach(all::add);
        return new Result(ops, all);
    }
}
