package dev.osvj.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bin/osvj bench all --quick} as a smoke test (BENCH.md): every suite finishes and writes valid
 * JSON in the contract's shape with every metric the issues name. Nothing here looks at a value:
 * benchmarks report numbers, tests assert behaviour. Results and the report go to a temporary folder,
 * so the repository's BENCHMARKS.md is left alone.
 */
class BenchSmokeIT {
    /**
     * The metrics issues 3-10 name, per suite (stable names; new metrics may be added freely). A metric
     * that cannot run on a machine (no root for a tap, no memcached) is present with a null value and
     * its reason in the detail.
     */
    private static final Map<String, List<String>> NAMED = Map.of(
        "sched", List.of("switch.colocated.ratio_vs_linux", "switch.apart.ratio_vs_linux",
            "switch.colocated.ratio_vs_virtual_threads", "fairness.max_share_error", "lhp.spinlock_loss", "lhp.mutex_loss"),
        "mmu", List.of("faults.ratio_vs_linux", "mmap_munmap.ratio_vs_linux", "malloc.ratio_vs_glibc"),
        "virtio", List.of("virtqueue.ratio_vs_agrona", "blk.randread.ratio_vs_filechannel"),
        "net", List.of("rr.channels_vs_traditional", "rr.user_vs_linux_loopback", "rr.tap_vs_linux_loopback",
            "stream.tap_vs_linux_loopback"),
        "vfs", List.of("ops.ratio_vs_tmpfs", "read.ratio_vs_tmpfs", "readers.scaling_2"),
        "apps", List.of("memcached.ratio_vs_native", "memcached.tap_ratio_vs_native", "http.ratio_vs_host"),
        "claims", List.of("net_channels.rr_vs_layered", "lhp.spinlock_loss", "lhp.mutex_loss",
            "tick.idle_wakeups.tickless_vs_100hz", "tick.idle_wakeups.tickless_vs_1000hz",
            "tick.wakeup_late_p50.tickless_vs_100hz", "syscall.getpid_vs_host", "syscall.file_ops_vs_tmpfs",
            "paper.switch_colocated.ratio_vs_linux", "paper.switch_apart.ratio_vs_linux",
            "paper.tcp_rr.ratio_vs_linux", "paper.tcp_stream.ratio_vs_linux", "paper.memcached.ratio_vs_linux"),
        "fleet", List.of("fleet.boot_p50_ms", "fleet.boots_per_s", "memcached.k2k_vs_linux"));

    @TempDir
    Path dir;

    @Test
    void shouldRunEverySuiteQuicklyAndWriteEveryNamedMetric() throws Exception {
        final Path json = dir.resolve("all.json");
        final Path benchmarks = dir.resolve("BENCHMARKS.md");
        Files.copy(OsvjProcess.HOME.resolve("BENCHMARKS.md"), benchmarks);
        try (OsvjProcess bench = OsvjProcess.start(Map.of(), "bench", "all", "--quick", "--json", json.toString(),
            "--results", dir.resolve("results").toString(), "--benchmarks", benchmarks.toString())) {
            assertEquals(0, bench.awaitExit(Duration.ofMinutes(15)), () -> "stderr: " + bench.stderr());
        }
        final JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertEquals("all", root.path("suite").asText());
        assertTrue(root.path("when").asText().matches("\\d{4}-\\d\\d-\\d\\dT.*Z"), root.path("when").asText());
        assertTrue(root.path("machine").path("cpus").asInt() > 0);
        assertTrue(root.path("machine").path("java").asText().startsWith("25"), root.path("machine").toString());
        final JsonNode metrics = root.path("metrics");
        for (final Map.Entry<String, List<String>> suite : NAMED.entrySet()) {
            for (final String name : suite.getValue()) {
                final JsonNode m = metrics.path(suite.getKey() + "/" + name);
                assertTrue(m.isObject(), "missing metric " + suite.getKey() + "/" + name + " in " + metrics.properties().size() + " metrics");
                assertTrue(m.path("value").isNumber() || m.path("value").isNull(), m.toString());
                assertTrue(List.of("lower", "higher").contains(m.path("better").asText()), m.toString());
                assertTrue(!m.path("unit").asText().isEmpty(), m.toString());
                assertTrue(m.path("detail").isObject(), m.toString());
            }
        }
        assertTrue(Files.exists(dir.resolve("results/REPORT.md")));
        assertTrue(Files.readString(benchmarks).contains("`switch.colocated.ratio_vs_linux`"));
    }
}
