package dev.osvj.net.dhcp;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

/**
 * A DHCP message (RFC 2131 on BOOTP, RFC 951; options RFC 2132) in its parsed form, with a checked
 * {@link #parse} and an {@link #emit}, smoltcp's {@code Repr} style. The object is mutable and reused
 * (no allocation per message). Only the fields and options a client and a small server need are kept;
 * other options are skipped safely.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+---------------+---------------+
 * |  op (1 req,   |  htype (1)    |  hlen (6)     |  hops         |  0
 * |   2 reply)    |               |               |               |
 * +---------------+---------------+---------------+---------------+
 * |                          xid                                  |  4
 * +-------------------------------+-------------------------------+
 * |           secs                |  flags (bit 15 = BROADCAST)   |  8
 * +-------------------------------+-------------------------------+
 * |  ciaddr (client's current address, when renewing)             | 12
 * |  yiaddr ("your" address: what the server assigns)             | 16
 * |  siaddr (next server)                                         | 20
 * |  giaddr (relay agent)                                         | 24
 * +---------------------------------------------------------------+
 * |  chaddr (16 bytes: the client's MAC, then zeros)              | 28
 * |  sname (64 bytes) | file (128 bytes)                          | 44
 * +---------------------------------------------------------------+
 * |  magic cookie 99.130.83.99                                    |236
 * |  options: code, length, value ... 255 (end)                   |240
 * +---------------------------------------------------------------+
 * </pre>
 */
public final class DhcpMessage {
    public static final int OP_REQUEST = 1;
    public static final int OP_REPLY = 2;
    public static final int XID_OFFSET = 4;
    public static final int SECS_OFFSET = 8;
    public static final int FLAGS_OFFSET = 10;
    public static final int CIADDR_OFFSET = 12;
    public static final int YIADDR_OFFSET = 16;
    public static final int SIADDR_OFFSET = 20;
    public static final int GIADDR_OFFSET = 24;
    public static final int CHADDR_OFFSET = 28;
    public static final int COOKIE_OFFSET = 236;
    public static final int OPTIONS_OFFSET = 240;
    public static final int MAGIC_COOKIE = 0x63825363;
    /** Flags bit: the client cannot receive unicast before it is configured; answer by broadcast. */
    public static final int FLAG_BROADCAST = 0x8000;
    /** The BOOTP minimum message (RFC 951: 300 bytes); we pad emitted messages to it. */
    public static final int MIN_LENGTH = 300;
    public static final int CLIENT_PORT = 68;
    public static final int SERVER_PORT = 67;

    // message types (option 53)
    public static final int DISCOVER = 1;
    public static final int OFFER = 2;
    public static final int REQUEST = 3;
    public static final int DECLINE = 4;
    public static final int ACK = 5;
    public static final int NAK = 6;
    public static final int RELEASE = 7;

    // option codes (RFC 2132)
    static final int OPT_PAD = 0;
    static final int OPT_SUBNET_MASK = 1;
    static final int OPT_ROUTER = 3;
    static final int OPT_DNS = 6;
    static final int OPT_REQUESTED_IP = 50;
    static final int OPT_LEASE_TIME = 51;
    static final int OPT_MESSAGE_TYPE = 53;
    static final int OPT_SERVER_ID = 54;
    static final int OPT_PARAMETER_LIST = 55;
    static final int OPT_RENEWAL_TIME = 58;
    static final int OPT_REBINDING_TIME = 59;
    static final int OPT_CLIENT_ID = 61;
    static final int OPT_END = 255;

    public int op;
    public int xid;
    public int secs;
    public int flags;
    public int ciaddr;
    public int yiaddr;
    public int siaddr;
    public long chaddr;
    /** Option 53, 0 when absent (a plain BOOTP message). */
    public int messageType;
    /** Options; 0 (or -1 for times) when absent. Times are seconds, unsigned 32-bit values. */
    public int serverId;
    public int requestedIp;
    public int subnetMask;
    public int router;
    public int dns;
    public long leaseSeconds = -1;
    public long renewSeconds = -1;
    public long rebindSeconds = -1;
    /** Ask the server for mask, router and DNS (option 55) when emitting. */
    public boolean parameterRequest;

    public DhcpMessage clear() {
        op = 0;
        xid = 0;
        secs = 0;
        flags = 0;
        ciaddr = 0;
        yiaddr = 0;
        siaddr = 0;
        chaddr = 0;
        messageType = 0;
        serverId = 0;
        requestedIp = 0;
        subnetMask = 0;
        router = 0;
        dns = 0;
        leaseSeconds = -1;
        renewSeconds = -1;
        rebindSeconds = -1;
        parameterRequest = false;
        return this;
    }

    /**
     * Parse {@code b[off .. off + len)}: a BOOTP message over Ethernet (htype 1, hlen 6) with the magic
     * cookie and well-formed options. False (and this object unspecified) for anything else.
     */
    public boolean parse(final DirectBuffer b, final int off, final int len) {
        clear();
        if (len < OPTIONS_OFFSET || off < 0 || off + len > b.capacity()) {
            return false;
        }
        op = b.getByte(off) & 0xFF;
        if (op != OP_REQUEST && op != OP_REPLY || (b.getByte(off + 1) & 0xFF) != 1 || (b.getByte(off + 2) & 0xFF) != 6) {
            return false;
        }
        xid = b.getInt(off + XID_OFFSET, ByteOrder.BIG_ENDIAN);
        secs = b.getShort(off + SECS_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        flags = b.getShort(off + FLAGS_OFFSET, ByteOrder.BIG_ENDIAN) & 0xFFFF;
        ciaddr = b.getInt(off + CIADDR_OFFSET, ByteOrder.BIG_ENDIAN);
        yiaddr = b.getInt(off + YIADDR_OFFSET, ByteOrder.BIG_ENDIAN);
        siaddr = b.getInt(off + SIADDR_OFFSET, ByteOrder.BIG_ENDIAN);
        for (int i = 0; i < 6; i++) {
            chaddr = chaddr << 8 | (b.getByte(off + CHADDR_OFFSET + i) & 0xFF);
        }
        if (b.getInt(off + COOKIE_OFFSET, ByteOrder.BIG_ENDIAN) != MAGIC_COOKIE) {
            return false;
        }
        int i = off + OPTIONS_OFFSET;
        final int end = off + len;
        while (i < end) {
            final int code = b.getByte(i) & 0xFF;
            if (code == OPT_END) {
                return true;
            }
            if (code == OPT_PAD) {
                i++;
                continue;
            }
            if (i + 1 >= end) {
                return false;
            }
            final int n = b.getByte(i + 1) & 0xFF;
            final int v = i + 2;
            if (v + n > end) {
                return false;
            }
            switch (code) {
                case OPT_MESSAGE_TYPE -> messageType = n == 1 ? b.getByte(v) & 0xFF : -1;
                case OPT_SERVER_ID -> serverId = n == 4 ? b.getInt(v, ByteOrder.BIG_ENDIAN) : 0;
                case OPT_REQUESTED_IP -> requestedIp = n == 4 ? b.getInt(v, ByteOrder.BIG_ENDIAN) : 0;
                case OPT_SUBNET_MASK -> subnetMask = n == 4 ? b.getInt(v, ByteOrder.BIG_ENDIAN) : 0;
                case OPT_ROUTER -> router = n >= 4 ? b.getInt(v, ByteOrder.BIG_ENDIAN) : 0;
                case OPT_DNS -> dns = n >= 4 ? b.getInt(v, ByteOrder.BIG_ENDIAN) : 0;
                case OPT_LEASE_TIME -> leaseSeconds = n == 4 ? b.getInt(v, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL : -1;
                case OPT_RENEWAL_TIME -> renewSeconds = n == 4 ? b.getInt(v, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL : -1;
                case OPT_REBINDING_TIME -> rebindSeconds = n == 4 ? b.getInt(v, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL : -1;
                default -> { } // skipped
            }
            i = v + n;
        }
        return false; // no end option
    }

    /**
     * Emit into {@code b} at {@code off}: the fixed part, the magic cookie, the options that are set
     * (message type first), the end option, zero padding up to {@link #MIN_LENGTH}. {@code b} must have
     * room for 548 bytes (the largest message we emit is far smaller).
     *
     * @return the message length.
     */
    public int emit(final MutableDirectBuffer b, final int off) {
        b.setMemory(off, OPTIONS_OFFSET, (byte)0);
        b.putByte(off, (byte)op);
        b.putByte(off + 1, (byte)1);
        b.putByte(off + 2, (byte)6);
        b.putInt(off + XID_OFFSET, xid, ByteOrder.BIG_ENDIAN);
        b.putShort(off + SECS_OFFSET, (short)secs, ByteOrder.BIG_ENDIAN);
        b.putShort(off + FLAGS_OFFSET, (short)flags, ByteOrder.BIG_ENDIAN);
        b.putInt(off + CIADDR_OFFSET, ciaddr, ByteOrder.BIG_ENDIAN);
        b.putInt(off + YIADDR_OFFSET, yiaddr, ByteOrder.BIG_ENDIAN);
        b.putInt(off + SIADDR_OFFSET, siaddr, ByteOrder.BIG_ENDIAN);
        for (int i = 0; i < 6; i++) {
            b.putByte(off + CHADDR_OFFSET + i, (byte)(chaddr >>> 8 * (5 - i)));
        }
        b.putInt(off + COOKIE_OFFSET, MAGIC_COOKIE, ByteOrder.BIG_ENDIAN);
        int i = off + OPTIONS_OFFSET;
        if (messageType != 0) {
            i = option1(b, i, OPT_MESSAGE_TYPE, messageType);
        }
        if (op == OP_REQUEST) {
            // client identifier: hardware type 1 + MAC (RFC 2132 §9.14), so servers key leases on it
            b.putByte(i, (byte)OPT_CLIENT_ID);
            b.putByte(i + 1, (byte)7);
            b.putByte(i + 2, (byte)1);
            for (int k = 0; k < 6; k++) {
                b.putByte(i + 3 + k, (byte)(chaddr >>> 8 * (5 - k)));
            }
            i += 9;
        }
        i = option4(b, i, OPT_REQUESTED_IP, requestedIp);
        i = option4(b, i, OPT_SERVER_ID, serverId);
        if (leaseSeconds >= 0) {
            i = option4Always(b, i, OPT_LEASE_TIME, (int)leaseSeconds);
        }
        if (renewSeconds >= 0) {
            i = option4Always(b, i, OPT_RENEWAL_TIME, (int)renewSeconds);
        }
        if (rebindSeconds >= 0) {
            i = option4Always(b, i, OPT_REBINDING_TIME, (int)rebindSeconds);
        }
        i = option4(b, i, OPT_SUBNET_MASK, subnetMask);
        i = option4(b, i, OPT_ROUTER, router);
        i = option4(b, i, OPT_DNS, dns);
        if (parameterRequest) {
            b.putByte(i, (byte)OPT_PARAMETER_LIST);
            b.putByte(i + 1, (byte)3);
            b.putByte(i + 2, (byte)OPT_SUBNET_MASK);
            b.putByte(i + 3, (byte)OPT_ROUTER);
            b.putByte(i + 4, (byte)OPT_DNS);
            i += 5;
        }
        b.putByte(i++, (byte)OPT_END);
        final int length = Math.max(i - off, MIN_LENGTH);
        if (i - off < length) {
            b.setMemory(i, length - (i - off), (byte)0);
        }
        return length;
    }

    private static int option1(final MutableDirectBuffer b, final int i, final int code, final int value) {
        b.putByte(i, (byte)code);
        b.putByte(i + 1, (byte)1);
        b.putByte(i + 2, (byte)value);
        return i + 3;
    }

    private static int option4(final MutableDirectBuffer b, final int i, final int code, final int value) {
        return value == 0 ? i : option4Always(b, i, code, value);
    }

    private static int option4Always(final MutableDirectBuffer b, final int i, final int code, final int value) {
        b.putByte(i, (byte)code);
        b.putByte(i + 1, (byte)4);
        b.putInt(i + 2, value, ByteOrder.BIG_ENDIAN);
        return i + 6;
    }

    /** "OFFER", for logs. */
    public static String typeName(final int type) {
        return switch (type) {
            case DISCOVER -> "DISCOVER";
            case OFFER -> "OFFER";
            case REQUEST -> "REQUEST";
            case DECLINE -> "DECLINE";
            case ACK -> "ACK";
            case NAK -> "NAK";
            case RELEASE -> "RELEASE";
            default -> "type " + type;
        };
    }
}
