package dev.osvj.bench.fleet;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A snapshot of this JVM's threads, to tell where a benchmark run's CPU time and thread wake-ups went,
 * per thread kind. Java threads come from {@link ThreadMXBean}: CPU time ({@code getThreadCpuTime},
 * ns) and waits ({@link ThreadInfo#getWaitedCount}: every park, {@code wait} or sleep, each one ended
 * by a wake-up unless its permit was there already, so an upper bound of the wake-ups the thread paid).
 * The whole process comes from {@code /proc/self/task} (Linux): every native thread's CPU time
 * ({@code schedstat}) and voluntary context switches ({@code status}: each one a sleep that another
 * thread or a timer ended), so the JIT, GC and other non-Java threads count in the totals
 * ({@code other} = process minus Java threads).
 *
 * <p>Missing parts are empty (every delta 0) where {@code /proc} is not readable or the JVM does not
 * measure thread CPU time. Not thread-safe; control path only (a few file reads per native thread).
 */
final class ThreadCensus {
    /** One thread's counters at the snapshot: CPU nanoseconds and waits (or sleeps). */
    private record Sample(String name, long cpuNs, long waits) {
    }

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** Java threads by id. */
    private final Map<Long, Sample> javaThreads;
    /** Native threads by tid: name, CPU ns, voluntary context switches. */
    private final Map<String, Sample> natives;
    private final long wallNs;

    private ThreadCensus(final Map<Long, Sample> javaThreads, final Map<String, Sample> natives, final long wallNs) {
        this.javaThreads = javaThreads;
        this.natives = natives;
        this.wallNs = wallNs;
    }

    /** The JVM's threads now. */
    static ThreadCensus take() {
        final long wall = System.nanoTime();
        final Map<Long, Sample> j = new HashMap<>();
        final boolean cpu = THREADS.isThreadCpuTimeSupported() && THREADS.isThreadCpuTimeEnabled();
        for (final ThreadInfo info : THREADS.getThreadInfo(THREADS.getAllThreadIds())) {
            if (info != null) {
                final long ns = cpu ? THREADS.getThreadCpuTime(info.getThreadId()) : 0;
                j.put(info.getThreadId(), new Sample(info.getThreadName(), Math.max(ns, 0), info.getWaitedCount()));
            }
        }
        final Map<String, Sample> n = new HashMap<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (final Path t : tasks) {
                try {
                    final String schedstat = Files.readString(t.resolve("schedstat")).strip();
                    final long ns = Long.parseLong(schedstat.substring(0, schedstat.indexOf(' ')));
                    long sleeps = 0;
                    for (final String line : Files.readAllLines(t.resolve("status"))) {
                        if (line.startsWith("voluntary_ctxt_switches:")) {
                            sleeps = Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
                        }
                    }
                    n.put(t.getFileName().toString(), new Sample("", ns, sleeps));
                } catch (final IOException | RuntimeException e) {
                    // the thread ended between the listing and the read: not counted
                }
            }
        } catch (final IOException | RuntimeException e) {
            // no /proc: no process totals
        }
        return new ThreadCensus(j, n, wall);
    }

    /**
     * A window inside a load run: a daemon thread takes a census {@code fromNs} after this call and
     * another {@code toNs} after it (so threads that the load starts and ends, its client threads, are
     * alive at both); {@link #delta()} waits for the second one.
     */
    static final class Window {
        private final CompletableFuture<Map<String, long[]>> delta =
            new CompletableFuture<>();
        private final long lengthNs;

        Window(final long fromNs, final long toNs) {
            this.lengthNs = toNs - fromNs;
            final long start = System.nanoTime();
            Thread.ofPlatform().daemon().name("bench-census").start(() -> {
                LockSupport.parkNanos(fromNs);
                final ThreadCensus before = take();
                LockSupport.parkNanos(toNs - (System.nanoTime() - start));
                delta.complete(take().delta(before));
            });
        }

        /** Requests in the window at {@code opsPerSecond}. */
        double requests(final double opsPerSecond) {
            return opsPerSecond * lengthNs / 1e9;
        }

        /** The window's {@link ThreadCensus#delta}; empty if it did not end within 10 s. */
        Map<String, long[]> delta() {
            try {
                return delta.get(10, TimeUnit.SECONDS);
            } catch (final Exception e) {
                return Map.of();
            }
        }
    }

    /**
     * The kind of a Java thread by its name: digits dropped, so the vCPUs of a kernel are one kind,
     * and the instance names of the benchmark's kernels cut to their role ({@code "server"},
     * {@code "client"}): {@code "k2k-bench-server-3-vcpu-1"} is {@code "server-vcpu-#"}.
     */
    static String kind(final String name) {
        String k = name.replaceAll("[0-9]+", "#");
        if (k.startsWith("bench-client-")) {
            return "load-client-#"; // ClosedLoop's threads
        }
        for (final String role : new String[] {"server", "client", "one", "twin"}) {
            final int at = k.indexOf("-" + role + "-");
            if (at >= 0) {
                k = role + k.substring(at + role.length() + 1);
                break;
            }
        }
        return k;
    }

    /**
     * Per Java thread kind, from {@code before} to this snapshot: {@code {cpu ns, waits}} over the
     * threads alive at the second (threads born in between count from 0); under {@code "process"} the
     * native totals {@code {cpu ns, voluntary switches, wall ns}}.
     */
    Map<String, long[]> delta(final ThreadCensus before) {
        final Map<String, long[]> m = new TreeMap<>();
        for (final Map.Entry<Long, Sample> e : javaThreads.entrySet()) {
            final Sample now = e.getValue();
            final Sample then = before.javaThreads.getOrDefault(e.getKey(), new Sample(now.name(), 0, 0));
            final long dc = now.cpuNs() - then.cpuNs();
            final long dw = now.waits() - then.waits();
            if (dc <= 0 && dw <= 0) {
                continue;
            }
            final long[] v = m.computeIfAbsent(kind(now.name()), k -> new long[2]);
            v[0] += dc;
            v[1] += dw;
        }
        long cpu = 0;
        long sleeps = 0;
        for (final Map.Entry<String, Sample> e : natives.entrySet()) {
            final Sample then = before.natives.getOrDefault(e.getKey(), new Sample("", 0, 0));
            cpu += e.getValue().cpuNs() - then.cpuNs();
            sleeps += e.getValue().waits() - then.waits();
        }
        m.put("process", new long[] {cpu, sleeps, wallNs - before.wallNs});
        return m;
    }

    /**
     * {@link #delta} per request: {@code cpu_us.KIND} (CPU microseconds per request) and
     * {@code waits.KIND} (waits per request) for the Java thread kinds with at least 2% of the
     * process's CPU or 0.05 waits per request; {@code cpu_us.process} and {@code sleeps.process} (all
     * native threads: voluntary context switches per request), {@code cpu_us.other} (JIT, GC and other
     * non-Java threads) and {@code cores_busy} (process CPU over wall time: 2.0 is both cores of this
     * machine busy with this JVM).
     */
    static Map<String, Double> perRequest(final Map<String, long[]> delta, final double requests) {
        final Map<String, Double> m = new TreeMap<>();
        final long[] process = delta.get("process");
        if (process == null || requests <= 0 || process[2] <= 0) {
            return m;
        }
        long javaCpu = 0;
        for (final Map.Entry<String, long[]> e : delta.entrySet()) {
            if (e.getKey().equals("process")) {
                continue;
            }
            final long[] v = e.getValue();
            javaCpu += v[0];
            final double waits = v[1] / requests;
            if (v[0] * 50 >= process[0] || waits >= 0.05) {
                m.put("cpu_us." + e.getKey(), round(v[0] / 1e3 / requests));
                m.put("waits." + e.getKey(), round(waits));
            }
        }
        m.put("cpu_us.process", round(process[0] / 1e3 / requests));
        m.put("cpu_us.other", round(Math.max(0, process[0] - javaCpu) / 1e3 / requests));
        m.put("sleeps.process", round(process[1] / requests));
        m.put("cores_busy", round((double)process[0] / process[2]));
        return m;
    }

    private static double round(final double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
