package dev.osvj.virtio.blk;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * virtio-blk wire formats (virtio 1.x, "Block Device"): feature bits, the config space, and the
 * request header, status and types. A request is one descriptor chain:
 *
 * <pre>
 * request header (device-readable, 16 bytes)
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |                        type (le32)                            |  0
 * +---------------------------------------------------------------+
 * |                        reserved (le32)                        |  4
 * +---------------------------------------------------------------+
 * |                        sector (le64, 512-byte units)          |  8
 * |                                                               |
 * +---------------------------------------------------------------+
 * data: device-readable for OUT, device-writable for IN and GET_ID (20 bytes)
 * status (device-writable, 1 byte, last): OK 0, IOERR 1, UNSUPP 2
 *
 * config space
 * +---------------------------------------------------------------+
 * |                  capacity (le64, 512-byte sectors)            |  0
 * +---------------------------------------------------------------+
 * |                  size_max (le32, SIZE_MAX)                    |  8
 * |                  seg_max (le32, SEG_MAX)                      | 12
 * +-------------------------------+---------------+---------------+
 * | geometry.cylinders (le16)     | heads (u8)    | sectors (u8)  | 16
 * +-------------------------------+---------------+---------------+
 * |                  blk_size (le32, BLK_SIZE)                    | 20
 * +---------------------------------------------------------------+
 * </pre>
 */
public final class VirtioBlk {
    public static final int F_SIZE_MAX = 1;
    public static final int F_SEG_MAX = 2;
    public static final int F_GEOMETRY = 4;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;

    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;

    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;

    public static final int HEADER_LENGTH = 16;
    public static final int HEADER_TYPE_OFFSET = 0;
    public static final int HEADER_RESERVED_OFFSET = 4;
    public static final int HEADER_SECTOR_OFFSET = 8;
    /** GET_ID answers with this many bytes (NUL-padded, not NUL-terminated when 20 long). */
    public static final int ID_BYTES = 20;

    public static final int CONFIG_CAPACITY = 0;
    public static final int CONFIG_SIZE_MAX = 8;
    public static final int CONFIG_SEG_MAX = 12;
    public static final int CONFIG_GEOMETRY = 16;
    public static final int CONFIG_BLK_SIZE = 20;
    public static final int CONFIG_SIZE = 24;

    static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private VirtioBlk() {
    }

    /** Write a request header at {@code offset}. */
    public static void putHeader(final MemorySegment buffer, final long offset, final int type, final long sector) {
        buffer.set(LE32, offset + HEADER_TYPE_OFFSET, type);
        buffer.set(LE32, offset + HEADER_RESERVED_OFFSET, 0);
        buffer.set(LE64, offset + HEADER_SECTOR_OFFSET, sector);
    }

    public static int headerType(final MemorySegment buffer, final long offset) {
        return buffer.get(LE32, offset + HEADER_TYPE_OFFSET);
    }

    public static long headerSector(final MemorySegment buffer, final long offset) {
        return buffer.get(LE64, offset + HEADER_SECTOR_OFFSET);
    }

    public static String featureName(final int bit) {
        return switch (bit) {
            case F_SIZE_MAX -> "SIZE_MAX";
            case F_SEG_MAX -> "SEG_MAX";
            case F_GEOMETRY -> "GEOMETRY";
            case F_RO -> "RO";
            case F_BLK_SIZE -> "BLK_SIZE";
            case F_FLUSH -> "FLUSH";
            default -> null;
        };
    }
}
