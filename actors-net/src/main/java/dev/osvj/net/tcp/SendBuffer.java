package dev.osvj.net.tcp;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The send queue of one connection: a byte ring holding data the application has written and the
 * peer has not yet acknowledged. Offsets passed in are relative to the oldest unacknowledged byte.
 * Not thread-safe: guarded by the socket lock.
 *
 * <pre>
 *   ring:  [ ... acked/free ... | unacked (sent) | unsent | ... free ... ]
 *                               ^head                     ^head+length
 * </pre>
 */
final class SendBuffer {
    private byte[] ring;
    private UnsafeBuffer view;
    private int head;
    private int length;

    SendBuffer(final int capacity) {
        ring = new byte[capacity];
        view = new UnsafeBuffer(ring);
    }

    int capacity() {
        return ring.length;
    }

    int length() {
        return length;
    }

    int free() {
        return ring.length - length;
    }

    /** Grow or shrink (SO_SNDBUF); never below the bytes held. */
    void resize(final int capacity) {
        final int c = Math.max(capacity, length);
        final byte[] n = new byte[c];
        copyOut(0, n, 0, length);
        ring = n;
        view = new UnsafeBuffer(ring);
        head = 0;
    }

    /** Append up to {@code len} bytes; returns the number appended. */
    int write(final DirectBuffer src, final int off, final int len) {
        final int n = Math.min(len, free());
        int tail = (head + length) % ring.length;
        final int first = Math.min(n, ring.length - tail);
        src.getBytes(off, ring, tail, first);
        if (n > first) {
            src.getBytes(off + first, ring, 0, n - first);
        }
        length += n;
        return n;
    }

    /** Drop {@code n} bytes from the front (they were acknowledged). */
    void consume(final int n) {
        final int k = Math.min(n, length);
        head = (head + k) % ring.length;
        length -= k;
    }

    /**
     * The number of contiguous bytes available in the ring starting at {@code offset} (limited to
     * {@code max}); the segment built from them starts at {@link #viewOffset(int)} in {@link #view()}.
     */
    int contiguous(final int offset, final int max) {
        if (offset >= length) {
            return 0;
        }
        final int start = (head + offset) % ring.length;
        return Math.min(Math.min(max, length - offset), ring.length - start);
    }

    DirectBuffer view() {
        return view;
    }

    int viewOffset(final int offset) {
        return (head + offset) % ring.length;
    }

    void copyOut(final int offset, final byte[] dst, final int dstOff, final int len) {
        int done = 0;
        while (done < len) {
            final int s = (head + offset + done) % ring.length;
            final int n = Math.min(len - done, ring.length - s);
            System.arraycopy(ring, s, dst, dstOff + done, n);
            done += n;
        }
    }
}
