package dev.osvj.vfs;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A file, directory, symlink, device or pipe in one mounted filesystem (OSv's {@code struct vnode}).
 * A filesystem creates its vnodes and keeps one object per inode for as long as the inode is reachable
 * (so {@code ==} on vnodes is identity of files); the VFS never copies them.
 *
 * <p><b>Locking.</b> Each vnode has its own {@link ReentrantReadWriteLock} ({@link #lock()}), unlike
 * OSv's single {@code v_lock} mutex (its issue #450): the VFS holds the read lock across read, pread,
 * readdir, lookup, getattr and readlink VOPs, so readers of one file run in parallel, and the write
 * lock across write, truncate, fallocate and setattr, and across directory changes (create, remove,
 * rename, link, mkdir, rmdir, symlink, on the directory). Devices, pipes and sockets are not locked
 * by the VFS ({@link VType#vfsLocked()}): their I/O may block. Several vnodes are only ever locked
 * together for rename, in {@link #lockOrder()} order, under the mount's rename lock. File reads and
 * preads take the read side through {@link VnodeLock}'s fast path, which writes no shared word.
 *
 * <p><b>Attributes</b> ({@link #mode()}, {@link #size()}, link count, times) are volatile: written by
 * the filesystem with the vnode's write lock held (or, for a directory's own attributes, its parent
 * directory's), read without a lock by stat.
 *
 * <p><b>VFS-managed fields</b> (package-private): the dentry table of a directory (name to child,
 * lock-free reads that allocate nothing, {@link DentryTable}; entries added under the directory's read lock after a
 * filesystem lookup and removed under its write lock, so a reader never sees a stale name), the parent
 * and name of a directory (directories have exactly one, for {@code ..} and getcwd), the mount
 * covering this vnode, and the count of open files and working directories that pin the mount.
 */
public final class Vnode {
    private final Mount mount;
    private final long ino;
    private final VType type;
    private final VnodeOps ops;
    private final Object data;
    private final VnodeLock lock = new VnodeLock();
    private final long lockOrder;

    private volatile int mode;
    private volatile long size;
    private volatile int nlink;
    private volatile int uid;
    private volatile int gid;
    private volatile long rdev;
    private volatile long atimeNs;
    private volatile long mtimeNs;
    private volatile long ctimeNs;

    /** Directories: name to child vnode in the same filesystem (the dentry cache of this directory). */
    final DentryTable dentries;
    /** Directories: the parent directory in the same filesystem (null for the filesystem's root). */
    volatile Vnode parent;
    /** Directories: this directory's name in {@link #parent}. */
    volatile String name;
    /** The filesystem mounted on this vnode, or null. */
    volatile Mount mountedHere;
    /** Open files of this vnode (all descriptions, not descriptors). */
    private volatile int openCount;
    /** Set once the inactive VOP ran (no links, no opens, no mappings): guarded by the write lock. */
    boolean inactivated;
    /** The frames of file mappings of this vnode; null until the first mmap (set under this object's monitor). */
    volatile MappedPages mapped;

    private static final java.util.concurrent.atomic.AtomicLong LOCK_ORDER = new java.util.concurrent.atomic.AtomicLong();
    private static final java.lang.invoke.VarHandle OPEN_COUNT;

    static {
        try {
            OPEN_COUNT = java.lang.invoke.MethodHandles.lookup().findVarHandle(Vnode.class, "openCount", int.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Open files of this vnode now. */
    int openCount() {
        return openCount;
    }

    /** One more open file description; returns the new count. */
    int openIncrement() {
        return (int)OPEN_COUNT.getAndAdd(this, 1) + 1;
    }

    /** One open file description fewer; returns the new count. */
    int openDecrement() {
        return (int)OPEN_COUNT.getAndAdd(this, -1) - 1;
    }

    /**
     * @param mount the mount this vnode belongs to
     * @param ino   inode number, unique within the mount
     * @param type  vnode type
     * @param mode  permission bits; the type bits are taken from {@code type}
     * @param ops   the filesystem's vnode operations
     * @param data  the filesystem's private node (ramfs node, rofs inode...), may be null
     */
    public Vnode(final Mount mount, final long ino, final VType type, final int mode, final VnodeOps ops, final Object data) {
        this.mount = mount;
        this.ino = ino;
        this.type = type;
        this.ops = ops;
        this.data = data;
        this.mode = type.ifmt() | (mode & Posix.S_IALLUGO);
        this.nlink = type == VType.VDIR ? 2 : 1;
        this.dentries = type == VType.VDIR ? new DentryTable() : null;
        this.lockOrder = LOCK_ORDER.incrementAndGet();
        final long now = mount == null ? 0 : mount.now();
        this.atimeNs = now;
        this.mtimeNs = now;
        this.ctimeNs = now;
    }

    public Mount mount() {
        return mount;
    }

    public long ino() {
        return ino;
    }

    public VType type() {
        return type;
    }

    public VnodeOps ops() {
        return ops;
    }

    /** The filesystem's private node. */
    public Object data() {
        return data;
    }

    public ReentrantReadWriteLock lock() {
        return lock;
    }

    /** The same lock, with its reader fast path ({@link VnodeLock#tryFastRead()}) for the VFS read path. */
    VnodeLock vlock() {
        return lock;
    }

    /** A global order among vnodes for taking several write locks without deadlock. */
    public long lockOrder() {
        return lockOrder;
    }

    public boolean isDir() {
        return type == VType.VDIR;
    }

    /** Type and permission bits ({@code st_mode}). */
    public int mode() {
        return mode;
    }

    /** Set the permission bits (the type bits never change). */
    public void setPermissions(final int permissions) {
        this.mode = type.ifmt() | (permissions & Posix.S_IALLUGO);
    }

    /** Size in bytes. */
    public long size() {
        return size;
    }

    public void setSize(final long size) {
        this.size = size;
    }

    public int nlink() {
        return nlink;
    }

    public void setNlink(final int nlink) {
        this.nlink = nlink;
    }

    public int uid() {
        return uid;
    }

    public int gid() {
        return gid;
    }

    public void setOwner(final int uid, final int gid) {
        this.uid = uid;
        this.gid = gid;
    }

    /** Device number of a device vnode. */
    public long rdev() {
        return rdev;
    }

    public void setRdev(final long rdev) {
        this.rdev = rdev;
    }

    public long atimeNs() {
        return atimeNs;
    }

    public long mtimeNs() {
        return mtimeNs;
    }

    public long ctimeNs() {
        return ctimeNs;
    }

    public void setAtimeNs(final long ns) {
        this.atimeNs = ns;
    }

    public void setMtimeNs(final long ns) {
        this.mtimeNs = ns;
    }

    public void setCtimeNs(final long ns) {
        this.ctimeNs = ns;
    }

    /** Content changed now: mtime and ctime. */
    public void touchModified() {
        final long now = mount == null ? 0 : mount.now();
        this.mtimeNs = now;
        this.ctimeNs = now;
    }

    /** Content changed at {@code ns} (a time the caller already read for this operation): mtime and ctime. */
    public void touchModified(final long ns) {
        this.mtimeNs = ns;
        this.ctimeNs = ns;
    }

    /** Inode changed at {@code ns}: ctime. */
    public void touchChanged(final long ns) {
        this.ctimeNs = ns;
    }

    /** Inode changed now (links, mode): ctime. */
    public void touchChanged() {
        this.ctimeNs = mount == null ? 0 : mount.now();
    }

    @Override
    public String toString() {
        return "Vnode{" + (mount == null ? "-" : mount.type()) + ":" + ino + " " + type + "}";
    }
}
