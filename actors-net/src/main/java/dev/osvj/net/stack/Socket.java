package dev.osvj.net.stack;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What TCP and UDP sockets share: the socket lock (OSv merged the TCP and socket locks; so do we: the
 * protocol state machine runs under it), the condition blocked callers wait on, and the poll/epoll
 * watchers that hear about readiness changes.
 *
 * <p>Wakeups: code holding the lock calls {@link #changedLocked}; a producer that does not hold the
 * lock (the net-channel classifier) calls {@link #wakeFromOutside}. {@link #waiters} is written under
 * the lock and read without it (volatile), so the producer takes the lock only when someone waits.
 */
abstract class Socket {
    /** Poll bits, Linux values. */
    static final int POLLIN = 0x001;
    static final int POLLPRI = 0x002;
    static final int POLLOUT = 0x004;
    static final int POLLERR = 0x008;
    static final int POLLHUP = 0x010;
    static final int POLLNVAL = 0x020;
    static final int POLLRDHUP = 0x2000;

    /** A poll or epoll instance interested in this socket. */
    interface Watcher {
        /** Readiness may have changed; called with or without the socket lock, must not block. */
        void onReady(Socket socket);
    }

    final NetStack stack;
    final ReentrantLock lock = new ReentrantLock();
    final Condition changed = lock.newCondition();
    volatile int waiters;
    final CopyOnWriteArrayList<Watcher> watchers = new CopyOnWriteArrayList<>();
    boolean nonBlocking;
    long recvTimeoutNs;
    long sendTimeoutNs;
    boolean reuseAddr;
    int localIp;
    int localPort;
    boolean closed;

    Socket(final NetStack stack) {
        this.stack = stack;
    }

    /** Current poll bits; takes the lock. */
    abstract int readiness();

    /** Called with the lock held: wake blocked callers and tell watchers. */
    final void changedLocked() {
        if (waiters > 0) {
            changed.signalAll();
        }
        notifyWatchers();
    }

    final void notifyWatchers() {
        if (!watchers.isEmpty()) {
            for (final Watcher w : watchers) {
                w.onReady(this);
            }
        }
    }

    /**
     * Wait on {@link #changed} for at most {@code remainingNs} (0 = forever) with the lock held.
     *
     * @return the nanoseconds left, or -1 when the time ran out.
     */
    final long awaitLocked(final long deadlineNs) throws InterruptedException {
        waiters++;
        try {
            if (deadlineNs == 0) {
                changed.await(50, TimeUnit.MILLISECONDS); // bounded: re-check state even if a wakeup is lost
                return 1;
            }
            final long left = deadlineNs - System.nanoTime();
            if (left <= 0) {
                return -1;
            }
            changed.awaitNanos(Math.min(left, 50_000_000L));
            return Math.max(1, deadlineNs - System.nanoTime());
        } finally {
            waiters--;
        }
    }

    /** Wake blocked callers from a thread that does not hold the lock. */
    final void wakeFromOutside() {
        if (waiters > 0) {
            lock.lock();
            try {
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
        notifyWatchers();
    }

    /** Deadline for a blocking call with {@code timeoutNs} (0 = none). */
    static long deadline(final long timeoutNs) {
        return timeoutNs <= 0 ? 0 : System.nanoTime() + timeoutNs;
    }

    abstract int close();
}
