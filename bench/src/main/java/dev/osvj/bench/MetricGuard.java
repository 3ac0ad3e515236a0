package dev.osvj.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs one benchmark whose setup may fail on some machines (a kernel on a network backend, a network
 * namespace, a native peer): when it throws, each metric it would have reported is reported as null
 * (NaN, written as null by the runner) with {@code detail.reason} naming the failure, and the suite
 * goes on with its other metrics.
 */
public final class MetricGuard {
    private MetricGuard() {
    }

    /** The benchmark: reports its metrics through the suite's context. */
    public interface Measure {
        void run() throws Exception;
    }

    /**
     * Run {@code measure}; if it throws, report each of {@code names} (ratios, higher is better) as
     * null with the reason.
     */
    public static void run(final BenchContext bench, final Measure measure, final String... names) {
        try {
            measure.run();
        } catch (final Exception e) {
            bench.progress(String.join(", ", names) + " failed: " + e);
            unavailable(bench, "failed: " + e, names);
        }
    }

    /** Report each of {@code names} (ratios, higher is better) as null because of {@code reason}. */
    public static void unavailable(final BenchContext bench, final String reason, final String... names) {
        for (final String name : names) {
            final Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("reason", reason);
            bench.metric(name, Double.NaN, "ratio", "higher", detail);
        }
    }
}
