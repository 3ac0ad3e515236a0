package dev.osvj.bench.claims;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.report.SuiteResult;
import org.HdrHistogram.Histogram;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs a subsystem suite inside the claims suite: progress goes through to the outer context with the
 * inner suite's name in front, metrics are kept here (the claims suite re-reports the ones a claim
 * needs, under the claim's name).
 */
final class CapturingContext implements BenchContext {
    private final BenchContext outer;
    private final String prefix;
    final Map<String, SuiteResult.Metric> metrics = new LinkedHashMap<>();

    CapturingContext(final BenchContext outer, final String innerSuite) {
        this.outer = outer;
        this.prefix = innerSuite + ": ";
    }

    @Override
    public boolean quick() {
        return outer.quick();
    }

    @Override
    public Path workDir() {
        return outer.workDir();
    }

    @Override
    public void progress(final String message) {
        outer.progress(prefix + message);
    }

    @Override
    public void metric(final String name, final double value, final String unit, final String better,
        final Map<String, Object> detail) {
        metrics.put(name, new SuiteResult.Metric(value, unit, better, new LinkedHashMap<>(detail)));
    }

    @Override
    public void latency(final String name, final String series, final Histogram nanos) {
        outer.latency(name, series, nanos);
    }

    /** The captured metric, or an exception naming the suite that did not report it. */
    SuiteResult.Metric require(final String name) {
        final SuiteResult.Metric m = metrics.get(name);
        if (m == null) {
            throw new IllegalStateException(prefix + "did not report " + name);
        }
        return m;
    }
}
