package dev.osvj.sched;

/**
 * OSv's counting semaphore ({@code core/semaphore.cc}): a {@link Mutex} guards the value and a FIFO of
 * waiters, each asking for some units. {@link #post} hands units to every waiter whose request now
 * fits, in FIFO order (a large request does not hold back smaller ones behind it), and wakes them;
 * units given to a waiter are already deducted, so a woken waiter just returns.
 */
public final class Semaphore {
    private final Mutex mutex = new Mutex();
    private long value;
    private WaitRecord oldest;
    private WaitRecord newest;

    public Semaphore(final long initialUnits) {
        if (initialUnits < 0) {
            throw new IllegalArgumentException("negative units: " + initialUnits);
        }
        this.value = initialUnits;
    }

    public void post(final long units) {
        mutex.lock();
        try {
            value += units;
            WaitRecord prev = null;
            WaitRecord r = oldest;
            while (r != null && value > 0) {
                final WaitRecord next = r.next;
                if (r.units <= value) {
                    value -= r.units;
                    unlinkAfter(prev, r);
                    r.wake();
                } else {
                    prev = r;
                }
                r = next;
            }
        } finally {
            mutex.unlock();
        }
    }

    public void post() {
        post(1);
    }

    public void acquire(final long units) {
        acquire(units, -1);
    }

    public void acquire() {
        acquire(1, -1);
    }

    /**
     * Take {@code units}, waiting at most {@code timeoutNanos} (negative: forever).
     *
     * @return false on timeout (nothing taken).
     */
    public boolean acquire(final long units, final long timeoutNanos) {
        final WaitRecord wr;
        mutex.lock();
        try {
            if (value >= units) {
                value -= units;
                return true;
            }
            if (timeoutNanos == 0) {
                return false;
            }
            wr = new WaitRecord();
            wr.units = units;
            if (oldest == null) {
                oldest = wr;
            } else {
                newest.next = wr;
            }
            newest = wr;
        } finally {
            mutex.unlock();
        }
        if (timeoutNanos < 0) {
            wr.await();
            return true;
        }
        if (wr.await(timeoutNanos)) {
            return true;
        }
        mutex.lock();
        try {
            if (wr.woken()) {
                return true; // a post raced with the timeout and already gave us the units
            }
            WaitRecord prev = null;
            for (WaitRecord r = oldest; r != null; prev = r, r = r.next) {
                if (r == wr) {
                    unlinkAfter(prev, r);
                    break;
                }
            }
            return false;
        } finally {
            mutex.unlock();
        }
    }

    public boolean tryAcquire(final long units) {
        return acquire(units, 0);
    }

    /** The current value (a racy snapshot). */
    public long value() {
        return value;
    }

    private void unlinkAfter(final WaitRecord prev, final WaitRecord r) {
        if (prev == null) {
            oldest = r.next;
        } else {
            prev.next = r.next;
        }
        if (newest == r) {
            newest = prev;
        }
        r.next = null;
    }
}
