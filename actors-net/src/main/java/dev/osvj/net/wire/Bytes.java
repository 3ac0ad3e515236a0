package dev.osvj.net.wire;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/** Big-endian field access shared by the flyweights (package-private). */
final class Bytes {
    private Bytes() {
    }

    static int u8(final DirectBuffer b, final int i) {
        return b.getByte(i) & 0xFF;
    }

    static int u16(final DirectBuffer b, final int i) {
        return ((b.getByte(i) & 0xFF) << 8) | (b.getByte(i + 1) & 0xFF);
    }

    static int i32(final DirectBuffer b, final int i) {
        return ((b.getByte(i) & 0xFF) << 24) | ((b.getByte(i + 1) & 0xFF) << 16)
            | ((b.getByte(i + 2) & 0xFF) << 8) | (b.getByte(i + 3) & 0xFF);
    }

    static long u48(final DirectBuffer b, final int i) {
        return ((long)u16(b, i) << 32) | (i32(b, i + 2) & 0xFFFF_FFFFL);
    }

    static void put8(final MutableDirectBuffer b, final int i, final int v) {
        b.putByte(i, (byte)v);
    }

    static void put16(final MutableDirectBuffer b, final int i, final int v) {
        b.putByte(i, (byte)(v >>> 8));
        b.putByte(i + 1, (byte)v);
    }

    static void put32(final MutableDirectBuffer b, final int i, final int v) {
        b.putByte(i, (byte)(v >>> 24));
        b.putByte(i + 1, (byte)(v >>> 16));
        b.putByte(i + 2, (byte)(v >>> 8));
        b.putByte(i + 3, (byte)v);
    }

    static void put48(final MutableDirectBuffer b, final int i, final long v) {
        put16(b, i, (int)(v >>> 32));
        put32(b, i + 2, (int)v);
    }
}
