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
 * @param realtimePriority 0 for the fair policy; above 0 the thread is real-time FIFO: it always beats
 *                         fair threads and lower real-time priorities and is never time-sliced.
 * @param detached         a detached thread is reaped when it ends and cannot be joined.
 * @param application      an application thread (not kernel code): the MMU's lazy TLB flush treats a
 *                         vCPU running one differently (see {@link Scheduler#runningApplication}).
 */
public record ThreadAttr(String name, int pinnedCpu, double priority, int realtimePriority, boolean detached,
                         boolean application) {
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
    }

    /** A kernel (not application) thread's attributes. */
    public ThreadAttr(final String name, final int pinnedCpu, final double priority, final int realtimePriority,
        final boolean detached) {
        this(name, pinnedCpu, priority, realtimePriority, detached, false);
    }

    /** Default attributes with a name. */
    public static ThreadAttr named(final String name) {
        return new ThreadAttr(name, -1, PRIORITY_DEFAULT, 0, false, false);
    }

    public ThreadAttr pinnedTo(final int cpu) {
        return new ThreadAttr(name, cpu, priority, realtimePriority, detached, application);
    }

    public ThreadAttr withPriority(final double p) {
        return new ThreadAttr(name, pinnedCpu, p, realtimePriority, detached, application);
    }

    public ThreadAttr withRealtimePriority(final int rt) {
        return new ThreadAttr(name, pinnedCpu, priority, rt, detached, application);
    }

    public ThreadAttr asDetached() {
        return new ThreadAttr(name, pinnedCpu, priority, realtimePriority, true, application);
    }

    /** The same attributes for an application thread. */
    public ThreadAttr asApplication() {
        return new ThreadAttr(name, pinnedCpu, priority, realtimePriority, detached, true);
    }
}
