package dev.osvj.bench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes the human report of {@code bin/osvj bench all}: {@code REPORT.md} and its PNG plots under
 * {@code plots/} in one directory ({@code bench/results} by default), and the results table that
 * {@link BenchmarksTable} puts into the repository's {@code BENCHMARKS.md}.
 *
 * <p>Plots come from the numbers a suite reported, not from suite-specific code:
 * <ul>
 *   <li>per suite, its {@code ratio} metrics as bars against the 1.0 parity line;</li>
 *   <li>per metric, the numeric detail entries named {@code <who>_<unit>} ({@code osvj_ns},
 *       {@code linux_ns}; {@code channels_tps}, {@code traditional_tps}) grouped by unit, one bar chart per
 *       group of at least two entries; {@code paper_*} entries (another machine, another decade) are left
 *       to the paper table;</li>
 *   <li>per latency distribution, one percentile plot with every series.</li>
 * </ul>
 * Metrics whose detail has {@code paper_ratio} also go into a table beside the OSv paper's numbers.
 */
public final class ReportWriter {
    /** Unit suffixes of detail keys, longest first, with their display names. */
    private static final String[][] UNITS = {
        {"ops_per_s", "ops/s"}, {"bytes_per_s", "bytes/s"}, {"faults_per_s", "faults/s"},
        {"wakeups_per_s", "wakeups/s"}, {"per_s", "1/s"}, {"mbit_s", "Mbit/s"}, {"tps", "transactions/s"},
        {"cpu_pct", "% of one CPU"}, {"p50_us", "p50 µs"}, {"p99_us", "p99 µs"}, {"ns", "ns"}, {"us", "µs"},
    };

    private final Path dir;

    /** @param dir where REPORT.md and plots/ go (created when missing). */
    public ReportWriter(final Path dir) {
        this.dir = dir;
    }

    /**
     * Write REPORT.md and the plots (old plots are removed first).
     *
     * @param results      every suite's result, in run order.
     * @param machine      where the run happened.
     * @param when         when the run started.
     * @param command      the command line that produced it ({@code bin/osvj bench all --quick}).
     * @param missingTools the one-line notice about tools that were not found, or empty.
     * @param descriptions suite name to its one-line description.
     * @return the REPORT.md path.
     */
    public Path write(final List<SuiteResult> results, final Machine machine, final Instant when, final String command,
        final String missingTools, final Map<String, String> descriptions) throws IOException {
        final Path plots = dir.resolve("plots");
        Files.createDirectories(plots);
        try (var old = Files.list(plots)) {
            for (final Path p : old.filter(p -> p.toString().endsWith(".png")).toList()) {
                Files.delete(p);
            }
        }
        final StringBuilder md = new StringBuilder();
        md.append("# osvj benchmark report\n\n");
        md.append("Run `").append(command).append("` on ").append(when.truncatedTo(ChronoUnit.SECONDS)).append(".\n\n");
        md.append("Machine: ").append(machine.describe()).append(".\n\n");
        if (machine.loadAverage() > machine.cpus()) {
            md.append("The machine was loaded by other work (load average above the CPU count): absolute numbers are ")
                .append("low and noisy; the ratios compare osvj and its baselines measured in the same run.\n\n");
        }
        if (!missingTools.isEmpty()) {
            md.append("**").append(missingTools).append("**\n\n");
        }
        md.append("Ratios are the result (osvj over a baseline measured in the same run); absolute numbers are ")
            .append("context. Every metric says whether lower or higher is better. The JSON files beside this ")
            .append("report hold every number (`all.json`, one file per suite).\n\n");

        md.append("| suite | metrics | time | status |\n|---|---:|---:|---|\n");
        for (final SuiteResult r : results) {
            md.append("| [").append(r.suite()).append("](#").append(r.suite()).append(") | ").append(r.metrics().size())
                .append(" | ").append(String.format(Locale.ROOT, "%.0f s", r.elapsedNanos() / 1e9)).append(" | ")
                .append(r.failure() == null ? "ok" : "failed: " + cell(r.failure())).append(" |\n");
        }
        md.append('\n');

        final String paper = paperTable(results);
        if (!paper.isEmpty()) {
            md.append("## The OSv paper side by side\n\n");
            md.append("The OSv paper (ATC'14: 4-CPU i7-4770, KVM guests, Fedora 20) against osvj on this machine. ")
                .append("The paper's numbers are context; osvj's ratio over its same-run baseline is the result.\n\n");
            md.append(paper).append('\n');
        }

        for (final SuiteResult r : results) {
            md.append("## ").append(r.suite()).append("\n\n");
            final String description = descriptions.getOrDefault(r.suite(), "");
            if (!description.isEmpty()) {
                md.append(description).append(".\n\n");
            }
            if (r.failure() != null) {
                md.append("**The suite failed:** ").append(r.failure()).append("\n\n");
            }
            final Map<String, Double> ratios = new LinkedHashMap<>();
            final Map<String, Boolean> wins = new LinkedHashMap<>();
            r.metrics().forEach((name, m) -> {
                if ("ratio".equals(m.unit()) && Double.isFinite(m.value())) {
                    ratios.put(name, m.value());
                    wins.put(name, "lower".equals(m.better()) ? m.value() < 1 : m.value() > 1);
                }
            });
            if (!ratios.isEmpty()) {
                final String png = file(r.suite(), "ratios");
                Charts.ratios(r.suite() + ": osvj over its baselines", ratios, wins, plots.resolve(png));
                md.append("![").append(r.suite()).append(" ratios](plots/").append(png).append(")\n\n");
            }
            if (!r.metrics().isEmpty()) {
                md.append("| metric | value | unit | better | detail |\n|---|---:|---|---|---|\n");
                r.metrics().forEach((name, m) -> md.append("| `").append(name).append("` | ").append(number(m.value()))
                    .append(" | ").append(m.unit()).append(" | ").append(m.better()).append(" | ")
                    .append(cell(detail(m.detail()))).append(" |\n"));
                md.append('\n');
            }
            final List<String> images = new ArrayList<>();
            for (final Map.Entry<String, SuiteResult.Metric> e : r.metrics().entrySet()) {
                for (final Map.Entry<String, Map<String, Double>> g : groups(e.getValue().detail()).entrySet()) {
                    if (g.getValue().size() < 2) {
                        continue;
                    }
                    final String png = file(r.suite(), e.getKey() + "-" + g.getKey());
                    Charts.bars(e.getKey(), unitName(g.getKey()), g.getValue(), plots.resolve(png));
                    images.add("![" + e.getKey() + "](plots/" + png + ")");
                }
            }
            for (final Map.Entry<String, SuiteResult.Distribution> e : r.distributions().entrySet()) {
                final String png = file(r.suite(), e.getKey() + "-distribution");
                Charts.distribution(e.getKey() + " (latency distribution)", e.getValue(), plots.resolve(png));
                images.add("![" + e.getKey() + " distribution](plots/" + png + ")");
            }
            for (final String image : images) {
                md.append(image).append('\n');
            }
            if (!images.isEmpty()) {
                md.append('\n');
            }
        }
        final Path report = dir.resolve("REPORT.md");
        Files.writeString(report, md);
        return report;
    }

    /**
     * The block BENCHMARKS.md keeps between its markers: when and where the run happened, how to reproduce
     * it, and one row per metric.
     */
    public static String resultsTable(final List<SuiteResult> results, final Machine machine, final Instant when,
        final String command, final String missingTools) {
        final StringBuilder md = new StringBuilder();
        md.append("Latest run: `").append(command).append("` on ").append(when.truncatedTo(ChronoUnit.SECONDS))
            .append(".\n\n");
        md.append("Machine: ").append(machine.describe()).append(".\n\n");
        if (results.stream().anyMatch(SuiteResult::quick)) {
            md.append("This was a `--quick` run (fewer iterations, same metrics).\n\n");
        }
        if (!missingTools.isEmpty()) {
            md.append(missingTools).append("\n\n");
        }
        md.append("Reproduce: `").append(command).append("` (about ")
            .append(String.format(Locale.ROOT, "%.0f", results.stream().mapToLong(SuiteResult::elapsedNanos).sum() / 6e10))
            .append(" minutes here); the report with plots is `bench/results/REPORT.md`.\n\n");
        md.append("| suite | metric | value | unit | better | detail |\n|---|---|---:|---|---|---|\n");
        for (final SuiteResult r : results) {
            if (r.failure() != null) {
                md.append("| ").append(r.suite()).append(" | (suite failed) | | | | ").append(cell(r.failure())).append(" |\n");
            }
            r.metrics().forEach((name, m) -> md.append("| ").append(r.suite()).append(" | `").append(name).append("` | ")
                .append(number(m.value())).append(" | ").append(m.unit()).append(" | ").append(m.better()).append(" | ")
                .append(cell(detail(numbersOnly(m.detail())))).append(" |\n"));
        }
        final String paper = paperTable(results);
        if (!paper.isEmpty()) {
            md.append("\nThe OSv paper side by side (paper: ATC'14, KVM guests on a 4-CPU i7; osvj: this run):\n\n")
                .append(paper);
        }
        return md.toString();
    }

    /** The claims that carry the paper's numbers (detail {@code paper_ratio}) as a markdown table, or empty. */
    static String paperTable(final List<SuiteResult> results) {
        final StringBuilder md = new StringBuilder();
        for (final SuiteResult r : results) {
            for (final Map.Entry<String, SuiteResult.Metric> e : r.metrics().entrySet()) {
                final Map<String, Object> d = e.getValue().detail();
                if (!(d.get("paper_ratio") instanceof Number paperRatio)) {
                    continue;
                }
                if (md.isEmpty()) {
                    md.append("| claim | paper: OSv | paper: Linux | paper ratio | osvj | baseline | osvj ratio | better | compared |\n")
                        .append("|---|---:|---:|---:|---:|---:|---:|---|---|\n");
                }
                String osvj = "";
                String base = "";
                final Map<String, Map<String, Double>> groups = groups(d);
                for (final String[] unit : UNITS) {
                    final Map<String, Double> g = groups.get(unit[0]);
                    if (g == null) {
                        continue;
                    }
                    String o = null;
                    String b = null;
                    for (final Map.Entry<String, Double> v : g.entrySet()) {
                        if (v.getKey().startsWith("osvj") && o == null) {
                            o = number(v.getValue()) + " " + unit[1];
                        } else if (b == null) {
                            b = number(v.getValue()) + " " + unit[1] + " (" + v.getKey() + ")";
                        }
                    }
                    if (o != null && b != null) {
                        osvj = o;
                        base = b;
                        break;
                    }
                }
                final String paperUnit = d.get("paper_unit") instanceof String u ? " " + u : "";
                md.append("| `").append(e.getKey()).append("` | ").append(text(d.get("paper_osv"))).append(paperUnit).append(" | ")
                    .append(text(d.get("paper_linux"))).append(paperUnit).append(" | ").append(number(paperRatio.doubleValue())).append(" | ")
                    .append(osvj).append(" | ").append(base).append(" | ").append(number(e.getValue().value())).append(" | ")
                    .append(e.getValue().better()).append(" | ").append(cell(text(d.getOrDefault("compared", ""))))
                    .append(" |\n");
            }
        }
        return md.toString();
    }

    /** Numeric detail entries grouped by unit suffix: unit to (who to value), in key order. */
    static Map<String, Map<String, Double>> groups(final Map<String, Object> detail) {
        final Map<String, Map<String, Double>> groups = new LinkedHashMap<>();
        for (final Map.Entry<String, Object> e : detail.entrySet()) {
            if (!(e.getValue() instanceof Number n) || e.getKey().startsWith("paper_") || !Double.isFinite(n.doubleValue())) {
                continue;
            }
            for (final String[] unit : UNITS) {
                final String suffix = "_" + unit[0];
                if (e.getKey().endsWith(suffix) && e.getKey().length() > suffix.length()) {
                    groups.computeIfAbsent(unit[0], u -> new LinkedHashMap<>())
                        .put(e.getKey().substring(0, e.getKey().length() - suffix.length()), n.doubleValue());
                    break;
                }
            }
        }
        return groups;
    }

    private static String unitName(final String suffix) {
        for (final String[] unit : UNITS) {
            if (unit[0].equals(suffix)) {
                return unit[1];
            }
        }
        return suffix;
    }

    private static String file(final String suite, final String what) {
        return (suite + "-" + what).replaceAll("[^A-Za-z0-9._-]", "_") + ".png";
    }

    /** The detail without its prose (what is compared, the workload): those are in REPORT.md. */
    private static Map<String, Object> numbersOnly(final Map<String, Object> detail) {
        final Map<String, Object> m = new LinkedHashMap<>();
        detail.forEach((k, v) -> {
            if (!(v instanceof String text) || text.length() <= 40) {
                m.put(k, v);
            }
        });
        return m;
    }

    static String detail(final Map<String, Object> detail) {
        final StringBuilder sb = new StringBuilder();
        detail.forEach((k, v) -> {
            if (!sb.isEmpty()) {
                sb.append(", ");
            }
            sb.append(k).append('=').append(text(v));
        });
        return sb.toString();
    }

    private static String text(final Object v) {
        if (v == null) {
            return "";
        }
        return v instanceof Number n ? number(n.doubleValue()) : v.toString();
    }

    /** Four significant digits, no exponent for ordinary magnitudes; "n/a" when not finite. */
    static String number(final double v) {
        if (!Double.isFinite(v)) {
            return "n/a";
        }
        final double a = Math.abs(v);
        if (a == 0) {
            return "0";
        }
        if (a >= 1e4) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        if (v == Math.rint(v)) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        final int digits = Math.max(0, 3 - (int)Math.floor(Math.log10(a)));
        return String.format(Locale.ROOT, "%." + Math.min(digits, 6) + "f", v);
    }

    private static String cell(final String s) {
        return s.replace("|", "\\|").replace("\n", " ");
    }
}
