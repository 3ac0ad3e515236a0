package dev.osvj.net.wire;

import org.agrona.MutableDirectBuffer;

/**
 * UDP header (RFC 768).
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            Length             |           Checksum            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 *
 * A checksum of 0 means "not computed"; a computed 0 is sent as 0xFFFF.
 */
public final class UdpDatagram {
    public static final int SRC_PORT_OFFSET = 0;
    public static final int DST_PORT_OFFSET = 2;
    public static final int LENGTH_OFFSET = 4;
    public static final int CHECKSUM_OFFSET = 6;
    public static final int HEADER_LENGTH = 8;

    private MutableDirectBuffer buffer;
    private int offset;

    /** Checked wrap: the length field is at least 8 and at most {@code length} (the IP payload). */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int length) {
        this.buffer = buffer;
        this.offset = offset;
        if (length < HEADER_LENGTH) {
            return false;
        }
        final int l = datagramLength();
        return l >= HEADER_LENGTH && l <= length;
    }

    /** Checksum against the pseudo header; true when the checksum is absent (0). */
    public boolean checksumValid(final int src, final int dst) {
        if (checksum() == 0) {
            return true;
        }
        final int len = datagramLength();
        return Checksum.verify(Checksum.pseudoHeader(src, dst, Ipv4Packet.PROTO_UDP, len)
            + Checksum.sum(buffer, offset, len));
    }

    public int sourcePort() {
        return Bytes.u16(buffer, offset + SRC_PORT_OFFSET);
    }

    public int destinationPort() {
        return Bytes.u16(buffer, offset + DST_PORT_OFFSET);
    }

    public int datagramLength() {
        return Bytes.u16(buffer, offset + LENGTH_OFFSET);
    }

    public int checksum() {
        return Bytes.u16(buffer, offset + CHECKSUM_OFFSET);
    }

    public int payloadOffset() {
        return offset + HEADER_LENGTH;
    }

    public int payloadLength() {
        return datagramLength() - HEADER_LENGTH;
    }

    /**
     * Write the header for {@code payloadLength} bytes already in place after it and fill in the
     * checksum. Returns the datagram length.
     */
    public static int emit(final MutableDirectBuffer b, final int offset, final int srcPort, final int dstPort,
        final int payloadLength, final int srcIp, final int dstIp) {
        final int len = HEADER_LENGTH + payloadLength;
        Bytes.put16(b, offset + SRC_PORT_OFFSET, srcPort);
        Bytes.put16(b, offset + DST_PORT_OFFSET, dstPort);
        Bytes.put16(b, offset + LENGTH_OFFSET, len);
        Bytes.put16(b, offset + CHECKSUM_OFFSET, 0);
        final int c = Checksum.finish(Checksum.pseudoHeader(srcIp, dstIp, Ipv4Packet.PROTO_UDP, len)
            + Checksum.sum(b, offset, len));
        Bytes.put16(b, offset + CHECKSUM_OFFSET, c == 0 ? 0xFFFF : c);
        return len;
    }
}
