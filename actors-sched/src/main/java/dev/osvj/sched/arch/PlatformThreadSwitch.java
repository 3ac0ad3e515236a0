package dev.osvj.sched.arch;

import java.util.concurrent.locks.LockSupport;

/**
 * Kernel threads as platform threads with a strict hand-off: the carrier {@code unpark}s the kernel
 * thread and parks until the kernel thread {@code unpark}s it back and parks itself. One of the two
 * runs at any moment, so the vCPU's invariant "one kernel thread at a time" holds exactly as with
 * continuations; only the cost of a switch differs (two futex operations and an OS context switch).
 *
 * <p>Memory ordering: the hand-off word {@code turn} is volatile; each side writes everything, then
 * stores {@code turn}, then unparks; the other side reads {@code turn} before touching shared state.
 */
final class PlatformThreadSwitch implements ContextSwitch {
    static final PlatformThreadSwitch INSTANCE = new PlatformThreadSwitch();

    private PlatformThreadSwitch() {
    }

    @Override
    public String name() {
        return "platform";
    }

    @Override
    public ThreadContext create(final String name, final Object owner, final Runnable body) {
        return new Ctx(name, owner, body);
    }

    @Override
    public ThreadContext current() {
        return Thread.currentThread() instanceof KernelPlatformThread t ? t.ctx : null;
    }

    /** Thrown inside a disposed context to unwind its platform thread; never escapes the thread. */
    static final class Disposed extends Error {
        Disposed() {
            super("context disposed", null, false, false);
        }
    }

    /** The host thread backing one kernel thread. */
    static final class KernelPlatformThread extends Thread {
        final Ctx ctx;

        KernelPlatformThread(final String name, final Ctx ctx) {
            super(null, null, "kthread-" + name, 0, false);
            this.ctx = ctx;
            setDaemon(true);
        }

        @Override
        public void run() {
            boolean disposed = false;
            try {
                ctx.awaitTurn();
                ctx.body.run();
            } catch (final Disposed e) {
                disposed = true;
            } finally {
                ctx.done = true;
                if (!disposed) {
                    ctx.giveBack();
                }
            }
        }
    }

    static final class Ctx implements ThreadContext {
        private static final int CARRIER = 0;
        private static final int CONTEXT = 1;

        final Runnable body;
        private final Object owner;
        private final KernelPlatformThread thread;
        private volatile int turn = CARRIER;
        private volatile Thread carrier;
        private volatile boolean started;
        private volatile boolean disposed;
        volatile boolean done;

        Ctx(final String name, final Object owner, final Runnable body) {
            this.body = body;
            this.owner = owner;
            this.thread = new KernelPlatformThread(name, this);
        }

        @Override
        public void resume() {
            if (done) {
                throw new IllegalStateException("context terminated");
            }
            carrier = Thread.currentThread();
            turn = CONTEXT;
            if (!started) {
                started = true;
                thread.start();
            } else {
                LockSupport.unpark(thread);
            }
            while (turn != CARRIER) {
                LockSupport.park(this);
            }
        }

        @Override
        public boolean suspend() {
            giveBack();
            awaitTurn();
            return true;
        }

        void giveBack() {
            final Thread c = carrier;
            turn = CARRIER;
            LockSupport.unpark(c);
        }

        void awaitTurn() {
            while (turn != CONTEXT) {
                if (disposed) {
                    throw new Disposed();
                }
                LockSupport.park(this);
            }
            if (disposed) {
                throw new Disposed();
            }
        }

        @Override
        public boolean isDone() {
            return done;
        }

        @Override
        public StackTraceElement[] stackTrace() {
            return thread.getStackTrace();
        }

        @Override
        public Object owner() {
            return owner;
        }

        @Override
        public Thread hostThread() {
            return thread;
        }

        @Override
        public void dispose() {
            disposed = true;
            if (started) {
                LockSupport.unpark(thread);
            }
        }
    }
}
