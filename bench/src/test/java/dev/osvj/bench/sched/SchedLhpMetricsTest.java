package dev.osvj.bench.sched;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.sched.LockHolderPreemption.Kind;
import dev.osvj.bench.sched.LockHolderPreemption.Report;
import dev.osvj.bench.sched.LockHolderPreemption.Setting;
import dev.osvj.bench.sched.LockHolderPreemption.Totals;
import dev.osvj.bench.sched.LockHolderPreemption.Workload;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sched suite's {@code lhp.*} rows from literal totals: the spinlock-vs-mutex ratios stay defined
 * when the mutex-protected counter loses nothing (against {@link SchedBenchSuite#LOSS_FLOOR}), and the
 * detail says whether the target was met.
 */
class SchedLhpMetricsTest {
    private static final long S = 1_000_000_000L;

    /** The metrics a suite reported: name to value and detail. */
    private static final class Collect implements BenchContext {
        final Map<String, Double> values = new LinkedHashMap<>();
        final Map<String, Map<String, Object>> details = new LinkedHashMap<>();

        @Override
        public boolean quick() {
            return true;
        }

        @Override
        public Path workDir() {
            return Path.of(".");
        }

        @Override
        public void progress(final String message) {
        }

        @Override
        public void metric(final String name, final double value, final String unit, final String better,
            final Map<String, Object> detail) {
            values.put(name, value);
            details.put(name, detail);
        }
    }

    /** One second on 2 pCPUs with {@code updates} counter updates (8 chunks each). */
    private static Totals second(final long updates) {
        return new Totals(S, updates * 8, updates, updates / 10, updates / 10 * 1_000, 0, 2 * S, 0, 0, 2 * S, 2 * S);
    }

    /** A report whose native guests do 100k updates/s and whose overcommit_steal guests the given rates. */
    private static Report report(final long spinlockSteal, final long mutexSteal) {
        final Map<Workload, Map<Kind, Map<Setting, Totals>>> w = new EnumMap<>(Workload.class);
        for (final Workload wl : Workload.values()) {
            final Map<Kind, Map<Setting, Totals>> byKind = new EnumMap<>(Kind.class);
            for (final Kind k : Kind.values()) {
                final Map<Setting, Totals> t = new EnumMap<>(Setting.class);
                for (final Setting s : Setting.values()) {
                    t.put(s, second(100_000));
                }
                t.put(Setting.OVERCOMMIT_STEAL, second(k == Kind.SPINLOCK ? spinlockSteal : mutexSteal));
                byKind.put(k, t);
            }
            w.put(wl, byKind);
        }
        return new Report(w, second(100_000), 300);
    }

    @Test
    void shouldReportADefinedRatioWhenTheMutexLosesNothing() {
        final Collect c = new Collect();
        // The spinlock loses half; the mutex-protected counter comes out 6% ahead of native (loss -0.06).
        SchedBenchSuite.report(c, report(50_000, 106_000));
        assertEquals(0.5, c.values.get("lhp.spinlock_loss"), 1e-9);
        assertEquals(-0.06, c.values.get("lhp.mutex_loss"), 1e-9);
        final double ratio = c.values.get("lhp.spinlock_vs_mutex_loss");
        assertTrue(Double.isFinite(ratio), "defined, not NaN: " + ratio);
        assertEquals(0.5 / SchedBenchSuite.LOSS_FLOOR, ratio, 1e-9);
        final Map<String, Object> d = c.details.get("lhp.spinlock_vs_mutex_loss");
        assertEquals(true, d.get("target_met"));
        assertEquals(true, d.get("floored"));
        assertEquals(-0.06, (double)d.get("mutex_loss"), 1e-9);
        assertEquals(SchedBenchSuite.LOSS_FLOOR, d.get("mutex_loss_floor"));
        for (final String m : c.values.keySet()) {
            if (m.contains("spinlock_vs_mutex")) {
                assertTrue(Double.isFinite(c.values.get(m)), m + " is defined");
            }
        }
    }

    @Test
    void shouldJudgeTheTargetAgainstTheMutexLossAboveTheFloor() {
        final Collect c = new Collect();
        // Spinlock loss 0.4, mutex loss 0.1: a ratio of 4, below the target of 5.
        SchedBenchSuite.report(c, report(60_000, 90_000));
        assertEquals(4.0, c.values.get("lhp.spinlock_vs_mutex_loss"), 1e-9);
        final Map<String, Object> d = c.details.get("lhp.spinlock_vs_mutex_loss");
        assertEquals(false, d.get("target_met"));
        assertEquals(false, d.get("floored"));
    }

    @Test
    void shouldFloorOnlyTheMutexLoss() {
        assertEquals(5.0, SchedBenchSuite.lossRatio(0.5, 0.1), 1e-12);
        assertEquals(0.05 / SchedBenchSuite.LOSS_FLOOR, SchedBenchSuite.lossRatio(0.05, 0.0), 1e-12);
        assertEquals(-0.2 / SchedBenchSuite.LOSS_FLOOR, SchedBenchSuite.lossRatio(-0.2, -0.3), 1e-12);
        assertTrue(Double.isNaN(SchedBenchSuite.lossRatio(0.5, Double.NaN)));
        assertFalse(SchedBenchSuite.lossRatio(0.04, -1) >= SchedBenchSuite.LOSS_RATIO_TARGET,
            "a spinlock that loses under 5% does not meet the target, however little the mutex loses");
    }
}
