package dev.osvj.bench.sched;

import dev.osvj.bench.sched.LockHolderPreemption.Kind;
import dev.osvj.bench.sched.LockHolderPreemption.Report;
import dev.osvj.bench.sched.LockHolderPreemption.Setting;
import dev.osvj.bench.sched.LockHolderPreemption.Totals;
import dev.osvj.bench.sched.LockHolderPreemption.Workload;
import org.junit.jupiter.api.Test;

import java.util.EnumMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The experiment's arithmetic on literal totals: losses, excess over the neighbour's share, CPU waste. */
class LockHolderPreemptionReportTest {
    private static final long S = 1_000_000_000L;

    /** One second on 2 pCPUs with the given chunks, updates, neighbour time and carrier CPU. */
    private static Totals second(final long chunks, final long updates, final long neighbourNs, final long cpuNs) {
        return new Totals(S, chunks, updates, updates / 10, updates / 10 * 1_000, 0, 2 * S - neighbourNs, 0,
            neighbourNs, 2 * S, cpuNs);
    }

    @Test
    void shouldMeasureLossesAgainstTheSameLocksNativeGuest() {
        final Map<Kind, Map<Setting, Totals>> m = new EnumMap<>(Kind.class);
        for (final Kind k : Kind.values()) {
            final Map<Setting, Totals> t = new EnumMap<>(Setting.class);
            t.put(Setting.NATIVE, second(1_000_000, 100_000, 0, 2 * S));
            t.put(Setting.DEDICATED_STEAL, second(900_000, 90_000, S / 5, 2 * S * 9 / 10));
            t.put(Setting.OVERCOMMIT, second(1_000_000, 100_000, 0, 2 * S));
            // The spinlock does 450k chunks with the neighbour on 10% of the pCPUs, using 90% of the CPU.
            t.put(Setting.OVERCOMMIT_STEAL, k == Kind.SPINLOCK
                ? second(450_000, 20_000, S / 5, 2 * S * 9 / 10)
                : second(900_000, 1_000, S / 5, 2 * S * 9 / 10));
            m.put(k, t);
        }
        final Map<Workload, Map<Kind, Map<Setting, Totals>>> w = new EnumMap<>(Workload.class);
        w.put(Workload.MIXED, m);
        final Report r = new Report(w, Totals.ZERO, 300);
        assertTrue(r.has(Workload.MIXED));
        assertTrue(!r.has(Workload.COUNTER));
        assertEquals(r.loss(Kind.SPINLOCK, Setting.OVERCOMMIT_STEAL),
            r.loss(Workload.MIXED, Kind.SPINLOCK, Setting.OVERCOMMIT_STEAL), 0);
        assertEquals(0.55, r.loss(Kind.SPINLOCK, Setting.OVERCOMMIT_STEAL), 1e-9);
        assertEquals(0.10, r.loss(Kind.MUTEX, Setting.OVERCOMMIT_STEAL), 1e-9);
        // Beyond the neighbour's 10%: half of what the spinlock had left; nothing for the mutex.
        assertEquals(0.5, r.excessLoss(Kind.SPINLOCK, Setting.OVERCOMMIT_STEAL), 1e-9);
        assertEquals(0.0, r.excessLoss(Kind.MUTEX, Setting.OVERCOMMIT_STEAL), 1e-9);
        // Per CPU-ms used: the spinlock wasted half of what it got, the mutex nothing.
        assertEquals(0.5, r.waste(Workload.MIXED, Kind.SPINLOCK, Setting.OVERCOMMIT_STEAL), 1e-9);
        assertEquals(0.0, r.waste(Workload.MIXED, Kind.MUTEX, Setting.OVERCOMMIT_STEAL), 1e-9);
        // The counter itself: the mutex's update rate collapsed although its chunks did not.
        assertEquals(0.99, r.updatesLoss(Workload.MIXED, Kind.MUTEX, Setting.OVERCOMMIT_STEAL), 1e-9);
        final Totals t = r.of(Kind.SPINLOCK, Setting.OVERCOMMIT_STEAL);
        assertEquals(0.1, t.neighbourPcpuShare(), 1e-9);
        assertEquals(0.9, t.guestPcpuShare(), 1e-9);
        assertEquals(1.0, t.meanDeadMicros(), 1e-9);
    }

    @Test
    void shouldSumWindowsAndLeaveCpuUnknownWhenOneWindowDidNotMeasureIt() {
        final Totals a = second(10, 5, 0, 100);
        final Totals b = second(30, 5, 0, -1);
        final Totals sum = a.plus(b);
        assertEquals(40, sum.chunks());
        assertEquals(2 * S, sum.windowNs());
        assertEquals(-1, sum.carrierCpuNs());
        assertTrue(Double.isNaN(sum.chunksPerCarrierCpuMs()));
        assertEquals(40 * 1e6 / 300, Totals.ZERO.plus(a).plus(second(30, 5, 0, 200)).chunksPerCarrierCpuMs(), 1e-9);
    }
}
