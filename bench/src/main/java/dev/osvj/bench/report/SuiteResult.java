package dev.osvj.bench.report;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything one suite reported in one run: the content of its BENCH.md JSON file, plus the latency
 * distributions and the failure, if any. Metrics and distributions keep the order the suite reported
 * them in.
 *
 * @param suite         the SUITE word.
 * @param when          when the suite started.
 * @param machine       where it ran.
 * @param quick         whether it ran with {@code --quick}.
 * @param metrics       metric name to metric.
 * @param distributions distribution name to distribution.
 * @param failure       why the suite stopped early, or null when it completed.
 * @param elapsedNanos  how long the suite ran.
 */
public record SuiteResult(String suite, Instant when, Machine machine, boolean quick, Map<String, Metric> metrics,
                          Map<String, Distribution> distributions, String failure, long elapsedNanos) {
    public SuiteResult {
        metrics = new LinkedHashMap<>(metrics);
        distributions = new LinkedHashMap<>(distributions);
    }

    /**
     * One metric of BENCH.md.
     *
     * @param value  the value; NaN or infinite when it has none (written as JSON null, with
     *               {@code detail.not_finite} saying which).
     * @param unit   {@code ratio}, {@code ns}, ...
     * @param better {@code lower} or {@code higher}.
     * @param detail the absolute numbers behind a ratio, sorted by key.
     */
    public record Metric(double value, String unit, String better, Map<String, Object> detail) {
    }

    /**
     * A latency distribution: per series, percentile points in {@code unit} (microseconds).
     *
     * @param unit   the unit of the values ({@code us}).
     * @param series series name to its points, percentiles ascending.
     */
    public record Distribution(String unit, Map<String, List<Point>> series) {
    }

    /**
     * One point of a percentile distribution.
     *
     * @param percentile 0..100.
     * @param value      the latency at that percentile.
     */
    public record Point(double percentile, double value) {
    }
}
