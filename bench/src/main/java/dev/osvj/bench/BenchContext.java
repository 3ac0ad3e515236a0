package dev.osvj.bench;

import org.HdrHistogram.Histogram;

import java.nio.file.Path;
import java.util.Map;

/** What a suite reports into: metrics, latency distributions, progress, and where it may build its C baselines. */
public interface BenchContext {
    /** Fewer iterations, same metrics. */
    boolean quick();

    /** A scratch directory for this run (C baselines are compiled here with gcc). */
    Path workDir();

    /** One progress line (shown on a terminal, otherwise logged to stderr). */
    void progress(String message);

    /**
     * Report a metric.
     *
     * @param name   stable metric name, e.g. {@code switch.colocated.ratio_vs_linux}.
     * @param value  the value.
     * @param unit   {@code ratio}, {@code ns}, {@code ops/s}, ...
     * @param better {@code lower} or {@code higher}.
     * @param detail the absolute numbers behind a ratio (context), may be empty. Numeric entries named
     *               {@code <who>_<unit>} ({@code osvj_ns}, {@code linux_ns}) are drawn as bars side by
     *               side in the report.
     */
    void metric(String name, double value, String unit, String better, Map<String, Object> detail);

    /**
     * Report a latency distribution recorded in nanoseconds: one {@code series} (osvj, linux, a mode...)
     * of the distribution {@code name}. The report draws every series of one name in one percentile
     * plot; the JSON keeps a percentile table in microseconds. The default ignores it (a context that
     * only collects metrics).
     */
    default void latency(final String name, final String series, final Histogram nanos) {
    }
}
