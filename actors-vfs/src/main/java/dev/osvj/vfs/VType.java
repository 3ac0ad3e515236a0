package dev.osvj.vfs;

/** Vnode types, as OSv's (and BSD's) {@code enum vtype}, with their {@code S_IFMT} and {@code DT_*} codes. */
public enum VType {
    VNON(0, Posix.DT_UNKNOWN),
    VREG(Posix.S_IFREG, Posix.DT_REG),
    VDIR(Posix.S_IFDIR, Posix.DT_DIR),
    VBLK(Posix.S_IFBLK, Posix.DT_BLK),
    VCHR(Posix.S_IFCHR, Posix.DT_CHR),
    VLNK(Posix.S_IFLNK, Posix.DT_LNK),
    VSOCK(Posix.S_IFSOCK, Posix.DT_SOCK),
    VFIFO(Posix.S_IFIFO, Posix.DT_FIFO),
    VBAD(0, Posix.DT_UNKNOWN);

    private final int ifmt;
    private final int dtype;

    VType(final int ifmt, final int dtype) {
        this.ifmt = ifmt;
        this.dtype = dtype;
    }

    /** The {@code S_IFMT} bits of this type. */
    public int ifmt() {
        return ifmt;
    }

    /** The getdents {@code d_type} of this type. */
    public int dtype() {
        return dtype;
    }

    /**
     * True when the VFS serialises I/O on vnodes of this type with the per-vnode read/write lock.
     * Devices, pipes and sockets do their own synchronisation, because their I/O blocks (a pipe reader
     * waiting for a writer must not hold a lock the writer needs).
     */
    public boolean vfsLocked() {
        return this == VREG || this == VDIR || this == VLNK;
    }
}
