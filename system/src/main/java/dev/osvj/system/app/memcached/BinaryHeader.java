package dev.osvj.system.app.memcached;

/**
 * The 24-byte header of memcached's binary protocol ({@code protocol_binary.h}), requests and responses,
 * all fields in network byte order (big-endian):
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+---------------+-------------------------------+
 * | magic 80 / 81 |    opcode     |          key length           | 0
 * +---------------+---------------+-------------------------------+
 * | extras length |   data type   | vbucket (req) / status (resp) | 4
 * +---------------+---------------+-------------------------------+
 * |      total body length (extras + key + value), unsigned        | 8
 * +---------------------------------------------------------------+
 * |      opaque (copied from the request into its response)        | 12
 * +---------------------------------------------------------------+
 * |      CAS (64 bits)                                              | 16
 * |                                                               |
 * +---------------------------------------------------------------+
 *   then: extras (extras length bytes), key (key length bytes), value (the rest of the body)
 * </pre>
 *
 * <p>Request extras per command: set/add/replace {@code flags u32, expiration u32} (8 bytes);
 * incr/decr {@code delta u64, initial u64, expiration u32} (20); flush {@code [expiration u32]} (0 or 4);
 * touch/gat {@code expiration u32} (4). Response extras: get/getk/gat/gatk/touch {@code flags u32} (4).
 * Incr/decr answer the new value as an 8-byte body.
 *
 * <p>Static helpers only: reading a request field from a byte array at an offset, and appending a
 * response header to an {@link OutBuffer}.
 */
final class BinaryHeader {
    static final int LENGTH = 24;

    static final int REQUEST_MAGIC = 0x80;
    static final int RESPONSE_MAGIC = 0x81;

    static final int MAGIC = 0;
    static final int OPCODE = 1;
    static final int KEY_LENGTH = 2;
    static final int EXTRAS_LENGTH = 4;
    static final int DATA_TYPE = 5;
    static final int STATUS = 6;
    static final int BODY_LENGTH = 8;
    static final int OPAQUE = 12;
    static final int CAS = 16;

    // Opcodes (memcached 1.6's proto_bin.c handles these; the ...Q forms are "quiet").
    static final int GET = 0x00;
    static final int SET = 0x01;
    static final int ADD = 0x02;
    static final int REPLACE = 0x03;
    static final int DELETE = 0x04;
    static final int INCREMENT = 0x05;
    static final int DECREMENT = 0x06;
    static final int QUIT = 0x07;
    static final int FLUSH = 0x08;
    static final int GETQ = 0x09;
    static final int NOOP = 0x0a;
    static final int VERSION = 0x0b;
    static final int GETK = 0x0c;
    static final int GETKQ = 0x0d;
    static final int APPEND = 0x0e;
    static final int PREPEND = 0x0f;
    static final int STAT = 0x10;
    static final int SETQ = 0x11;
    static final int ADDQ = 0x12;
    static final int REPLACEQ = 0x13;
    static final int DELETEQ = 0x14;
    static final int INCREMENTQ = 0x15;
    static final int DECREMENTQ = 0x16;
    static final int QUITQ = 0x17;
    static final int FLUSHQ = 0x18;
    static final int APPENDQ = 0x19;
    static final int PREPENDQ = 0x1a;
    static final int TOUCH = 0x1c;
    static final int GAT = 0x1d;
    static final int GATQ = 0x1e;
    static final int SASL_LIST_MECHS = 0x20;
    static final int SASL_AUTH = 0x21;
    static final int SASL_STEP = 0x22;
    static final int GATK = 0x23;
    static final int GATKQ = 0x24;

    // Response statuses.
    static final int SUCCESS = 0x0000;
    static final int KEY_ENOENT = 0x0001;
    static final int KEY_EEXISTS = 0x0002;
    static final int E2BIG = 0x0003;
    static final int EINVAL = 0x0004;
    static final int NOT_STORED = 0x0005;
    static final int DELTA_BADVAL = 0x0006;
    static final int UNKNOWN_COMMAND = 0x0081;
    static final int ENOMEM = 0x0082;

    private BinaryHeader() {
    }

    static int u8(final byte[] b, final int at) {
        return b[at] & 0xFF;
    }

    static int u16(final byte[] b, final int at) {
        return (b[at] & 0xFF) << 8 | b[at + 1] & 0xFF;
    }

    /** A 32-bit field as an int (callers widen with {@link Integer#toUnsignedLong} where it is unsigned). */
    static int i32(final byte[] b, final int at) {
        return (b[at] & 0xFF) << 24 | (b[at + 1] & 0xFF) << 16 | (b[at + 2] & 0xFF) << 8 | b[at + 3] & 0xFF;
    }

    static long i64(final byte[] b, final int at) {
        return (long)i32(b, at) << 32 | Integer.toUnsignedLong(i32(b, at + 4));
    }

    /** The status's text in an error response body (memcached's {@code write_bin_error}). */
    static String message(final int status) {
        return switch (status) {
            case ENOMEM -> "Out of memory";
            case UNKNOWN_COMMAND -> "Unknown command";
            case KEY_ENOENT -> "Not found";
            case EINVAL -> "Invalid arguments";
            case KEY_EEXISTS -> "Data exists for key.";
            case E2BIG -> "Too large.";
            case DELTA_BADVAL -> "Non-numeric server-side value for incr or decr";
            case NOT_STORED -> "Not stored.";
            default -> throw new IllegalArgumentException("no message for status " + status);
        };
    }

    /**
     * Append a response header; the caller appends {@code bodyLength} bytes of extras, key and value.
     *
     * @param opaque the request's opaque, echoed unchanged.
     */
    static void putResponse(final OutBuffer out, final int opcode, final int keyLength, final int extrasLength,
        final int status, final int bodyLength, final int opaque, final long cas) {
        out.put((byte)RESPONSE_MAGIC).put((byte)opcode).putShortBE(keyLength).put((byte)extrasLength)
            .put((byte)0).putShortBE(status).putIntBE(bodyLength).putIntBE(opaque).putLongBE(cas);
    }
}
