package dev.osvj.net.wire;

import org.agrona.MutableDirectBuffer;

/**
 * TCP header (RFC 9293 §3.1).
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Sequence Number                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Acknowledgment Number                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 * |       |       |R|E|G|K|H|T|N|N|                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Checksum            |         Urgent Pointer        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Options (data offset > 5)                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 */
public final class TcpSegment {
    public static final int SRC_PORT_OFFSET = 0;
    public static final int DST_PORT_OFFSET = 2;
    public static final int SEQ_OFFSET = 4;
    public static final int ACK_OFFSET = 8;
    public static final int DATA_OFFSET_OFFSET = 12;
    public static final int FLAGS_OFFSET = 13;
    public static final int WINDOW_OFFSET = 14;
    public static final int CHECKSUM_OFFSET = 16;
    public static final int URGENT_OFFSET = 18;
    public static final int HEADER_LENGTH = 20;
    public static final int MAX_HEADER_LENGTH = 60;

    public static final int FIN = 0x01;
    public static final int SYN = 0x02;
    public static final int RST = 0x04;
    public static final int PSH = 0x08;
    public static final int ACK = 0x10;
    public static final int URG = 0x20;
    public static final int ECE = 0x40;
    public static final int CWR = 0x80;

    private MutableDirectBuffer buffer;
    private int offset;
    private int length;

    /** Checked wrap of {@code length} bytes (the IP payload): data offset 5..15 and inside the segment. */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int length) {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        if (length < HEADER_LENGTH) {
            return false;
        }
        final int hl = headerLength();
        return hl >= HEADER_LENGTH && hl <= length;
    }

    public boolean checksumValid(final int srcIp, final int dstIp) {
        return Checksum.verify(Checksum.pseudoHeader(srcIp, dstIp, Ipv4Packet.PROTO_TCP, length)
            + Checksum.sum(buffer, offset, length));
    }

    public MutableDirectBuffer buffer() {
        return buffer;
    }

    public int sourcePort() {
        return Bytes.u16(buffer, offset + SRC_PORT_OFFSET);
    }

    public int destinationPort() {
        return Bytes.u16(buffer, offset + DST_PORT_OFFSET);
    }

    public int sequence() {
        return Bytes.i32(buffer, offset + SEQ_OFFSET);
    }

    public int acknowledgment() {
        return Bytes.i32(buffer, offset + ACK_OFFSET);
    }

    public int headerLength() {
        return (Bytes.u8(buffer, offset + DATA_OFFSET_OFFSET) >>> 4) * 4;
    }

    public int flags() {
        return Bytes.u8(buffer, offset + FLAGS_OFFSET);
    }

    public int window() {
        return Bytes.u16(buffer, offset + WINDOW_OFFSET);
    }

    public int checksum() {
        return Bytes.u16(buffer, offset + CHECKSUM_OFFSET);
    }

    public int urgentPointer() {
        return Bytes.u16(buffer, offset + URGENT_OFFSET);
    }

    public int optionsOffset() {
        return offset + HEADER_LENGTH;
    }

    public int optionsLength() {
        return headerLength() - HEADER_LENGTH;
    }

    public int payloadOffset() {
        return offset + headerLength();
    }

    public int payloadLength() {
        return length - headerLength();
    }

    /** Text form of a flag set in tcpdump's letters, e.g. "S." for SYN+ACK (diagnostics only). */
    public static String flagsText(final int flags) {
        final StringBuilder sb = new StringBuilder();
        if ((flags & SYN) != 0) {
            sb.append('S');
        }
        if ((flags & FIN) != 0) {
            sb.append('F');
        }
        if ((flags & RST) != 0) {
            sb.append('R');
        }
        if ((flags & PSH) != 0) {
            sb.append('P');
        }
        if ((flags & ACK) != 0) {
            sb.append('.');
        }
        return sb.toString();
    }
}
