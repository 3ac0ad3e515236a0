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
 *       p99 of both in the detail.</li>
 *   <li>{@code memcached.tap_ratio_vs_native}: the same with the kernel on a {@code tap} device in a
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
 * <p>{@code -Dbench.apps.only=user} (or {@code tap}) runs only native memcached with
 * {@value #LOAD_CONNECTIONS} connections and that one osvj path: for A/B runs and profiles of one path
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

    /** Native memcached and one osvj path ({@link #ONLY}), {@value #LOAD_CONNECTIONS} connections. */
    private void onePath(final BenchContext bench, final long ns) throws Exception {
        final MemcachedBench.Result nativeLoad;
        bench.progress("memcached: native (Debian) over the host's loopback, " + LOAD_CONNECTIONS + " connections");
        try (MemcachedBench.Target t = MemcachedBench.startNative(WORKERS)) {
            nativeLoad = MemcachedBench.run(t, LOAD_CONNECTIONS, ns, MemcachedBench.WARMUP_NANOS);
        }
        final boolean user = "user".equals(ONLY);
        final String metric = user ? "memcached.ratio_vs_native" : "memcached.tap_ratio_vs_native";
        bench.progress("memcached osvj (" + ONLY + "), " + LOAD_CONNECTIONS + " connections");
        final NetNamespace netns = user ? null : NetNamespace.create();
        try (MemcachedBench.Target t = user
            ? MemcachedBench.bootOsvjUser("osvj-bench-apps-" + KERNELS.incrementAndGet(), WORKERS)
            : MemcachedBench.bootOsvjTap("osvj-bench-apps-" + KERNELS.incrementAndGet(), WORKERS, netns, TAP,
                TAP_KERNEL_IP, TAP_LINUX_IP)) {
            final MemcachedBench.Result o = MemcachedBench.run(t, LOAD_CONNECTIONS, ns, MemcachedBench.WARMUP_NANOS);
            bench.metric(metric, o.opsPerSecond() / nativeLoad.opsPerSecond(), "ratio", "higher",
                loadDetail(o, nativeLoad, "osvj memcached (" + ONLY + ") vs Debian memcached over the host loopback"));
        } finally {
            if (netns != null) {
                netns.close();
            }
        }
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
        }
        final MemcachedBench.Result nativeLoad = linux.get(LOAD_CONNECTIONS);
        MetricGuard.run(bench, () -> {
            bench.progress("memcached osvj through the user gateway, " + LOAD_CONNECTIONS + " connections");
            try (MemcachedBench.Target t = MemcachedBench.bootOsvjUser("osvj-bench-apps-" + KERNELS.incrementAndGet(),
                WORKERS)) {
                final MemcachedBench.Result o = MemcachedBench.run(t, LOAD_CONNECTIONS, ns, MemcachedBench.WARMUP_NANOS);
                bench.metric("memcached.ratio_vs_native", o.opsPerSecond() / nativeLoad.opsPerSecond(), "ratio", "higher",
                    loadDetail(o, nativeLoad, "osvj memcached reached from host JDK sockets through the embedded user "
                        + "gateway (hostfwd) vs Debian memcached over the host loopback; the same Java client"));
                bench.latency("memcached.user.latency", "osvj", o.latencyNanos());
                bench.latency("memcached.user.latency", "native", nativeLoad.latencyNanos());
            }
        }, "memcached.ratio_vs_native");
        final String noTap = NetNamespace.unavailable();
        if (noTap != null) {
            MetricGuard.unavailable(bench, noTap, "memcached.tap_ratio_vs_native");
        } else {
            MetricGuard.run(bench, () -> {
                bench.progress("memcached osvj on a tap in a network namespace, " + LOAD_CONNECTIONS + " connections");
                try (NetNamespace netns = NetNamespace.create();
                    MemcachedBench.Target t = MemcachedBench.bootOsvjTap("osvj-bench-apps-" + KERNELS.incrementAndGet(),
                        WORKERS, netns, TAP, TAP_KERNEL_IP, TAP_LINUX_IP)) {
                    final MemcachedBench.Result o = MemcachedBench.run(t, LOAD_CONNECTIONS, ns, MemcachedBench.WARMUP_NANOS);
                    bench.metric("memcached.tap_ratio_vs_native", o.opsPerSecond() / nativeLoad.opsPerSecond(), "ratio",
                        "higher", loadDetail(o, nativeLoad, "osvj memcached on a tap device in a network namespace, "
                            + "reached from JDK sockets inside it (Linux's TCP) vs Debian memcached over the host "
                            + "loopback; the same Java client"));
                    bench.latency("memcached.tap.latency", "osvj", o.latencyNanos());
                    bench.latency("memcached.tap.latency", "native", nativeLoad.latencyNanos());
                }
            }, "memcached.tap_ratio_vs_native");
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

    private static Map<String, Object> loadDetail(final MemcachedBench.Result o, final MemcachedBench.Result n,
        final String compared) {
        final Map<String, Object> d = detail("osvj_ops_per_s", o.opsPerSecond(), "native_ops_per_s", n.opsPerSecond(),
            "osvj_p50_us", o.p50Us(), "native_p50_us", n.p50Us(), "osvj_p99_us", o.p99Us(), "native_p99_us", n.p99Us(),
            "connections", LOAD_CONNECTIONS, "compared", compared);
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
