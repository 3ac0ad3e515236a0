package dev.osvj.vfs;

/** A {@code struct statfs}, filled by {@code statfs(path, out)}. Counts are in units of {@link #bsize}. */
public final class StatFs {
    /** Filesystem magic (Linux values where one exists: RAMFS_MAGIC, PROC_SUPER_MAGIC...). */
    public long type;
    public long bsize;
    public long blocks;
    public long bfree;
    public long bavail;
    public long files;
    public long ffree;
    public long fsid;
    public long namelen = Posix.NAME_MAX;
    public long flags;

    @Override
    public String toString() {
        return "StatFs{type=0x" + Long.toHexString(type) + ", bsize=" + bsize + ", blocks=" + blocks + ", bfree="
            + bfree + ", files=" + files + "}";
    }
}
