package dev.osvj.bench.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The JSON of BENCH.md, written and read back:
 *
 * <pre>
 * {"suite": "sched", "when": "2026-11-27T15:00:00Z",
 *  "machine": {"cpus": 2, "java": "25.0.3", "os": "Linux 6.x", "cpu_model": "...", "load_average": 3.5},
 *  "quick": true, "elapsed_s": 41.2,
 *  "metrics": {"switch.colocated.ratio_vs_linux": {"value": 0.27, "unit": "ratio", "better": "lower",
 *                "detail": {"linux_ns": 780.0, "osvj_ns": 210.0}}},
 *  "distributions": {"tick.wakeup_latency": {"unit": "us", "series": {"tickless": [[50.0, 61.2], ...]}}},
 *  "failure": "..."}
 * </pre>
 *
 * {@code suite}, {@code when}, {@code machine} ({@code cpus}, {@code java}, {@code os}) and
 * {@code metrics} (each with {@code value}, {@code unit}, {@code better}, {@code detail}) are the
 * contract; the other keys are additions a reader may ignore. A value that is not finite is
 * {@code null}, and {@code detail.not_finite} says which ("Infinity", "NaN"). {@code failure} is present
 * only when the suite stopped early. The combined file of {@code bench all} has the same shape with
 * {@code "suite": "all"}, metric and distribution names prefixed by {@code SUITE/}, and
 * {@code failures} (suite to reason) instead of {@code failure}.
 */
public final class ResultsJson {
    /** The percentiles a distribution keeps. */
    static final double[] PERCENTILES = {0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9,
        99.99, 100};

    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ResultsJson() {
    }

    /** A metric as the runner stores it: a non-finite value becomes null-with-reason on writing. */
    public static SuiteResult.Metric metric(final double value, final String unit, final String better,
        final Map<String, Object> detail) {
        final Map<String, Object> d = new TreeMap<>(detail);
        if (!Double.isFinite(value)) {
            d.put("not_finite", String.valueOf(value));
        }
        return new SuiteResult.Metric(value, unit, better, d);
    }

    /** A distribution's points from a histogram recorded in nanoseconds, in microseconds. */
    public static List<SuiteResult.Point> points(final Histogram nanos) {
        final List<SuiteResult.Point> points = new ArrayList<>();
        if (nanos.getTotalCount() == 0) {
            return points;
        }
        for (final double p : PERCENTILES) {
            final long v = p >= 100 ? nanos.getMaxValue() : p <= 0 ? nanos.getMinValue() : nanos.getValueAtPercentile(p);
            points.add(new SuiteResult.Point(p, v / 1000.0));
        }
        return points;
    }

    /** The JSON tree of one suite's result. */
    public static ObjectNode tree(final SuiteResult r) {
        final ObjectNode root = MAPPER.createObjectNode();
        root.put("suite", r.suite());
        root.put("when", r.when().truncatedTo(ChronoUnit.SECONDS).toString());
        root.set("machine", machine(r.machine()));
        root.put("quick", r.quick());
        root.put("elapsed_s", Math.round(r.elapsedNanos() / 1e7) / 100.0);
        final ObjectNode metrics = root.putObject("metrics");
        r.metrics().forEach((name, m) -> metrics.set(name, metric(m)));
        final ObjectNode dists = root.putObject("distributions");
        r.distributions().forEach((name, d) -> dists.set(name, distribution(d)));
        if (r.failure() != null) {
            root.put("failure", r.failure());
        }
        return root;
    }

    /** The combined tree of {@code bench all}: every suite's metrics under {@code SUITE/name}. */
    public static ObjectNode combined(final List<SuiteResult> results, final Instant when, final Machine machine,
        final boolean quick) {
        final ObjectNode root = MAPPER.createObjectNode();
        root.put("suite", "all");
        root.put("when", when.truncatedTo(ChronoUnit.SECONDS).toString());
        root.set("machine", machine(machine));
        root.put("quick", quick);
        final ObjectNode metrics = root.putObject("metrics");
        final ObjectNode dists = root.putObject("distributions");
        final ObjectNode failures = root.putObject("failures");
        long elapsed = 0;
        for (final SuiteResult r : results) {
            r.metrics().forEach((name, m) -> metrics.set(r.suite() + "/" + name, metric(m)));
            r.distributions().forEach((name, d) -> dists.set(r.suite() + "/" + name, distribution(d)));
            if (r.failure() != null) {
                failures.put(r.suite(), r.failure());
            }
            elapsed += r.elapsedNanos();
        }
        root.put("elapsed_s", Math.round(elapsed / 1e7) / 100.0);
        return root;
    }

    public static void write(final Path file, final JsonNode tree) throws IOException {
        final Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        MAPPER.writeValue(file.toFile(), tree);
    }

    /** Read one suite's file back (the report can be redrawn from saved results). */
    public static SuiteResult read(final Path file) throws IOException {
        final JsonNode root = MAPPER.readTree(file.toFile());
        final JsonNode m = root.path("machine");
        final Machine machine = new Machine(m.path("cpus").asInt(), m.path("java").asText(), m.path("os").asText(),
            m.path("cpu_model").asText(""), m.path("load_average").asDouble(-1));
        final Map<String, SuiteResult.Metric> metrics = new LinkedHashMap<>();
        for (final Iterator<Map.Entry<String, JsonNode>> it = root.path("metrics").fields(); it.hasNext(); ) {
            final Map.Entry<String, JsonNode> e = it.next();
            final JsonNode v = e.getValue();
            @SuppressWarnings("unchecked")
            final Map<String, Object> detail = MAPPER.convertValue(v.path("detail"), TreeMap.class);
            final double value = v.path("value").isNull() ? Double.NaN : v.path("value").asDouble();
            metrics.put(e.getKey(), new SuiteResult.Metric(value, v.path("unit").asText(), v.path("better").asText(),
                detail == null ? new TreeMap<>() : detail));
        }
        final Map<String, SuiteResult.Distribution> dists = new LinkedHashMap<>();
        for (final Iterator<Map.Entry<String, JsonNode>> it = root.path("distributions").fields(); it.hasNext(); ) {
            final Map.Entry<String, JsonNode> e = it.next();
            final Map<String, List<SuiteResult.Point>> series = new LinkedHashMap<>();
            for (final Iterator<Map.Entry<String, JsonNode>> s = e.getValue().path("series").fields(); s.hasNext(); ) {
                final Map.Entry<String, JsonNode> se = s.next();
                final List<SuiteResult.Point> points = new ArrayList<>();
                for (final JsonNode p : se.getValue()) {
                    points.add(new SuiteResult.Point(p.get(0).asDouble(), p.get(1).asDouble()));
                }
                series.put(se.getKey(), points);
            }
            dists.put(e.getKey(), new SuiteResult.Distribution(e.getValue().path("unit").asText("us"), series));
        }
        final String failure = root.hasNonNull("failure") ? root.get("failure").asText() : null;
        return new SuiteResult(root.path("suite").asText(), Instant.parse(root.path("when").asText()), machine,
            root.path("quick").asBoolean(), metrics, dists, failure, (long)(root.path("elapsed_s").asDouble() * 1e9));
    }

    private static ObjectNode machine(final Machine m) {
        final ObjectNode n = MAPPER.createObjectNode();
        n.put("cpus", m.cpus());
        n.put("java", m.java());
        n.put("os", m.os());
        n.put("cpu_model", m.cpuModel());
        if (m.loadAverage() >= 0) {
            n.put("load_average", Math.round(m.loadAverage() * 100) / 100.0);
        }
        return n;
    }

    private static ObjectNode metric(final SuiteResult.Metric m) {
        final ObjectNode n = MAPPER.createObjectNode();
        if (Double.isFinite(m.value())) {
            n.put("value", m.value());
        } else {
            n.putNull("value");
        }
        n.put("unit", m.unit());
        n.put("better", m.better());
        final Map<String, Object> detail = new TreeMap<>(m.detail());
        if (!Double.isFinite(m.value())) {
            detail.putIfAbsent("not_finite", String.valueOf(m.value()));
        }
        n.set("detail", MAPPER.valueToTree(detail));
        return n;
    }

    private static ObjectNode distribution(final SuiteResult.Distribution d) {
        final ObjectNode n = MAPPER.createObjectNode();
        n.put("unit", d.unit());
        final ObjectNode series = n.putObject("series");
        d.series().forEach((name, points) -> {
            final ArrayNode a = series.putArray(name);
            for (final SuiteResult.Point p : points) {
                a.addArray().add(p.percentile()).add(Math.round(p.value() * 1000) / 1000.0);
            }
        });
        return n;
    }
}
