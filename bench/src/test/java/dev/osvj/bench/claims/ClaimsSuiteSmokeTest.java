package dev.osvj.bench.claims;

import dev.osvj.bench.BenchContext;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The claims suite end to end in a tiny configuration: it finishes and reports every metric it names,
 * each with a unit, a direction and its detail, and its latency distributions. No assertion on timings.
 * (The net and vfs parts run those suites in their --quick sizes.)
 */
class ClaimsSuiteSmokeTest {
    @Test
    void shouldReportEveryClaimMetric(@TempDir final Path work) throws Exception {
        final ClaimsSuite.Sizes tiny = new ClaimsSuite.Sizes(150, 100, 200, 10, 1, 100, 2_000, 1,
            TimeUnit.MILLISECONDS.toNanos(300), 2);
        final Map<String, Map<String, Object>> metrics = new LinkedHashMap<>();
        final Map<String, Double> values = new LinkedHashMap<>();
        final Map<String, List<String>> series = new ConcurrentHashMap<>();
        final List<String> progress = new ArrayList<>();
        final BenchContext ctx = new BenchContext() {
            @Override
            public boolean quick() {
                return true;
            }

            @Override
            public Path workDir() {
                return work;
            }

            @Override
            public void progress(final String message) {
                progress.add(message);
            }

            @Override
            public void metric(final String name, final double value, final String unit, final String better,
                final Map<String, Object> detail) {
                assertEquals("ratio", unit, name);
                assertTrue("lower".equals(better) || "higher".equals(better), name);
                assertFalse(metrics.containsKey(name), "reported twice: " + name);
                metrics.put(name, detail);
                values.put(name, value);
            }

            @Override
            public void latency(final String name, final String s, final Histogram nanos) {
                assertTrue(nanos.getTotalCount() > 0, name + "/" + s);
                series.computeIfAbsent(name, n -> new ArrayList<>()).add(s);
            }
        };
        new ClaimsSuite(tiny).run(ctx);

        assertEquals(ClaimsSuite.METRICS, List.copyOf(metrics.keySet()), "every claim metric, in order");
        for (final String name : ClaimsSuite.METRICS) {
            assertFalse(metrics.get(name).isEmpty(), "detail of " + name);
            assertFalse(metrics.get(name).containsKey("error"), name + ": " + metrics.get(name));
        }
        for (final String paper : List.of("paper.switch_colocated.ratio_vs_linux", "paper.switch_apart.ratio_vs_linux",
            "paper.tcp_rr.ratio_vs_linux", "paper.tcp_stream.ratio_vs_linux", "paper.memcached.ratio_vs_linux")) {
            assertTrue(metrics.get(paper).get("paper_ratio") instanceof Double, paper);
            assertTrue(metrics.get(paper).containsKey("compared"), paper);
        }
        assertEquals(List.of("tickless", "100 Hz", "1000 Hz"), series.get("tick.sleep_lateness"));
        assertEquals(List.of("osvj", "linux"), series.get("paper.memcached.latency"));
        assertFalse(progress.isEmpty());
    }
}
