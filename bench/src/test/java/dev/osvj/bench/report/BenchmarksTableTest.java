package dev.osvj.bench.report;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** BENCHMARKS.md: only the text between the markers changes. */
class BenchmarksTableTest {
    private static final String DOC = "# Benchmarks\n\nintro text\n\n## Latest results\n\n" + BenchmarksTable.BEGIN
        + "\n\n| old | table |\n\n" + BenchmarksTable.END + "\n\n## Reproduce\n\n```\nbin/osvj bench all\n```\n";

    @Test
    void shouldReplaceOnlyTheTextBetweenTheMarkers() {
        final String out = BenchmarksTable.replace(DOC, "| new | table |\n");
        assertEquals("# Benchmarks\n\nintro text\n\n## Latest results\n\n" + BenchmarksTable.BEGIN
            + "\n\n| new | table |\n\n" + BenchmarksTable.END + "\n\n## Reproduce\n\n```\nbin/osvj bench all\n```\n", out);
    }

    @Test
    void shouldBeIdempotent() {
        final String once = BenchmarksTable.replace(DOC, "| new |");
        assertEquals(once, BenchmarksTable.replace(once, "| new |"));
    }

    @Test
    void shouldAcceptAnOlderBeginMarkerText() {
        final String doc = "a\n<!-- bench:results:begin -->\nold\n" + BenchmarksTable.END + "\nb\n";
        assertEquals("a\n" + BenchmarksTable.BEGIN + "\n\nx\n\n" + BenchmarksTable.END + "\nb\n",
            BenchmarksTable.replace(doc, "x"));
    }

    @Test
    void shouldAppendASectionWhenTheMarkersAreMissing() {
        final String out = BenchmarksTable.replace("# Benchmarks\n\nintro\n", "| t |");
        assertEquals("# Benchmarks\n\nintro\n\n## Latest results\n\n" + BenchmarksTable.BEGIN + "\n\n| t |\n\n"
            + BenchmarksTable.END + "\n", out);
    }

    @Test
    void shouldRewriteTheFileInPlace(@TempDir final Path dir) throws Exception {
        final Path file = dir.resolve("BENCHMARKS.md");
        Files.writeString(file, DOC);
        BenchmarksTable.update(file, "| updated |");
        final String out = Files.readString(file);
        assertTrue(out.contains("| updated |"));
        assertTrue(out.startsWith("# Benchmarks\n\nintro text"));
        assertTrue(out.endsWith("bin/osvj bench all\n```\n"));
    }
}
