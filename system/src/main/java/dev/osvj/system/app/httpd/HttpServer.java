package dev.osvj.system.app.httpd;

import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.net.stack.Sockets;
import dev.osvj.system.app.EpollServer;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * The HTTP/1.1 server over the kernel's socket API, an {@link EpollServer} as the memcached server is:
 * one acceptor thread hands connections round robin to the workers; each worker owns an epoll instance
 * and its connections' {@link HttpConnection} state, reads what is readable, answers, and writes. A
 * connection whose responses the socket does not take at once stops being read (EPOLLOUT instead of
 * EPOLLIN) until they are sent. Actions that must follow a response (poweroff) run once it is fully
 * sent. A connection over {@code maxConnections} is closed without an answer.
 *
 * <p>Threads are host platform threads unless {@code osvj.app.threads = kernel} (the handlers call into
 * the VFS and the management API, which may still block on JDK primitives); {@link #close()} wakes
 * the workers at once and the acceptor within {@link EpollServer#WAKE_MS} ms.
 */
public final class HttpServer implements AutoCloseable {
    private final HttpdOptions options;
    private final AtomicLong open = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    private final EpollServer server;

    private HttpServer(final Sockets sockets, final EpollServer.Threads threads, final HttpdOptions options,
        final Function<HttpRequest, HttpResponse> handler, final KernelClock clock) {
        this.options = options;
        this.server = EpollServer.start("httpd", sockets, options.listenIp(), options.port(), threads, options.threads(),
            options.maxConnections(), open,
            () -> new Session(new HttpConnection(options.maxBody(), handler, clock::realtimeNanos), requests));
    }

    /**
     * Bind, listen and start the threads; {@code handler} answers each request and must not throw
     * (wrap it with {@link HttpConnection#handler}).
     *
     * @throws IllegalStateException naming the errno when the socket cannot be set up.
     */
    static HttpServer start(final Sockets sockets, final EpollServer.Threads threads, final HttpdOptions options,
        final Function<HttpRequest, HttpResponse> handler, final KernelClock clock) {
        return new HttpServer(sockets, threads, options, handler, clock);
    }

    /** The port it listens on. */
    public int port() {
        return server.port();
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
        server.close();
    }

    /** One connection's {@link HttpConnection}, counting its requests into the server's. Owned by one worker. */
    private record Session(HttpConnection http, AtomicLong requests) implements EpollServer.Session {
        @Override
        public boolean receive(final byte[] b, final int off, final int len) {
            final long before = http.requests;
            final boolean open = http.receive(b, off, len);
            requests.addAndGet(http.requests - before);
            return open;
        }

        @Override
        public EpollServer.Output output() {
            return http.output();
        }

        /**
         * Run the after-send actions (poweroff) now that the responses before them are sent; close the
         * connection when a streamed file ended before its announced length.
         */
        @Override
        public boolean flushed() {
            http.takeAfterSend().forEach(Runnable::run);
            return !http.output().broken();
        }

        @Override
        public void closed() {
            http.close();
        }
    }

    /** Report a handler failure to the kernel log (one line, the exception's class and message). */
    static java.util.function.Consumer<Throwable> logTo(final KernelLog log) {
        return e -> log.append("ERROR", "httpd", "handler failed: " + e);
    }
}
