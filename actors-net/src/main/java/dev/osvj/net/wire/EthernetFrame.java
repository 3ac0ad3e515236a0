package dev.osvj.net.wire;

import org.agrona.MutableDirectBuffer;

/**
 * Ethernet II frame header (no 802.1Q tag; frames with a TPID of 0x8100 are reported as that
 * ethertype and dropped by the stack as unsupported).
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 destination MAC (6 bytes) ...                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   ... destination MAC         |   source MAC (6 bytes) ...    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    ... source MAC                             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          ethertype            |  payload ...
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 */
public final class EthernetFrame {
    public static final int DST_OFFSET = 0;
    public static final int SRC_OFFSET = 6;
    public static final int TYPE_OFFSET = 12;
    public static final int HEADER_LENGTH = 14;
    public static final int TYPE_IPV4 = 0x0800;
    public static final int TYPE_ARP = 0x0806;
    public static final int TYPE_VLAN = 0x8100;

    private MutableDirectBuffer buffer;
    private int offset;
    private int length;

    /** Checked wrap: false when shorter than the header. */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int length) {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        return length >= HEADER_LENGTH;
    }

    public long destination() {
        return Bytes.u48(buffer, offset + DST_OFFSET);
    }

    public long source() {
        return Bytes.u48(buffer, offset + SRC_OFFSET);
    }

    public int etherType() {
        return Bytes.u16(buffer, offset + TYPE_OFFSET);
    }

    public int payloadOffset() {
        return offset + HEADER_LENGTH;
    }

    public int payloadLength() {
        return length - HEADER_LENGTH;
    }

    /** Write the whole header at {@code offset}; returns the payload offset. */
    public static int emit(final MutableDirectBuffer buffer, final int offset, final long dst, final long src,
        final int etherType) {
        Bytes.put48(buffer, offset + DST_OFFSET, dst);
        Bytes.put48(buffer, offset + SRC_OFFSET, src);
        Bytes.put16(buffer, offset + TYPE_OFFSET, etherType);
        return offset + HEADER_LENGTH;
    }
}
