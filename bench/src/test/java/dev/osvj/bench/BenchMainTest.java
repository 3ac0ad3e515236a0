package dev.osvj.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.osvj.bench.report.BenchmarksTable;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The runner against fake suites: BENCH.md's JSON, exit codes, and what {@code bench all} writes. */
class BenchMainTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reports two metrics (one not finite) and a latency distribution. */
    private static final class FakeSuite implements BenchSuite {
        private final String name;
        private final boolean fail;

        FakeSuite(final String name, final boolean fail) {
            this.name = name;
            this.fail = fail;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public String description() {
            return "a fake suite";
        }

        @Override
        public void run(final BenchContext bench) {
            bench.progress("measuring");
            bench.metric("switch.colocated.ratio_vs_linux", 0.27, "ratio", "lower",
                Map.of("osvj_ns", 210.0, "linux_ns", 780.0));
            bench.metric("lhp.ratio", Double.POSITIVE_INFINITY, "ratio", "higher", Map.of("mutex_loss", 0.0));
            final Histogram h = new Histogram(3);
            for (int i = 1; i <= 1000; i++) {
                h.recordValue(i * 1000L);
            }
            bench.latency("rr.latency", "osvj", h);
            if (fail) {
                throw new IllegalStateException("boom");
            }
        }
    }

    private static Map<String, BenchSuite> suites(final BenchSuite... s) {
        final Map<String, BenchSuite> m = new LinkedHashMap<>();
        for (final BenchSuite x : s) {
            m.put(x.name(), x);
        }
        return m;
    }

    private static int run(final Map<String, BenchSuite> suites, final String... args) throws Exception {
        final PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        return BenchMain.run(args, sink, sink, suites);
    }

    @Test
    void shouldWriteTheJsonShapeOfBenchMd(@TempDir final Path dir) throws Exception {
        final Path file = dir.resolve("out/sched.json");
        assertEquals(0, run(suites(new FakeSuite("sched", false)), "sched", "--quick", "--json", file.toString()));

        final JsonNode root = JSON.readTree(file.toFile());
        assertEquals("sched", root.get("suite").asText());
        Instant.parse(root.get("when").asText());
        final JsonNode machine = root.get("machine");
        assertTrue(machine.get("cpus").isInt());
        assertEquals(Runtime.getRuntime().availableProcessors(), machine.get("cpus").asInt());
        assertTrue(machine.get("java").isTextual());
        assertTrue(machine.get("os").isTextual());
        final JsonNode m = root.get("metrics").get("switch.colocated.ratio_vs_linux");
        assertEquals(0.27, m.get("value").asDouble());
        assertEquals("ratio", m.get("unit").asText());
        assertEquals("lower", m.get("better").asText());
        assertEquals(210.0, m.get("detail").get("osvj_ns").asDouble());
        assertEquals(780.0, m.get("detail").get("linux_ns").asDouble());
        final JsonNode inf = root.get("metrics").get("lhp.ratio");
        assertTrue(inf.get("value").isNull(), "JSON has no Infinity: null");
        assertEquals("Infinity", inf.get("detail").get("not_finite").asText());
        final JsonNode series = root.get("distributions").get("rr.latency").get("series").get("osvj");
        assertTrue(series.isArray() && !series.isEmpty());
        for (final JsonNode p : series) {
            assertEquals(2, p.size());
        }
    }

    @Test
    void shouldRefuseAnUnknownSuiteWithExitCode2() throws Exception {
        assertEquals(2, run(suites(new FakeSuite("sched", false)), "nosuch"));
        assertEquals(2, run(suites(new FakeSuite("sched", false)), "sched", "--json"));
        assertEquals(2, run(suites(new FakeSuite("sched", false))));
    }

    @Test
    void shouldRunEverySuiteForAllAndWriteReportJsonAndBenchmarksTable(@TempDir final Path dir) throws Exception {
        final Path results = dir.resolve("results");
        final Path benchmarks = dir.resolve("BENCHMARKS.md");
        Files.writeString(benchmarks, "# Benchmarks\n\nintro\n\n" + BenchmarksTable.BEGIN + "\nold\n" + BenchmarksTable.END
            + "\n\n## Reproduce\n\nkept\n");
        final int code = run(suites(new FakeSuite("sched", true), new FakeSuite("net", false)), "all", "--quick",
            "--results", results.toString(), "--benchmarks", benchmarks.toString());
        assertEquals(1, code, "a failed suite makes the exit code 1, the others still run");

        for (final String f : List.of("sched.json", "net.json", "all.json", "REPORT.md")) {
            assertTrue(Files.exists(results.resolve(f)), f);
        }
        final JsonNode all = JSON.readTree(results.resolve("all.json").toFile());
        assertEquals("all", all.get("suite").asText());
        assertTrue(all.get("metrics").has("net/switch.colocated.ratio_vs_linux"));
        assertTrue(all.get("metrics").has("sched/switch.colocated.ratio_vs_linux"), "metrics before the failure are kept");
        assertTrue(all.get("failures").get("sched").asText().contains("boom"));
        final JsonNode sched = JSON.readTree(results.resolve("sched.json").toFile());
        assertTrue(sched.get("failure").asText().contains("boom"));

        final String md = Files.readString(benchmarks);
        assertTrue(md.startsWith("# Benchmarks\n\nintro\n\n"));
        assertTrue(md.endsWith("## Reproduce\n\nkept\n"));
        assertFalse(md.contains("\nold\n"));
        assertTrue(md.contains("`switch.colocated.ratio_vs_linux`"));
        assertTrue(md.contains("bin/osvj bench all --quick"));
        assertTrue(md.contains(Runtime.version().toString()));
        try (var plots = Files.list(results.resolve("plots"))) {
            assertTrue(plots.anyMatch(p -> p.toString().endsWith(".png")));
        }
    }
}
