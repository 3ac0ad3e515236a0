package dev.osvj.sched.arch;

/**
 * The saved execution context of one kernel thread: the "stack" that the arch layer switches to and
 * away from (OSv's {@code thread_state} plus {@code switch_to}).
 *
 * <p>Two sides use a context, never at the same time:
 * <ul>
 *   <li>the <b>carrier</b> (a vCPU's dedicated platform thread) calls {@link #resume()}, which runs the
 *       context until the context gives the carrier back or its body returns;</li>
 *   <li>code <b>running in</b> the context calls {@link #suspend()} to give the carrier back.</li>
 * </ul>
 * A context runs on at most one carrier at a time; it may be resumed by a different carrier each time
 * (migration). {@code resume()} happens-before the context's code continues, and everything the context
 * did before {@code suspend()} happens-before {@code resume()} returns.
 */
public interface ThreadContext {
    /**
     * Carrier side: run the context until it suspends or ends. Must be called by at most one carrier
     * at a time and never from inside a context of the same arch.
     */
    void resume();

    /**
     * Context side: give the carrier back; returns when a carrier resumes this context again.
     *
     * @return true after a real switch; false when the context cannot be switched out right now (a
     *     {@code jdk.internal.vm.Continuation} pinned by a native frame or a critical section), in
     *     which case the caller keeps running on the carrier.
     */
    boolean suspend();

    /** True once the body has returned (or thrown). */
    boolean isDone();

    /** Best-effort stack of the context (its own frames when suspended; empty when unknown). */
    StackTraceElement[] stackTrace();

    /** The object this context runs for (the kernel thread), as given to {@link ContextSwitch#create}. */
    Object owner();

    /**
     * Forget a context that will never be resumed again (kernel shutdown). Frees whatever host
     * resource backs it; the body does not run further. Idempotent.
     */
    void dispose();

    /**
     * The host thread this context's code runs on when it is not the carrier itself (platform
     * implementation), or null (continuations run on their carrier).
     */
    Thread hostThread();
}
