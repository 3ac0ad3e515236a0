package dev.osvj.bench.apps;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchSuite;
import dev.osvj.bench.Tools;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code bin/osvj bench apps}: the built-in applications against their native peers, in the same run.
 * Now: memcached (see {@link MemcachedBench} for exactly what is compared) with one connection (pure
 * request/response latency) and with four (throughput on two cores), 90/10 get/set of 100-byte values.
 *
 * <p>Metrics, for {@code N} in {@code 1} and {@code 4}: {@code memcached.cN.ops_ratio_vs_native}
 * (requests per second, osvj over Debian's memcached, higher is better) and
 * {@code memcached.cN.p99_ratio_vs_native} (99th-percentile request latency, lower is better), with the
 * latency distributions of both servers.
 */
public final class AppsSuite implements BenchSuite {
    private static final AtomicInteger KERNELS = new AtomicInteger();
    static final int[] CONNECTIONS = {1, 4};
    private static final int WORKERS = 2;

    @Override
    public String name() {
        return "apps";
    }

    @Override
    public String description() {
        return "memcached: osvj's built-in server vs Debian's memcached, same Java client, 1 and 4 connections";
    }

    @Override
    public void run(final BenchContext bench) throws Exception {
        if (Tools.find("memcached").isEmpty()) {
            throw new IllegalStateException("memcached is not installed (Debian: apt-get install memcached): "
                + "the apps suite has no native peer to compare with");
        }
        final long ns = (bench.quick() ? 3 : 15) * 1_000_000_000L;
        final Map<Integer, MemcachedBench.Result> osvj = new LinkedHashMap<>();
        final Map<Integer, MemcachedBench.Result> linux = new LinkedHashMap<>();
        bench.progress("memcached: native (Debian) over the host's loopback");
        try (MemcachedBench.Target t = MemcachedBench.startNative(WORKERS)) {
            for (final int c : CONNECTIONS) {
                bench.progress("memcached native, " + c + " connection(s)");
                linux.put(c, MemcachedBench.run(t, c, ns));
            }
        }
        bench.progress("memcached: booting an osvj kernel with the built-in memcached");
        try (MemcachedBench.Target t = MemcachedBench.bootOsvj("osvj-bench-apps-" + KERNELS.incrementAndGet(), WORKERS)) {
            for (final int c : CONNECTIONS) {
                bench.progress("memcached osvj, " + c + " connection(s)");
                osvj.put(c, MemcachedBench.run(t, c, ns));
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

    static Map<String, Object> detail(final Object... kv) {
        final Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String)kv[i], kv[i + 1]);
        }
        return m;
    }
}
