package dev.osvj.net.stack;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What TCP and UDP sockets share: the socket lock (OSv merged the TCP and socket locks; so do we: the
 * protocol state machine runs under it), the condition blocked callers wait on, and the poll/epoll
 * watchers that hear about readiness changes.
 *
 * <p>Wakeups: code holding the lock calls {@link #changedLocked}; a producer that does not hold the
 * lock (the net-channel classifier) calls {@link #wakeFromOutside}. {@link #waiters} is written under
 * the lock and read without it (volatile).
 *
 * <p>Blocked callers park in one of {@link #PARK_SLOTS} slots rather than on the condition, so that
 * {@link #wakeFromOutside} is lock-free: it unparks the slots' threads and never waits for the socket
 * lock. On a loaded machine the classifier (the device's receive context) would otherwise stall
 * behind whichever thread holds the lock and was descheduled: lock-holder preemption in the one
 * place the net-channel design meant to keep free of socket locks. Publish order: a waiter fills its
 * slot, then increments {@code waiters} (both volatile, under the lock); a waker reads {@code waiters}
 * and then the slots, so a waker that sees a waiter also sees its thread. A waker that sees none hands
 * the flow to its consumer (the net-channel actor), which takes the lock and wakes the waiter the
 * usual way. Waiters beyond the slots (and re-entrant holders of the lock) wait on {@link #changed}.
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
    /** Parking slots: more concurrent waiters than this on one socket wait on the condition. */
    static final int PARK_SLOTS = 4;
    /** Longest single wait: state is re-checked at least this often even if a wakeup were lost. */
    static final long MAX_WAIT_NS = 50_000_000L;
    /**
     * The re-check cap in force ({@link #MAX_WAIT_NS}); tests raise it to hours so that a lost wakeup
     * hangs instead of being hidden by the re-check.
     */
    private static volatile long maxWaitNs = MAX_WAIT_NS;

    /** Tests only: set the re-check cap of every blocked caller that starts waiting afterwards. */
    static void setMaxWaitForTests(final long ns) {
        maxWaitNs = ns;
    }
    final ReentrantLock lock = new ReentrantLock();
    final Condition changed = lock.newCondition();
    volatile int waiters;
    /** Threads parked in {@link #awaitLocked}: written under the lock, read by wakers without it. */
    private final AtomicReferenceArray<Thread> parked = new AtomicReferenceArray<>(PARK_SLOTS);
    /** Waiters on {@link #changed} (no free slot): written under the lock. */
    private volatile int conditionWaiters;
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
            unparkAll();
            if (conditionWaiters > 0) {
                changed.signalAll();
            }
        }
        notifyWatchers();
    }

    private void unparkAll() {
        for (int i = 0; i < PARK_SLOTS; i++) {
            final Thread t = parked.get(i);
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
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
        final long waitNs;
        final long cap = maxWaitNs;
        if (deadlineNs == 0) {
            waitNs = cap; // bounded: re-check state even if a wakeup is lost
        } else {
            final long left = deadlineNs - System.nanoTime();
            if (left <= 0) {
                return -1;
            }
            waitNs = Math.min(left, cap);
        }
        final Thread me = Thread.currentThread();
        int slot = -1;
        if (lock.getHoldCount() == 1) {
            for (int i = 0; i < PARK_SLOTS; i++) {
                if (parked.get(i) == null) {
                    parked.set(i, me);
                    slot = i;
                    break;
                }
            }
        }
        waiters++; // after the slot: a waker that sees this count sees the thread
        try {
            if (slot < 0) {
                conditionWaiters++;
                try {
                    changed.awaitNanos(waitNs);
                } finally {
                    conditionWaiters--;
                }
            } else {
                lock.unlock();
                try {
                    LockSupport.parkNanos(this, waitNs);
                } finally {
                    lock.lock();
                }
                if (Thread.interrupted()) {
                    throw new InterruptedException();
                }
            }
        } finally {
            waiters--;
            if (slot >= 0) {
                parked.set(slot, null);
            }
        }
        return deadlineNs == 0 ? 1 : Math.max(1, deadlineNs - System.nanoTime());
    }

    /** Wake blocked callers from a thread that does not hold the lock; lock-free unless a waiter uses the condition. */
    final void wakeFromOutside() {
        if (waiters > 0) {
            unparkAll();
            if (conditionWaiters > 0) {
                lock.lock();
                try {
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
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
