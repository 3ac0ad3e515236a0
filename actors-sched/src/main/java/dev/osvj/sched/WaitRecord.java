package dev.osvj.sched;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * OSv's {@code waiter}/{@code wait_record}: a one-shot "wake me" token for one waiting thread, with a
 * {@code next} link so that queues (mutex, condvar, waitqueue, join) can chain records without
 * allocating nodes.
 *
 * <p>{@link #wake()} clears the waiter reference (atomically, so a record is woken at most once) and
 * then wakes the thread; {@link #await()} returns only after the reference is cleared: there are no
 * spurious returns. Everything the waker wrote before {@code wake()} is visible to the waiter after
 * {@code await()} (the clearing is a volatile read-modify-write, the waiter's check a volatile read).
 *
 * <p>The waiter is a kernel thread (woken through the scheduler) or, outside the vCPUs, a host thread
 * (woken with {@code unpark}); kernel primitives therefore also work from tests and boot code.
 */
public final class WaitRecord implements Waitable, BooleanSupplier {
    private static final VarHandle WAITER;

    static {
        try {
            WAITER = MethodHandles.lookup().findVarHandle(WaitRecord.class, "waiter", Object.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The waiting thread (a {@link KThread} or a host {@link Thread}); fixed. */
    final Object thread;
    /** Queue link; owned by whichever queue holds the record. */
    WaitRecord next;
    /** Per-record payload for queues that need one (semaphore units). */
    long units;
    @SuppressWarnings("unused") // through WAITER
    private volatile Object waiter;

    /** A record for the calling thread. */
    public WaitRecord() {
        this(self());
    }

    WaitRecord(final Object thread) {
        this.thread = thread;
        // Plain: a record reaches its waker only through a synchronizing action (a queue's CAS, a
        // mutex), which publishes this store.
        WAITER.set(this, thread);
    }

    /**
     * Make a finished record waitable again (its owner reuses it for its next wait): only once it is
     * off every queue and nobody can wake it any more (woken and {@link #await()} returned, or popped
     * by its own thread). Published, like a new record, by the queue's CAS that takes it.
     */
    void rearm() {
        next = null;
        WAITER.set(this, thread);
    }

    /** The calling thread's identity as a waiter and lock owner: its KThread, else its host Thread. */
    static Object self() {
        final KThread k = KThread.current();
        return k != null ? k : Thread.currentThread();
    }

    /** Wake the waiter (once; later calls do nothing). Any thread may call it. */
    public void wake() {
        final Object w = WAITER.getAndSet(this, (Object)null);
        if (w instanceof KThread k) {
            k.wake();
        } else if (w != null) {
            LockSupport.unpark((Thread)w);
        }
    }

    /** {@link #wake()} by a caller that knows its vCPU ({@code source}: {@link Cpu#current()}). */
    void wakeFrom(final Cpu source) {
        final Object w = WAITER.getAndSet(this, (Object)null);
        if (w instanceof KThread k) {
            k.wakeFrom(source);
        } else if (w != null) {
            LockSupport.unpark((Thread)w);
        }
    }

    /** True once {@link #wake()} has been called. */
    public boolean woken() {
        return waiter == null;
    }

    @Override
    public boolean poll() {
        return woken();
    }

    /** {@link #woken()}, so a record is its own wait condition (no lambda per wait). */
    @Override
    public boolean getAsBoolean() {
        return woken();
    }

    /** Block the calling thread (which must be the record's thread) until woken. */
    public void await() {
        if (thread instanceof KThread k) {
            KThread.waitUntil(k, this);
        } else {
            while (!woken()) {
                LockSupport.park(this);
            }
        }
    }

    /**
     * Block until woken or {@code timeoutNanos} passed (kernel clock for kernel threads, host clock
     * otherwise).
     *
     * @return true when woken.
     */
    public boolean await(final long timeoutNanos) {
        if (thread instanceof KThread) {
            return KThread.waitFor(timeoutNanos, this) || woken();
        }
        final long deadline = System.nanoTime() + timeoutNanos;
        while (!woken()) {
            final long left = deadline - System.nanoTime();
            if (left <= 0) {
                return woken();
            }
            LockSupport.parkNanos(this, left);
        }
        return true;
    }
}
