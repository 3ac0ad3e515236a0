package dev.osvj.system.glue;

import java.util.Locale;

/**
 * The load average of {@code /proc/loadavg}, computed as Linux computes it ({@code kernel/sched/loadavg.c}):
 * every {@link #SAMPLE_SECONDS} seconds the number of runnable threads is folded into three
 * exponentially decaying averages (1, 5 and 15 minutes) in 11-bit fixed point.
 *
 * <pre>
 *   load' = (load * e + active * (FIXED_1 - e) [+ FIXED_1 - 1 when rising]) / FIXED_1
 *   e = FIXED_1 / exp(5 s / period): EXP_1 = 1884, EXP_5 = 2014, EXP_15 = 2037; FIXED_1 = 2048
 * </pre>
 *
 * A thread-safe holder: one sampler ({@link #sample}, from a timer) and any number of readers
 * ({@link #format}); the three averages are published together as one immutable snapshot.
 */
final class LoadAverage {
    /** Linux's LOAD_FREQ: one sample every 5 seconds. */
    static final int SAMPLE_SECONDS = 5;
    static final int FSHIFT = 11;
    static final long FIXED_1 = 1L << FSHIFT;
    static final long EXP_1 = 1884;
    static final long EXP_5 = 2014;
    static final long EXP_15 = 2037;

    private record Averages(long one, long five, long fifteen) {
    }

    private volatile Averages averages = new Averages(0, 0, 0);

    /** Fold one sample of {@code runnable} threads in (the sampler thread only). */
    void sample(final long runnable) {
        final long active = Math.max(0, runnable) * FIXED_1;
        final Averages a = averages;
        averages = new Averages(calc(a.one, EXP_1, active), calc(a.five, EXP_5, active), calc(a.fifteen, EXP_15, active));
    }

    /** Linux's {@code calc_load}. */
    static long calc(final long load, final long exp, final long active) {
        long next = load * exp + active * (FIXED_1 - exp);
        if (active >= load) {
            next += FIXED_1 - 1;
        }
        return next / FIXED_1;
    }

    /**
     * The {@code /proc/loadavg} line: three averages with two decimals (truncated, as Linux prints
     * them), runnable/total threads, and the last process id.
     */
    String format(final long runnable, final long threads, final int lastPid) {
        final Averages a = averages;
        return String.format(Locale.ROOT, "%s %s %s %d/%d %d%n", fixed(a.one), fixed(a.five), fixed(a.fifteen),
            runnable, threads, lastPid);
    }

    private static String fixed(final long x) {
        return (x >> FSHIFT) + "." + String.format(Locale.ROOT, "%02d", ((x & (FIXED_1 - 1)) * 100) >> FSHIFT);
    }
}
