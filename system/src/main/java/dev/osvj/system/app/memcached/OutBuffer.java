package dev.osvj.system.app.memcached;

import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.system.app.EpollServer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable byte buffer of replies: the protocol engine appends, the connection sends
 * {@code [readIndex, writeIndex)} and {@link #consume}s what the socket took. Single-threaded (owned by one
 * connection).
 */
final class OutBuffer implements EpollServer.Output {
    private static final byte[] DIGITS = "0123456789".getBytes(StandardCharsets.US_ASCII);

    private byte[] buf;
    private int readIndex;
    private int writeIndex;

    OutBuffer(final int initialCapacity) {
        buf = new byte[Math.max(16, initialCapacity)];
    }

    @Override
    public byte[] array() {
        return buf;
    }

    @Override
    public int readIndex() {
        return readIndex;
    }

    /** Bytes waiting to be sent. */
    @Override
    public int readable() {
        return writeIndex - readIndex;
    }

    /** Mark {@code n} bytes as sent; an empty buffer rewinds to the start. */
    @Override
    public void consume(final int n) {
        readIndex += n;
        if (readIndex == writeIndex) {
            readIndex = 0;
            writeIndex = 0;
        }
    }

    /** Everything readable as a new array (tests). */
    byte[] drain() {
        final byte[] out = Arrays.copyOfRange(buf, readIndex, writeIndex);
        readIndex = 0;
        writeIndex = 0;
        return out;
    }

    /** Length of the reply bytes appended so far (mark for {@link #truncate}). */
    int position() {
        return writeIndex;
    }

    void truncate(final int position) {
        writeIndex = position;
    }

    private void ensure(final int more) {
        if (writeIndex + more > buf.length) {
            if (readIndex > 0 && writeIndex - readIndex + more <= buf.length) {
                System.arraycopy(buf, readIndex, buf, 0, writeIndex - readIndex);
                writeIndex -= readIndex;
                readIndex = 0;
                return;
            }
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, writeIndex + more));
        }
    }

    OutBuffer put(final byte b) {
        ensure(1);
        buf[writeIndex++] = b;
        return this;
    }

    OutBuffer put(final byte[] b) {
        return put(b, 0, b.length);
    }

    OutBuffer put(final byte[] b, final int off, final int len) {
        ensure(len);
        System.arraycopy(b, off, buf, writeIndex, len);
        writeIndex += len;
        return this;
    }

    /** ASCII text (replies are ASCII). */
    OutBuffer put(final String s) {
        final int n = s.length();
        ensure(n);
        for (int i = 0; i < n; i++) {
            buf[writeIndex++] = (byte)s.charAt(i);
        }
        return this;
    }

    /** An unsigned 64-bit number in decimal. */
    OutBuffer putUnsigned(final long v) {
        if (v >= 0 && v < 10) {
            return put(DIGITS[(int)v]);
        }
        return put(Long.toUnsignedString(v));
    }

    /** A 16-bit value in network byte order (big-endian). */
    OutBuffer putShortBE(final int v) {
        ensure(2);
        buf[writeIndex++] = (byte)(v >>> 8);
        buf[writeIndex++] = (byte)v;
        return this;
    }

    /** A 32-bit value in network byte order (big-endian). */
    OutBuffer putIntBE(final int v) {
        ensure(4);
        buf[writeIndex++] = (byte)(v >>> 24);
        buf[writeIndex++] = (byte)(v >>> 16);
        buf[writeIndex++] = (byte)(v >>> 8);
        buf[writeIndex++] = (byte)v;
        return this;
    }

    /** A 64-bit value in network byte order (big-endian). */
    OutBuffer putLongBE(final long v) {
        return putIntBE((int)(v >>> 32)).putIntBE((int)v);
    }

    OutBuffer crlf() {
        ensure(2);
        buf[writeIndex++] = '\r';
        buf[writeIndex++] = '\n';
        return this;
    }

    /** {@code len} bytes of guest memory at physical address {@code pa}. */
    OutBuffer putFromMemory(final PhysicalMemory memory, final long pa, final int len) {
        ensure(len);
        memory.read(pa, buf, writeIndex, len);
        writeIndex += len;
        return this;
    }
}
