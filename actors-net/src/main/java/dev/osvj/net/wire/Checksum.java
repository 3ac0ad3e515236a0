package dev.osvj.net.wire;

import org.agrona.DirectBuffer;

/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of the
 * data taken as big-endian 16-bit words (an odd last byte is padded with a zero byte). Sums are
 * accumulated in a {@code long} and folded at the end, so any length up to 2^47 bytes is exact.
 */
public final class Checksum {
    private Checksum() {
    }

    /**
     * One's complement sum of {@code length} bytes at {@code offset}, folded to 16 bits, not inverted
     * (a value callers may add to other sums and {@link #fold} again).
     *
     * <p>Eight bytes per step, in little-endian order (no byte swap on x86): a 64-bit word is added as
     * its two 32-bit halves. Because 2^16 is 1 modulo 0xFFFF, a sum of 32-bit words folds to the same
     * value as the sum of the 16-bit words they contain, and a sum taken in the other byte order folds
     * to the byte-swapped result (RFC 1071 §2(A) and (B)), so the folded little-endian sum is swapped
     * once at the end. Each step adds less than 2^33, so the {@code long} cannot overflow.
     */
    public static long sum(final DirectBuffer buffer, final int offset, final int length) {
        long sum = 0;
        int i = offset;
        final int end = offset + length;
        while (i + 8 <= end) {
            final long w = buffer.getLong(i, java.nio.ByteOrder.LITTLE_ENDIAN);
            sum += (w >>> 32) + (w & 0xFFFF_FFFFL);
            i += 8;
        }
        while (i + 1 < end) {
            sum += (buffer.getByte(i) & 0xFF) | ((buffer.getByte(i + 1) & 0xFF) << 8);
            i += 2;
        }
        if (i < end) {
            sum += buffer.getByte(i) & 0xFF;
        }
        final int folded = fold(sum);
        return ((folded & 0xFF) << 8) | (folded >>> 8);
    }

    /** Fold a sum to 16 bits (end-around carry). */
    public static int fold(final long sum) {
        long s = sum;
        while ((s >>> 16) != 0) {
            s = (s & 0xFFFF) + (s >>> 16);
        }
        return (int)s;
    }

    /** The checksum field value for data whose unfolded sum (checksum field zeroed) is {@code sum}. */
    public static int finish(final long sum) {
        return ~fold(sum) & 0xFFFF;
    }

    /** The IPv4 pseudo-header sum for TCP/UDP: source, destination, zero, protocol, L4 length. */
    public static long pseudoHeader(final int src, final int dst, final int protocol, final int l4Length) {
        return (src >>> 16) + (src & 0xFFFF) + (dst >>> 16) + (dst & 0xFFFF) + protocol + l4Length;
    }

    /** True when data including its checksum field sums to 0xFFFF (the receiver's check). */
    public static boolean verify(final long sumIncludingChecksum) {
        return fold(sumIncludingChecksum) == 0xFFFF;
    }
}
