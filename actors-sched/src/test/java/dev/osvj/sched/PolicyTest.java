package dev.osvj.sched;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** OSv's runtime arithmetic on a vCPU that is never started. */
class PolicyTest {
    private static Cpu cpu() {
        final Scheduler s = Scheduler.create("policy", SchedConfig.defaults(1), new ManualClock(), null);
        return s.cpus[0];
    }

    @Test
    void shouldApproximateLog2WithinFiveDigits() {
        for (double x = 1.001; x < 1e6; x *= 1.37) {
            final double exact = Math.log(x) / Math.log(2);
            assertEquals(exact, Policy.fastlog2((float)x), 1e-3 * Math.max(1, Math.abs(exact)));
        }
    }

    @Test
    void shouldOvershootTimeUntilRatherThanUndershoot() {
        final Cpu cpu = cpu();
        final ThreadRuntime running = new ThreadRuntime(1.0);
        running.ranFor(cpu, 1_000_000);
        final double target = running.rtt + cpu.c * (Math.exp(5_000_000.0 / Policy.TAU_NS) - 1);
        final long t = running.timeUntil(cpu, target);
        assertTrue(t >= 5_000_000 && t <= 5_000_000 * 1.02, "time until " + t);
    }

    @Test
    void shouldGiveANewThreadAboutLn2TauAgainstAHog() {
        final Cpu cpu = cpu();
        final ThreadRuntime hog = new ThreadRuntime(1.0);
        for (int i = 0; i < 1000; i++) {
            hog.ranFor(cpu, 10_000_000); // the hog ran alone for 10 s
        }
        final ThreadRuntime fresh = new ThreadRuntime(1.0);
        long ran = 0;
        while (fresh.rtt < hog.rtt) {
            fresh.ranFor(cpu, 100_000);
            ran += 100_000;
        }
        final double ln2tau = Math.log(2) * Policy.TAU_NS;
        assertEquals(ln2tau, ran, 0.02 * ln2tau);
    }

    @Test
    void shouldRenormaliseAndSurviveHugeIntervals() {
        final Cpu cpu = cpu();
        final ThreadRuntime t = new ThreadRuntime(1.0);
        for (int i = 0; i < 10; i++) {
            t.ranFor(cpu, 1000L * 1_000_000_000L); // 1000 s in one go: e^(5000) would overflow
        }
        assertTrue(Double.isFinite(cpu.c) && cpu.c < Policy.CMAX && cpu.c > 0, "c " + cpu.c);
        assertTrue(cpu.renormalizeCount >= 2, "renormalisations " + cpu.renormalizeCount);
        assertTrue(Double.isFinite(t.rtt) && t.rtt >= 0);
        final ThreadRuntime sleeper = new ThreadRuntime(1.0);
        sleeper.rtt = 1.0;
        sleeper.renormalizeCount = cpu.renormalizeCount - 2;
        sleeper.updateAfterSleep(cpu);
        assertEquals(0, sleeper.rtt); // missed two renormalisations: reset
        assertEquals(cpu.renormalizeCount, sleeper.renormalizeCount);
    }

    @Test
    void shouldExportAndImportRuntimeBetweenVcpus() {
        final Cpu a = cpu();
        final Cpu b = cpu();
        final ThreadRuntime t = new ThreadRuntime(2.0);
        t.ranFor(a, 50_000_000);
        final double decayed = t.rtt / a.c;
        for (int i = 0; i < 10; i++) {
            new ThreadRuntime(1.0).ranFor(b, 30_000_000);
        }
        t.exportRuntime(a);
        t.updateAfterSleep(b);
        assertEquals(decayed, t.rtt / b.c, 1e-9 * decayed);
    }
}
