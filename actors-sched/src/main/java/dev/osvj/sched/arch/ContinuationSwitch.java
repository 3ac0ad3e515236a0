package dev.osvj.sched.arch;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import jdk.internal.vm.Continuation;
import jdk.internal.vm.ContinuationScope;

/**
 * Kernel threads as {@code jdk.internal.vm.Continuation}s (needs
 * {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED} at compile and run time).
 *
 * <p>A yield inside a native frame or a {@code Continuation.pin()} critical section is refused by the
 * JVM; {@link Ctx#suspend()} then returns false instead of throwing, and the scheduler keeps the thread
 * running. Since JDK 24 a held monitor no longer pins; like a JDK lock it belongs to the kernel thread's
 * identity (below), so code must not block in a kernel primitive while holding one that another kernel
 * thread of the same vCPU may take: that thread would block the carrier (see the package documentation).
 *
 * <p><b>The host identity of a kernel thread.</b> While a continuation runs, {@code Thread.currentThread()}
 * is the kernel thread's own {@link KernelThreadIdentity}, not the carrier: {@link Ctx#resume()} makes it
 * the carrier's current thread before {@code run()} and gives the carrier its own identity back after,
 * as the JDK does when it mounts a virtual thread ({@code Thread.setCurrentThread}). Without it, every
 * kernel thread of a vCPU would be the carrier to the JDK, and because C2 treats
 * {@code Thread.currentThread()} as constant within a compiled method, a thread resumed on another
 * carrier could keep seeing its old one: JDK lock ownership, {@code ThreadLocal}s and
 * {@code LockSupport} waiters would then name the wrong host thread (seen as
 * {@code IllegalMonitorStateException} in the socket layer once the balancer migrated a client thread).
 * With its own identity, the value is the same on every carrier, so a stale read is a right one.
 *
 * <p>For {@code LockSupport.unpark} of a kernel thread that blocked its carrier in a JDK call (a contended
 * {@code ReentrantLock}), the identity also carries its carrier's native thread pointer
 * ({@code Thread.eetop}) while it is mounted and zero otherwise, the value the JVM clears when a
 * thread ends; the JVM's thread-list handle protects the carrier the pointer names. Both need
 * {@code --add-opens java.base/java.lang=ALL-UNNAMED}; without it the kernel threads keep the carrier's
 * identity (the old behaviour) and {@link #hasOwnIdentity()} is false.
 */
final class ContinuationSwitch implements ContextSwitch {
    static final ContinuationSwitch INSTANCE = new ContinuationSwitch();
    static final ContinuationScope SCOPE = new ContinuationScope("osvj-kthread");
    /** {@code Thread.setCurrentThread(Thread)} (an intrinsic: one store), or null without access. */
    private static final MethodHandle SET_CURRENT_THREAD;
    /** {@code Thread.eetop}: the native thread of a started, live {@code Thread}; 0 otherwise. */
    private static final VarHandle EETOP;

    static {
        MethodHandle set = null;
        VarHandle eetop = null;
        try {
            final MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(Thread.class, MethodHandles.lookup());
            set = lookup.findVirtual(Thread.class, "setCurrentThread", MethodType.methodType(void.class, Thread.class));
            eetop = lookup.findVarHandle(Thread.class, "eetop", long.class);
        } catch (final ReflectiveOperationException | RuntimeException e) {
            set = null;
            eetop = null;
        }
        SET_CURRENT_THREAD = set;
        EETOP = eetop;
    }

    private ContinuationSwitch() {
    }

    @Override
    public String name() {
        return "continuation";
    }

    @Override
    public ThreadContext create(final String name, final Object owner, final Runnable body) {
        return new Ctx(name, owner, body);
    }

    /** True when kernel threads run with their own host identity (see the class comment). */
    static boolean hasOwnIdentity() {
        return SET_CURRENT_THREAD != null;
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
        private final String name;
        private final Object owner;
        /** Created on the first resume; {@code Thread.currentThread()} of this context's code. */
        private KernelThreadIdentity identity;
        private boolean pinned;

        Ctx(final String name, final Object owner, final Runnable body) {
            super(SCOPE, body);
            this.name = name;
            this.owner = owner;
        }

        @Override
        public void resume() {
            if (SET_CURRENT_THREAD == null) {
                run();
                return;
            }
            final Thread carrier = Thread.currentThread();
            KernelThreadIdentity id = identity;
            if (id == null) {
                id = new KernelThreadIdentity(name, this);
                identity = id;
            }
            EETOP.setRelease(id, (long)EETOP.getOpaque(carrier));
            setCurrentThread(carrier, id);
            try {
                run();
            } finally {
                setCurrentThread(carrier, carrier);
                EETOP.setRelease(id, 0L);
                if (isDone()) {
                    id.markEnded();
                }
            }
        }

        private static void setCurrentThread(final Thread carrier, final Thread current) {
            try {
                SET_CURRENT_THREAD.invokeExact(carrier, current);
            } catch (final Throwable t) {
                throw new IllegalStateException("Thread.setCurrentThread", t);
            }
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
