package dev.osvj.bench;

import java.nio.file.Path;
import java.util.Map;

/** What a suite reports into: metrics, progress, and where it may build its C baselines. */
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
     * @param detail the absolute numbers behind a ratio (context), may be empty.
     */
    void metric(String name, double value, String unit, String better, Map<String, Object> detail);
}
