package dev.osvj.virtio.net;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * virtio-net wire formats (virtio 1.x, "Network Device"): feature bits, the config space and the
 * {@code virtio_net_hdr} that precedes every frame on both queues (queue 0 receive, queue 1
 * transmit). With VERSION_1 the header is always 12 bytes, {@code num_buffers} included.
 *
 * <pre>
 * virtio_net_hdr (12 bytes, little-endian)
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+-------------------------------+
 * |     flags     |   gso_type    |          hdr_len              |  0
 * +---------------+---------------+-------------------------------+
 * |          gso_size             |         csum_start            |  4
 * +-------------------------------+-------------------------------+
 * |         csum_offset           |  num_buffers (MRG_RXBUF, rx)  |  8
 * +-------------------------------+-------------------------------+
 * then the Ethernet frame (destination MAC first), without FCS
 *
 * config space
 * +---------------------------------------------------------------+
 * |  mac[0..5] (MAC)                              | status (le16) |  0, 6
 * +-------------------------------+-------------------------------+
 * |  max_virtqueue_pairs (le16)   |  mtu (le16, MTU)              |  8, 10
 * +-------------------------------+-------------------------------+
 * </pre>
 *
 * A received frame that spans buffers (MRG_RXBUF) has the header only in its first buffer, and
 * {@code num_buffers} says how many used buffers the frame occupies.
 */
public final class VirtioNet {
    public static final int F_CSUM = 0;
    public static final int F_GUEST_CSUM = 1;
    public static final int F_MTU = 3;
    /** The driver accepts TCPv4 super-frames (up to 64 KiB, gso_type TCPV4); needs GUEST_CSUM. */
    public static final int F_GUEST_TSO4 = 7;
    public static final int F_MAC = 5;
    public static final int F_MRG_RXBUF = 15;
    public static final int F_STATUS = 16;

    public static final int S_LINK_UP = 1;
    public static final int S_ANNOUNCE = 2;

    public static final int RX_QUEUE = 0;
    public static final int TX_QUEUE = 1;

    public static final int HEADER_LENGTH = 12;
    public static final int HDR_FLAGS_OFFSET = 0;
    public static final int HDR_GSO_TYPE_OFFSET = 1;
    public static final int HDR_HDR_LEN_OFFSET = 2;
    public static final int HDR_GSO_SIZE_OFFSET = 4;
    public static final int HDR_CSUM_START_OFFSET = 6;
    public static final int HDR_CSUM_OFFSET_OFFSET = 8;
    public static final int HDR_NUM_BUFFERS_OFFSET = 10;
    public static final int GSO_NONE = 0;
    public static final int GSO_TCPV4 = 1;
    /** Header flag: the checksum from csum_start to the end is not computed yet; store it at csum_start + csum_offset. */
    public static final int FLAG_NEEDS_CSUM = 1;
    /** Header flag: the host already checked the checksums. */
    public static final int FLAG_DATA_VALID = 2;

    public static final int CONFIG_MAC = 0;
    public static final int CONFIG_STATUS = 6;
    public static final int CONFIG_MAX_VIRTQUEUE_PAIRS = 8;
    public static final int CONFIG_MTU = 10;
    public static final int CONFIG_SIZE = 12;

    /** Ethernet header plus the default 1500-byte MTU: the largest frame without MTU negotiation. */
    public static final int ETHERNET_HEADER = 14;
    public static final int DEFAULT_MTU = 1500;

    static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong BE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private VirtioNet() {
    }

    /** Write a header for a frame without offloads (flags 0, GSO_NONE) and {@code numBuffers}. */
    public static void putHeader(final MemorySegment buffer, final long offset, final int numBuffers) {
        buffer.set(ValueLayout.JAVA_BYTE, offset + HDR_FLAGS_OFFSET, (byte)0);
        buffer.set(ValueLayout.JAVA_BYTE, offset + HDR_GSO_TYPE_OFFSET, (byte)GSO_NONE);
        buffer.set(LE16, offset + HDR_HDR_LEN_OFFSET, (short)0);
        buffer.set(LE16, offset + HDR_GSO_SIZE_OFFSET, (short)0);
        buffer.set(LE16, offset + HDR_CSUM_START_OFFSET, (short)0);
        buffer.set(LE16, offset + HDR_CSUM_OFFSET_OFFSET, (short)0);
        buffer.set(LE16, offset + HDR_NUM_BUFFERS_OFFSET, (short)numBuffers);
    }

    /**
     * Write a receive header carrying the host's offload fields (flags, gso_type, hdr_len, gso_size,
     * csum_start, csum_offset: the first 10 bytes at {@code src[srcOffset]}, as a TAP with
     * IFF_VNET_HDR reads them) and {@code numBuffers}.
     */
    public static void putHeader(final MemorySegment buffer, final long offset, final MemorySegment src,
        final long srcOffset, final int numBuffers) {
        MemorySegment.copy(src, srcOffset, buffer, offset, HDR_NUM_BUFFERS_OFFSET);
        buffer.set(LE16, offset + HDR_NUM_BUFFERS_OFFSET, (short)numBuffers);
    }

    public static int csumStart(final MemorySegment buffer, final long offset) {
        return buffer.get(LE16, offset + HDR_CSUM_START_OFFSET) & 0xffff;
    }

    public static int csumOffset(final MemorySegment buffer, final long offset) {
        return buffer.get(LE16, offset + HDR_CSUM_OFFSET_OFFSET) & 0xffff;
    }

    /**
     * Complete a partial checksum (header flag NEEDS_CSUM, as the host leaves a TCP segment whose
     * checksum it offloaded): the Internet checksum (RFC 1071) of {@code frame[csumStart .. length)},
     * whose checksum field already holds the pseudo-header sum, stored big-endian at
     * {@code csumStart + csumOffset}. Sums 8 bytes at a time (big-endian longs, end-around carry).
     *
     * @return false when the offsets do not fit the frame (nothing written).
     */
    public static boolean completeChecksum(final MemorySegment segment, final long frame, final int length,
        final int csumStart, final int csumOffset) {
        if (!checksumFits(length, csumStart, csumOffset)) {
            return false;
        }
        long sum = 0;
        long at = frame + csumStart;
        final long end = frame + length;
        while (at + 8 <= end) {
            final long w = segment.get(BE64, at);
            final long s = sum + w;
            sum = s + (Long.compareUnsigned(s, sum) < 0 ? 1 : 0);
            at += 8;
        }
        // fold the 64-bit sum to 16 bits
        sum = (sum >>> 32) + (sum & 0xffff_ffffL);
        sum = (sum >>> 32) + (sum & 0xffff_ffffL);
        while (at + 2 <= end) {
            sum += segment.get(BE16, at) & 0xffff;
            at += 2;
        }
        if (at < end) {
            sum += (segment.get(ValueLayout.JAVA_BYTE, at) & 0xff) << 8;
        }
        while ((sum >>> 16) != 0) {
            sum = (sum >>> 16) + (sum & 0xffff);
        }
        segment.set(BE16, frame + csumStart + csumOffset, (short)~sum);
        return true;
    }

    /** True when a NEEDS_CSUM header's checksum field ({@code csumStart + csumOffset}, 2 bytes) lies in the frame. */
    public static boolean checksumFits(final int length, final int csumStart, final int csumOffset) {
        return csumStart >= 0 && csumOffset >= 0 && (long)csumStart + csumOffset + 2 <= length;
    }

    public static int flags(final MemorySegment buffer, final long offset) {
        return buffer.get(ValueLayout.JAVA_BYTE, offset + HDR_FLAGS_OFFSET) & 0xff;
    }

    public static int gsoType(final MemorySegment buffer, final long offset) {
        return buffer.get(ValueLayout.JAVA_BYTE, offset + HDR_GSO_TYPE_OFFSET) & 0xff;
    }

    public static int numBuffers(final MemorySegment buffer, final long offset) {
        return buffer.get(LE16, offset + HDR_NUM_BUFFERS_OFFSET) & 0xffff;
    }

    public static String featureName(final int bit) {
        return switch (bit) {
            case F_CSUM -> "CSUM";
            case F_GUEST_CSUM -> "GUEST_CSUM";
            case F_MTU -> "MTU";
            case F_GUEST_TSO4 -> "GUEST_TSO4";
            case F_MAC -> "MAC";
            case F_MRG_RXBUF -> "MRG_RXBUF";
            case F_STATUS -> "STATUS";
            default -> null;
        };
    }

    /** "52:54:00:12:34:56" from 6 bytes. */
    public static String formatMac(final byte[] mac) {
        final StringBuilder b = new StringBuilder(17);
        for (int i = 0; i < 6; i++) {
            if (i > 0) {
                b.append(':');
            }
            b.append(String.format("%02x", mac[i] & 0xff));
        }
        return b.toString();
    }

    /** Parse "52:54:00:12:34:56". */
    public static byte[] parseMac(final String text) {
        final String[] parts = text.split(":");
        if (parts.length != 6) {
            throw new IllegalArgumentException("not a MAC address: " + text);
        }
        final byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) {
            mac[i] = (byte)Integer.parseInt(parts[i], 16);
        }
        return mac;
    }
}
