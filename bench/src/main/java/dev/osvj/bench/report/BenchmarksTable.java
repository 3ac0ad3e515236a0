package dev.osvj.bench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Keeps the results table of the repository's {@code BENCHMARKS.md}: the text between
 * {@link #BEGIN} and {@link #END} is replaced by the latest {@code bench all} run; everything outside the
 * markers is left as it is. A file without the markers gets a "Latest results" section with them
 * appended.
 */
public final class BenchmarksTable {
    public static final String BEGIN = "<!-- bench:results:begin (written by bin/osvj bench all; edits here are overwritten) -->";
    public static final String END = "<!-- bench:results:end -->";
    private static final String BEGIN_PREFIX = "<!-- bench:results:begin";

    private BenchmarksTable() {
    }

    /** {@code document} with the block between the markers replaced by {@code table}. */
    public static String replace(final String document, final String table) {
        final String block = BEGIN + "\n\n" + table.strip() + "\n\n" + END;
        final int begin = document.indexOf(BEGIN_PREFIX);
        final int end = begin < 0 ? -1 : document.indexOf(END, begin);
        if (begin < 0 || end < 0) {
            final String sep = document.isEmpty() || document.endsWith("\n\n") ? "" : document.endsWith("\n") ? "\n" : "\n\n";
            return document + sep + "## Latest results\n\n" + block + "\n";
        }
        return document.substring(0, begin) + block + document.substring(end + END.length());
    }

    /** Rewrite {@code file} in place (created when missing). */
    public static void update(final Path file, final String table) throws IOException {
        final String document = Files.exists(file) ? Files.readString(file) : "# Benchmarks\n";
        Files.writeString(file, replace(document, table));
    }
}
