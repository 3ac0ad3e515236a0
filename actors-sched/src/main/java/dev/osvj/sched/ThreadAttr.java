package dev.osvj.sched;

/**
 * Attributes of a new kernel thread (OSv's {@code thread::attr}). Immutable; the {@code with} methods
 * return a copy.
 *
 * @param name             the thread's name ({@code ps}, stack reports); need not be unique.
 * @param pinnedCpu        the vCPU the thread is pinned to, or -1 to start on the creator's vCPU (or
 *                         round-robin when created outside the vCPUs) and let the balancer move it.
 * @param priority         OSv's float priority: the CPU share is proportional to {@code 1/priority};
 *                         1.0 is the default, {@link #PRIORITY_IDLE} runs only when nothing else can,
 *                         {@link #PRIORITY_INFINITY} (1e-5) nearly always wins.
 * @param realtimePriority 0 for the fair policy; above 0 the thread is real-time: it always beats
 *                         fair threads and lower real-time priorities; among equal real-time
 *                         priorities it is FIFO (never time-sliced) unless it has a round-robin slice.
 * @param detached         a detached thread is reaped when it ends and cannot be joined.
 * @param application      an application thread (not kernel code): the MMU's lazy TLB flush treats a
 *                         vCPU running one differently (see {@link Scheduler#runningApplication}).
 * @param realtimeSliceNanos for a real-time thread, 0 for FIFO, or the round-robin time slice
 *                         ({@code SCHED_RR}, which OSv only warns about): after running this long while
 *                         a thread of the same real-time priority is runnable on its vCPU, the thread
 *                         goes behind it. The slice counts from the thread's switch-in and is not
 *                         refilled while it runs alone, so an equal thread that becomes runnable
 *                         later waits at most one slice, possibly none (Linux refills and makes it
 *                         wait out the current slice). Ignored by the fair policy. Kernel-clock ns.
 */
public record ThreadAttr(String name, int pinnedCpu, double priority, int realtimePriority, boolean detached,
                         boolean application, long realtimeSliceNanos) {
    /** OSv's {@code priority_default}. */
    public static final double PRIORITY_DEFAULT = 1.0;
    /** OSv's {@code priority_idle}: the thread only runs when no other thread is runnable. */
    public static final double PRIORITY_IDLE = Double.POSITIVE_INFINITY;
    /** OSv's {@code priority_infinity}: the smallest (strongest) priority. */
    public static final double PRIORITY_INFINITY = 1e-5;

    public ThreadAttr {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("thread name must not be empty");
        }
        if (!(priority >= PRIORITY_INFINITY)) {
            throw new IllegalArgumentException("priority must be >= 1e-5 (or +inf for idle): " + priority);
        }
        if (realtimePriority < 0) {
            throw new IllegalArgumentException("realtime priority must be >= 0: " + realtimePriority);
        }
        if (realtimeSliceNanos < 0) {
            throw new IllegalArgumentException("realtime slice must be >= 0: " + realtimeSliceNanos);
        }
    }

    /** Attributes without a round-robin slice (FIFO among equal real-time priorities). */
    public ThreadAttr(final String name, final int pinnedCpu, final double priority, final int realtimePriority,
        final boolean detached, final boolean application) {
        this(name, pinnedCpu, priority, realtimePriority, detached, application, 0);
    }

    /** A kernel (not application) thread's attributes. */
    public ThreadAttr(final String name, final int pinnedCpu, final double priority, final int realtimePriority,
        final boolean detached) {
        this(name, pinnedCpu, priority, realtimePriority, detached, false);
    }

    /** Default attributes with a name. */
    public static ThreadAttr named(final String name) {
        return new ThreadAttr(name, -1, PRIORITY_DEFAULT, 0, false, false, 0);
    }

    public ThreadAttr pinnedTo(final int cpu) {
        return new ThreadAttr(name, cpu, priority, realtimePriority, detached, application, realtimeSliceNanos);
    }

    public ThreadAttr withPriority(final double p) {
        return new ThreadAttr(name, pinnedCpu, p, realtimePriority, detached, application, realtimeSliceNanos);
    }

    public ThreadAttr withRealtimePriority(final int rt) {
        return new ThreadAttr(name, pinnedCpu, priority, rt, detached, application, realtimeSliceNanos);
    }

    public ThreadAttr asDetached() {
        return new ThreadAttr(name, pinnedCpu, priority, realtimePriority, true, application, realtimeSliceNanos);
    }

    /** The same attributes for an application thread. */
    public ThreadAttr asApplication() {
        return new ThreadAttr(name, pinnedCpu, priority, realtimePriority, detached, true, realtimeSliceNanos);
    }

    /**
     * Real-time round-robin ({@code SCHED_RR}) with {@code slice} for a thread that also has a
     * real-time priority: equal real-time priorities take turns every {@code slice}.
     */
    public ThreadAttr withRealtimeSlice(final java.time.Duration slice) {
        return new ThreadAttr(name, pinnedCpu, priority, realtimePriority, detached, application, slice.toNanos());
    }
}
