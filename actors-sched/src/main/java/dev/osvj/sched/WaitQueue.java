package dev.osvj.sched;

/**
 * OSv's {@code waitqueue}: a condition variable without an internal lock, protected by the caller's
 * {@link Mutex}, which the caller must hold for {@link #await}, {@link #wakeOne} and {@link #wakeAll}.
 * Wakeups are morphed onto that mutex ({@link Mutex#sendLock}), so a woken waiter runs once the waker
 * releases the mutex, already holding it. Waits are untimed (a timed wait needs a lock of its own to
 * unlink itself: use {@link CondVar}).
 */
public final class WaitQueue {
    private WaitRecord oldest;
    private WaitRecord newest;

    /** Release {@code mutex}, sleep until woken, return holding it. */
    public void await(final Mutex mutex) {
        final WaitRecord wr = WaitRecord.forConditionWait();
        if (oldest == null) {
            oldest = wr;
        } else {
            newest.next = wr;
        }
        newest = wr;
        final int depth = mutex.unlockForWait();
        wr.await();
        mutex.receiveLock(depth);
    }

    /** Hand {@code mutex} to the oldest waiter when the caller releases it. */
    public void wakeOne(final Mutex mutex) {
        checkHeld(mutex);
        final WaitRecord wr = oldest;
        if (wr != null) {
            oldest = wr.next;
            if (oldest == null) {
                newest = null;
            }
            wr.next = null;
            mutex.sendLock(wr);
        }
    }

    /** Hand {@code mutex} to every waiter in turn, grouped by vCPU (see {@link CondVar#wakeAll()}). */
    public void wakeAll(final Mutex mutex) {
        checkHeld(mutex);
        final WaitRecord wr = oldest;
        oldest = null;
        newest = null;
        if (wr != null) {
            mutex.sendLockGroupedByCpu(wr);
        }
    }

    /** Call with the mutex held. */
    public boolean isEmpty() {
        return oldest == null;
    }

    private static void checkHeld(final Mutex mutex) {
        if (!mutex.isOwnedByCurrent()) {
            throw new IllegalMonitorStateException("waitqueue wake without holding its mutex");
        }
    }
}
