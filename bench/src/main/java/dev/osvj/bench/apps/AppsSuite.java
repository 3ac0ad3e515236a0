package dev.osvj.bench.apps;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchSuite;
import dev.osvj.bench.MetricGuard;
import dev.osvj.bench.NetNamespace;
import dev.osvj.bench.Tools;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code bin/osvj bench apps}: the built-in applications against their native peers, in the same run.
 * memcached (see {@link MemcachedBench} for exactly what is compared): 90/10 get/set of 100-byte values,
 * one Java client for every server; HTTP (see {@link HttpBench}): one keep-alive Java client.
 *
 * <p>Metrics:
 * <ul>
 *   <li>{@code memcached.ratio_vs_native} (target >= 0.8): requests per second of osvj's memcached
 *       reached from host JDK sockets through the embedded {@code user} gateway's port forward, over
 *       Debian's memcached 1.6 over the host's loopback, {@value #LOAD_CONNECTIONS} connections; p50 and
 *       p99 of both in the detail. Measured in alternating slices with both servers up
 *       ({@link MemcachedBench#interleaved}: 5 slices of 3 s each, 3 of 1 s with {@code --quick}); the value is
 *       the median of the slice ratios ({@code detail.slice_ratios}, {@code detail.ratio_of_means}), because
 *       this machine kind's speed drifts: the native baseline measured alone swung from 36k to 66k requests
 *       per second between runs of one session.</li>
 *   <li>{@code memcached.tap_ratio_vs_native}: the same (interleaved too) with the kernel on a {@code tap} device in a
 *       network namespace the suite creates (client sockets inside it, so Linux's TCP is the peer);
 *       null with the reason without root or iproute2.</li>
 *   <li>{@code http.ratio_vs_host}: requests per second of osvj's httpd through the user gateway over
 *       the same server code on host JDK sockets, {@value #LOAD_CONNECTIONS} connections, p50/p99 too.</li>
 *   <li>{@code memcached.cN.ops_ratio_vs_native} and {@code memcached.cN.p99_ratio_vs_native} for
 *       {@code N} in 1 and 4: the client inside the kernel on its socket API over the kernel's own
 *       loopback (no network device), with the latency distributions.</li>
 * </ul>
 * A metric whose setup fails is null with the failure as {@code detail.reason}; the others still run.
 *
 * <p>{@code -Dbench.apps.only=user} (or {@code tap}) runs only that one osvj path against native memcached
 * with {@value #LOAD_CONNECTIONS} connections: for A/B runs and profiles of one path
 * (the property is not under {@code osvj.}: the kernels validate every {@code osvj.*} system property);
 * {@code -Dbench.apps.only=http} runs only the HTTP metric.
 * The user and tap metrics' details carry the network device's and the gateway's counters per request
 * ({@code per_request.*}: kicks, inline kicks, receive interrupts, loop wake-ups...).
 */
public final class AppsSuite implements BenchSuite {
    private static final AtomicInteger KERNELS = new AtomicInteger();
    static final int[] CONNECTIONS = {1, 4};
    /** Connections of the load behind the named metrics (throughput on two cores). */
    static final int LOAD_CONNECTIONS = 4;
    private static final int WORKERS = 2;
    private static final String TAP = "osvjbtap1";
    private static final String TAP_KERNEL_IP = "10.98.1.2";
    private static final String TAP_LINUX_IP = "10.98.1.1";

    @Override
    public String name() {
        return "apps";
    }

    @Override
    public String description() {
        return "memcached vs Debian's memcached (kernel loopback, user gateway, tap), httpd vs the same code on "
            + "host sockets";
    }

    /** {@code bench.apps.only}: empty (everything), {@code user}, {@code tap} or {@code http}. */
    private static final String ONLY = System.getProperty("bench.apps.only", "");

    @Override
    public void run(final BenchContext bench) throws Exception {
        final long ns = (bench.quick() ? 3 : 15) * 1_000_000_000L;
        if ("http".equals(ONLY)) {
            http(bench, ns);
            return;
        }
        if (!ONLY.isEmpty()) {
            onePath(bench, ns);
            return;
        }
        if (Tools.find("memcached").isEmpty()) {
            MetricGuard.unavailable(bench, "memcached is not installed (Debian: apt-get install memcached): no native peer",
                "memcached.ratio_vs_native", "memcached.tap_ratio_vs_native");
        } else {
            memcached(bench, ns);
        }
        http(bench, ns);
    }

    /** {@code http.ratio_vs_host}. */
    private void http(final BenchContext bench, final long ns) {
        MetricGuard.run(bench, () -> {
            bench.progress("http: osvj's httpd through the user gateway, and the same code on host sockets");
            final HttpBench.Results r = HttpBench.run("osvj-bench-apps-" + KERNELS.incrementAndGet(), LOAD_CONNECTIONS, ns);
            bench.metric("http.ratio_vs_host", r.osvj().opsPerSecond() / r.host().opsPerSecond(), "ratio", "higher",
                detail("osvj_req_per_s", r.osvj().opsPerSecond(), "host_req_per_s", r.host().opsPerSecond(),
                    "osvj_p50_us", r.osvj().p50Us(), "host_p50_us", r.host().p50Us(), "osvj_p99_us", r.osvj().p99Us(),
                    "host_p99_us", r.host().p99Us(), "connections", LOAD_CONNECTIONS, "file_bytes", HttpBench.FILE_BYTES,
                    "compared", "osvj httpd (--root /tmp) reached through the user gateway vs the same HttpConnection "
                        + "and StaticFiles code on JDK sockets over the host loopback; one keep-alive Java client "
                        + "(GET of a 1 KiB file)"));
            bench.latency("http.latency", "osvj", r.osvj().latencyNanos());
            bench.latency("http.latency", "host", r.host().latencyNanos());
        }, "http.ratio_vs_host");
    }

    /** Native memcached and one osvj path ({@link #ONLY}), {@value #LOAD_CONNECTIONS} connections, interleaved. */
    private void onePath(final BenchContext bench, final long ns) throws Exception {
        final boolean user = "user".equals(ONLY);
        bench.progress("memcached osvj (" + ONLY + ") and native (Debian) over the host's loopback, in alternating slices, "
            + LOAD_CONNECTIONS + " connections");
        try (MemcachedBench.Target nativeTarget = MemcachedBench.startNative(WORKERS)) {
            if (user) {
                userMetric(bench, ns, nativeTarget);
            } else {
                tapMetric(bench, ns, nativeTarget);
            }
        }
    }

    /** Slices of each interleaved load ({@link MemcachedBench#interleaved}). */
    private static int slices(final BenchContext bench) {
        return bench.quick() ? 3 : 5;
    }

    /** {@code memcached.ratio_vs_native}: the user gateway against {@code nativeTarget}, interleaved. */
    private void userMetric(final BenchContext bench, final long ns, final MemcachedBench.Target nativeTarget) {
        MetricGuard.run(bench, () -> {
            bench.progress("memcached osvj through the user gateway against native, " + LOAD_CONNECTIONS + " connections");
            try (MemcachedBench.Target t = MemcachedBench.bootOsvjUser("osvj-bench-apps-" + KERNELS.incrementAndGet(),
                WORKERS)) {
                interleaved(bench, ns, t, nativeTarget, "memcached.ratio_vs_native", "memcached.user.latency",
                    "osvj memcached reached from host JDK sockets through the embedded user gateway (hostfwd) vs "
                        + "Debian memcached over the host loopback; the same Java client");
            }
        }, "memcached.ratio_vs_native");
    }

    /** {@code memcached.tap_ratio_vs_native}: a tap in a network namespace against {@code nativeTarget}, interleaved. */
    private void tapMetric(final BenchContext bench, final long ns, final MemcachedBench.Target nativeTarget) {
        final String noTap = NetNamespace.unavailable();
        if (noTap != null) {
            MetricGuard.unavailable(bench, noTap, "memcached.tap_ratio_vs_native");
            return;
        }
        MetricGuard.run(bench, () -> {
            bench.progress("memcached osvj on a tap in a network namespace against native, " + LOAD_CONNECTIONS
                + " connections");
            try (NetNamespace netns = NetNamespace.create();
                MemcachedBench.Target t = MemcachedBench.bootOsvjTap("osvj-bench-apps-" + KERNELS.incrementAndGet(),
                    WORKERS, netns, TAP, TAP_KERNEL_IP, TAP_LINUX_IP)) {
                interleaved(bench, ns, t, nativeTarget, "memcached.tap_ratio_vs_native", "memcached.tap.latency",
                    "osvj memcached on a tap device in a network namespace, reached from JDK sockets inside it "
                        + "(Linux's TCP) vs Debian memcached over the host loopback; the same Java client");
            }
        }, "memcached.tap_ratio_vs_native");
    }

    /** Load {@code osvj} and {@code nativeTarget} in alternating slices; record the metric and both latencies. */
    private static void interleaved(final BenchContext bench, final long ns, final MemcachedBench.Target osvj,
        final MemcachedBench.Target nativeTarget, final String metric, final String latency, final String compared)
        throws Exception {
        final MemcachedBench.Interleaved r = MemcachedBench.interleaved(osvj, nativeTarget, LOAD_CONNECTIONS, ns,
            slices(bench), MemcachedBench.WARMUP_NANOS);
        bench.metric(metric, r.medianRatio(), "ratio", "higher", loadDetail(r, compared));
        bench.latency(latency, "osvj", r.osvj().latencyNanos());
        bench.latency(latency, "native", r.peer().latencyNanos());
    }

    private void memcached(final BenchContext bench, final long ns) throws Exception {
        final Map<Integer, MemcachedBench.Result> osvj = new LinkedHashMap<>();
        final Map<Integer, MemcachedBench.Result> linux = new LinkedHashMap<>();
        bench.progress("memcached: native (Debian) over the host's loopback");
        try (MemcachedBench.Target t = MemcachedBench.startNative(WORKERS)) {
            for (final int c : CONNECTIONS) {
                bench.progress("memcached native, " + c + " connection(s)");
                linux.put(c, MemcachedBench.run(t, c, ns, MemcachedBench.WARMUP_NANOS));
            }
            // the network paths against the same native server, in alternating slices while both are up
            userMetric(bench, ns, t);
            tapMetric(bench, ns, t);
        }
        bench.progress("memcached: booting an osvj kernel with the built-in memcached");
        try (MemcachedBench.Target t = MemcachedBench.bootOsvj("osvj-bench-apps-" + KERNELS.incrementAndGet(), WORKERS)) {
            for (final int c : CONNECTIONS) {
                bench.progress("memcached osvj, " + c + " connection(s)");
                osvj.put(c, MemcachedBench.run(t, c, ns, MemcachedBench.WARMUP_NANOS));
            }
        }
        for (final int c : CONNECTIONS) {
            final MemcachedBench.Result o = osvj.get(c);
            final MemcachedBench.Result l = linux.get(c);
            bench.metric("memcached.c" + c + ".ops_ratio_vs_native", o.opsPerSecond() / l.opsPerSecond(), "ratio", "higher",
                detail("osvj_ops_per_s", o.opsPerSecond(), "native_ops_per_s", l.opsPerSecond(), "connections", c,
                    "compared", "osvj in-kernel server + client over the kernel loopback vs Debian memcached + the same "
                        + "client over the host loopback"));
            bench.metric("memcached.c" + c + ".p99_ratio_vs_native", o.p99Us() / l.p99Us(), "ratio", "lower",
                detail("osvj_p99_us", o.p99Us(), "native_p99_us", l.p99Us(), "osvj_p50_us", o.p50Us(),
                    "native_p50_us", l.p50Us()));
            bench.latency("memcached.c" + c + ".latency", "osvj", o.latencyNanos());
            bench.latency("memcached.c" + c + ".latency", "native", l.latencyNanos());
        }
    }

    private static Map<String, Object> loadDetail(final MemcachedBench.Interleaved r, final String compared) {
        final MemcachedBench.Result o = r.osvj();
        final MemcachedBench.Result n = r.peer();
        final Map<String, Object> d = detail("osvj_ops_per_s", o.opsPerSecond(), "native_ops_per_s", n.opsPerSecond(),
            "osvj_p50_us", o.p50Us(), "native_p50_us", n.p50Us(), "osvj_p99_us", o.p99Us(), "native_p99_us", n.p99Us(),
            "connections", LOAD_CONNECTIONS, "compared", compared + "; the value is the median of the ratios of "
                + r.sliceRatios().length + " alternating slices (both servers up throughout)");
        d.put("slice_ratios", java.util.Arrays.stream(r.sliceRatios()).map(x -> Math.round(x * 1000) / 1000.0).boxed().toList());
        d.put("ratio_of_means", o.opsPerSecond() / n.opsPerSecond());
        // the slowest request: a connection that stalled (a lost segment waiting for a retransmission) shows here
        d.put("osvj_max_us", o.latencyNanos().getMaxValue() / 1000.0);
        // the network device's and gateway's counters per request: kicks, inline kicks, interrupts, loop wake-ups
        o.perOp().forEach((k, v) -> d.put("per_request." + k, v));
        // the native run's CPU per request (the client's JVM, memcached's process, the machine) to compare with
        n.perOp().forEach((k, v) -> d.put("native_per_request." + k, v));
        return d;
    }

    static Map<String, Object> detail(final Object... kv) {
        final Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String)kv[i], kv[i + 1]);
        }
        return m;
    }
}
