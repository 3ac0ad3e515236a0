package dev.osvj.vfs;

/**
 * The POSIX constants of the file API, with the values Linux uses on x86-64 (so a program ported from
 * C, and the host oracle in the tests, see the same numbers).
 */
public final class Posix {
    // open(2) flags; the low two bits are the access mode.
    public static final int O_ACCMODE = 0b11;
    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_EXCL = 0200;
    public static final int O_NOCTTY = 0400;
    public static final int O_TRUNC = 01000;
    public static final int O_APPEND = 02000;
    public static final int O_NONBLOCK = 04000;
    public static final int O_DSYNC = 010000;
    public static final int O_DIRECT = 040000;
    public static final int O_LARGEFILE = 0100000;
    public static final int O_DIRECTORY = 0200000;
    public static final int O_NOFOLLOW = 0400000;
    public static final int O_NOATIME = 01000000;
    public static final int O_CLOEXEC = 02000000;
    public static final int O_SYNC = 04010000;
    public static final int O_PATH = 010000000;

    /** The flags F_SETFL may change; the others are fixed at open. */
    public static final int SETFL_MASK = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

    // *at(2) arguments.
    public static final int AT_FDCWD = -100;
    public static final int AT_SYMLINK_NOFOLLOW = 0x100;
    public static final int AT_REMOVEDIR = 0x200;
    public static final int AT_EACCESS = 0x200;
    public static final int AT_SYMLINK_FOLLOW = 0x400;
    public static final int AT_EMPTY_PATH = 0x1000;

    // lseek(2).
    public static final int SEEK_SET = 0;
    public static final int SEEK_CUR = 1;
    public static final int SEEK_END = 2;
    public static final int SEEK_DATA = 3;
    public static final int SEEK_HOLE = 4;

    // fallocate(2).
    public static final int FALLOC_FL_KEEP_SIZE = 0x01;
    public static final int FALLOC_FL_PUNCH_HOLE = 0x02;

    // fcntl(2).
    public static final int F_DUPFD = 0;
    public static final int F_GETFD = 1;
    public static final int F_SETFD = 2;
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    public static final int F_DUPFD_CLOEXEC = 1030;
    public static final int FD_CLOEXEC = 1;

    // st_mode.
    public static final int S_IFMT = 0170000;
    public static final int S_IFSOCK = 0140000;
    public static final int S_IFLNK = 0120000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFBLK = 0060000;
    public static final int S_IFDIR = 0040000;
    public static final int S_IFCHR = 0020000;
    public static final int S_IFIFO = 0010000;
    public static final int S_ISUID = 04000;
    public static final int S_ISGID = 02000;
    public static final int S_ISVTX = 01000;
    /** The permission and set-id bits chmod(2) may change. */
    public static final int S_IALLUGO = 07777;

    // access(2).
    public static final int F_OK = 0;
    public static final int X_OK = 1;
    public static final int W_OK = 2;
    public static final int R_OK = 4;

    // utimensat(2): special tv_nsec values.
    public static final long UTIME_NOW = (1L << 30) - 1;
    public static final long UTIME_OMIT = (1L << 30) - 2;

    // getdents64 d_type.
    public static final int DT_UNKNOWN = 0;
    public static final int DT_FIFO = 1;
    public static final int DT_CHR = 2;
    public static final int DT_DIR = 4;
    public static final int DT_BLK = 6;
    public static final int DT_REG = 8;
    public static final int DT_LNK = 10;
    public static final int DT_SOCK = 12;

    /** Longest file name component in bytes (NAME_MAX). */
    public static final int NAME_MAX = 255;
    /** Longest path in bytes, including the terminating NUL of C (PATH_MAX). */
    public static final int PATH_MAX = 4096;
    /** Symbolic links followed in one resolution before ELOOP (Linux's MAXSYMLINKS). */
    public static final int MAXSYMLINKS = 40;
    /** Most iovecs in one readv/writev (IOV_MAX); more is EINVAL. */
    public static final int IOV_MAX = 1024;

    private Posix() {
    }

    public static boolean isDir(final int mode) {
        return (mode & S_IFMT) == S_IFDIR;
    }

    public static boolean isReg(final int mode) {
        return (mode & S_IFMT) == S_IFREG;
    }

    public static boolean isLnk(final int mode) {
        return (mode & S_IFMT) == S_IFLNK;
    }

    /** {@code drwxr-xr-x}-style rendering of a mode, as ls -l prints it. */
    public static String modeString(final int mode) {
        final char type = switch (mode & S_IFMT) {
            case S_IFDIR -> 'd';
            case S_IFLNK -> 'l';
            case S_IFCHR -> 'c';
            case S_IFBLK -> 'b';
            case S_IFIFO -> 'p';
            case S_IFSOCK -> 's';
            default -> '-';
        };
        final StringBuilder sb = new StringBuilder(10).append(type);
        final String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            sb.append((mode & (0400 >> i)) != 0 ? rwx.charAt(i) : '-');
        }
        return sb.toString();
    }
}
