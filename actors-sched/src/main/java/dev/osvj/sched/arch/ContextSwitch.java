package dev.osvj.sched.arch;

/**
 * The arch layer: how a vCPU switches between kernel threads (OSv's {@code arch/x64/arch-switch.hh}).
 * The scheduler knows nothing else about stacks; everything above this interface is the same for
 * every implementation.
 *
 * <p>Two implementations, selected by {@code osvj.sched.arch}:
 * <ul>
 *   <li>{@link #continuations()} (default): each kernel thread is a one-shot delimited continuation
 *       ({@code jdk.internal.vm.Continuation}) mounted on the vCPU's carrier thread. A switch is a
 *       continuation yield back to the vCPU loop plus a {@code run()} of the next one, roughly 80 ns on
 *       a 2020s x86 core, with no OS involvement;</li>
 *   <li>{@link #platformThreads()}: each kernel thread is a parked platform thread; a switch is an
 *       {@code unpark} of the next thread plus a {@code park} of the previous one (a futex round trip),
 *       so at most one kernel thread per vCPU runs at any time. It exists as the comparison point of
 *       the benchmarks and as a fallback when continuations are not available.</li>
 * </ul>
 */
public interface ContextSwitch {
    /** {@code continuation} or {@code platform}, as in {@code osvj.sched.arch}. */
    String name();

    /**
     * Create a context that will run {@code body} when first resumed.
     *
     * @param name  the kernel thread's name (host thread name of the platform implementation).
     * @param owner the kernel thread, returned by {@link ThreadContext#owner()}.
     */
    ThreadContext create(String name, Object owner, Runnable body);

    /** The context of this implementation that the calling code runs in, or null when none. */
    ThreadContext current();

    /** The continuation implementation (shared, stateless). */
    static ContextSwitch continuations() {
        return ContinuationSwitch.INSTANCE;
    }

    /** The platform-thread hand-off implementation (shared, stateless). */
    static ContextSwitch platformThreads() {
        return PlatformThreadSwitch.INSTANCE;
    }

    /** The implementation named as in {@code osvj.sched.arch}. */
    static ContextSwitch forName(final String name) {
        return switch (name) {
            case "continuation" -> continuations();
            case "platform" -> platformThreads();
            default -> throw new IllegalArgumentException("unknown arch " + name + " (continuation or platform)");
        };
    }

    /** The context the calling code runs in, of either implementation, or null. */
    static ThreadContext currentContext() {
        final ThreadContext platform = PlatformThreadSwitch.INSTANCE.current();
        return platform != null ? platform : ContinuationSwitch.INSTANCE.current();
    }

    /**
     * The {@link ThreadContext#owner()} of {@link #currentContext()}, or null: the kernel thread the
     * calling code runs in. On every mutex operation, so the default (continuation) implementation
     * is tried first and its owner read without an interface call.
     */
    static Object currentOwner() {
        final Object owner = ContinuationSwitch.currentOwner();
        if (owner != null) {
            return owner;
        }
        final ThreadContext platform = PlatformThreadSwitch.INSTANCE.current();
        return platform != null ? platform.owner() : null;
    }

    /**
     * True when code in a continuation kernel thread sees its own {@link KernelThreadIdentity} as
     * {@code Thread.currentThread()} on every carrier (needs {@code --add-opens java.base/java.lang});
     * false when it sees its carrier (see {@link ContinuationSwitch}).
     */
    static boolean kernelThreadsHaveOwnIdentity() {
        return ContinuationSwitch.hasOwnIdentity();
    }

    /**
     * True for the throwable a disposed context unwinds with (platform implementation); kernel-thread
     * wrappers must let it through instead of reporting it.
     */
    static boolean isDisposal(final Throwable t) {
        return t instanceof PlatformThreadSwitch.Disposed;
    }
}
