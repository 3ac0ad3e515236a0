package dev.osvj.bench.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The report from a canned result set: markdown, PNG plots, the paper table, JSON round trip. */
class ReportWriterTest {
    private static final Machine MACHINE = new Machine(2, "25.0.3", "Linux 6.1", "Test CPU", 3.5);
    private static final Instant WHEN = Instant.parse("2026-11-27T15:00:00Z");

    static List<SuiteResult> canned() {
        final Map<String, SuiteResult.Metric> sched = new LinkedHashMap<>();
        sched.put("switch.colocated.ratio_vs_linux", ResultsJson.metric(0.27, "ratio", "lower",
            Map.of("osvj_ns", 210.0, "linux_ns", 780.0, "virtual_threads_ns", 300.0)));
        sched.put("lhp.spinlock_vs_mutex_loss", ResultsJson.metric(Double.POSITIVE_INFINITY, "ratio", "higher", Map.of()));
        final Map<String, SuiteResult.Metric> claims = new LinkedHashMap<>();
        final Map<String, Object> paper = new TreeMap<>(Map.of("osvj_tps", 30_000.0, "linux_tps", 50_000.0,
            "paper_osv", 74_862.0, "paper_linux", 45_976.0, "paper_ratio", 74_862.0 / 45_976.0, "paper_unit", "tps",
            "compared", "osvj loopback vs Linux loopback | same client"));
        claims.put("paper.tcp_rr.ratio_vs_linux", ResultsJson.metric(0.6, "ratio", "higher", paper));
        claims.put("tick.idle_cpu.tickless_vs_100hz", ResultsJson.metric(0.3, "ratio", "lower",
            Map.of("tickless_cpu_pct", 0.5, "hz100_cpu_pct", 1.6)));
        final Map<String, SuiteResult.Distribution> dists = new LinkedHashMap<>();
        final Map<String, List<SuiteResult.Point>> series = new LinkedHashMap<>();
        for (final String s : List.of("tickless", "100 Hz")) {
            final List<SuiteResult.Point> points = new ArrayList<>();
            for (final double p : ResultsJson.PERCENTILES) {
                points.add(new SuiteResult.Point(p, (s.equals("tickless") ? 50 : 5000) * (1 + p / 10)));
            }
            series.put(s, points);
        }
        dists.put("tick.sleep_lateness", new SuiteResult.Distribution("us", series));
        return List.of(
            new SuiteResult("sched", WHEN, MACHINE, true, sched, Map.of(), null, 40_000_000_000L),
            new SuiteResult("claims", WHEN, MACHINE, true, claims, dists, "claims that failed: {x=y}", 90_000_000_000L));
    }

    @Test
    void shouldWriteMarkdownWithEveryMetricAndPlotsThatExist(@TempDir final Path dir) throws Exception {
        final Path report = new ReportWriter(dir).write(canned(), MACHINE, WHEN, "bin/osvj bench all --quick",
            "osvj bench: missing tools: memcached", Map.of("sched", "the scheduler"));
        final String md = Files.readString(report);
        assertTrue(md.startsWith("# osvj benchmark report"));
        assertTrue(md.contains("2 CPUs (Test CPU), Java 25.0.3, Linux 6.1"));
        assertTrue(md.contains("loaded by other work"), "load 3.5 on 2 CPUs is said");
        assertTrue(md.contains("osvj bench: missing tools: memcached"));
        for (final String metric : List.of("switch.colocated.ratio_vs_linux", "lhp.spinlock_vs_mutex_loss",
            "paper.tcp_rr.ratio_vs_linux", "tick.idle_cpu.tickless_vs_100hz")) {
            assertTrue(md.contains("`" + metric + "`"), metric);
        }
        assertTrue(md.contains("## The OSv paper side by side"));
        assertTrue(md.contains("| `paper.tcp_rr.ratio_vs_linux` | 74,862 tps | 45,976 tps | 1.628 | 30,000 transactions/s |"), md);
        assertTrue(md.contains("\\|"), "a | inside a cell is escaped");
        assertTrue(md.contains("**The suite failed:** claims that failed"));

        final Matcher images = Pattern.compile("!\\[[^]]*]\\((plots/[^)]+\\.png)\\)").matcher(md);
        int count = 0;
        while (images.find()) {
            final Path png = dir.resolve(images.group(1));
            assertTrue(Files.exists(png), png.toString());
            final BufferedImage image = ImageIO.read(png.toFile());
            assertNotNull(image, "a readable PNG: " + png);
            assertTrue(image.getWidth() >= 720 && image.getHeight() >= 200, png.toString());
            count++;
        }
        // sched: ratios + switch bars (ns); claims: ratios + paper bars (tps) + tick bars (cpu_pct) + distribution
        assertEquals(6, count, md);
        assertTrue(Files.exists(dir.resolve("plots/claims-tick.sleep_lateness-distribution.png")));
    }

    @Test
    void shouldRoundTripASuiteThroughJson(@TempDir final Path dir) throws Exception {
        final SuiteResult claims = canned().get(1);
        final Path file = dir.resolve("claims.json");
        ResultsJson.write(file, ResultsJson.tree(claims));
        final SuiteResult back = ResultsJson.read(file);
        assertEquals("claims", back.suite());
        assertEquals(claims.metrics().keySet(), back.metrics().keySet());
        assertEquals(0.6, back.metrics().get("paper.tcp_rr.ratio_vs_linux").value());
        final List<SuiteResult.Point> before = claims.distributions().get("tick.sleep_lateness").series().get("tickless");
        final List<SuiteResult.Point> after = back.distributions().get("tick.sleep_lateness").series().get("tickless");
        assertEquals(before.size(), after.size());
        for (int i = 0; i < before.size(); i++) {
            assertEquals(before.get(i).percentile(), after.get(i).percentile());
            assertEquals(before.get(i).value(), after.get(i).value(), 0.001, "values keep a nanosecond");
        }
        assertEquals(claims.failure(), back.failure());
        assertEquals(MACHINE.cpus(), back.machine().cpus());
    }

    @Test
    void shouldPutTheMachineAndTheReproduceCommandInTheBenchmarksTable() {
        final String table = ReportWriter.resultsTable(canned(), MACHINE, WHEN, "bin/osvj bench all --quick", "");
        assertTrue(table.contains("2026-11-27T15:00:00Z"));
        assertTrue(table.contains("2 CPUs (Test CPU), Java 25.0.3, Linux 6.1"));
        assertTrue(table.contains("Reproduce: `bin/osvj bench all --quick`"));
        assertTrue(table.contains("| sched | `switch.colocated.ratio_vs_linux` | 0.2700 | ratio | lower |"), table);
        assertTrue(table.contains("| sched | `lhp.spinlock_vs_mutex_loss` | n/a |"));
        assertTrue(table.contains("| claims | (suite failed) |"));
    }
}
