package dev.osvj.bench;

import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

/**
 * A closed-loop load: {@code connections} clients, each on its own platform thread with its own
 * connection, each sending its next request as soon as the previous reply is complete. The clients
 * start together (a barrier), warm up for a tenth of the duration without recording, then record
 * every request's latency (send to complete reply, nanoseconds) in an HdrHistogram for
 * {@code durationNanos}. The same loop drives osvj and its baseline, so only the server side differs.
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

    /** Run the load; fails with the first client's failure. */
    public static Result run(final Factory factory, final int connections, final long durationNanos) throws Exception {
        final CyclicBarrier start = new CyclicBarrier(connections);
        final List<CompletableFuture<long[]>> done = new ArrayList<>();
        final List<Histogram> histograms = new ArrayList<>();
        for (int t = 0; t < connections; t++) {
            final Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
            histograms.add(h);
            final int index = t;
            final CompletableFuture<long[]> f = new CompletableFuture<>();
            done.add(f);
            Thread.ofPlatform().name("bench-client-" + t).daemon().start(() -> {
                try (Client c = factory.open(index)) {
                    start.await(30, TimeUnit.SECONDS);
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
                    f.complete(new long[] {n, now - t0});
                } catch (final Throwable e) {
                    start.reset();
                    f.completeExceptionally(e);
                }
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
