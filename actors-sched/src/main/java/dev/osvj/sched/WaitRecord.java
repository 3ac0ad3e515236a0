package dev.osvj.sched;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

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
public final class WaitRecord implements Waitable {
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
        this.waiter = thread;
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

    /** True once {@link #wake()} has been called. */
    public boolean woken() {
        return waiter == null;
    }

    @Override
    public boolean poll() {
        return woken();
    }

    /** Block the calling thread (which must be the record's thread) until woken. */
    public void await() {
        if (thread instanceof KThread) {
            KThread.waitUntil(this::woken);
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
