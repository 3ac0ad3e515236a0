package dev.osvj.virtio.fs;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The FUSE wire format (Linux {@code include/uapi/linux/fuse.h}, protocol 7.31+) as virtio-fs carries
 * it, and the virtio-fs config space (virtio 1.2, "File System Device", device ID 26). All integers are
 * little-endian. A request is one descriptor chain: the device-readable part is a
 * {@code fuse_in_header} followed by the opcode's arguments, the device-writable part receives a
 * {@code fuse_out_header} followed by the reply (FORGET has no writable part and no reply).
 *
 * <pre>
 * fuse_in_header (40 bytes)                     fuse_out_header (16 bytes)
 * +-------------------+-------------------+     +-------------------+-------------------+
 * | len (u32)       0 | opcode (u32)    4 |     | len (u32)       0 | error (i32, -errno) 4
 * +-------------------+-------------------+     +-------------------+-------------------+
 * | unique (u64)                        8 |     | unique (u64)                        8 |
 * +---------------------------------------+     +---------------------------------------+
 * | nodeid (u64)                       16 |
 * +-------------------+-------------------+     fuse_attr (88 bytes): ino 0, size 8, blocks 16,
 * | uid (u32)      24 | gid (u32)      28 |     atime 24, mtime 32, ctime 40 (u64 seconds),
 * +-------------------+-------------------+     atimensec 48, mtimensec 52, ctimensec 56, mode 60,
 * | pid (u32)      32 | extlen(u16) 36|pad|     nlink 64, uid 68, gid 72, rdev 76, blksize 80,
 * +-------------------+-------------------+     flags 84 (u32)
 *
 * fuse_entry_out (128): nodeid 0, generation 8, entry_valid 16, attr_valid 24 (u64),
 *                       entry_valid_nsec 32, attr_valid_nsec 36 (u32), attr 40
 * fuse_attr_out (104):  attr_valid 0 (u64), attr_valid_nsec 8, dummy 12 (u32), attr 16
 * fuse_read_in (40):    fh 0, offset 8 (u64), size 16, read_flags 20 (u32), lock_owner 24 (u64),
 *                       flags 32, padding 36 (u32)           (READ and READDIR)
 * fuse_open_in (8):     flags 0, open_flags 4 (u32)          fuse_open_out (16): fh 0, open_flags 8
 * fuse_release_in (24): fh 0, flags 8, release_flags 12, lock_owner 16
 * fuse_forget_in (8):   nlookup 0 (u64)
 * fuse_getattr_in (16): getattr_flags 0, dummy 4, fh 8
 * fuse_init_in (16+):   major 0, minor 4, max_readahead 8, flags 12
 * fuse_init_out (64):   major 0, minor 4, max_readahead 8, flags 12, max_background 16 (u16),
 *                       congestion_threshold 18 (u16), max_write 20, time_gran 24, max_pages 28 (u16),
 *                       map_alignment 30 (u16), flags2 32, max_stack_depth 36, unused 40..63
 * fuse_kstatfs (80):    blocks 0, bfree 8, bavail 16, files 24, ffree 32 (u64), bsize 40,
 *                       namelen 44, frsize 48, padding 52, spare 56..79 (u32)
 * fuse_dirent (24 + name, padded to 8): ino 0, off 8 (u64), namelen 16, type 20 (u32), name 24
 *
 * virtio-fs config (40 bytes): tag[36] (UTF-8, NUL-padded) 0, num_request_queues (u32) 36
 * queues: 0 = hiprio (FORGET), 1..num_request_queues = requests
 * </pre>
 */
public final class Fuse {
    public static final int LOOKUP = 1;
    public static final int FORGET = 2;
    public static final int GETATTR = 3;
    public static final int SETATTR = 4;
    public static final int READLINK = 5;
    public static final int SYMLINK = 6;
    public static final int MKNOD = 8;
    public static final int MKDIR = 9;
    public static final int UNLINK = 10;
    public static final int RMDIR = 11;
    public static final int RENAME = 12;
    public static final int LINK = 13;
    public static final int OPEN = 14;
    public static final int READ = 15;
    public static final int WRITE = 16;
    public static final int STATFS = 17;
    public static final int RELEASE = 18;
    public static final int FSYNC = 20;
    public static final int SETXATTR = 21;
    public static final int GETXATTR = 22;
    public static final int LISTXATTR = 23;
    public static final int REMOVEXATTR = 24;
    public static final int FLUSH = 25;
    public static final int INIT = 26;
    public static final int OPENDIR = 27;
    public static final int READDIR = 28;
    public static final int RELEASEDIR = 29;
    public static final int FSYNCDIR = 30;
    public static final int ACCESS = 34;
    public static final int CREATE = 35;
    public static final int DESTROY = 38;
    public static final int BATCH_FORGET = 42;
    public static final int FALLOCATE = 43;
    public static final int RENAME2 = 45;
    public static final int COPY_FILE_RANGE = 47;

    /** Protocol version this implementation speaks. */
    public static final int KERNEL_VERSION = 7;
    public static final int KERNEL_MINOR_VERSION = 31;
    /** The root directory's node id. */
    public static final long ROOT_ID = 1;

    public static final int IN_HEADER = 40;
    public static final int OUT_HEADER = 16;
    public static final int ATTR = 88;
    public static final int ENTRY_OUT = 128;
    public static final int ATTR_OUT = 104;
    public static final int READ_IN = 40;
    public static final int OPEN_IN = 8;
    public static final int OPEN_OUT = 16;
    public static final int RELEASE_IN = 24;
    public static final int FORGET_IN = 8;
    public static final int GETATTR_IN = 16;
    public static final int INIT_IN = 16;
    public static final int INIT_OUT = 64;
    public static final int STATFS_OUT = 80;
    public static final int DIRENT_NAME = 24;

    public static final int CONFIG_TAG = 0;
    public static final int TAG_BYTES = 36;
    public static final int CONFIG_NUM_REQUEST_QUEUES = 36;
    public static final int CONFIG_SIZE = 40;

    /** open(2) access mode mask and the flags that would modify the file. */
    public static final int O_ACCMODE = 3;
    public static final int O_CREAT = 0100;
    public static final int O_TRUNC = 01000;

    static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Fuse() {
    }

    public static int u32(final MemorySegment m, final long at) {
        return m.get(LE32, at);
    }

    public static long u64(final MemorySegment m, final long at) {
        return m.get(LE64, at);
    }

    public static int u16(final MemorySegment m, final long at) {
        return m.get(LE16, at) & 0xffff;
    }

    public static void put16(final MemorySegment m, final long at, final int v) {
        m.set(LE16, at, (short)v);
    }

    public static void put32(final MemorySegment m, final long at, final int v) {
        m.set(LE32, at, v);
    }

    public static void put64(final MemorySegment m, final long at, final long v) {
        m.set(LE64, at, v);
    }

    /** Write a {@code fuse_in_header} at {@code at} (uid, gid, pid 0). */
    public static void putInHeader(final MemorySegment m, final long at, final int len, final int opcode, final long unique,
        final long nodeid) {
        put32(m, at, len);
        put32(m, at + 4, opcode);
        put64(m, at + 8, unique);
        put64(m, at + 16, nodeid);
        put32(m, at + 24, 0);
        put32(m, at + 28, 0);
        put32(m, at + 32, 0);
        put32(m, at + 36, 0);
    }

    /** Write a {@code fuse_out_header} at {@code at}; {@code error} is 0 or a negative errno. */
    public static void putOutHeader(final MemorySegment m, final long at, final int len, final int error, final long unique) {
        put32(m, at, len);
        put32(m, at + 4, error);
        put64(m, at + 8, unique);
    }

    /** Bytes a {@code fuse_dirent} with a name of {@code nameBytes} takes (aligned to 8). */
    public static int direntSize(final int nameBytes) {
        return (DIRENT_NAME + nameBytes + 7) & ~7;
    }

    /** The name of an opcode, for messages and counters. */
    public static String opcodeName(final int opcode) {
        return switch (opcode) {
            case LOOKUP -> "LOOKUP";
            case FORGET -> "FORGET";
            case GETATTR -> "GETATTR";
            case READLINK -> "READLINK";
            case OPEN -> "OPEN";
            case READ -> "READ";
            case STATFS -> "STATFS";
            case RELEASE -> "RELEASE";
            case INIT -> "INIT";
            case OPENDIR -> "OPENDIR";
            case READDIR -> "READDIR";
            case RELEASEDIR -> "RELEASEDIR";
            default -> "OP" + opcode;
        };
    }

    /** True for the opcodes that would change the filesystem (a read-only backend answers EROFS). */
    public static boolean writes(final int opcode) {
        return switch (opcode) {
            case SETATTR, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, WRITE, SETXATTR, REMOVEXATTR, CREATE,
                 FALLOCATE, RENAME2, COPY_FILE_RANGE -> true;
            default -> false;
        };
    }
}
