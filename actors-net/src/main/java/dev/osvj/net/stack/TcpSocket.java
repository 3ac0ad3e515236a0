package dev.osvj.net.stack;

import dev.osvj.kernel.Errno;
import dev.osvj.net.NetEvents;
import dev.osvj.net.channel.NetChannel;
import dev.osvj.net.channel.PacketBuffer;
import dev.osvj.net.tcp.TcpConnection;
import dev.osvj.net.tcp.TcpState;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayDeque;

/**
 * A TCP socket: a listener (accept queue + SYN-queue count) or a connection ({@link TcpConnection}
 * plus, once ESTABLISHED in net-channel mode, its {@link NetChannel}). All state is guarded by
 * {@link #lock}; the state machine's events arrive with the lock held.
 *
 * <p>Net-channel consumer: {@link #drainChannelLocked} runs the queued segments through the state
 * machine; it is called by the application thread before it reads, writes or checks readiness, by the
 * general receive path before it processes a segment of this flow (ordering), and by the flow's
 * net-channel actor ({@link #drainFromFlowActor}) when no application thread waits.
 */
final class TcpSocket extends Socket implements TcpConnection.Events, NetStack.FlowConsumer {
    TcpConnection conn;
    int remoteIp;
    int remotePort;
    boolean listening;
    /** The catch-all listener of a gateway ({@link Sockets#IP_TRANSPARENT}). */
    boolean transparent;
    int backlog;
    final ArrayDeque<TcpSocket> acceptQueue = new ArrayDeque<>();
    int synQueue;
    TcpSocket parent;
    volatile NetChannel channel;
    boolean keepalive;
    boolean nodelay;
    boolean lingerOn;
    int lingerSeconds;
    int sndBuf;
    int rcvBuf;
    boolean flowRegistered;
    boolean connectStarted;
    /** The flow's net-channel actor (or other consumer) hook, set by the stack's waker. */
    volatile Object flowHandle;
    private final UnsafeBuffer appView = new UnsafeBuffer(new byte[0]);

    TcpSocket(final NetStack stack) {
        super(stack);
        this.sndBuf = stack.settings().tcp().sendBuffer();
        this.rcvBuf = stack.settings().tcp().recvBuffer();
    }

    // ----- TcpConnection.Events (lock held) ----------------------------------------------------

    @Override
    public boolean onEstablished(final TcpConnection c) {
        final TcpSocket p = parent;
        if (p == null) {
            return true;
        }
        p.lock.lock();
        try {
            if (!p.listening || p.closed || p.acceptQueue.size() >= p.backlog) {
                return false;
            }
            p.acceptQueue.add(this);
            if (c.state() == TcpState.SYN_RECEIVED && p.synQueue > 0 && embryo) {
                p.synQueue--;
                embryo = false;
            }
            p.changedLocked();
            return true;
        } finally {
            p.lock.unlock();
        }
    }

    /** True while this socket counts in its listener's SYN queue. */
    boolean embryo;

    @Override
    public void onReadable(final TcpConnection c) {
        changedLocked();
    }

    @Override
    public void onWritable(final TcpConnection c) {
        changedLocked();
    }

    @Override
    public void onStateChange(final TcpConnection c, final TcpState from, final TcpState to) {
        NetEvents.stateChange(c.localIp, c.localPort, c.remoteIp, c.remotePort, from, to);
        if (to == TcpState.ESTABLISHED && stack.settings().netChannels()) {
            channel = new NetChannel(this);
        }
        if (from == TcpState.ESTABLISHED && channel != null) {
            channel.close(); // OSv: state-changing segments leave the channel; data states only
        }
        if (to == TcpState.CLOSED) {
            if (embryo && parent != null) {
                parent.lock.lock();
                try {
                    parent.synQueue = Math.max(0, parent.synQueue - 1);
                } finally {
                    parent.lock.unlock();
                }
                embryo = false;
            }
            stack.forgetConnection(this);
        }
        changedLocked();
    }

    // ----- net channel consumer ----------------------------------------------------------------

    /**
     * Consumer side of the channel; lock held. Processes every queued segment in order.
     *
     * @return the segments processed.
     */
    int drainChannelLocked(final long now) {
        return drainChannelLocked(now, false);
    }

    /**
     * Drain the channel; {@code flowActor} marks the net-channel actor's drains, where the
     * {@link NetFaults.Point#FLOW_ACTOR} fault may strike (after a segment was taken, before TCP saw it:
     * the segment is lost like a dropped frame, and the peer retransmits it).
     */
    private int drainChannelLocked(final long now, final boolean flowActor) {
        final NetChannel ch = channel;
        if (ch == null) {
            return 0;
        }
        ch.consumerDraining();
        PacketBuffer p;
        int segments = 0;
        final TcpConnection c = conn;
        if (c != null) {
            c.beginBatch(); // one (stretch) ACK for the batch's in-order data, not one per two segments
        }
        try {
            while ((p = ch.poll()) != null) {
                segments++;
                try {
                    if (flowActor) {
                        stack.faults().check(NetFaults.Point.FLOW_ACTOR);
                    }
                    if (conn != null) {
                        stack.processChannelPacket(this, p, now);
                    }
                } finally {
                    p.release();
                }
            }
        } finally {
            if (c != null) {
                c.endBatch(now);
            }
        }
        if (segments > 0) {
            NetEvents.channelBatch(this, flowActor, segments);
        }
        return segments;
    }

    @Override
    public void drainFromFlowActor() {
        lock.lock();
        try {
            stack.counters().increment(NetCounters.Counter.TCP_CHANNEL_ACTOR_DRAINS);
            drainChannelLocked(stack.now(), true);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Object flowHandle() {
        return flowHandle;
    }

    @Override
    public void setFlowHandle(final Object handle) {
        flowHandle = handle;
    }

    @Override
    public boolean finished() {
        final NetChannel ch = channel;
        return ch == null || ch.isClosed() && ch.isEmpty();
    }

    @Override
    public String flowName() {
        return "flow-" + (localIp & 0xFF) + "-" + localPort + "-" + (remoteIp & 0xFF) + "-" + remotePort;
    }

    // ----- readiness ---------------------------------------------------------------------------

    @Override
    int readiness() {
        lock.lock();
        try {
            drainChannelLocked(stack.now());
            return readinessLocked();
        } finally {
            lock.unlock();
        }
    }

    int readinessLocked() {
        if (closed) {
            return POLLNVAL;
        }
        if (listening) {
            return acceptQueue.isEmpty() ? 0 : POLLIN;
        }
        final TcpConnection c = conn;
        if (c == null) {
            return POLLOUT | POLLHUP;
        }
        int mask = 0;
        if (c.error() != 0) {
            mask |= POLLERR | POLLHUP | POLLIN;
        }
        final TcpState s = c.state();
        if (c.readable() > 0 || c.finReceived()) {
            mask |= POLLIN;
        }
        if (c.finReceived()) {
            mask |= POLLRDHUP;
        }
        if ((s.canSend() || s == TcpState.SYN_RECEIVED) && !c.writeShutdown() && c.writable() > 0
            && s != TcpState.SYN_RECEIVED) {
            mask |= POLLOUT;
        }
        if (s == TcpState.CLOSED || c.finReceived() && c.writeShutdown()) {
            mask |= POLLHUP;
        }
        return mask;
    }

    // ----- data path ---------------------------------------------------------------------------

    int send(final byte[] b, final int off, final int len, final boolean dontWait) {
        if (len == 0) {
            return 0;
        }
        lock.lock();
        try {
            final TcpConnection c = conn;
            if (c == null || listening) {
                return -Errno.ENOTCONN.number();
            }
            final long deadline = deadline(sendTimeoutNs);
            int done = 0;
            while (done < len) {
                final long now = stack.now();
                drainChannelLocked(now);
                if (c.state() == TcpState.SYN_SENT || c.state() == TcpState.SYN_RECEIVED) {
                    if (nonBlocking || dontWait) {
                        return done > 0 ? done : -Errno.EAGAIN.number();
                    }
                } else {
                    appView.wrap(b, off + done, len - done);
                    final int n = c.send(appView, 0, len - done, now);
                    if (n < 0) {
                        return done > 0 ? done : n;
                    }
                    done += n;
                    if (done == len) {
                        break;
                    }
                    if (nonBlocking || dontWait) {
                        return done > 0 ? done : -Errno.EAGAIN.number();
                    }
                }
                if (awaitLocked(deadline) < 0) {
                    return done > 0 ? done : -Errno.EAGAIN.number();
                }
                if (closed) {
                    return done > 0 ? done : -Errno.EBADF.number(); // closed while blocked
                }
            }
            return done;
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            return -Errno.EINTR.number();
        } finally {
            lock.unlock();
        }
    }

    int recv(final byte[] b, final int off, final int len, final boolean dontWait, final boolean peek,
        final boolean waitAll) {
        lock.lock();
        try {
            final TcpConnection c = conn;
            if (c == null || listening) {
                return -Errno.ENOTCONN.number();
            }
            final long deadline = deadline(recvTimeoutNs);
            int done = 0;
            while (true) {
                final long now = stack.now();
                drainChannelLocked(now);
                if (c.readable() > 0 && len > 0) {
                    appView.wrap(b, off + done, len - done);
                    final int n = c.recv(appView, 0, len - done, now, peek);
                    done += n;
                    if (!waitAll || done == len || peek) {
                        return done;
                    }
                    continue;
                }
                if (len == 0) {
                    return 0;
                }
                if (c.finReceived() || c.state() == TcpState.CLOSED) {
                    if (done > 0) {
                        return done;
                    }
                    return c.error() != 0 ? -c.error() : 0;
                }
                if (c.state() == TcpState.SYN_SENT && c.error() != 0) {
                    return -c.error();
                }
                if (nonBlocking || dontWait) {
                    return done > 0 ? done : -Errno.EAGAIN.number();
                }
                if (awaitLocked(deadline) < 0) {
                    return done > 0 ? done : -Errno.EAGAIN.number();
                }
                if (closed) {
                    return done > 0 ? done : -Errno.EBADF.number(); // closed while blocked
                }
            }
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            return -Errno.EINTR.number();
        } finally {
            lock.unlock();
        }
    }

    int shutdown(final int how) {
        lock.lock();
        try {
            final TcpConnection c = conn;
            if (c == null) {
                return -Errno.ENOTCONN.number();
            }
            if (how == 1 || how == 2) {
                drainChannelLocked(stack.now());
                c.shutdownWrite(stack.now());
            }
            changedLocked();
            return 0;
        } finally {
            lock.unlock();
        }
    }

    @Override
    int close() {
        final java.util.List<TcpSocket> orphans = new java.util.ArrayList<>();
        lock.lock();
        try {
            if (closed) {
                return -Errno.EBADF.number();
            }
            closed = true;
            if (listening) {
                listening = false;
                orphans.addAll(acceptQueue);
                acceptQueue.clear();
                stack.unlisten(this);
            }
            final TcpConnection c = conn;
            if (c != null) {
                final long now = stack.now();
                drainChannelLocked(now);
                if (lingerOn && lingerSeconds == 0 || c.readable() > 0) {
                    c.abort(now); // RFC 2525 §2.17: close with unread data resets
                } else {
                    c.close(now);
                }
                if (c.state() == TcpState.CLOSED) {
                    stack.forgetConnection(this);
                }
            } else if (localPort != 0) {
                stack.releasePort(this);
            }
            changedLocked();
        } finally {
            lock.unlock();
        }
        for (final TcpSocket o : orphans) {
            o.lock.lock();
            try {
                o.parent = null;
                if (o.conn != null) {
                    o.conn.abort(stack.now());
                }
                o.closed = true;
            } finally {
                o.lock.unlock();
            }
        }
        return 0;
    }
}
