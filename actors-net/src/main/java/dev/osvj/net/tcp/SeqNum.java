package dev.osvj.net.tcp;

/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4, RFC 1982): {@code a < b} when
 * {@code (int)(a - b) < 0}, which is right whenever the two are less than 2^31 apart. Sequence numbers
 * are plain {@code int}s; never compare them with {@code <} directly.
 */
public final class SeqNum {
    private SeqNum() {
    }

    public static boolean lt(final int a, final int b) {
        return a - b < 0;
    }

    public static boolean le(final int a, final int b) {
        return a - b <= 0;
    }

    public static boolean gt(final int a, final int b) {
        return a - b > 0;
    }

    public static boolean ge(final int a, final int b) {
        return a - b >= 0;
    }

    /** {@code lo <= x < hi} in sequence space. */
    public static boolean inRange(final int x, final int lo, final int hi) {
        return x - lo >= 0 && x - hi < 0;
    }

    /** The later of two sequence numbers. */
    public static int max(final int a, final int b) {
        return gt(a, b) ? a : b;
    }

    public static int min(final int a, final int b) {
        return lt(a, b) ? a : b;
    }

    /** Unsigned text form (diagnostics). */
    public static String text(final int seq) {
        return Integer.toUnsignedString(seq);
    }
}
