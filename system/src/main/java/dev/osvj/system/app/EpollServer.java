package dev.osvj.system.app;

import dev.osvj.api.Syscalls;
import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.net.stack.SockAddr;
import dev.osvj.net.stack.Sockets;
import dev.osvj.sched.KThread;
import dev.osvj.sched.ThreadAttr;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The TCP server skeleton the built-in applications (memcached, httpd) share, over the kernel's socket
 * API {@link Sockets}: a listening socket, one acceptor thread and {@code threads} epoll workers. What the
 * bytes mean is the {@link Protocol}'s business: it makes one {@link Session} per connection, which takes
 * received bytes and leaves its replies in an {@link Output}.
 *
 * <pre>
 *   listen fd ──accept4──▶ acceptor ──round robin──▶ worker 0: epoll ─▶ conns { fd ─▶ Session }
 *                           (limit, overload reply)   worker 1: epoll ─▶ conns { fd ─▶ Session }
 *                                                     ...
 * </pre>
 *
 * <p><b>Threads and ownership.</b> The acceptor and the workers, named {@code <name>-acceptor} and
 * {@code <name>-worker-<i>}, are made by a {@link Threads}: application kernel threads on the vCPUs by
 * default ({@link Threads#kernel}: a blocked worker gives its vCPU to other threads, the socket calls
 * block through the scheduler), or host platform daemon threads ({@link Threads#platform}, for
 * comparison and for kernels without a scheduler). The workers wait in epoll without a timeout (a
 * kernel thread's wait then arms no timer, see {@link Threads#kernel}); {@link #close()} wakes them
 * through a loopback UDP socket in every worker's epoll set. The acceptor wakes at least every
 * {@link #WAKE_MS} ms (its accept's receive timeout) to notice {@link #close()}.
 * The acceptor creates a connection's {@link Session} (with {@link Protocol#open()}) and registers the
 * socket on one worker's epoll instance (epoll is thread-safe; the per-worker connection map is a
 * concurrent map, which publishes the session to the worker). From then on only that worker touches
 * the session and the socket: {@link Session#receive}, {@link Session#output}, {@link Session#flushed}
 * and {@link Session#closed} all run on it, so sessions need no locking of their own. The
 * {@link Protocol} hooks ({@link Protocol#accepted}, {@link Protocol#rejected}, {@link Protocol#sent}) run
 * on the acceptor or any worker and must be thread-safe.
 *
 * <p><b>Connection limit.</b> The caller's {@code open} counter holds the connections open now; the
 * acceptor increments it, the worker that closes a connection decrements it. A connection accepted while
 * {@code maxConnections} are open is refused: the {@link Protocol#overloadReply()} (if any) is sent
 * without blocking, best effort, and the socket is closed.
 *
 * <p><b>Back pressure.</b> A worker reads a readable connection in up to 16 rounds of 64 KiB, hands each
 * round to the session and sends its output with non-blocking {@code send}. When the socket does not
 * take all of it, the connection stops being read (its epoll interest becomes EPOLLOUT instead of
 * EPOLLIN) until the pending output is sent; so a client that does not read its replies cannot make the
 * server buffer without bound. {@link Session#flushed} runs each time the pending output has been sent
 * completely (actions that must follow a response); when it returns false the connection is closed at
 * once. A session whose {@code receive} returns false is closed once its output is sent.
 *
 * <p><b>Shutdown.</b> {@link #close()} stops the threads, closes every connection (each session's
 * {@link Session#closed}) and the listening socket, and waits for the threads, within the kernel's
 * stop-hook budget ({@link #STOP_BUDGET_NS}).
 */
public final class EpollServer implements AutoCloseable {
    /** Longest sleep of the acceptor before it re-checks that the server still runs, in ms. */
    public static final int WAKE_MS = 200;
    private static final int EAGAIN = Errno.EAGAIN.number();
    private static final int LOOPBACK = 0x7F000001;
    private static final int READ_BUFFER = 64 * 1024;
    private static final int READ_ROUNDS = 16;
    private static final int BACKLOG = 1024;

    /**
     * Bytes waiting to be sent, readable from {@code array()[readIndex(), readIndex() + readable())}.
     * Owned by one session (single-threaded).
     */
    public interface Output {
        byte[] array();

        int readIndex();

        /** Bytes waiting to be sent. */
        int readable();

        /** Mark {@code n} bytes as sent. */
        void consume(int n);
    }

    /** The protocol state of one connection; used only by the worker that owns the connection. */
    public interface Session {
        /**
         * Take received bytes and leave the replies in {@link #output()}.
         *
         * @return false once the connection is to be closed after the pending output is sent.
         */
        boolean receive(byte[] b, int off, int len);

        /** The replies waiting to be sent. */
        Output output();

        /**
         * All pending output has been sent (called after every successful flush).
         *
         * @return false to close the connection now (its output cannot be completed).
         */
        default boolean flushed() {
            return true;
        }

        /** The connection is closed: release what the session holds. Called once. */
        default void closed() {
        }
    }

    /** What a server speaks; the hooks are called from the acceptor and every worker (thread-safe). */
    public interface Protocol {
        /** A new session for a connection just accepted (on the acceptor thread). */
        Session open();

        /** Sent (best effort, non-blocking) to a connection refused by the limit; null for none. */
        default byte[] overloadReply() {
            return null;
        }

        /** A connection was accepted and counted as open. */
        default void accepted() {
        }

        /** A connection was refused because {@code maxConnections} were open. */
        default void rejected() {
        }

        /** {@code bytes} of output were sent on some connection. */
        default void sent(final int bytes) {
        }
    }

    private final String name;
    private final Sockets sockets;
    private final Protocol protocol;
    private final int maxConnections;
    private final AtomicLong open;
    private final int listenFd;
    private final int port;
    private final Worker[] workers;
    private final Threads threads;
    private volatile boolean running = true;
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * Starts the server's threads. Implementations: {@link #kernel} and {@link #platform}.
     */
    @FunctionalInterface
    public interface Threads {
        /** Kernel threads are themselves to the JDK on any carrier ({@code --add-opens java.base/java.lang}): they need not stay pinned. */
        boolean OWN_IDENTITY = dev.osvj.sched.arch.ContextSwitch.kernelThreadsHaveOwnIdentity();

        /**
         * Start a thread named {@code name} running {@code body}; {@code slot} (0, 1, 2...; -1 for
         * none) spreads threads over the vCPUs where that means something.
         *
         * @throws IllegalStateException when no thread can be made.
         */
        Handle start(String name, int slot, Runnable body);

        /** Host platform daemon threads ({@code slot} ignored). */
        static Threads platform() {
            return (name, slot, body) -> {
                final Thread t = Thread.ofPlatform().daemon().name(name).start(body);
                return new Handle() {
                    @Override
                    public void interrupt() {
                        t.interrupt();
                    }

                    @Override
                    public boolean join(final long timeoutNanos) throws InterruptedException {
                        return t.join(Duration.ofNanos(timeoutNanos));
                    }
                };
            };
        }

        /**
         * Application kernel threads of {@code syscalls}' kernel (pthread_create), one worker per vCPU as
         * memcached runs one worker per core: the thread of slot {@code s >= 0} starts on vCPU
         * {@code s % cpus} and is then free to move, so the scheduler's wake-affine rule can run a worker on
         * the vCPU that took its connection's request in (a sync socket wakeup from a vCPU while the worker's
         * own vCPU is halted) instead of waking that vCPU, and the balancer spreads workers that queue up.
         * Only when kernel threads run as their carrier to the JDK ({@code ContextSwitch#kernelThreadsHaveOwnIdentity}
         * false: no {@code --add-opens java.base/java.lang}) does the thread stay pinned to that vCPU: the
         * socket layer's JDK locks record {@code Thread.currentThread()}, and a migrated thread could then
         * release a lock in its old carrier's name. Joining one blocks a kernel-thread caller through the
         * scheduler (its vCPU runs the others, the joined thread among them) and parks a host-thread caller.
         */
        static Threads kernel(final Syscalls syscalls, final int cpus) {
            return (name, slot, body) -> {
                final boolean placed = slot >= 0 && cpus > 0;
                final ThreadAttr attr = placed && !OWN_IDENTITY ? ThreadAttr.named(name).pinnedTo(slot % cpus)
                    : ThreadAttr.named(name);
                final Runnable run = placed && OWN_IDENTITY ? () -> {
                    KThread.pinCurrent(slot % cpus); // start on the slot's vCPU...
                    KThread.migrateEnable(); // ...and be free to move from there
                    body.run();
                } : body;
                final KThread t;
                try {
                    t = syscalls.threadCreate(attr, run);
                } catch (final ErrnoException e) {
                    throw new IllegalStateException(name + ": thread: " + e.errno(), e);
                }
                syscalls.threadStart(t);
                return new Handle() {
                    @Override
                    public void interrupt() {
                        // kernel threads have no interrupt: close() wakes the workers (the wake socket) and the
                        // acceptor notices within WAKE_MS
                    }

                    @Override
                    public boolean join(final long timeoutNanos) {
                        return syscalls.threadJoin(t, timeoutNanos) == 0;
                    }
                };
            };
        }

        /**
         * {@code "kernel"} ({@link #kernel} over {@code cpus} vCPUs) or {@code "platform"}
         * ({@link #platform}), as {@code osvj.app.threads} says.
         */
        static Threads of(final String mode, final Syscalls syscalls, final int cpus) {
            return switch (mode) {
                case "kernel" -> kernel(syscalls, cpus);
                case "platform" -> platform();
                default -> throw new IllegalArgumentException("osvj.app.threads: " + mode);
            };
        }
    }

    /** A started thread of a {@link Threads}. */
    public interface Handle {
        /** Interrupt a blocked host thread (nothing for a kernel thread). */
        void interrupt();

        /**
         * Wait at most {@code timeoutNanos} for the thread to end.
         *
         * @return true when it ended.
         */
        boolean join(long timeoutNanos) throws InterruptedException;
    }

    /** The threads started so far (workers, then the acceptor), and their names at the same index. */
    private final List<Handle> handles = new CopyOnWriteArrayList<>();
    private final List<String> handleNames = new CopyOnWriteArrayList<>();

    /**
     * The workers' wake-up (the self-pipe trick, as memcached's notify pipes): a UDP socket on the kernel's
     * loopback in every worker's epoll set; {@link #close()} sends it a datagram, which makes it readable
     * for all of them, so the workers can wait without a timeout. Its epoll data is {@link #WAKE_DATA}.
     */
    private final int wakeFd;
    private final int wakePort;
    private static final long WAKE_DATA = -1;

    private EpollServer(final String name, final Sockets sockets, final Protocol protocol, final Threads starter,
        final int threads, final int maxConnections, final AtomicLong open, final int listenFd, final int port) {
        this.wakeFd = check(name, sockets.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0), "socket (wake)");
        check(name, sockets.bind(wakeFd, LOOPBACK, 0), "bind (wake)");
        final SockAddr wake = new SockAddr();
        sockets.getsockname(wakeFd, wake);
        this.wakePort = wake.port;
        this.name = name;
        this.sockets = sockets;
        this.protocol = protocol;
        this.maxConnections = maxConnections;
        this.open = open;
        this.listenFd = listenFd;
        this.port = port;
        this.threads = starter;
        this.workers = new Worker[threads];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i);
        }
    }

    /**
     * Bind, listen and start the threads.
     *
     * @param name           prefix of the thread names and of error messages ({@code "memcached"}).
     * @param listenIp       IPv4 address in host order; 0 = any.
     * @param port           TCP port; 0 = an ephemeral one (see {@link #port()}).
     * @param starter        what runs the acceptor and the workers (kernel or platform threads).
     * @param threads        worker threads, at least 1.
     * @param open           the counter of connections open now, maintained by the server.
     * @throws IllegalStateException naming the errno when the socket cannot be set up.
     */
    public static EpollServer start(final String name, final Sockets sockets, final int listenIp, final int port,
        final Threads starter, final int threads, final int maxConnections, final AtomicLong open,
        final Protocol protocol) {
        final int fd = check(name, sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0), "socket");
        try {
            check(name, sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1), "setsockopt SO_REUSEADDR");
            check(name, sockets.bind(fd, listenIp, port), "bind port " + port);
            check(name, sockets.listen(fd, BACKLOG), "listen");
            check(name, sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, WAKE_MS), "setsockopt SO_RCVTIMEO");
        } catch (final IllegalStateException e) {
            sockets.close(fd);
            throw e;
        }
        final SockAddr local = new SockAddr();
        sockets.getsockname(fd, local);
        final EpollServer server = new EpollServer(name, sockets, protocol, starter, threads, maxConnections, open, fd,
            local.port);
        try {
            for (final Worker w : server.workers) {
                server.started(name + "-worker-" + w.index, starter.start(name + "-worker-" + w.index, w.index, w::loop));
            }
            server.started(name + "-acceptor", starter.start(name + "-acceptor", 0, server::acceptLoop));
        } catch (final RuntimeException e) {
            try {
                server.close();
            } catch (final InterruptedException ie) {
                Thread.currentThread().interrupt();
            } catch (final RuntimeException stuck) {
                e.addSuppressed(stuck);
            }
            throw e;
        }
        return server;
    }

    private void started(final String threadName, final Handle handle) {
        handleNames.add(threadName);
        handles.add(handle);
    }

    private static int check(final String name, final int result, final String what) {
        if (result < 0) {
            throw new IllegalStateException(name + ": " + what + ": " + Errno.fromResult(result));
        }
        return result;
    }

    /** The port it listens on. */
    public int port() {
        return port;
    }

    /** True until {@link #close()} is called. */
    public boolean running() {
        return running;
    }

    /**
     * How long {@link #close()} waits for the threads, in nanoseconds: well below the kernel's 5 s budget
     * for a stop hook. close() runs in the app's stop hook, on a vCPU; with the old 30 s wait, one thread
     * that did not stop outlived the hook's budget, the kernel gave up on the hook and stopped the vCPUs,
     * and the hook's thread then sat in its join for the rest of the 30 s, holding the power-off (seen
     * once as "stop hook did not finish within 5000 ms" and a JVM that took about 40 s to exit). Now the
     * hook returns in time and its failure names the threads that did not stop.
     */
    static final long STOP_BUDGET_NS = TimeUnit.SECONDS.toNanos(3);

    /**
     * Stop accepting, close every connection; waits (at most {@link #STOP_BUDGET_NS} in all) for the
     * threads: the workers at once (the wake socket's datagram), the acceptor within {@link #WAKE_MS}. Idempotent.
     *
     * @throws IllegalStateException naming the threads that did not end in time (the listening socket is
     *     closed anyway).
     */
    @Override
    public void close() throws InterruptedException {
        if (closed.getAndSet(true)) {
            return;
        }
        running = false;
        sockets.sendto(wakeFd, new byte[1], 0, 1, 0, LOOPBACK, wakePort); // every worker's epoll wakes
        for (final Handle h : handles) {
            h.interrupt();
        }
        final long deadline = System.nanoTime() + STOP_BUDGET_NS;
        final List<String> stuck = new java.util.ArrayList<>();
        for (int i = 0; i < handles.size(); i++) {
            if (!handles.get(i).join(Math.max(1, deadline - System.nanoTime()))) {
                stuck.add(handleNames.get(i));
            }
        }
        sockets.close(listenFd);
        sockets.close(wakeFd);
        if (!stuck.isEmpty()) {
            throw new IllegalStateException(name + ": threads did not stop within "
                + TimeUnit.NANOSECONDS.toMillis(STOP_BUDGET_NS) + " ms: " + String.join(", ", stuck));
        }
    }

    private void acceptLoop() {
        int next = 0;
        final SockAddr peer = new SockAddr();
        while (running) {
            final int fd = sockets.accept4(listenFd, peer, Sockets.SOCK_NONBLOCK);
            if (fd < 0) {
                if (fd == -EAGAIN || fd == -Errno.EINTR.number() || fd == -Errno.ECONNABORTED.number()) {
                    continue;
                }
                break;
            }
            if (open.get() >= maxConnections) {
                protocol.rejected();
                final byte[] reply = protocol.overloadReply();
                if (reply != null) {
                    sockets.send(fd, reply, 0, reply.length, Sockets.MSG_DONTWAIT);
                }
                sockets.close(fd);
                continue;
            }
            open.incrementAndGet();
            protocol.accepted();
            sockets.setsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1);
            workers[next].adopt(fd);
            next = (next + 1) % workers.length;
        }
    }

    /** One connection: its session and its back-pressure state. Owned by one worker. */
    private static final class Conn {
        final int fd;
        final Session session;
        boolean writeBlocked;
        boolean closing;

        Conn(final int fd, final Session session) {
            this.fd = fd;
            this.session = session;
        }
    }

    private final class Worker {
        final int index;
        final int epfd;
        final ConcurrentHashMap<Integer, Conn> conns = new ConcurrentHashMap<>();
        final byte[] buf = new byte[READ_BUFFER];

        Worker(final int index) {
            this.index = index;
            epfd = check(name, sockets.epollCreate(), "epoll_create");
            check(name, sockets.epollCtl(epfd, Sockets.EPOLL_CTL_ADD, wakeFd, Sockets.EPOLLIN, WAKE_DATA), "epoll_ctl wake");
        }

        /** Called by the acceptor: the worker's epoll is thread-safe. */
        void adopt(final int fd) {
            final Conn c = new Conn(fd, protocol.open());
            conns.put(fd, c);
            if (sockets.epollCtl(epfd, Sockets.EPOLL_CTL_ADD, fd, Sockets.EPOLLIN | Sockets.EPOLLRDHUP, fd) < 0) {
                conns.remove(fd);
                sockets.close(fd);
                c.session.closed();
                open.decrementAndGet();
            }
        }

        private void loop() {
            final int[] fds = new int[256];
            final int[] events = new int[256];
            final long[] data = new long[256];
            try {
                while (running) {
                    final int n = sockets.epollWait(epfd, fds, events, data, fds.length, -1);
                    if (n < 0) {
                        if (n == -Errno.EINTR.number()) {
                            continue;
                        }
                        break;
                    }
                    for (int i = 0; i < n; i++) {
                        if (data[i] == WAKE_DATA) {
                            continue; // close(): the loop condition sees it
                        }
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
            }
        }

        private void serve(final Conn c) {
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
            for (int round = 0; round < READ_ROUNDS; round++) {
                final int r = sockets.recv(c.fd, buf, 0, buf.length, Sockets.MSG_DONTWAIT);
                if (r == -EAGAIN) {
                    return;
                }
                if (r <= 0) {
                    closeConn(c);
                    return;
                }
                final boolean keep = c.session.receive(buf, 0, r);
                final boolean sent = flush(c);
                if (c.closing) {
                    return;
                }
                if (!keep) {
                    c.closing = true;
                }
                if (!sent) {
                    c.writeBlocked = true;
                    sockets.epollCtl(epfd, Sockets.EPOLL_CTL_MOD, c.fd, Sockets.EPOLLOUT, c.fd);
                    return;
                }
                if (!keep) {
                    closeConn(c);
                    return;
                }
                if (r < buf.length) {
                    return;
                }
            }
        }

        /**
         * Send what is pending, then tell the session; false when the socket is full (or failed: then the
         * connection is closed).
         */
        private boolean flush(final Conn c) {
            final Output out = c.session.output();
            while (out.readable() > 0) {
                final int r = sockets.send(c.fd, out.array(), out.readIndex(), out.readable(), Sockets.MSG_DONTWAIT);
                if (r > 0) {
                    protocol.sent(r);
                    out.consume(r);
                } else if (r == -EAGAIN || r == 0) {
                    return false;
                } else {
                    closeConn(c);
                    return false;
                }
            }
            if (!c.session.flushed()) {
                closeConn(c);
                return false;
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
            c.session.closed();
            open.decrementAndGet();
        }
    }
}
