package dev.osvj.system.app.memcached;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.KernelClock;
import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.net.stack.SockAddr;
import dev.osvj.net.stack.Sockets;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The memcached server over the kernel's socket API: one acceptor thread hands new connections round
 * robin to the workers (memcached's dispatcher and worker threads); each worker owns an epoll instance
 * and the connections registered on it, reads what is readable, runs the {@link TextProtocol} engine and
 * writes the replies. A connection whose replies the socket does not take at once stops being read
 * (EPOLLOUT instead of EPOLLIN) until they are sent: back pressure per connection.
 *
 * <p>Threads are plain platform daemon threads for now; they wake at least every
 * {@link #WAKE_MS} ms to notice {@link #close()}.
 */
public final class MemcachedServer implements AutoCloseable {
    /** Longest sleep of a worker or the acceptor before it re-checks that the server still runs. */
    static final int WAKE_MS = 200;
    private static final byte[] TOO_MANY = "ERROR Too many open connections\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final int EAGAIN = Errno.EAGAIN.number();
    private static final int READ_BUFFER = 64 * 1024;

    private final Sockets sockets;
    private final ItemStore store;
    private final ServerStats stats;
    private final MemcachedOptions options;
    private final int listenFd;
    private final int port;
    private final Worker[] workers;
    private final Thread acceptor;
    private final CountDownLatch stopped;
    private volatile boolean running = true;

    private MemcachedServer(final Sockets sockets, final ItemStore store, final MemcachedOptions options,
        final KernelClock clock, final int listenFd, final int port) {
        this.sockets = sockets;
        this.store = store;
        this.options = options;
        this.stats = new ServerStats(options, clock);
        this.listenFd = listenFd;
        this.port = port;
        this.workers = new Worker[options.threads()];
        this.stopped = new CountDownLatch(workers.length + 1);
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i);
        }
        this.acceptor = Thread.ofPlatform().daemon().name("memcached-acceptor").unstarted(this::acceptLoop);
    }

    /**
     * Bind, listen and start the threads.
     *
     * @throws IllegalStateException naming the errno when the socket cannot be set up.
     */
    public static MemcachedServer start(final Sockets sockets, final Malloc malloc, final PhysicalMemory memory,
        final KernelClock clock, final MemcachedOptions options) {
        final int fd = check(sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0), "socket");
        try {
            check(sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1), "setsockopt SO_REUSEADDR");
            check(sockets.bind(fd, options.listenIp(), options.port()), "bind port " + options.port());
            check(sockets.listen(fd, 1024), "listen");
            check(sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, WAKE_MS), "setsockopt SO_RCVTIMEO");
        } catch (final IllegalStateException e) {
            sockets.close(fd);
            throw e;
        }
        final SockAddr local = new SockAddr();
        sockets.getsockname(fd, local);
        final ItemStore store = new ItemStore(malloc, memory, clock, options.memoryLimit(), options.itemSizeMax(),
            options.growthFactor(), Item.HEADER + options.minChunkData(), options.useCas());
        final MemcachedServer server = new MemcachedServer(sockets, store, options, clock, fd, local.port);
        for (final Worker w : server.workers) {
            w.thread.start();
        }
        server.acceptor.start();
        return server;
    }

    private static int check(final int result, final String what) {
        if (result < 0) {
            throw new IllegalStateException("memcached: " + what + ": " + Errno.fromResult(result));
        }
        return result;
    }

    /** The port it listens on. */
    public int port() {
        return port;
    }

    public MemcachedOptions options() {
        return options;
    }

    /** Items currently stored. */
    public long items() {
        return store.items();
    }

    /** Connections open now. */
    public long connections() {
        return stats.currConnections.get();
    }

    /** Stop accepting, close every connection, give the item memory back; waits for the threads. */
    @Override
    public void close() throws InterruptedException {
        if (!running) {
            return;
        }
        running = false;
        acceptor.interrupt();
        for (final Worker w : workers) {
            w.thread.interrupt();
        }
        stopped.await(30, TimeUnit.SECONDS);
        sockets.close(listenFd);
        store.close();
    }

    private void acceptLoop() {
        int next = 0;
        final SockAddr peer = new SockAddr();
        try {
            while (running) {
                final int fd = sockets.accept4(listenFd, peer, Sockets.SOCK_NONBLOCK);
                if (fd < 0) {
                    if (fd == -EAGAIN || fd == -Errno.EINTR.number() || fd == -Errno.ECONNABORTED.number()) {
                        continue;
                    }
                    break;
                }
                if (stats.currConnections.get() >= options.maxConnections()) {
                    stats.rejectedConnections.incrementAndGet();
                    sockets.send(fd, TOO_MANY, 0, TOO_MANY.length, Sockets.MSG_DONTWAIT);
                    sockets.close(fd);
                    continue;
                }
                stats.currConnections.incrementAndGet();
                stats.totalConnections.incrementAndGet();
                sockets.setsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1);
                workers[next].adopt(fd);
                next = (next + 1) % workers.length;
            }
        } finally {
            stopped.countDown();
        }
    }

    /** One connection: its engine and its pending replies. Owned by one worker. */
    private final class Conn {
        final int fd;
        final TextProtocol engine = new TextProtocol(store, stats);
        final OutBuffer out = new OutBuffer(4096);
        boolean writeBlocked;
        boolean closing;

        Conn(final int fd) {
            this.fd = fd;
        }
    }

    private final class Worker {
        final Thread thread;
        final int epfd;
        final ConcurrentHashMap<Integer, Conn> conns = new ConcurrentHashMap<>();
        final byte[] buf = new byte[READ_BUFFER];

        Worker(final int index) {
            epfd = check(sockets.epollCreate(), "epoll_create");
            thread = Thread.ofPlatform().daemon().name("memcached-worker-" + index).unstarted(this::loop);
        }

        /** Called by the acceptor: the worker's epoll is thread-safe. */
        void adopt(final int fd) {
            conns.put(fd, new Conn(fd));
            if (sockets.epollCtl(epfd, Sockets.EPOLL_CTL_ADD, fd, Sockets.EPOLLIN | Sockets.EPOLLRDHUP, fd) < 0) {
                conns.remove(fd);
                sockets.close(fd);
                stats.currConnections.decrementAndGet();
            }
        }

        private void loop() {
            final int[] fds = new int[256];
            final int[] events = new int[256];
            final long[] data = new long[256];
            try {
                while (running) {
                    final int n = sockets.epollWait(epfd, fds, events, data, fds.length, WAKE_MS);
                    if (n < 0) {
                        if (n == -Errno.EINTR.number()) {
                            continue;
                        }
                        break;
                    }
                    for (int i = 0; i < n; i++) {
                        final Conn c = conns.get((int)data[i]);
                        if (c != null) {
                            serve(c, events[i]);
                        }
                    }
                }
            } finally {
                for (final Conn c : conns.values()) {
                    closeConn(c);
                }
                sockets.close(epfd);
                stopped.countDown();
            }
        }

        private void serve(final Conn c, final int events) {
            if (c.writeBlocked) {
                if (!flush(c)) {
                    return;
                }
                c.writeBlocked = false;
                if (c.closing) {
                    closeConn(c);
                    return;
                }
                sockets.epollCtl(epfd, Sockets.EPOLL_CTL_MOD, c.fd, Sockets.EPOLLIN | Sockets.EPOLLRDHUP, c.fd);
            }
            for (int round = 0; round < 16; round++) {
                final int r = sockets.recv(c.fd, buf, 0, buf.length, Sockets.MSG_DONTWAIT);
                if (r == -EAGAIN) {
                    return;
                }
                if (r <= 0) {
                    closeConn(c);
                    return;
                }
                final boolean open = c.engine.receive(buf, 0, r, c.out);
                final boolean sent = flush(c);
                if (c.closing) {
                    return;
                }
                if (!open) {
                    c.closing = true;
                }
                if (!sent) {
                    c.writeBlocked = true;
                    sockets.epollCtl(epfd, Sockets.EPOLL_CTL_MOD, c.fd, Sockets.EPOLLOUT, c.fd);
                    return;
                }
                if (!open) {
                    closeConn(c);
                    return;
                }
                if (r < buf.length) {
                    return;
                }
            }
        }

        /** Send what is pending; false when the socket is full (or failed: then the connection is closed). */
        private boolean flush(final Conn c) {
            final OutBuffer out = c.out;
            while (out.readable() > 0) {
                final int r = sockets.send(c.fd, out.array(), out.readIndex(), out.readable(), Sockets.MSG_DONTWAIT);
                if (r > 0) {
                    stats.bytesWritten.add(r);
                    out.consume(r);
                } else if (r == -EAGAIN || r == 0) {
                    return false;
                } else {
                    closeConn(c);
                    return false;
                }
            }
            return true;
        }

        private void closeConn(final Conn c) {
            if (conns.remove(c.fd) == null) {
                return;
            }
            c.closing = true;
            sockets.epollCtl(epfd, Sockets.EPOLL_CTL_DEL, c.fd, 0, 0);
            sockets.close(c.fd);
            c.engine.close();
            stats.currConnections.decrementAndGet();
        }
    }
}
