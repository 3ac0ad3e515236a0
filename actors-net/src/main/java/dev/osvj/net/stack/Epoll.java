package dev.osvj.net.stack;

import dev.osvj.sched.WaitRecord;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An epoll instance (OSv's {@code core/epoll.cc} semantics): an interest list, and a ready list fed by
 * the sockets' readiness notifications. Level-triggered registrations stay on the ready list while the
 * socket is ready; edge-triggered ones ({@code EPOLLET}) leave it once reported and come back on the
 * next notification; {@code EPOLLONESHOT} disables the registration after one report until
 * {@code EPOLL_CTL_MOD} re-arms it.
 *
 * <p>Lock order: a socket's lock may be held when {@link #onReady} takes the epoll lock, so
 * {@link #await} never holds the epoll lock while it asks a socket for its readiness.
 *
 * <p>Waiting ({@link Waiter}): a caller that finds the ready list empty publishes a one-shot
 * {@link WaitRecord} on {@link #sleepers} under the epoll lock and waits on it without the lock (a
 * kernel thread through the scheduler, a host thread by parking). {@link #onReady} queues the
 * registration and takes every sleeper's record off the list in the same critical section, and wakes
 * them once it has released the lock: the check and the publish happen under one lock, so no wakeup
 * is lost, and a waiter that has
 * been woken (or is running) is not woken again for the rest of a burst: one wakeup per burst, the
 * woken waiter then reports everything queued by the time it looks.
 */
final class Epoll implements Socket.Watcher {
    static final int EPOLLET = 1 << 31;
    static final int EPOLLONESHOT = 1 << 30;

    static final class Registration {
        final int fd;
        final Socket socket;
        int events;
        long data;
        boolean queued;
        boolean disabled;
        boolean removed;

        Registration(final int fd, final Socket socket, final int events, final long data) {
            this.fd = fd;
            this.socket = socket;
            this.events = events;
            this.data = data;
        }
    }

    private final ReentrantLock lock = new ReentrantLock();
    /** Records of callers blocked in {@link #await}: guarded by the lock. */
    private final ArrayList<WaitRecord> sleepers = new ArrayList<>(1);
    private final Map<Socket, Registration> bySocket = new IdentityHashMap<>();
    private final ArrayDeque<Registration> ready = new ArrayDeque<>();
    /**
     * {@link #await}'s working lists, reused by one caller at a time ({@link #scratchInUse}, guarded by
     * the lock; an epoll instance usually has one waiting thread) so a wait allocates no lists.
     */
    private final ArrayList<Registration> scratchBatch = new ArrayList<>();
    private final ArrayList<Registration> scratchKeep = new ArrayList<>();
    private boolean scratchInUse;
    boolean closed;

    /**
     * A watched socket's readiness changed: queue its registration and take the blocked callers' records
     * off {@link #sleepers} under the lock, then wake them after releasing it. A wake is a scheduler
     * wakeup (an IPI message to a halted vCPU, or a host unpark): outside the lock, a kernel thread
     * that wants the lock meanwhile (the woken worker itself, on its way back through {@link #await})
     * does not find it held through that and park its vCPU's carrier. Records are one-shot and their
     * waiters re-check (see {@link Waiter}), so a wake that lands after its waiter timed out is harmless,
     * as it already was for a waiter timing out while the lock was free.
     */
    @Override
    public void onReady(final Socket socket) {
        WaitRecord one = null;
        WaitRecord[] more = null;
        acquire();
        try {
            final Registration r = bySocket.get(socket);
            if (r != null && !r.disabled && !r.queued) {
                r.queued = true;
                ready.add(r);
                final int n = sleepers.size();
                if (n == 1) {
                    one = sleepers.get(0);
                } else if (n > 1) {
                    more = sleepers.toArray(new WaitRecord[n]);
                }
                sleepers.clear();
            }
        } finally {
            lock.unlock();
        }
        if (one != null || more != null) {
            final java.util.function.Consumer<Epoll> hook = beforeWakeForTests;
            if (hook != null) {
                hook.accept(this); // tests: where onReady wakes the blocked callers
            }
        }
        Waiter.wake(one);
        if (more != null) {
            for (final WaitRecord w : more) {
                Waiter.wake(w);
            }
        }
    }

    /** Wake and forget every blocked caller (lock held); each wake is a non-blocking hand-off. */
    private void wakeSleepersLocked() {
        if (!sleepers.isEmpty()) {
            for (int i = 0; i < sleepers.size(); i++) {
                Waiter.wake(sleepers.get(i));
            }
            sleepers.clear();
        }
    }

    /** {@link #acquire()}'s bound: tries of the lock, each after a spin-wait hint, before it blocks. */
    static final int SPIN_TRIES = 64;

    /**
     * Take the lock on the hot paths ({@link #onReady}, {@link #await}): every critical section under
     * it is a few hundred nanoseconds of list work with no blocking call and no wakeup, so a caller
     * that finds it held retries a bounded number of times before it blocks. Blocking parks the
     * calling host thread: for a kernel thread that is its vCPU's carrier, the whole vCPU, and the
     * holder's unlock then pays a futex wake (each tens of microseconds on a loaded 2-core VM).
     */
    private void acquire() {
        if (lock.tryLock()) {
            return;
        }
        for (int i = 0; i < SPIN_TRIES; i++) {
            Thread.onSpinWait();
            if (lock.tryLock()) {
                return;
            }
        }
        lock.lock();
    }

    int add(final int fd, final Socket s, final int events, final long data) {
        // Watch the socket before the registration becomes visible: a caller woken below checks it at
        // once, and a readiness change after that check must reach onReady (one before the
        // registration exists is covered by that first check).
        s.watchers.addIfAbsent(this);
        lock.lock();
        try {
            if (bySocket.containsKey(s)) {
                return -dev.osvj.kernel.Errno.EEXIST.number();
            }
            final Registration r = new Registration(fd, s, events, data);
            bySocket.put(s, r);
            r.queued = true; // check it once: it may already be ready
            ready.add(r);
            wakeSleepersLocked(); // a caller blocked now looks at it at once
        } finally {
            lock.unlock();
        }
        final java.util.function.Consumer<Epoll> hook = afterAddForTests;
        if (hook != null) {
            hook.accept(this); // tests: the registration is visible and its waiters were woken
        }
        return 0;
    }

    /**
     * Tests only: run at the end of every {@link #add}, after the registration became visible and the
     * blocked callers were woken (the point where the old order had not yet begun watching the socket).
     */
    static volatile java.util.function.Consumer<Epoll> afterAddForTests;

    /** Tests only: run in {@link #onReady} right before it wakes blocked callers (on the notifying thread). */
    static volatile java.util.function.Consumer<Epoll> beforeWakeForTests;

    /** Tests only: whether the calling thread holds the epoll lock. */
    boolean lockHeldForTests() {
        return lock.isHeldByCurrentThread();
    }

    /** Tests only: callers blocked in {@link #await} now. */
    int sleepersForTests() {
        lock.lock();
        try {
            return sleepers.size();
        } finally {
            lock.unlock();
        }
    }

    int modify(final Socket s, final int events, final long data) {
        lock.lock();
        try {
            final Registration r = bySocket.get(s);
            if (r == null) {
                return -dev.osvj.kernel.Errno.ENOENT.number();
            }
            r.events = events;
            r.data = data;
            r.disabled = false;
            if (!r.queued) {
                r.queued = true;
                ready.add(r);
            }
            wakeSleepersLocked();
            return 0;
        } finally {
            lock.unlock();
        }
    }

    int remove(final Socket s) {
        lock.lock();
        try {
            final Registration r = bySocket.remove(s);
            if (r == null) {
                return -dev.osvj.kernel.Errno.ENOENT.number();
            }
            r.removed = true;
            ready.remove(r);
        } finally {
            lock.unlock();
        }
        s.watchers.remove(this);
        return 0;
    }

    /**
     * Wait for events.
     *
     * @param timeoutNs -1 forever, 0 poll, otherwise the longest wait.
     * @return events reported (0 on timeout), or {@code -EBADF} once the instance is closed.
     * @throws InterruptedException when a host thread was interrupted while waiting.
     */
    int await(final int[] fds, final int[] events, final long[] data, final int max, final long timeoutNs)
        throws InterruptedException {
        final long deadline = timeoutNs > 0 ? System.nanoTime() + timeoutNs : 0;
        final ArrayList<Registration> batch;
        final ArrayList<Registration> keep;
        acquire();
        try {
            if (scratchInUse) {
                batch = new ArrayList<>(); // a second caller at the same time: lists of its own
                keep = new ArrayList<>();
            } else {
                scratchInUse = true;
                batch = scratchBatch;
                keep = scratchKeep;
            }
        } finally {
            lock.unlock();
        }
        try {
            return await(fds, events, data, max, timeoutNs, deadline, batch, keep);
        } finally {
            batch.clear();
            keep.clear();
            if (batch == scratchBatch) {
                acquire();
                try {
                    scratchInUse = false;
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    /** {@link #await}'s loop, with the caller's lists (cleared on entry to each round). */
    private int await(final int[] fds, final int[] events, final long[] data, final int max, final long timeoutNs,
        final long deadline, final ArrayList<Registration> batch, final ArrayList<Registration> keep)
        throws InterruptedException {
        while (true) {
            batch.clear();
            keep.clear();
            acquire();
            try {
                if (closed) {
                    return -dev.osvj.kernel.Errno.EBADF.number();
                }
                while (!ready.isEmpty() && batch.size() < max) {
                    final Registration r = ready.poll();
                    r.queued = false;
                    batch.add(r);
                }
            } finally {
                lock.unlock();
            }
            int n = 0;
            for (int i = 0; i < batch.size(); i++) {
                final Registration r = batch.get(i);
                final int mask = r.socket.readiness() & (r.events | Socket.POLLERR | Socket.POLLHUP | Socket.POLLNVAL);
                if (mask == 0 || r.removed) {
                    continue;
                }
                fds[n] = r.fd;
                events[n] = mask;
                data[n] = r.data;
                n++;
                if ((r.events & EPOLLONESHOT) != 0) {
                    r.disabled = true;
                } else if ((r.events & EPOLLET) == 0) {
                    keep.add(r); // level-triggered: stays ready until it is not
                }
            }
            final WaitRecord record;
            final long waitNs;
            acquire();
            try {
                for (int i = 0; i < keep.size(); i++) {
                    final Registration r = keep.get(i);
                    if (!r.removed && !r.disabled && !r.queued) {
                        r.queued = true;
                        ready.add(r);
                    }
                }
                if (n > 0 || timeoutNs == 0) {
                    return n;
                }
                if (!ready.isEmpty()) {
                    continue; // queued meanwhile: look again without waiting
                }
                if (closed) {
                    return -dev.osvj.kernel.Errno.EBADF.number();
                }
                if (deadline == 0) {
                    waitNs = Socket.maxWaitNs();
                } else {
                    final long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return 0;
                    }
                    waitNs = Math.min(left, Socket.maxWaitNs());
                }
                record = Waiter.record();
                sleepers.add(record); // published under the lock onReady takes: no lost wakeup
            } finally {
                lock.unlock();
            }
            if (deadline == 0) {
                // no deadline: a kernel thread waits without a timer, so it carries none while it sleeps
                // and may follow a sync wakeup to the waker's vCPU (the scheduler's wake-affine rule)
                Waiter.awaitUntilWoken(record, waitNs);
            } else {
                Waiter.await(record, waitNs);
            }
            if (!record.woken()) {
                lock.lock();
                try {
                    sleepers.remove(record);
                } finally {
                    lock.unlock();
                }
            }
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
        }
    }

    void close() {
        final List<Socket> sockets;
        lock.lock();
        try {
            closed = true;
            wakeSleepersLocked();
            sockets = new ArrayList<>(bySocket.keySet());
            bySocket.clear();
            ready.clear();
        } finally {
            lock.unlock();
        }
        for (final Socket s : sockets) {
            s.watchers.remove(this);
        }
    }
}
