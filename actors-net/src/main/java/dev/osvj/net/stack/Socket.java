package dev.osvj.net.stack;

import dev.osvj.sched.WaitRecord;

import java.util.ArrayList;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What TCP and UDP sockets share: the socket lock (OSv merged the TCP and socket locks; so do we: the
 * protocol state machine runs under it), the blocked callers' wait records, and the poll/epoll
 * watchers that hear about readiness changes.
 *
 * <p>Wakeups: code holding the lock calls {@link #changedLocked}; a producer that does not hold the
 * lock (the net-channel classifier) calls {@link #wakeFromOutside}. {@link #waiters} is written under
 * the lock and read without it (volatile).
 *
 * <p>Blocking ({@link #awaitLocked}) goes through {@link Waiter}: the caller publishes a one-shot
 * {@link WaitRecord} in one of {@link #PARK_SLOTS} slots (or, when they are taken, in the overflow list
 * guarded by the lock), releases the lock and waits on the record: a kernel thread through the
 * scheduler (its vCPU runs other threads; the timeout is a scheduler timer), a host thread by parking.
 * The socket lock is never held while a kernel thread is switched out: it is a JDK lock owned by the
 * carrier thread, so another kernel thread on the same carrier would otherwise re-enter it.
 *
 * <p>{@link #wakeFromOutside} is lock-free unless the overflow list is in use: it wakes the slots'
 * records and never waits for the socket lock. On a loaded machine the classifier (the device's
 * receive context) would otherwise stall behind whichever thread holds the lock and was descheduled:
 * lock-holder preemption in the one place the net-channel design meant to keep free of socket locks.
 * Publish order: a waiter fills its slot, then increments {@code waiters} (both volatile, under the
 * lock); a waker reads {@code waiters} and then the slots, so a waker that sees a waiter also sees its
 * record. A waker that sees none hands the flow to its consumer (the net-channel actor), which takes
 * the lock and wakes the waiter the usual way. A record woken before its owner waits makes the wait
 * return at once, so a wakeup between the unlock and the wait is not lost.
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
    /** Lock-free wait slots: more concurrent waiters than this on one socket use the overflow list. */
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

    /** The re-check cap in force (see {@link #setMaxWaitForTests}); epoll and poll use it too. */
    static long maxWaitNs() {
        return maxWaitNs;
    }

    final ReentrantLock lock = new ReentrantLock();
    volatile int waiters;
    /** Records of callers blocked in {@link #awaitLocked}: written under the lock, read by wakers without it. */
    private final AtomicReferenceArray<WaitRecord> parked = new AtomicReferenceArray<>(PARK_SLOTS);
    /** Records that found no free slot: guarded by the lock. */
    private final ArrayList<WaitRecord> overflow = new ArrayList<>(0);
    /** {@code overflow.size()}, readable without the lock. */
    private volatile int overflowWaiters;
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
            wakeSlots();
            if (overflowWaiters > 0) {
                wakeOverflowLocked();
            }
        }
        notifyWatchers();
    }

    private void wakeSlots() {
        for (int i = 0; i < PARK_SLOTS; i++) {
            Waiter.wake(parked.get(i));
        }
    }

    private void wakeOverflowLocked() {
        for (int i = 0; i < overflow.size(); i++) {
            Waiter.wake(overflow.get(i));
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
     * Wait for a change with the lock held (by the caller, possibly re-entrantly): the lock is released
     * completely while waiting and re-taken before returning. Waits at most until {@code deadlineNs}
     * ({@link System#nanoTime()}; 0 = no deadline) and at most the re-check cap; callers loop on their
     * condition.
     *
     * @return 1 (or the nanoseconds left) to re-check, -1 when the deadline has passed.
     * @throws InterruptedException when a host thread was interrupted while waiting.
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
        final WaitRecord record = Waiter.record();
        int slot = -1;
        for (int i = 0; i < PARK_SLOTS; i++) {
            if (parked.get(i) == null) {
                parked.set(i, record);
                slot = i;
                break;
            }
        }
        if (slot < 0) {
            overflow.add(record);
            overflowWaiters = overflow.size();
        }
        waiters++; // after the record: a waker that sees this count sees the record
        final int holds = lock.getHoldCount();
        for (int i = 0; i < holds; i++) {
            lock.unlock();
        }
        try {
            Waiter.await(record, waitNs);
        } finally {
            for (int i = 0; i < holds; i++) {
                lock.lock();
            }
            waiters--;
            if (slot >= 0) {
                parked.set(slot, null);
            } else {
                overflow.remove(record);
                overflowWaiters = overflow.size();
            }
        }
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
        return deadlineNs == 0 ? 1 : Math.max(1, deadlineNs - System.nanoTime());
    }

    /** Wake blocked callers from a thread that does not hold the lock; lock-free unless the overflow list is used. */
    final void wakeFromOutside() {
        if (waiters > 0) {
            wakeSlots();
            if (overflowWaiters > 0) {
                lock.lock();
                try {
                    wakeOverflowLocked();
                } finally {
                    lock.unlock();
                }
            }
        }
        notifyWatchers();
    }

    /**
     * As {@link #wakeFromOutside}, for a waker that must not take this socket's lock (it holds another
     * socket's): wakes the slots and the watchers only.
     *
     * @return false when callers in the overflow list were left for a holder of the lock to wake.
     */
    final boolean wakeFromOutsideUnlocked() {
        if (waiters > 0) {
            wakeSlots();
        }
        notifyWatchers();
        return overflowWaiters == 0;
    }

    /** Deadline for a blocking call with {@code timeoutNs} (0 = none). */
    static long deadline(final long timeoutNs) {
        return timeoutNs <= 0 ? 0 : System.nanoTime() + timeoutNs;
    }

    abstract int close();
}
