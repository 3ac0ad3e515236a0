package dev.osvj.sched.arch;

/**
 * What {@code Thread.currentThread()} returns inside a kernel thread of the continuation arch: one
 * never-started {@code Thread} object per kernel thread, the same on whichever carrier the thread runs
 * (see {@link ContinuationSwitch}). JDK lock ownership, {@code ThreadLocal}s and monitors are therefore
 * the kernel thread's, as for a virtual thread.
 *
 * <p>The JDK's {@code isAlive()} of an identity is true only while its kernel thread is mounted on a
 * carrier: code that keeps per-thread state and reclaims it when its thread has ended must ask
 * {@link #hasEnded(Thread)} instead, which is true only once the kernel thread's body has returned.
 *
 * <p>Thread-safety: immutable apart from the JDK's own fields.
 */
public final class KernelThreadIdentity extends Thread {
    private final ThreadContext context;
    /** Set by the carrier after the body returned: everything the thread did happens-before it. */
    private volatile boolean ended;

    KernelThreadIdentity(final String name, final ThreadContext context) {
        super(null, null, name, 0, false);
        this.context = context;
    }

    /** The kernel thread (the {@link ThreadContext#owner()}) this identity stands for. */
    public Object owner() {
        return context.owner();
    }

    /**
     * True once {@code thread} has ended: a host thread that is no longer alive, or the identity of a
     * kernel thread whose body has returned (an unmounted but live kernel thread has not ended).
     */
    public static boolean hasEnded(final Thread thread) {
        return thread instanceof KernelThreadIdentity k ? k.ended : !thread.isAlive();
    }

    void markEnded() {
        ended = true;
    }

    @Override
    public void start() {
        throw new UnsupportedOperationException("the identity of kernel thread " + getName() + " is never started");
    }

    @Override
    public void run() {
        throw new UnsupportedOperationException("the identity of kernel thread " + getName() + " is never started");
    }
}
