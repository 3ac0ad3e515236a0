package dev.osvj.sched;

/**
 * A thread's scheduling account (OSv's {@code thread_runtime}): its priority and its stored runtime
 * {@code R''} (see {@link Policy}). Only the vCPU that owns the thread reads or writes it, so the
 * fields are plain.
 */
final class ThreadRuntime {
    /** Marks an {@code R''} that {@link #exportRuntime} turned into a CPU-independent value. */
    private static final long EXPORTED = -1;

    double priority;
    /** R'': priority-weighted runtime in units of the owner vCPU's {@code c}. */
    double rtt;
    /** The owner vCPU's renormalisation count that {@link #rtt} is expressed in. */
    long renormalizeCount;

    ThreadRuntime(final double priority) {
        setPriority(priority);
    }

    void setPriority(final double p) {
        priority = p;
        if (Double.isInfinite(p)) {
            rtt = Double.POSITIVE_INFINITY;
        } else if (Double.isInfinite(rtt)) {
            rtt = 0;
        }
    }

    /**
     * A priority change of a thread that has run (OSv's {@code set_priority}): R'' is priority-weighted,
     * so it is rescaled by {@code p / priority}, keeping the decayed runtime the thread has earned;
     * to or from the idle priority it is reset as for a new thread.
     */
    void changePriority(final double p) {
        if (idlePriority() || Double.isInfinite(p)) {
            setPriority(p);
            return;
        }
        rtt = rtt / priority * p;
        priority = p;
    }

    boolean idlePriority() {
        return Double.isInfinite(priority);
    }

    /** The thread ran {@code dtNanos} on {@code cpu}: advance the vCPU's {@code c} and charge R''. */
    void ranFor(final Cpu cpu, final long dtNanos) {
        if (rtt == 0) {
            // A new thread's R'' is 0 whatever the count, so adopt the vCPU's.
            renormalizeCount = cpu.renormalizeCount;
        }
        final double c0 = cpu.c;
        final double c1 = c0 * Policy.expTau(Math.min(dtNanos, Policy.MAX_CHARGE_NS));
        if (!idlePriority()) {
            rtt += priority * (c1 - c0);
        }
        cpu.c = c1;
        while (cpu.c >= Policy.CMAX) {
            cpu.renormalize();
            if (!idlePriority()) {
                rtt *= Policy.RENORMALIZE;
            }
            renormalizeCount = cpu.renormalizeCount;
        }
    }

    /** Switched in: borrow thyst (OSv's optimised {@code ran_for(-thyst)}). */
    void hysteresisRunStart(final Cpu cpu) {
        if (!idlePriority()) {
            rtt += priority * Policy.HYSTERESIS_START_FACTOR * cpu.c;
        }
    }

    /** Switched out: return the borrowed thyst. */
    void hysteresisRunStop(final Cpu cpu) {
        if (!idlePriority()) {
            rtt += priority * Policy.HYSTERESIS_STOP_FACTOR * cpu.c;
        }
    }

    /** This thread displaced a runnable thread: charge the 10 us context-switch penalty. */
    void addContextSwitchPenalty(final Cpu cpu) {
        if (!idlePriority()) {
            rtt += priority * Policy.PENALTY_FACTOR * cpu.c;
        }
    }

    /**
     * How long this thread (running) may run before its R'' reaches {@code target}:
     * {@code tau * ln(1 + (target - R'') / (p * c))}, or -1 for never.
     */
    long timeUntil(final Cpu cpu, final double target) {
        if (idlePriority() || Double.isInfinite(target)) {
            return -1;
        }
        // One division instead of two: this runs on every local wakeup (the preemption deadline).
        final double ret = Policy.taulog(1.0 + (target - rtt) / (priority * cpu.c));
        if (!(ret < Long.MAX_VALUE)) {
            return -1;
        }
        return (long)ret;
    }

    /** Leaving {@code cpu} for another vCPU: R''/c is the decayed runtime, valid everywhere. */
    void exportRuntime(final Cpu cpu) {
        if (!idlePriority()) {
            rtt /= cpu.c;
        }
        renormalizeCount = EXPORTED;
    }

    /** Back on {@code cpu} after sleeping or migrating: express R'' in the vCPU's current scale. */
    void updateAfterSleep(final Cpu cpu) {
        final long count = cpu.renormalizeCount;
        if (renormalizeCount == count) {
            return;
        }
        if (renormalizeCount == EXPORTED) {
            if (!idlePriority()) {
                rtt *= cpu.c;
            }
        } else if (renormalizeCount + 1 == count) {
            if (!idlePriority()) {
                rtt *= Policy.RENORMALIZE;
            }
        } else if (!idlePriority()) {
            // Two or more renormalisations: the scaled value would be ~0 anyway.
            rtt = 0;
        }
        renormalizeCount = count;
    }
}
