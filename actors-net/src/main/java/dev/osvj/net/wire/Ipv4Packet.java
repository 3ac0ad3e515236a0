package dev.osvj.net.wire;

import org.agrona.MutableDirectBuffer;

/**
 * IPv4 header (RFC 791). Options are validated (each option's length stays inside the header) and
 * otherwise skipped: the stack never acts on them.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |   DSCP    |ECN|          Total Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Identification        |Flags|      Fragment Offset    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       Source Address                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Destination Address                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Options (IHL > 5)  ...                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 *
 * Flags: bit 1 of the three is DF (0x4000 of the 16-bit word), bit 2 MF (0x2000); the offset is in
 * 8-byte units (mask 0x1FFF).
 */
public final class Ipv4Packet {
    public static final int VER_IHL_OFFSET = 0;
    public static final int TOS_OFFSET = 1;
    public static final int TOTAL_LENGTH_OFFSET = 2;
    public static final int ID_OFFSET = 4;
    public static final int FRAG_OFFSET = 6;
    public static final int TTL_OFFSET = 8;
    public static final int PROTOCOL_OFFSET = 9;
    public static final int CHECKSUM_OFFSET = 10;
    public static final int SRC_OFFSET = 12;
    public static final int DST_OFFSET = 16;
    public static final int HEADER_LENGTH = 20;
    public static final int FLAG_DF = 0x4000;
    public static final int FLAG_MF = 0x2000;
    public static final int OFFSET_MASK = 0x1FFF;
    public static final int PROTO_ICMP = 1;
    public static final int PROTO_TCP = 6;
    public static final int PROTO_UDP = 17;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * Checked wrap of a received packet: version 4, IHL at least 5, header inside the total length,
     * total length inside {@code length} (trailing link padding is allowed and ignored), options
     * well formed. The header checksum is checked separately ({@link #checksumValid()}).
     */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int length) {
        this.buffer = buffer;
        this.offset = offset;
        if (length < HEADER_LENGTH) {
            return false;
        }
        final int vihl = Bytes.u8(buffer, offset);
        final int hl = (vihl & 0xF) * 4;
        final int total = totalLength();
        return (vihl >>> 4) == 4 && hl >= HEADER_LENGTH && hl <= total && total <= length && optionsWellFormed(hl);
    }

    private boolean optionsWellFormed(final int headerLength) {
        int i = offset + HEADER_LENGTH;
        final int end = offset + headerLength;
        while (i < end) {
            final int type = Bytes.u8(buffer, i);
            if (type == 0) {
                return true; // end of option list; the rest is padding
            }
            if (type == 1) {
                i++;
                continue;
            }
            if (i + 1 >= end) {
                return false;
            }
            final int len = Bytes.u8(buffer, i + 1);
            if (len < 2 || i + len > end) {
                return false;
            }
            i += len;
        }
        return true;
    }

    public boolean checksumValid() {
        return Checksum.verify(Checksum.sum(buffer, offset, headerLength()));
    }

    public int headerLength() {
        return (Bytes.u8(buffer, offset) & 0xF) * 4;
    }

    public int tos() {
        return Bytes.u8(buffer, offset + TOS_OFFSET);
    }

    public int totalLength() {
        return Bytes.u16(buffer, offset + TOTAL_LENGTH_OFFSET);
    }

    public int identification() {
        return Bytes.u16(buffer, offset + ID_OFFSET);
    }

    /** The 16-bit flags + fragment offset word. */
    public int fragmentWord() {
        return Bytes.u16(buffer, offset + FRAG_OFFSET);
    }

    public boolean moreFragments() {
        return (fragmentWord() & FLAG_MF) != 0;
    }

    public boolean dontFragment() {
        return (fragmentWord() & FLAG_DF) != 0;
    }

    /** Fragment offset in bytes. */
    public int fragmentOffset() {
        return (fragmentWord() & OFFSET_MASK) * 8;
    }

    /** True when this is a fragment (MF set or a non-zero offset); only DF may be set otherwise. */
    public boolean isFragment() {
        return (fragmentWord() & (FLAG_MF | OFFSET_MASK)) != 0;
    }

    public int ttl() {
        return Bytes.u8(buffer, offset + TTL_OFFSET);
    }

    public int protocol() {
        return Bytes.u8(buffer, offset + PROTOCOL_OFFSET);
    }

    public int checksum() {
        return Bytes.u16(buffer, offset + CHECKSUM_OFFSET);
    }

    public int source() {
        return Bytes.i32(buffer, offset + SRC_OFFSET);
    }

    public int destination() {
        return Bytes.i32(buffer, offset + DST_OFFSET);
    }

    public int payloadOffset() {
        return offset + headerLength();
    }

    public int payloadLength() {
        return totalLength() - headerLength();
    }

    public int offset() {
        return offset;
    }

    /**
     * Write a 20-byte header (no options) with its checksum at {@code offset}.
     *
     * @return the payload offset.
     */
    public static int emit(final MutableDirectBuffer b, final int offset, final int tos, final int payloadLength,
        final int id, final int fragmentWord, final int ttl, final int protocol, final int src, final int dst) {
        Bytes.put8(b, offset + VER_IHL_OFFSET, 0x45);
        Bytes.put8(b, offset + TOS_OFFSET, tos);
        Bytes.put16(b, offset + TOTAL_LENGTH_OFFSET, HEADER_LENGTH + payloadLength);
        Bytes.put16(b, offset + ID_OFFSET, id);
        Bytes.put16(b, offset + FRAG_OFFSET, fragmentWord);
        Bytes.put8(b, offset + TTL_OFFSET, ttl);
        Bytes.put8(b, offset + PROTOCOL_OFFSET, protocol);
        Bytes.put16(b, offset + CHECKSUM_OFFSET, 0);
        Bytes.put32(b, offset + SRC_OFFSET, src);
        Bytes.put32(b, offset + DST_OFFSET, dst);
        Bytes.put16(b, offset + CHECKSUM_OFFSET, Checksum.finish(Checksum.sum(b, offset, HEADER_LENGTH)));
        return offset + HEADER_LENGTH;
    }
}
