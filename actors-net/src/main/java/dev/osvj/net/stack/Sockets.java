package dev.osvj.net.stack;

import dev.osvj.kernel.Errno;
import dev.osvj.net.tcp.TcpConnection;
import dev.osvj.net.tcp.TcpState;
import dev.osvj.sched.WaitRecord;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The BSD socket API of one stack, the service the kernel API calls directly (published by
 * {@code NetSubsystem} as {@code Sockets}). Calls are plain method calls on the caller's thread; they
 * return a non-negative result or {@code -errno} (Linux numbers, {@link Errno}), never throw for
 * conditions a POSIX program would see.
 *
 * <p>Descriptors: sockets and epoll instances share one descriptor space starting at 3 (the lowest free
 * number is reused, as in POSIX). The system module maps them into the process's descriptor table.
 *
 * <p>Blocking: a blocking call ({@code accept4}, {@code connect}, {@code recv}, {@code send}, {@code poll},
 * {@code epollWait}) waits through {@link Waiter}: from a kernel thread (an application thread on a vCPU)
 * it blocks that thread on a scheduler wait record and its vCPU runs other threads, timeouts being
 * scheduler timers; from a host thread (a gateway pump, a test, a bench client) it parks. SO_RCVTIMEO /
 * SO_SNDTIMEO bound it (then EAGAIN); closing the socket or epoll instance a caller is blocked on wakes
 * it with {@code EBADF}; interrupting a blocked host thread returns {@code EINTR}. A non-blocking socket ({@link #SOCK_NONBLOCK} or {@link #setNonBlocking}) returns EAGAIN, and
 * {@code connect} returns EINPROGRESS (completion is POLLOUT, the outcome is SO_ERROR).
 */
public final class Sockets {
    public static final int AF_INET = 2;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_NONBLOCK = 0x800;
    public static final int IPPROTO_TCP = 6;
    public static final int IPPROTO_UDP = 17;
    public static final int SOL_SOCKET = 1;
    public static final int SO_REUSEADDR = 2;
    public static final int SO_TYPE = 3;
    public static final int SO_ERROR = 4;
    public static final int SO_BROADCAST = 6;
    public static final int SO_SNDBUF = 7;
    public static final int SO_RCVBUF = 8;
    public static final int SO_KEEPALIVE = 9;
    /**
     * UDP: send and receive only through the interface with this index ({@link NetInterface#index},
     * -1 unbinds); Linux takes a name, we take the index. A DHCP client binds its socket this way
     * before the interface has an address.
     */
    public static final int SO_BINDTODEVICE = 25;
    /** Value: linger seconds, or -1 for off (struct linger folded into one int). */
    public static final int SO_LINGER = 13;
    /** Value in milliseconds (struct timeval folded into one int); 0 = no timeout. */
    public static final int SO_RCVTIMEO = 20;
    public static final int SO_SNDTIMEO = 21;
    /** Level of the IP options (Linux's SOL_IP). */
    public static final int SOL_IP = 0;
    /**
     * IP_TRANSPARENT (Linux's number, as with TPROXY): set on a TCP socket before {@link #listen}, it makes
     * the socket the stack's catch-all listener: it accepts connections to any address and port no other
     * socket claims, as far as the stack's {@link NetStack.OutboundGate} admits them; an accepted
     * socket's {@link #getsockname} is the destination the peer connected to. One per stack; it needs
     * no bind. The user gateway's outbound NAT uses it.
     */
    public static final int IP_TRANSPARENT = 19;
    public static final int TCP_NODELAY = 1;
    public static final int TCP_MAXSEG = 2;
    public static final int MSG_PEEK = 0x2;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int MSG_WAITALL = 0x100;
    public static final int SHUT_RD = 0;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;
    public static final int POLLIN = Socket.POLLIN;
    public static final int POLLPRI = Socket.POLLPRI;
    public static final int POLLOUT = Socket.POLLOUT;
    public static final int POLLERR = Socket.POLLERR;
    public static final int POLLHUP = Socket.POLLHUP;
    public static final int POLLNVAL = Socket.POLLNVAL;
    public static final int POLLRDHUP = Socket.POLLRDHUP;
    public static final int EPOLLIN = POLLIN;
    public static final int EPOLLOUT = POLLOUT;
    public static final int EPOLLERR = POLLERR;
    public static final int EPOLLHUP = POLLHUP;
    public static final int EPOLLRDHUP = POLLRDHUP;
    public static final int EPOLLET = Epoll.EPOLLET;
    public static final int EPOLLONESHOT = Epoll.EPOLLONESHOT;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    private static final int FIRST_FD = 3;

    private final NetStack stack;
    /**
     * The descriptor table: slot {@code fd} holds a {@link Socket} or an {@link Epoll}. Written under
     * {@code this} (allocate, free, grow by copying into a new array that is then published through
     * the volatile field); read without a lock by every call ({@link #get}): a socket call costs no
     * shared lock of the whole API, only its own socket's.
     */
    private volatile AtomicReferenceArray<Object> table = new AtomicReferenceArray<>(64);

    Sockets(final NetStack stack) {
        this.stack = stack;
    }

    // ----- descriptors -------------------------------------------------------------------------

    private synchronized int allocate(final Object o) {
        final AtomicReferenceArray<Object> t = table;
        for (int i = FIRST_FD; i < t.length(); i++) {
            if (t.get(i) == null) {
                t.set(i, o);
                return i;
            }
        }
        final int fd = Math.max(t.length(), FIRST_FD);
        final AtomicReferenceArray<Object> grown = new AtomicReferenceArray<>(t.length() * 2);
        for (int i = 0; i < t.length(); i++) {
            grown.set(i, t.get(i));
        }
        grown.set(fd, o);
        table = grown;
        return fd;
    }

    /** Lock-free: the object behind {@code fd}, or null. */
    private Object get(final int fd) {
        final AtomicReferenceArray<Object> t = table;
        return fd >= 0 && fd < t.length() ? t.get(fd) : null;
    }

    /** Free {@code fd} if it still holds {@code o}: of two racing closes, one wins. */
    private synchronized boolean free(final int fd, final Object o) {
        if (table.get(fd) != o) {
            return false;
        }
        table.set(fd, null);
        return true;
    }

    private Socket socket(final int fd) {
        return get(fd) instanceof Socket s ? s : null;
    }

    // ----- socket calls ------------------------------------------------------------------------

    /** socket(2): AF_INET with SOCK_STREAM or SOCK_DGRAM, optionally | SOCK_NONBLOCK. */
    public int socket(final int domain, final int type, final int protocol) {
        if (domain != AF_INET) {
            return -Errno.EAFNOSUPPORT.number();
        }
        final int base = type & ~SOCK_NONBLOCK;
        final Socket s;
        if (base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) {
            s = new TcpSocket(stack);
        } else if (base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP)) {
            s = new UdpSocket(stack, stack.settings().udpReceiveBuffer());
        } else {
            return -Errno.EPROTONOSUPPORT.number();
        }
        s.nonBlocking = (type & SOCK_NONBLOCK) != 0;
        return allocate(s);
    }

    public int bind(final int fd, final int ip, final int port) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        if (port < 0 || port > 65535) {
            return -Errno.EINVAL.number();
        }
        s.lock.lock();
        try {
            if (s.localPort != 0) {
                return -Errno.EINVAL.number();
            }
            if (s instanceof TcpSocket t) {
                return t.conn != null ? -Errno.EINVAL.number() : stack.bindTcp(t, ip, port);
            }
            return stack.bindUdp((UdpSocket)s, ip, port);
        } finally {
            s.lock.unlock();
        }
    }

    public int listen(final int fd, final int backlog) {
        if (!(socket(fd) instanceof TcpSocket t)) {
            return socket(fd) == null ? -Errno.EBADF.number() : -Errno.EOPNOTSUPP.number();
        }
        t.lock.lock();
        try {
            if (t.conn != null) {
                return -Errno.EINVAL.number();
            }
            t.backlog = Math.max(1, Math.min(backlog <= 0 ? 128 : backlog, 4096));
            if (t.listening) {
                return 0;
            }
            if (t.localPort == 0 && !t.transparent) {
                final int r = stack.bindTcp(t, 0, 0);
                if (r < 0) {
                    return r;
                }
            }
            final int r = stack.listen(t);
            if (r < 0) {
                return r;
            }
            t.listening = true;
            return 0;
        } finally {
            t.lock.unlock();
        }
    }

    /** accept(2); {@code peer} (may be null) receives the peer's address. Returns the new descriptor. */
    public int accept(final int fd, final SockAddr peer) {
        return accept4(fd, peer, 0);
    }

    public int accept4(final int fd, final SockAddr peer, final int flags) {
        if (!(socket(fd) instanceof TcpSocket t)) {
            return socket(fd) == null ? -Errno.EBADF.number() : -Errno.EOPNOTSUPP.number();
        }
        TcpSocket child;
        t.lock.lock();
        try {
            if (!t.listening) {
                return -Errno.EINVAL.number();
            }
            final long deadline = Socket.deadline(t.recvTimeoutNs);
            while ((child = t.acceptQueue.poll()) == null) {
                if (t.closed || !t.listening) {
                    return -Errno.EBADF.number();
                }
                if (t.nonBlocking) {
                    return -Errno.EAGAIN.number();
                }
                if (t.awaitLocked(deadline) < 0) {
                    return -Errno.EAGAIN.number();
                }
            }
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            return -Errno.EINTR.number();
        } finally {
            t.lock.unlock();
        }
        child.lock.lock();
        try {
            child.parent = null;
            child.nonBlocking = (flags & SOCK_NONBLOCK) != 0;
            if (peer != null) {
                peer.ip = child.remoteIp;
                peer.port = child.remotePort;
            }
        } finally {
            child.lock.unlock();
        }
        return allocate(child);
    }

    /** connect(2). TCP: the handshake (blocking) or EINPROGRESS; UDP: sets the default peer. */
    public int connect(final int fd, final int ip, final int port) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        if (port <= 0 || port > 65535) {
            return -Errno.EINVAL.number();
        }
        if (s instanceof UdpSocket u) {
            u.lock.lock();
            try {
                if (u.localPort == 0) {
                    final int r = stack.bindUdp(u, 0, 0);
                    if (r < 0) {
                        return r;
                    }
                }
                u.remoteIp = ip;
                u.remotePort = port;
                u.connected = true;
                return 0;
            } finally {
                u.lock.unlock();
            }
        }
        final TcpSocket t = (TcpSocket)s;
        t.lock.lock();
        try {
            if (t.listening) {
                return -Errno.EINVAL.number();
            }
            if (t.conn != null) {
                final TcpState st = t.conn.state();
                if (st == TcpState.SYN_SENT) {
                    return -Errno.EALREADY.number();
                }
                return st == TcpState.CLOSED && t.conn.error() != 0 ? -t.conn.error() : -Errno.EISCONN.number();
            }
            final int r = stack.connect(t, ip, port);
            if (r < 0) {
                return r;
            }
            if (t.nonBlocking) {
                return -Errno.EINPROGRESS.number();
            }
            final long deadline = Socket.deadline(t.sendTimeoutNs);
            while (t.conn.state() == TcpState.SYN_SENT || t.conn.state() == TcpState.SYN_RECEIVED) {
                if (t.awaitLocked(deadline) < 0) {
                    return -Errno.ETIMEDOUT.number();
                }
                if (t.closed) {
                    return -Errno.EBADF.number(); // closed while blocked
                }
            }
            if (t.conn.state() == TcpState.CLOSED) {
                final int e = t.conn.error();
                return e != 0 ? -e : -Errno.ECONNREFUSED.number();
            }
            return 0;
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            return -Errno.EINTR.number();
        } finally {
            t.lock.unlock();
        }
    }

    public int send(final int fd, final byte[] b, final int off, final int len, final int flags) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        if (off < 0 || len < 0 || off + len > b.length) {
            return -Errno.EFAULT.number();
        }
        if (s instanceof TcpSocket t) {
            return t.send(b, off, len, (flags & MSG_DONTWAIT) != 0);
        }
        return ((UdpSocket)s).sendto(b, off, len, 0, 0);
    }

    public int recv(final int fd, final byte[] b, final int off, final int len, final int flags) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        if (off < 0 || len < 0 || off + len > b.length) {
            return -Errno.EFAULT.number();
        }
        if (s instanceof TcpSocket t) {
            return t.recv(b, off, len, (flags & MSG_DONTWAIT) != 0, (flags & MSG_PEEK) != 0,
                (flags & MSG_WAITALL) != 0);
        }
        return ((UdpSocket)s).recvfrom(b, off, len, (flags & MSG_DONTWAIT) != 0, null);
    }

    public int sendto(final int fd, final byte[] b, final int off, final int len, final int flags, final int ip,
        final int port) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        if (s instanceof TcpSocket) {
            return send(fd, b, off, len, flags);
        }
        if (off < 0 || len < 0 || off + len > b.length) {
            return -Errno.EFAULT.number();
        }
        return ((UdpSocket)s).sendto(b, off, len, ip, port);
    }

    public int recvfrom(final int fd, final byte[] b, final int off, final int len, final int flags,
        final SockAddr from) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        if (s instanceof TcpSocket t) {
            final int n = recv(fd, b, off, len, flags);
            if (n >= 0 && from != null) {
                from.ip = t.remoteIp;
                from.port = t.remotePort;
            }
            return n;
        }
        if (off < 0 || len < 0 || off + len > b.length) {
            return -Errno.EFAULT.number();
        }
        return ((UdpSocket)s).recvfrom(b, off, len, (flags & MSG_DONTWAIT) != 0, from);
    }

    public int shutdown(final int fd, final int how) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        if (how < SHUT_RD || how > SHUT_RDWR) {
            return -Errno.EINVAL.number();
        }
        if (s instanceof TcpSocket t) {
            return t.shutdown(how);
        }
        return -Errno.ENOTCONN.number();
    }

    public int close(final int fd) {
        final Object o = get(fd);
        if (o == null || !free(fd, o)) {
            return -Errno.EBADF.number();
        }
        if (o instanceof Epoll e) {
            e.close();
            return 0;
        }
        return ((Socket)o).close();
    }

    public int setNonBlocking(final int fd, final boolean on) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        s.lock.lock();
        try {
            s.nonBlocking = on;
            return 0;
        } finally {
            s.lock.unlock();
        }
    }

    /** setsockopt(2) with an int value (see the option constants for the value's meaning). */
    public int setsockopt(final int fd, final int level, final int name, final int value) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        final long now = stack.now();
        s.lock.lock();
        try {
            final TcpSocket t = s instanceof TcpSocket ts ? ts : null;
            if (level == SOL_SOCKET) {
                switch (name) {
                    case SO_REUSEADDR -> s.reuseAddr = value != 0;
                    case SO_RCVTIMEO -> s.recvTimeoutNs = Math.max(0, value) * 1_000_000L;
                    case SO_SNDTIMEO -> s.sendTimeoutNs = Math.max(0, value) * 1_000_000L;
                    case SO_BROADCAST -> {
                        if (s instanceof UdpSocket u) {
                            u.broadcast = value != 0;
                        }
                    }
                    case SO_BINDTODEVICE -> {
                        if (!(s instanceof UdpSocket u)) {
                            return -Errno.ENOPROTOOPT.number();
                        }
                        if (value < -1 || value >= stack.interfaces().size()) {
                            return -Errno.ENODEV.number();
                        }
                        u.boundIfIndex = value;
                    }
                    case SO_KEEPALIVE -> {
                        if (t != null) {
                            t.keepalive = value != 0;
                            if (t.conn != null) {
                                t.conn.setKeepalive(value != 0, now);
                            }
                        }
                    }
                    case SO_LINGER -> {
                        if (t != null) {
                            t.lingerOn = value >= 0;
                            t.lingerSeconds = Math.max(0, value);
                        }
                    }
                    case SO_SNDBUF -> {
                        final int v = Math.max(4096, Math.min(value, 16 << 20));
                        if (t != null) {
                            t.sndBuf = v;
                            if (t.conn != null) {
                                t.conn.setSendBufferSize(v);
                            }
                        }
                    }
                    case SO_RCVBUF -> {
                        final int v = Math.max(4096, Math.min(value, 16 << 20));
                        if (t != null) {
                            t.rcvBuf = v;
                            if (t.conn != null) {
                                t.conn.setRecvBufferSize(v);
                            }
                        }
                    }
                    default -> {
                        return -Errno.ENOPROTOOPT.number();
                    }
                }
                return 0;
            }
            if (level == SOL_IP && name == IP_TRANSPARENT) {
                if (t == null || t.listening || t.conn != null) {
                    return t == null ? -Errno.ENOPROTOOPT.number() : -Errno.EINVAL.number();
                }
                t.transparent = value != 0;
                return 0;
            }
            if (level == IPPROTO_TCP && t != null) {
                switch (name) {
                    case TCP_NODELAY -> {
                        t.nodelay = value != 0;
                        if (t.conn != null) {
                            t.drainChannelLocked(now);
                            t.conn.setNoDelay(value != 0, now);
                        }
                        return 0;
                    }
                    case TCP_MAXSEG -> {
                        return 0; // accepted, as Linux does before connect; the MSS comes from the route
                    }
                    default -> {
                        return -Errno.ENOPROTOOPT.number();
                    }
                }
            }
            return -Errno.ENOPROTOOPT.number();
        } finally {
            s.lock.unlock();
        }
    }

    /** getsockopt(2): the option's int value, or -errno. SO_ERROR clears the pending error. */
    public int getsockopt(final int fd, final int level, final int name) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        s.lock.lock();
        try {
            final TcpSocket t = s instanceof TcpSocket ts ? ts : null;
            if (level == SOL_SOCKET) {
                return switch (name) {
                    case SO_REUSEADDR -> s.reuseAddr ? 1 : 0;
                    case SO_TYPE -> t != null ? SOCK_STREAM : SOCK_DGRAM;
                    case SO_ERROR -> t != null && t.conn != null ? t.conn.error() : 0;
                    case SO_KEEPALIVE -> t != null && t.keepalive ? 1 : 0;
                    case SO_LINGER -> t != null && t.lingerOn ? t.lingerSeconds : -1;
                    case SO_SNDBUF -> t != null ? t.sndBuf : 0;
                    case SO_RCVBUF -> t != null ? t.rcvBuf : stack.settings().udpReceiveBuffer();
                    case SO_RCVTIMEO -> (int)(s.recvTimeoutNs / 1_000_000L);
                    case SO_SNDTIMEO -> (int)(s.sendTimeoutNs / 1_000_000L);
                    case SO_BROADCAST -> s instanceof UdpSocket u && u.broadcast ? 1 : 0;
                    default -> -Errno.ENOPROTOOPT.number();
                };
            }
            if (level == SOL_IP && name == IP_TRANSPARENT) {
                return t != null && t.transparent ? 1 : 0;
            }
            if (level == IPPROTO_TCP && t != null) {
                return switch (name) {
                    case TCP_NODELAY -> t.nodelay ? 1 : 0;
                    case TCP_MAXSEG -> t.conn != null ? t.conn.sndMss() : 536;
                    default -> -Errno.ENOPROTOOPT.number();
                };
            }
            return -Errno.ENOPROTOOPT.number();
        } finally {
            s.lock.unlock();
        }
    }

    public int getsockname(final int fd, final SockAddr out) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        s.lock.lock();
        try {
            out.ip = s.localIp;
            out.port = s.localPort;
            return 0;
        } finally {
            s.lock.unlock();
        }
    }

    public int getpeername(final int fd, final SockAddr out) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        s.lock.lock();
        try {
            if (s instanceof TcpSocket t) {
                if (t.conn == null || t.conn.state() == TcpState.SYN_SENT || t.conn.state() == TcpState.CLOSED) {
                    return -Errno.ENOTCONN.number();
                }
                out.ip = t.remoteIp;
                out.port = t.remotePort;
                return 0;
            }
            final UdpSocket u = (UdpSocket)s;
            if (!u.connected) {
                return -Errno.ENOTCONN.number();
            }
            out.ip = u.remoteIp;
            out.port = u.remotePort;
            return 0;
        } finally {
            s.lock.unlock();
        }
    }

    // ----- poll and epoll ----------------------------------------------------------------------

    /** One entry of {@link #poll}: {@code struct pollfd}. */
    public static final class PollFd {
        public int fd;
        public int events;
        public int revents;

        public PollFd() {
        }

        public PollFd(final int fd, final int events) {
            this.fd = fd;
            this.events = events;
        }
    }

    /**
     * A poll(2) caller as a socket watcher: each round publishes a fresh one-shot record, then checks
     * the sockets, then waits on the record (see {@link Waiter}); a readiness change wakes the record
     * of the round in progress.
     */
    private static final class PollWaiter implements Socket.Watcher {
        volatile WaitRecord record;

        @Override
        public void onReady(final Socket socket) {
            Waiter.wake(record);
        }
    }

    /**
     * poll(2).
     *
     * @param timeoutMs -1 forever, 0 no wait.
     * @return number of entries with non-zero {@code revents}, or -errno ({@code -EINTR} when a host
     *     thread is interrupted).
     */
    public int poll(final PollFd[] fds, final int count, final int timeoutMs) {
        final long deadline = timeoutMs > 0 ? System.nanoTime() + timeoutMs * 1_000_000L : 0;
        final PollWaiter waiter = new PollWaiter();
        final List<Socket> registered = new ArrayList<>();
        try {
            while (true) {
                final WaitRecord record = timeoutMs == 0 ? null : Waiter.record();
                waiter.record = record; // published before the sockets are looked at: no lost wakeup
                int ready = 0;
                for (int i = 0; i < count; i++) {
                    final PollFd p = fds[i];
                    p.revents = 0;
                    if (p.fd < 0) {
                        continue;
                    }
                    final Socket s = socket(p.fd);
                    if (s == null) {
                        p.revents = POLLNVAL;
                        ready++;
                        continue;
                    }
                    if (!registered.contains(s)) {
                        s.watchers.addIfAbsent(waiter);
                        registered.add(s);
                    }
                    p.revents = s.readiness() & (p.events | POLLERR | POLLHUP | POLLNVAL);
                    if (p.revents != 0) {
                        ready++;
                    }
                }
                if (ready > 0 || timeoutMs == 0) {
                    return ready;
                }
                if (Thread.interrupted()) {
                    return -Errno.EINTR.number();
                }
                final long waitNs;
                if (deadline != 0) {
                    final long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return 0;
                    }
                    waitNs = Math.min(left, Socket.maxWaitNs());
                } else {
                    waitNs = Socket.maxWaitNs();
                }
                Waiter.await(record, waitNs);
            }
        } finally {
            for (final Socket s : registered) {
                s.watchers.remove(waiter);
            }
        }
    }

    // ----- readiness callbacks (an event loop without a blocked thread) --------------------------

    /** A readiness callback as a socket watcher; equal by the callback's identity. */
    private record CallbackWatcher(Runnable onChange) implements Socket.Watcher {
        @Override
        public void onReady(final Socket socket) {
            onChange.run();
        }
    }

    /**
     * Call {@code onChange} on every readiness change of {@code fd} (data or a FIN arrived, send space
     * freed, the connection completed, failed or closed), as an epoll registration does for a thread
     * that waits, but without one: the callback runs on whichever thread caused the change (the
     * receive context, a sender, the timer), possibly with the socket's lock held, so it must not
     * block and must not call into this socket; it only schedules work (the user gateway's event loop
     * queues the connection). It may run spuriously; the scheduled work asks {@link #readiness} or
     * calls non-blocking {@code recv}/{@code send}. A callback is registered once (by identity).
     *
     * @return 0, or {@code -EBADF}.
     */
    public int watch(final int fd, final Runnable onChange) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        s.watchers.addIfAbsent(new CallbackWatcher(onChange));
        return 0;
    }

    /** Stop calling {@code onChange} for {@code fd} ({@link #watch}); 0 or {@code -EBADF}. */
    public int unwatch(final int fd, final Runnable onChange) {
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        s.watchers.remove(new CallbackWatcher(onChange));
        return 0;
    }

    /**
     * The poll bits of {@code fd} now ({@link #POLLIN}, {@link #POLLOUT}, {@link #POLLERR},
     * {@link #POLLHUP}, {@link #POLLRDHUP}), after running the segments queued in its net channel
     * through TCP: a poll(2) of one descriptor that never waits and allocates nothing.
     *
     * @return the bits, or {@code -EBADF}.
     */
    public int readiness(final int fd) {
        final Socket s = socket(fd);
        return s == null ? -Errno.EBADF.number() : s.readiness();
    }

    /** Tests only: the epoll instance behind {@code epfd}, or null. */
    Epoll epollForTests(final int epfd) {
        return get(epfd) instanceof Epoll e ? e : null;
    }

    public int epollCreate() {
        return allocate(new Epoll());
    }

    public int epollCtl(final int epfd, final int op, final int fd, final int events, final long data) {
        if (!(get(epfd) instanceof Epoll e)) {
            return get(epfd) == null ? -Errno.EBADF.number() : -Errno.EINVAL.number();
        }
        final Socket s = socket(fd);
        if (s == null) {
            return -Errno.EBADF.number();
        }
        return switch (op) {
            case EPOLL_CTL_ADD -> e.add(fd, s, events, data);
            case EPOLL_CTL_MOD -> e.modify(s, events, data);
            case EPOLL_CTL_DEL -> e.remove(s);
            default -> -Errno.EINVAL.number();
        };
    }

    /**
     * epoll_wait(2): fills {@code fds}, {@code events} and {@code data} (the registration's user data).
     *
     * @param timeoutMs -1 forever, 0 no wait.
     * @return the number of events, or -errno.
     */
    public int epollWait(final int epfd, final int[] fds, final int[] events, final long[] data, final int max,
        final int timeoutMs) {
        if (!(get(epfd) instanceof Epoll e)) {
            return get(epfd) == null ? -Errno.EBADF.number() : -Errno.EINVAL.number();
        }
        if (max <= 0) {
            return -Errno.EINVAL.number();
        }
        try {
            return e.await(fds, events, data, Math.min(max, Math.min(fds.length, events.length)),
                timeoutMs < 0 ? -1 : timeoutMs * 1_000_000L);
        } catch (final InterruptedException ex) {
            Thread.currentThread().interrupt();
            return -Errno.EINTR.number();
        }
    }

    // ----- introspection (netstat) -------------------------------------------------------------

    /** One line of netstat. */
    public record SocketInfo(String protocol, int localIp, int localPort, int remoteIp, int remotePort, String state,
        int recvQueue, int sendQueue) {
    }

    public List<SocketInfo> list() {
        final List<SocketInfo> out = new ArrayList<>();
        stack.forEachTcp(t -> {
            final TcpConnection c = t.conn;
            if (t.listening) {
                out.add(new SocketInfo("tcp", t.localIp, t.localPort, 0, 0, "LISTEN", t.acceptQueue.size(), 0));
            } else if (c != null) {
                out.add(new SocketInfo("tcp", c.localIp, c.localPort, c.remoteIp, c.remotePort,
                    c.state().netstatName(), c.readable(), c.sendQueued()));
            }
        });
        stack.forEachUdp(u -> out.add(new SocketInfo("udp", u.localIp, u.localPort, u.connected ? u.remoteIp : 0,
            u.connected ? u.remotePort : 0, "", u.queued(), 0)));
        return out;
    }

    /** The stack behind this API. */
    public NetStack stack() {
        return stack;
    }
}
