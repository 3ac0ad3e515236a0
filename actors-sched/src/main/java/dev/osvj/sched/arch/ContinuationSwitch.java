package dev.osvj.sched.arch;

import jdk.internal.vm.Continuation;
import jdk.internal.vm.ContinuationScope;

/**
 * Kernel threads as {@code jdk.internal.vm.Continuation}s (needs
 * {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED} at compile and run time).
 *
 * <p>A yield inside a native frame or a {@code Continuation.pin()} critical section is refused by the
 * JVM; {@link Ctx#suspend()} then returns false instead of throwing, and the scheduler keeps the thread
 * running. Since JDK 24 a held monitor no longer pins, but the monitor stays owned by the carrier
 * platform thread: code must not block in a kernel primitive while holding a Java monitor that another
 * kernel thread of the same vCPU may take (see the package documentation).
 */
final class ContinuationSwitch implements ContextSwitch {
    static final ContinuationSwitch INSTANCE = new ContinuationSwitch();
    static final ContinuationScope SCOPE = new ContinuationScope("osvj-kthread");

    private ContinuationSwitch() {
    }

    @Override
    public String name() {
        return "continuation";
    }

    @Override
    public ThreadContext create(final String name, final Object owner, final Runnable body) {
        return new Ctx(owner, body);
    }

    /** The owner of the continuation of this arch the calling code runs in, or null. */
    static Object currentOwner() {
        return Continuation.getCurrentContinuation(SCOPE) instanceof Ctx ctx ? ctx.owner : null;
    }

    @Override
    public ThreadContext current() {
        final Continuation c = Continuation.getCurrentContinuation(SCOPE);
        return c instanceof Ctx ctx ? ctx : null;
    }

    /** One kernel thread's continuation. */
    static final class Ctx extends Continuation implements ThreadContext {
        private final Object owner;
        private boolean pinned;

        Ctx(final Object owner, final Runnable body) {
            super(SCOPE, body);
            this.owner = owner;
        }

        @Override
        public void resume() {
            run();
        }

        @Override
        public boolean suspend() {
            pinned = false;
            final boolean switched = Continuation.yield(SCOPE);
            return switched && !pinned;
        }

        @Override
        protected void onPinned(final Pinned reason) {
            pinned = true;
        }

        @Override
        public StackTraceElement[] stackTrace() {
            try {
                return getStackTrace();
            } catch (final RuntimeException e) {
                return new StackTraceElement[0];
            }
        }

        @Override
        public Object owner() {
            return owner;
        }

        @Override
        public Thread hostThread() {
            return null;
        }

        @Override
        public void dispose() {
            // An unmounted continuation is plain heap: the collector frees its stack chunks.
        }
    }
}
