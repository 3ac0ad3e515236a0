package dev.osvj.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * {@code bin/osvj bench SUITE [--quick] [--json FILE]}: runs suites, prints each metric, writes the JSON
 * of BENCH.md. Exit codes: 0 ok, 1 a suite failed, 2 usage error (unknown suite).
 */
public final class BenchMain {
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
        String suiteName = null;
        boolean quick = false;
        Path json = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--json" -> {
                    if (i + 1 >= args.length) {
                        err.println("osvj bench: --json needs a FILE");
                        return 2;
                    }
                    json = Path.of(args[++i]);
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
        final Map<String, BenchSuite> suites = suites();
        if (suiteName == null) {
            usage(err);
            return 2;
        }
        final List<BenchSuite> selected = new ArrayList<>();
        if ("all".equals(suiteName)) {
            selected.addAll(suites.values());
        } else if (suites.containsKey(suiteName)) {
            selected.add(suites.get(suiteName));
        } else {
            final List<String> names = new ArrayList<>(suites.keySet());
            names.add("all");
            err.println("osvj bench: unknown suite " + suiteName + "; suites: " + String.join(", ", names));
            return 2;
        }
        final Path work = Files.createTempDirectory("osvj-bench");
        final Map<String, Map<String, Object>> metrics = new LinkedHashMap<>();
        final boolean fQuick = quick;
        final boolean tty = System.console() != null;
        int status = 0;
        for (final BenchSuite suite : selected) {
            final BenchContext ctx = new BenchContext() {
                @Override
                public boolean quick() {
                    return fQuick;
                }

                @Override
                public Path workDir() {
                    return work;
                }

                @Override
                public void progress(final String message) {
                    (tty ? out : err).println("[" + suite.name() + "] " + message);
                }

                @Override
                public void metric(final String name, final double value, final String unit, final String better,
                    Map<String, Object> detail) {
                    final Map<String, Object> m = new LinkedHashMap<>();
                    // JSON has no Infinity or NaN (a ratio over a zero baseline): null, and say why.
                    m.put("value", Double.isFinite(value) ? value : null);
                    if (!Double.isFinite(value)) {
                        detail = new LinkedHashMap<>(detail);
                        detail.put("not_finite", String.valueOf(value));
                    }
                    m.put("unit", unit);
                    m.put("better", better);
                    m.put("detail", new TreeMap<>(detail));
                    metrics.put(name, m);
                    out.printf("%-48s %14.4f %-6s (%s is better)%n", name, value, unit, better);
                }
            };
            try {
                suite.run(ctx);
            } catch (final Exception e) {
                err.println("osvj bench: suite " + suite.name() + " failed: " + e);
                status = 1;
            }
        }
        if (json != null) {
            writeJson(json, suiteName, metrics);
        }
        return status;
    }

    static void writeJson(final Path file, final String suite, final Map<String, Map<String, Object>> metrics) throws Exception {
        final ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        final ObjectNode root = mapper.createObjectNode();
        root.put("suite", suite);
        root.put("when", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        final ObjectNode machine = root.putObject("machine");
        machine.put("cpus", Runtime.getRuntime().availableProcessors());
        machine.put("java", Runtime.version().toString());
        machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        root.set("metrics", mapper.valueToTree(metrics));
        final Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        mapper.writeValue(file.toFile(), root);
    }

    static Map<String, BenchSuite> suites() {
        final Map<String, BenchSuite> suites = new TreeMap<>();
        for (final BenchSuite s : ServiceLoader.load(BenchSuite.class)) {
            suites.put(s.name(), s);
        }
        return suites;
    }

    private static void usage(final PrintStream out) {
        out.println("usage: osvj bench SUITE [--quick] [--json FILE]");
        for (final BenchSuite s : suites().values()) {
            out.printf("  %-8s %s%n", s.name(), s.description());
        }
        out.println("  all      every suite above");
    }
}
