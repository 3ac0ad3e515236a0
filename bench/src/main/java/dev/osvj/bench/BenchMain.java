package dev.osvj.bench;

import dev.osvj.bench.report.BenchmarksTable;
import dev.osvj.bench.report.Machine;
import dev.osvj.bench.report.ReportWriter;
import dev.osvj.bench.report.ResultsJson;
import dev.osvj.bench.report.SuiteResult;
import org.HdrHistogram.Histogram;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * {@code bin/osvj bench SUITE [--quick] [--json FILE]}: runs suites, prints each metric, writes the JSON
 * of BENCH.md. {@code SUITE = all} runs every suite (a failing suite does not stop the others) and
 * writes {@code bench/results/}: one JSON file per suite, {@code all.json}, {@code REPORT.md} with its
 * plots; then it rewrites the results table of {@code BENCHMARKS.md} between its markers. Paths are
 * relative to the repository ({@code -Dosvj.home}, set by {@code bin/osvj}; else the working directory);
 * {@code --results DIR} and {@code --benchmarks FILE} override them.
 *
 * <p>Exit codes: 0 ok, 1 a suite failed, 2 usage error (unknown suite).
 */
public final class BenchMain {
    /** The order of {@code all}: the order of BENCH.md; suites not listed follow by name. */
    private static final List<String> ORDER = List.of("sched", "mmu", "virtio", "net", "vfs", "apps", "claims");

    private BenchMain() {
    }

    public static void main(final String[] args) throws Exception {
        System.exit(execute(args));
    }

    /** Entry point for {@code osvj bench}: returns the exit code. */
    public static int execute(final String[] args) throws Exception {
        return run(args, System.out, System.err);
    }

    static int run(final String[] args, final PrintStream out, final PrintStream err) throws Exception {
        return run(args, out, err, suites());
    }

    /** {@link #run(String[], PrintStream, PrintStream)} over the given suites (tests pass their own). */
    static int run(final String[] args, final PrintStream out, final PrintStream err, final Map<String, BenchSuite> suites)
        throws Exception {
        System.setProperty("java.awt.headless", "true");
        String suiteName = null;
        boolean quick = false;
        Path json = null;
        final Path home = Path.of(System.getProperty("osvj.home", "."));
        Path resultsDir = home.resolve("bench").resolve("results");
        Path benchmarksMd = home.resolve("BENCHMARKS.md");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--json", "--results", "--benchmarks" -> {
                    if (i + 1 >= args.length) {
                        err.println("osvj bench: " + args[i] + " needs a " + ("--results".equals(args[i]) ? "DIR" : "FILE"));
                        return 2;
                    }
                    final Path p = Path.of(args[i + 1]);
                    switch (args[i]) {
                        case "--json" -> json = p;
                        case "--results" -> resultsDir = p;
                        default -> benchmarksMd = p;
                    }
                    i++;
                }
                case "-h", "--help" -> {
                    usage(out);
                    return 0;
                }
                default -> {
                    if (args[i].startsWith("-") || suiteName != null) {
                        err.println("osvj bench: unexpected argument " + args[i]);
                        usage(err);
                        return 2;
                    }
                    suiteName = args[i];
                }
            }
        }
        if (suiteName == null) {
            usage(err);
            return 2;
        }
        final List<BenchSuite> selected = new ArrayList<>();
        final boolean all = "all".equals(suiteName);
        if (all) {
            selected.addAll(suites.values());
        } else if (suites.containsKey(suiteName)) {
            selected.add(suites.get(suiteName));
        } else {
            final List<String> names = new ArrayList<>(suites.keySet());
            names.add("all");
            err.println("osvj bench: unknown suite " + suiteName + "; suites: " + String.join(", ", names));
            return 2;
        }
        final String missing = Tools.missingLine(selected.stream().map(BenchSuite::name).toList());
        if (!missing.isEmpty()) {
            err.println(missing);
        }
        final Machine machine = Machine.current();
        final Instant when = Instant.now();
        final Path work = Files.createTempDirectory("osvj-bench");
        final boolean tty = System.console() != null && System.console().isTerminal();
        final List<SuiteResult> results = new ArrayList<>();
        final long runStart = System.nanoTime();
        for (int i = 0; i < selected.size(); i++) {
            final String tag = selected.size() > 1 ? (i + 1) + "/" + selected.size() + " " : "";
            results.add(runSuite(selected.get(i), quick, work, machine, tag, runStart, tty ? out : err, out, err));
        }
        final int status = results.stream().anyMatch(r -> r.failure() != null) ? 1 : 0;
        if (!all) {
            if (json != null) {
                ResultsJson.write(json, ResultsJson.tree(results.getFirst()));
            }
            return status;
        }
        final String command = "bin/osvj bench all" + (quick ? " --quick" : "");
        for (final SuiteResult r : results) {
            ResultsJson.write(resultsDir.resolve(r.suite() + ".json"), ResultsJson.tree(r));
        }
        ResultsJson.write(resultsDir.resolve("all.json"), ResultsJson.combined(results, when, machine, quick));
        if (json != null) {
            ResultsJson.write(json, ResultsJson.combined(results, when, machine, quick));
        }
        final Map<String, String> descriptions = new LinkedHashMap<>();
        selected.forEach(s -> descriptions.put(s.name(), s.description()));
        final Path report = new ReportWriter(resultsDir).write(results, machine, when, command, missing, descriptions);
        BenchmarksTable.update(benchmarksMd, ReportWriter.resultsTable(results, machine, when, command, missing));
        out.println("osvj bench: wrote " + report + " and the results table of " + benchmarksMd);
        return status;
    }

    /** Run one suite into a result; a suite that throws is recorded as failed with what it reported so far. */
    static SuiteResult runSuite(final BenchSuite suite, final boolean quick, final Path work, final Machine machine,
        final String tag, final long runStart, final PrintStream progress, final PrintStream out, final PrintStream err) {
        final Map<String, SuiteResult.Metric> metrics = new LinkedHashMap<>();
        final Map<String, SuiteResult.Distribution> distributions = new LinkedHashMap<>();
        final Instant when = Instant.now();
        final long t0 = System.nanoTime();
        final BenchContext ctx = new BenchContext() {
            @Override
            public boolean quick() {
                return quick;
            }

            @Override
            public Path workDir() {
                return work;
            }

            @Override
            public void progress(final String message) {
                final long s = (System.nanoTime() - runStart) / 1_000_000_000L;
                progress.printf(Locale.ROOT, "[%s%s %d:%02d] %s%n", tag, suite.name(), s / 60, s % 60, message);
            }

            @Override
            public void metric(final String name, final double value, final String unit, final String better,
                final Map<String, Object> detail) {
                metrics.put(name, ResultsJson.metric(value, unit, better, detail));
                out.printf(Locale.ROOT, "%-48s %14.4f %-6s (%s is better)%n", name, value, unit, better);
            }

            @Override
            public void latency(final String name, final String series, final Histogram nanos) {
                distributions.computeIfAbsent(name, n -> new SuiteResult.Distribution("us", new LinkedHashMap<>()))
                    .series().put(series, ResultsJson.points(nanos));
            }
        };
        String failure = null;
        try {
            suite.run(ctx);
        } catch (final Exception | Error e) {
            if (e instanceof VirtualMachineError vme && !(e instanceof OutOfMemoryError)) {
                throw vme;
            }
            failure = e.toString();
            err.println("osvj bench: suite " + suite.name() + " failed: " + e);
            final StringWriter trace = new StringWriter();
            e.printStackTrace(new PrintWriter(trace));
            err.print(trace);
        }
        return new SuiteResult(suite.name(), when, machine, quick, metrics, distributions, failure, System.nanoTime() - t0);
    }

    /** Every suite on the class path, in the order of {@code all}. */
    static Map<String, BenchSuite> suites() {
        final Map<String, BenchSuite> byName = new TreeMap<>();
        for (final BenchSuite s : ServiceLoader.load(BenchSuite.class)) {
            byName.put(s.name(), s);
        }
        final Map<String, BenchSuite> ordered = new LinkedHashMap<>();
        for (final String name : ORDER) {
            if (byName.containsKey(name)) {
                ordered.put(name, byName.remove(name));
            }
        }
        ordered.putAll(byName);
        return ordered;
    }

    private static void usage(final PrintStream out) {
        out.println("usage: osvj bench SUITE [--quick] [--json FILE]");
        for (final BenchSuite s : suites().values()) {
            out.printf("  %-8s %s%n", s.name(), s.description());
        }
        out.println("  all      every suite above; writes bench/results/ (JSON, REPORT.md, plots) and BENCHMARKS.md's table");
    }
}
