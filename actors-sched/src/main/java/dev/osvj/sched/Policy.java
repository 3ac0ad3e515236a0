package dev.osvj.sched;

/**
 * OSv's fair-scheduling constants and arithmetic ({@code core/sched.cc}), in one place.
 *
 * <p>Each vCPU keeps a factor {@code c} that grows as {@code c <- c * e^(dt/tau)} while anything runs
 * on it. A thread's stored runtime {@code R''} grows by {@code priority * (c_new - c_old)} while it
 * runs and does not change while it waits, so {@code R''/c} is its exponentially decayed runtime and
 * comparing {@code R''} values compares decayed runtimes without ever touching a waiting thread.
 * When {@code c} reaches {@link #CMAX}, {@code c} and every queued {@code R''} are multiplied by
 * {@code CINITIAL/CMAX} (2^-126) and the vCPU's renormalisation count grows; sleepers catch up lazily.
 */
final class Policy {
    /** Decay constant: a newly woken thread competing with a CPU hog gets about ln2 * tau = 139 ms. */
    static final long TAU_NS = 200_000_000L;
    /**
     * Hysteresis: a thread is switched in with a credit of thyst and pays it back when switched out,
     * so two equal CPU-bound threads alternate every 2 * thyst = 10 ms and two preemptions are never
     * closer than thyst (at most 200 preemption interrupts per second per vCPU).
     */
    static final long THYST_NS = 5_000_000L;
    /** Charged to a thread that displaced a runnable, non-idle thread: 10 us, the cost of a cache refill. */
    static final long CONTEXT_SWITCH_PENALTY_NS = 10_000L;
    /**
     * The longest interval charged at once: 30 tau (6 s). Beyond that the decayed runtime has long
     * saturated, and e^(dt/tau) would overflow a double after about 140 s (an infinite {@code c}
     * cannot be renormalised). Only the policy is capped; CPU-time accounting is exact.
     */
    static final long MAX_CHARGE_NS = 30 * TAU_NS;
    /** Renormalise when {@code c} reaches 2^63. */
    static final double CMAX = 0x1p63;
    /** Every vCPU's {@code c} starts at 2^-63. */
    static final double CINITIAL = 0x1p-63;
    /** {@code CINITIAL / CMAX} = 2^-126, the renormalisation factor. */
    static final double RENORMALIZE = CINITIAL / CMAX;

    private static final double INV_TAU = 1.0 / TAU_NS;
    private static final long EXP_LINEAR_BOUND = TAU_NS / 1000;
    static final double HYSTERESIS_START_FACTOR = Math.exp(-(double)THYST_NS / TAU_NS) - 1.0;
    static final double HYSTERESIS_STOP_FACTOR = Math.exp((double)THYST_NS / TAU_NS) - 1.0;
    static final double PENALTY_FACTOR = Math.exp((double)CONTEXT_SWITCH_PENALTY_NS / TAU_NS) - 1.0;
    /** tau * ln 2 * 1.01: with fastlog2 gives tau * ln(x), overshooting by 1% rather than undershooting. */
    private static final double TAU_LN2_OVERSHOOT = TAU_NS * 0.69314718 * 1.01;

    private Policy() {
    }

    /**
     * {@code e^(t/tau)}; for {@code |t| < tau/1000} the linear {@code 1 + t/tau} (error O(x^2)), as
     * OSv's {@code exp_tau}.
     */
    static double expTau(final long tNanos) {
        if (tNanos < EXP_LINEAR_BOUND && tNanos > -EXP_LINEAR_BOUND) {
            return (TAU_NS + (double)tNanos) * INV_TAU;
        }
        return Math.exp(tNanos * INV_TAU);
    }

    /**
     * Paul Mineiro's fastlog2 as OSv uses it: about 5 significant digits, from the float's exponent
     * and a rational fit of the mantissa.
     */
    static float fastlog2(final float x) {
        final int bits = Float.floatToRawIntBits(x);
        final float mx = Float.intBitsToFloat((bits & 0x007FFFFF) | 0x3f000000);
        float y = bits;
        y *= 1.1920928955078125e-7f;
        return y - 124.22551499f - 1.498030302f * mx - 1.72587999f / (0.3520887068f + mx);
    }

    /** {@code tau * ln(f)}, overshooting by about 1% (see {@link #TAU_LN2_OVERSHOOT}). */
    static double taulog(final double f) {
        return TAU_LN2_OVERSHOOT * fastlog2((float)f);
    }
}
