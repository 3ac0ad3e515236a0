package dev.osvj.net.stack;

import dev.osvj.kernel.Errno;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.MessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * A UDP socket. Received datagrams wait in an Agrona ring buffer as records (source address in the
 * first 4 bytes, source port as the record type), so queueing allocates nothing; the ring's size is
 * the receive buffer and a datagram that does not fit is dropped and counted. Guarded by {@link #lock}:
 * the one producer (the stack's UDP input) and the one consumer ({@link #recvfrom}) both hold it, so a
 * one-to-one ring is enough.
 *
 * <p>Emptiness is {@link #datagrams}, never the ring's {@code size()}: a claim that fails because the
 * record fits neither before the ring's end nor before the head after wrapping still writes the
 * padding record at the end and advances the tail past it (Agrona's {@code claimCapacity}), so a ring
 * can hold padding and no datagram, with {@code size() > 0}.
 */
final class UdpSocket extends Socket {
    private static final int ADDR_LEN = 4;
    private final OneToOneRingBuffer queue;
    int remoteIp;
    int remotePort;
    boolean connected;
    boolean broadcast;
    /** Bound to one interface (DHCP before the interface has an address), or -1. */
    int boundIfIndex = -1;
    private long drops;
    /** Committed datagrams in the ring (padding records are not counted). */
    private int datagrams;
    /** Payload bytes of those datagrams. */
    private int datagramBytes;
    private final UnsafeBuffer appView = new UnsafeBuffer(new byte[0]);
    // state of the record handler during recv (no allocation per datagram)
    private byte[] target;
    private int targetOff;
    private int targetLen;
    private int copied;
    private int fromIp;
    private int fromPort;
    private final MessageHandler reader = this::onRecord;

    UdpSocket(final NetStack stack, final int receiveBuffer) {
        super(stack);
        final int cap = Integer.highestOneBit(Math.max(64 * 1024, receiveBuffer) - 1) << 1;
        this.queue = new OneToOneRingBuffer(new UnsafeBuffer(
            org.agrona.BufferUtil.allocateDirectAligned(cap + RingBufferDescriptor.TRAILER_LENGTH, 64)));
    }

    /** Queue a datagram; lock held by the caller. False when the queue is full. */
    boolean enqueueLocked(final int srcIp, final int srcPort, final DirectBuffer payload, final int off, final int len) {
        if (len + ADDR_LEN > queue.maxMsgLength()) {
            drops++;
            return false;
        }
        final int index = queue.tryClaim(srcPort + 1, len + ADDR_LEN);
        if (index <= 0) {
            drops++;
            return false;
        }
        final org.agrona.concurrent.AtomicBuffer b = queue.buffer();
        b.putInt(index, srcIp);
        try {
            b.putBytes(index + ADDR_LEN, payload, off, len);
        } catch (final RuntimeException e) {
            queue.abort(index);
            throw e;
        }
        queue.commit(index);
        datagrams++;
        datagramBytes += len;
        changedLocked();
        return true;
    }

    private void onRecord(final int type, final MutableDirectBuffer buffer, final int index, final int length) {
        fromIp = buffer.getInt(index);
        fromPort = type - 1;
        datagrams--;
        datagramBytes -= length - ADDR_LEN;
        copied = Math.min(targetLen, length - ADDR_LEN);
        buffer.getBytes(index + ADDR_LEN, target, targetOff, copied);
    }

    /**
     * Receive one datagram (excess bytes of a longer datagram are discarded, as in POSIX).
     *
     * @return bytes copied, or -errno.
     */
    int recvfrom(final byte[] b, final int off, final int len, final boolean dontWait, final SockAddr from) {
        lock.lock();
        try {
            final long deadline = deadline(recvTimeoutNs);
            while (datagrams == 0) {
                if (closed) {
                    return -Errno.EBADF.number();
                }
                if (nonBlocking || dontWait) {
                    return -Errno.EAGAIN.number();
                }
                if (awaitLocked(deadline) < 0) {
                    return -Errno.EAGAIN.number();
                }
            }
            target = b;
            targetOff = off;
            targetLen = len;
            // A record that did not fit before the ring's end left a padding record there: a read
            // that meets it consumes the padding and delivers nothing, so read again for the datagram
            // (padding is only ever at the ring's end, so the second read starts at index 0).
            if (queue.read(reader, 1) == 0 && queue.read(reader, 1) == 0) {
                throw new IllegalStateException("UDP receive ring: no record although "
                    + datagrams + " datagram(s) were committed");
            }
            target = null;
            if (from != null) {
                from.ip = fromIp;
                from.port = fromPort;
            }
            return copied;
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            return -Errno.EINTR.number();
        } finally {
            lock.unlock();
        }
    }

    int sendto(final byte[] b, final int off, final int len, final int dstIp, final int dstPort) {
        int ip = dstIp;
        int port = dstPort;
        lock.lock();
        try {
            if (ip == 0 && port == 0) {
                if (!connected) {
                    return -Errno.EDESTADDRREQ.number();
                }
                ip = remoteIp;
                port = remotePort;
            }
            if (port <= 0 || port > 65535) {
                return -Errno.EINVAL.number();
            }
            if (len > 65507) {
                return -Errno.EMSGSIZE.number();
            }
            if (ip == -1 && !broadcast) {
                return -Errno.EACCES.number();
            }
            if (localPort == 0) {
                final int r = stack.bindUdp(this, 0, 0);
                if (r < 0) {
                    return r;
                }
            }
            appView.wrap(b, off, len);
            return stack.sendUdp(this, ip, port, appView, 0, len);
        } finally {
            lock.unlock();
        }
    }

    @Override
    int readiness() {
        lock.lock();
        try {
            if (closed) {
                return POLLNVAL;
            }
            return (datagrams > 0 ? POLLIN : 0) | POLLOUT;
        } finally {
            lock.unlock();
        }
    }

    long drops() {
        return drops;
    }

    /** Payload bytes of the queued datagrams (netstat's Recv-Q). */
    int queued() {
        return datagramBytes;
    }

    @Override
    int close() {
        lock.lock();
        try {
            if (closed) {
                return -Errno.EBADF.number();
            }
            closed = true;
            stack.unbindUdp(this);
            changedLocked();
            return 0;
        } finally {
            lock.unlock();
        }
    }
}
