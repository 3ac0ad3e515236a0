package dev.osvj.net.wire;

import org.agrona.MutableDirectBuffer;

/**
 * ICMPv4 (RFC 792): echo request/reply and destination unreachable.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Type      |     Code      |          Checksum             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  echo: Identifier             |  echo: Sequence Number        |
 * |  unreachable: unused (0)      |  next-hop MTU (code 4)        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  data: echo payload, or the original IP header + 8 bytes      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 */
public final class IcmpPacket {
    public static final int TYPE_OFFSET = 0;
    public static final int CODE_OFFSET = 1;
    public static final int CHECKSUM_OFFSET = 2;
    public static final int ID_OFFSET = 4;
    public static final int SEQ_OFFSET = 6;
    public static final int HEADER_LENGTH = 8;
    public static final int TYPE_ECHO_REPLY = 0;
    public static final int TYPE_DEST_UNREACHABLE = 3;
    public static final int TYPE_ECHO_REQUEST = 8;
    public static final int TYPE_TIME_EXCEEDED = 11;
    public static final int CODE_PORT_UNREACHABLE = 3;
    public static final int CODE_PROTOCOL_UNREACHABLE = 2;
    public static final int CODE_FRAG_NEEDED = 4;

    private MutableDirectBuffer buffer;
    private int offset;
    private int length;

    /** Checked wrap: false when shorter than 8 bytes. Checksum checked by {@link #checksumValid()}. */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int length) {
        this.buffer = buffer;
        this.offset = offset;
        this.length = length;
        return length >= HEADER_LENGTH;
    }

    public boolean checksumValid() {
        return Checksum.verify(Checksum.sum(buffer, offset, length));
    }

    public int type() {
        return Bytes.u8(buffer, offset + TYPE_OFFSET);
    }

    public int code() {
        return Bytes.u8(buffer, offset + CODE_OFFSET);
    }

    public int checksum() {
        return Bytes.u16(buffer, offset + CHECKSUM_OFFSET);
    }

    public int identifier() {
        return Bytes.u16(buffer, offset + ID_OFFSET);
    }

    public int sequence() {
        return Bytes.u16(buffer, offset + SEQ_OFFSET);
    }

    public int dataOffset() {
        return offset + HEADER_LENGTH;
    }

    public int dataLength() {
        return length - HEADER_LENGTH;
    }

    /**
     * Write the 8-byte header at {@code offset} for a message whose {@code dataLength} data bytes are
     * already in place after it, and fill in the checksum over header and data.
     *
     * @param restOfHeader bytes 4..7 (identifier and sequence for echo, 0 or the MTU for unreachable).
     * @return the message length.
     */
    public static int emit(final MutableDirectBuffer b, final int offset, final int type, final int code,
        final int restOfHeader, final int dataLength) {
        Bytes.put8(b, offset + TYPE_OFFSET, type);
        Bytes.put8(b, offset + CODE_OFFSET, code);
        Bytes.put16(b, offset + CHECKSUM_OFFSET, 0);
        Bytes.put32(b, offset + ID_OFFSET, restOfHeader);
        final int len = HEADER_LENGTH + dataLength;
        Bytes.put16(b, offset + CHECKSUM_OFFSET, Checksum.finish(Checksum.sum(b, offset, len)));
        return len;
    }
}
