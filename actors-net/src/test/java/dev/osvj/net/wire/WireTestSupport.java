package dev.osvj.net.wire;

import org.agrona.concurrent.UnsafeBuffer;

/** Helpers for literal-byte tests. */
final class WireTestSupport {
    private WireTestSupport() {
    }

    static UnsafeBuffer bytes(final int... values) {
        final byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte)values[i];
        }
        return new UnsafeBuffer(b);
    }

    /** A buffer of {@code n} bytes, all 0xA5, to catch emitters that rely on zeroed memory. */
    static UnsafeBuffer a5(final int n) {
        final byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte)0xA5);
        return new UnsafeBuffer(b);
    }

    static byte[] slice(final UnsafeBuffer b, final int offset, final int length) {
        final byte[] out = new byte[length];
        b.getBytes(offset, out);
        return out;
    }
}
