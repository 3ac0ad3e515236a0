package dev.osvj.vfs;

/**
 * A {@code struct stat}: the caller owns one and the VFS fills it ({@code stat(path, st)}), so a stat
 * call allocates nothing. Times are split like a {@code struct timespec}: seconds since the epoch and
 * nanoseconds 0..999,999,999.
 */
public final class Stat {
    public long dev;
    public long ino;
    /** File type ({@link Posix#S_IFMT} bits) and permission bits. */
    public int mode;
    public long nlink;
    public int uid;
    public int gid;
    public long rdev;
    /** Bytes for files, target length for symlinks. */
    public long size;
    /** Preferred I/O size in bytes. */
    public int blksize;
    /** 512-byte blocks allocated (holes do not count). */
    public long blocks;
    public long atimeSec;
    public long atimeNsec;
    public long mtimeSec;
    public long mtimeNsec;
    public long ctimeSec;
    public long ctimeNsec;

    public boolean isDirectory() {
        return Posix.isDir(mode);
    }

    public boolean isRegular() {
        return Posix.isReg(mode);
    }

    public boolean isSymlink() {
        return Posix.isLnk(mode);
    }

    /** Modification time in nanoseconds since the epoch. */
    public long mtimeNanos() {
        return mtimeSec * 1_000_000_000L + mtimeNsec;
    }

    public long atimeNanos() {
        return atimeSec * 1_000_000_000L + atimeNsec;
    }

    public long ctimeNanos() {
        return ctimeSec * 1_000_000_000L + ctimeNsec;
    }

    @Override
    public String toString() {
        return "Stat{ino=" + ino + ", mode=0" + Integer.toOctalString(mode) + ", nlink=" + nlink + ", size=" + size
            + ", blocks=" + blocks + ", dev=" + dev + "}";
    }
}
