package dev.osvj.net.wire;

import org.agrona.MutableDirectBuffer;

/**
 * ARP for IPv4 over Ethernet (RFC 826). Only htype 1, ptype 0x0800, hlen 6, plen 4 is accepted.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      hardware type (1)        |     protocol type (0x0800)    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   hlen (6)    |   plen (4)    |   operation (1 req, 2 reply)  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  sender hardware address (6)  ...  | sender protocol address (4)
 * |  target hardware address (6)  ...  | target protocol address (4)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * </pre>
 */
public final class ArpPacket {
    public static final int HTYPE_OFFSET = 0;
    public static final int PTYPE_OFFSET = 2;
    public static final int HLEN_OFFSET = 4;
    public static final int PLEN_OFFSET = 5;
    public static final int OPER_OFFSET = 6;
    public static final int SHA_OFFSET = 8;
    public static final int SPA_OFFSET = 14;
    public static final int THA_OFFSET = 18;
    public static final int TPA_OFFSET = 24;
    public static final int LENGTH = 28;
    public static final int OP_REQUEST = 1;
    public static final int OP_REPLY = 2;

    private MutableDirectBuffer buffer;
    private int offset;

    /** Checked wrap: false when short or not Ethernet/IPv4 ARP with a known operation. */
    public boolean wrap(final MutableDirectBuffer buffer, final int offset, final int length) {
        this.buffer = buffer;
        this.offset = offset;
        if (length < LENGTH) {
            return false;
        }
        final int op = operation();
        return Bytes.u16(buffer, offset + HTYPE_OFFSET) == 1
            && Bytes.u16(buffer, offset + PTYPE_OFFSET) == EthernetFrame.TYPE_IPV4
            && Bytes.u8(buffer, offset + HLEN_OFFSET) == 6 && Bytes.u8(buffer, offset + PLEN_OFFSET) == 4
            && (op == OP_REQUEST || op == OP_REPLY);
    }

    public int operation() {
        return Bytes.u16(buffer, offset + OPER_OFFSET);
    }

    public long senderMac() {
        return Bytes.u48(buffer, offset + SHA_OFFSET);
    }

    public int senderIp() {
        return Bytes.i32(buffer, offset + SPA_OFFSET);
    }

    public long targetMac() {
        return Bytes.u48(buffer, offset + THA_OFFSET);
    }

    public int targetIp() {
        return Bytes.i32(buffer, offset + TPA_OFFSET);
    }

    /** Write a whole ARP packet at {@code offset}; returns its length ({@link #LENGTH}). */
    public static int emit(final MutableDirectBuffer b, final int offset, final int operation, final long senderMac,
        final int senderIp, final long targetMac, final int targetIp) {
        Bytes.put16(b, offset + HTYPE_OFFSET, 1);
        Bytes.put16(b, offset + PTYPE_OFFSET, EthernetFrame.TYPE_IPV4);
        Bytes.put8(b, offset + HLEN_OFFSET, 6);
        Bytes.put8(b, offset + PLEN_OFFSET, 4);
        Bytes.put16(b, offset + OPER_OFFSET, operation);
        Bytes.put48(b, offset + SHA_OFFSET, senderMac);
        Bytes.put32(b, offset + SPA_OFFSET, senderIp);
        Bytes.put48(b, offset + THA_OFFSET, targetMac);
        Bytes.put32(b, offset + TPA_OFFSET, targetIp);
        return LENGTH;
    }
}
