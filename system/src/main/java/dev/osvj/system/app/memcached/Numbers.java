package dev.osvj.system.app.memcached;

/**
 * memcached's {@code safe_strto*} number parsing ({@code util.c}) over bytes: C's {@code strtoull} /
 * {@code strtol} (leading white space, an optional sign, decimal digits, failure on overflow or when
 * there is no digit) followed by memcached's checks: the number must end the token or be followed by
 * white space, and an unsigned number that came from a negative one is refused.
 */
final class Numbers {
    private Numbers() {
    }

    static boolean isSpace(final byte c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0B || c == 0x0C;
    }

    /**
     * {@code safe_strtoull} of {@code b[off, off+len)}; {@code out[0]} receives the value (unsigned).
     *
     * @param followedBySpace true when the bytes are a value that goes on (the digits must be followed
     *     by white space, e.g. its CRLF); false for a whole token (the digits must reach its end).
     */
    static boolean strtoull(final byte[] b, final int off, final int len, final long[] out, final boolean followedBySpace) {
        final int end = off + len;
        int i = off;
        while (i < end && isSpace(b[i])) {
            i++;
        }
        boolean negative = false;
        if (i < end && (b[i] == '+' || b[i] == '-')) {
            negative = b[i] == '-';
            i++;
        }
        final int digits = i;
        long v = 0;
        while (i < end && b[i] >= '0' && b[i] <= '9') {
            final int d = b[i] - '0';
            // v * 10 + d must fit in 64 unsigned bits.
            if (Long.compareUnsigned(v, Long.divideUnsigned(-1L - d, 10)) > 0) {
                return false;
            }
            v = v * 10 + d;
            i++;
        }
        if (i == digits) {
            return false;
        }
        if (i < end ? !isSpace(b[i]) : followedBySpace) {
            return false;
        }
        if (negative) {
            v = -v;
            if (v < 0) {
                return false;
            }
        }
        out[0] = v;
        return true;
    }

    /** {@code safe_strtoul} for a 32-bit unsigned token (client flags); -1 when invalid. */
    static long strtoul32(final byte[] b, final int off, final int len) {
        final long[] v = new long[1];
        if (!strtoull(b, off, len, v, false) || Long.compareUnsigned(v[0], 0xFFFF_FFFFL) > 0) {
            return -1;
        }
        return v[0];
    }

    /** {@code safe_strtol} for a 32-bit signed token; {@link Long#MIN_VALUE} when invalid. */
    static long strtol32(final byte[] b, final int off, final int len) {
        final int end = off + len;
        int i = off;
        while (i < end && isSpace(b[i])) {
            i++;
        }
        boolean negative = false;
        if (i < end && (b[i] == '+' || b[i] == '-')) {
            negative = b[i] == '-';
            i++;
        }
        final int digits = i;
        long v = 0;
        while (i < end && b[i] >= '0' && b[i] <= '9') {
            v = v * 10 + (b[i] - '0');
            if (v > 1L << 32) {
                return Long.MIN_VALUE;
            }
            i++;
        }
        if (i == digits || (i < end && !isSpace(b[i]))) {
            return Long.MIN_VALUE;
        }
        v = negative ? -v : v;
        return v < Integer.MIN_VALUE || v > Integer.MAX_VALUE ? Long.MIN_VALUE : v;
    }
}
