package dev.osvj.net.stack;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
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
    private final Condition readyCond = lock.newCondition();
    private final Map<Socket, Registration> bySocket = new IdentityHashMap<>();
    private final ArrayDeque<Registration> ready = new ArrayDeque<>();
    boolean closed;

    @Override
    public void onReady(final Socket socket) {
        lock.lock();
        try {
            final Registration r = bySocket.get(socket);
            if (r != null && !r.disabled && !r.queued) {
                r.queued = true;
                ready.add(r);
                readyCond.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    int add(final int fd, final Socket s, final int events, final long data) {
        lock.lock();
        try {
            if (bySocket.containsKey(s)) {
                return -dev.osvj.kernel.Errno.EEXIST.number();
            }
            final Registration r = new Registration(fd, s, events, data);
            bySocket.put(s, r);
            r.queued = true; // check it once: it may already be ready
            ready.add(r);
        } finally {
            lock.unlock();
        }
        s.watchers.addIfAbsent(this);
        return 0;
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
            readyCond.signalAll();
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
     * @return events reported (0 on timeout).
     */
    int await(final int[] fds, final int[] events, final long[] data, final int max, final long timeoutNs)
        throws InterruptedException {
        final long deadline = timeoutNs > 0 ? System.nanoTime() + timeoutNs : 0;
        final List<Registration> batch = new ArrayList<>();
        final List<Registration> keep = new ArrayList<>();
        while (true) {
            batch.clear();
            keep.clear();
            lock.lock();
            try {
                while (!ready.isEmpty() && batch.size() < max) {
                    final Registration r = ready.poll();
                    r.queued = false;
                    batch.add(r);
                }
            } finally {
                lock.unlock();
            }
            int n = 0;
            for (final Registration r : batch) {
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
            lock.lock();
            try {
                for (final Registration r : keep) {
                    if (!r.removed && !r.disabled && !r.queued) {
                        r.queued = true;
                        ready.add(r);
                    }
                }
                if (n > 0 || timeoutNs == 0) {
                    return n;
                }
                if (ready.isEmpty()) {
                    if (deadline == 0) {
                        readyCond.await(50, TimeUnit.MILLISECONDS);
                    } else {
                        final long left = deadline - System.nanoTime();
                        if (left <= 0) {
                            return 0;
                        }
                        readyCond.awaitNanos(Math.min(left, 50_000_000L));
                    }
                }
            } finally {
                lock.unlock();
            }
            if (deadline != 0 && System.nanoTime() - deadline >= 0) {
                // one last look happens on the next loop only if something is queued
                lock.lock();
                try {
                    if (ready.isEmpty()) {
                        return 0;
                    }
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    void close() {
        final List<Socket> sockets;
        lock.lock();
        try {
            closed = true;
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
