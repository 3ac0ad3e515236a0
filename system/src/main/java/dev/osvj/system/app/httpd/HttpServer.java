package dev.osvj.system.app.httpd;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.net.stack.SockAddr;
import dev.osvj.net.stack.Sockets;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The HTTP/1.1 server over the kernel's socket API, built as the memcached server is: one acceptor
 * thread hands connections round robin to the workers; each worker owns an epoll instance and its
 * connections' {@link HttpConnection} state, reads what is readable, answers, and writes. A connection
 * whose responses the socket does not take at once stops being read (EPOLLOUT instead of EPOLLIN)
 * until they are sent. Actions that must follow a response (poweroff) run once it is fully sent.
 *
 * <p>Threads are platform daemon threads that wake at least every {@link #WAKE_MS} ms to notice
 * {@link #close()}.
 */
public final class HttpServer implements AutoCloseable {
    static final int WAKE_MS = 200;
    private static final int EAGAIN = Errno.EAGAIN.number();
    private static final int READ_BUFFER = 64 * 1024;

    private final Sockets sockets;
    private final HttpdOptions options;
    private final Function<HttpRequest, HttpResponse> handler;
    private final KernelClock clock;
    private final int listenFd;
    private final int port;
    private final Worker[] workers;
    private final Thread acceptor;
    private final CountDownLatch stopped;
    private final AtomicLong open = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private volatile boolean running = true;

    private HttpServer(final Sockets sockets, final HttpdOptions options, final Function<HttpRequest, HttpResponse> handler,
        final KernelClock clock, final int listenFd, final int port) {
        this.sockets = sockets;
        this.options = options;
        this.handler = handler;
        this.clock = clock;
        this.listenFd = listenFd;
        this.port = port;
        this.workers = new Worker[options.threads()];
        this.stopped = new CountDownLatch(workers.length + 1);
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i);
        }
        this.acceptor = Thread.ofPlatform().daemon().name("httpd-acceptor").unstarted(this::acceptLoop);
    }

    /**
     * Bind, listen and start the threads; {@code handler} answers each request and must not throw
     * (wrap it with {@link HttpConnection#handler}).
     *
     * @throws IllegalStateException naming the errno when the socket cannot be set up.
     */
    static HttpServer start(final Sockets sockets, final HttpdOptions options,
        final Function<HttpRequest, HttpResponse> handler, final KernelClock clock) {
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
        final HttpServer server = new HttpServer(sockets, options, handler, clock, fd, local.port);
        for (final Worker w : server.workers) {
            w.thread.start();
        }
        server.acceptor.start();
        return server;
    }

    private static int check(final int result, final String what) {
        if (result < 0) {
            throw new IllegalStateException("httpd: " + what + ": " + Errno.fromResult(result));
        }
        return result;
    }

    /** The port it listens on. */
    public int port() {
        return port;
    }

    public HttpdOptions options() {
        return options;
    }

    /** Connections open now. */
    public long connections() {
        return open.get();
    }

    /** Requests answered since the start. */
    public long requests() {
        return requests.get();
    }

    /** Stop accepting, close every connection; waits for the threads. */
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
                if (open.get() >= options.maxConnections()) {
                    sockets.close(fd);
                    continue;
                }
                open.incrementAndGet();
                sockets.setsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1);
                workers[next].adopt(fd);
                next = (next + 1) % workers.length;
            }
        } finally {
            stopped.countDown();
        }
    }

    private static final class Conn {
        final int fd;
        final HttpConnection http;
        boolean writeBlocked;

        Conn(final int fd, final HttpConnection http) {
            this.fd = fd;
            this.http = http;
        }
    }

    private final class Worker {
        final Thread thread;
        final int epfd;
        final ConcurrentHashMap<Integer, Conn> conns = new ConcurrentHashMap<>();
        final byte[] buf = new byte[READ_BUFFER];

        Worker(final int index) {
            epfd = check(sockets.epollCreate(), "epoll_create");
            thread = Thread.ofPlatform().daemon().name("httpd-worker-" + index).unstarted(this::loop);
        }

        void adopt(final int fd) {
            conns.put(fd, new Conn(fd, new HttpConnection(options.maxBody(), handler, clock::realtimeNanos)));
            if (sockets.epollCtl(epfd, Sockets.EPOLL_CTL_ADD, fd, Sockets.EPOLLIN | Sockets.EPOLLRDHUP, fd) < 0) {
                conns.remove(fd);
                sockets.close(fd);
                open.decrementAndGet();
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
                            serve(c);
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

        private void serve(final Conn c) {
            if (c.writeBlocked) {
                if (!flush(c)) {
                    return;
                }
                c.writeBlocked = false;
                if (c.http.closing()) {
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
                final long before = c.http.requests;
                final boolean open = c.http.receive(buf, 0, r);
                requests.addAndGet(c.http.requests - before);
                if (!flush(c)) {
                    if (conns.containsKey(c.fd)) {
                        c.writeBlocked = true;
                        sockets.epollCtl(epfd, Sockets.EPOLL_CTL_MOD, c.fd, Sockets.EPOLLOUT, c.fd);
                    }
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

        /** Send what is pending, then run the after-send actions; false when the socket is full or failed. */
        private boolean flush(final Conn c) {
            final HttpConnection.OutBuffer out = c.http.output();
            while (out.readable() > 0) {
                final int r = sockets.send(c.fd, out.array(), out.readIndex(), out.readable(), Sockets.MSG_DONTWAIT);
                if (r > 0) {
                    out.consume(r);
                } else if (r == -EAGAIN || r == 0) {
                    return false;
                } else {
                    closeConn(c);
                    return false;
                }
            }
            final List<Runnable> after = c.http.takeAfterSend();
            after.forEach(Runnable::run);
            return true;
        }

        private void closeConn(final Conn c) {
            if (conns.remove(c.fd) == null) {
                return;
            }
            sockets.epollCtl(epfd, Sockets.EPOLL_CTL_DEL, c.fd, 0, 0);
            sockets.close(c.fd);
            open.decrementAndGet();
        }
    }

    /** Report a handler failure to the kernel log (one line, the exception's class and message). */
    static java.util.function.Consumer<Throwable> logTo(final KernelLog log) {
        return e -> log.append("ERROR", "httpd", "handler failed: " + e);
    }
}
