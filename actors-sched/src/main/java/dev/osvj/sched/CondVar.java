package dev.osvj.sched;

/**
 * OSv's condition variable ({@code core/condvar.cc}) with wait morphing: {@link #wakeOne()} does not
 * wake the waiter (which would run only to block on the mutex the waker probably holds) but queues it
 * on the user mutex with {@link Mutex#sendLock}; the waiter runs when the mutex is released, already
 * owning it. No lost wakeups: a waiter is on the FIFO before it releases the user mutex.
 *
 * <p>An internal {@link Mutex} guards the FIFO of {@link WaitRecord}s and the remembered user mutex;
 * as in pthreads, concurrent waiters must use the same user mutex. A timed-out waiter unlinks itself
 * under the internal mutex, or, when a wake already took its record, waits for that in-flight
 * hand-over and reports a wakeup.
 */
public final class CondVar {
    private final Mutex internal = new Mutex();
    private volatile WaitRecord oldest;
    private WaitRecord newest;
    private Mutex userMutex;

    /** Release {@code mutex} (held by the caller, at any depth), wait for a wakeup, return holding it. */
    public void await(final Mutex mutex) {
        final KThread k = KThread.current();
        final WaitRecord wr = enqueue(mutex, k);
        final int depth = mutex.unlockForWait(k);
        wr.await();
        mutex.receiveLock(depth, k);
    }

    /**
     * As {@link #await(Mutex)}, at most {@code timeoutNanos} (kernel clock on kernel threads).
     *
     * @return true when woken, false on timeout (holding the mutex either way).
     */
    public boolean await(final Mutex mutex, final long timeoutNanos) {
        final KThread k = KThread.current();
        final WaitRecord wr = enqueue(mutex, k);
        final int depth = mutex.unlockForWait(k);
        if (wr.await(timeoutNanos)) {
            mutex.receiveLock(depth, k);
            return true;
        }
        internal.lock(k);
        final boolean found = unlink(wr);
        internal.unlock(k);
        if (found) {
            mutex.relockAfterWait(depth);
            return false;
        }
        wr.await();
        mutex.receiveLock(depth, k);
        return true;
    }

    /**
     * Queue the caller ({@code k}, or a host thread when null) and remember {@code mutex}: its reused
     * {@link KThread#conditionRecord()} on a kernel thread, a new record on a host thread.
     */
    private WaitRecord enqueue(final Mutex mutex, final KThread k) {
        final WaitRecord wr = k != null ? k.conditionRecord() : new WaitRecord(Thread.currentThread());
        internal.lock(k);
        if (oldest == null) {
            oldest = wr;
        } else {
            newest.next = wr;
        }
        newest = wr;
        userMutex = mutex;
        internal.unlock(k);
        return wr;
    }

    private boolean unlink(final WaitRecord wr) {
        WaitRecord prev = null;
        for (WaitRecord r = oldest; r != null; prev = r, r = r.next) {
            if (r == wr) {
                if (prev == null) {
                    oldest = r.next;
                } else {
                    prev.next = r.next;
                }
                if (newest == r) {
                    newest = prev;
                }
                r.next = null;
                return true;
            }
        }
        return false;
    }

    /** Wake the oldest waiter (morphed onto its mutex). Cheap when nobody waits. */
    public void wakeOne() {
        if (oldest == null) {
            return;
        }
        final KThread k = KThread.current();
        internal.lock(k);
        final WaitRecord wr = oldest;
        if (wr != null) {
            oldest = wr.next;
            if (oldest == null) {
                newest = null;
            }
            wr.next = null;
            // The vCPU read after lock(), whose preemption point may have moved the thread.
            userMutex.sendLock(wr, k != null ? k.cpu : Cpu.current());
        }
        internal.unlock(k);
    }

    /**
     * Wake every waiter, each morphed onto the mutex, grouped by vCPU as OSv's {@code wake_all} (see
     * {@link Mutex#sendLockGroupedByCpu}): the caller's vCPU first, oldest first within a vCPU.
     */
    public void wakeAll() {
        if (oldest == null) {
            return;
        }
        internal.lock();
        final WaitRecord wr = oldest;
        oldest = null;
        newest = null;
        if (wr != null) {
            userMutex.sendLockGroupedByCpu(wr);
        }
        internal.unlock();
    }

    /** True when nobody waits (a racy snapshot). */
    public boolean hasWaiters() {
        return oldest != null;
    }
}
