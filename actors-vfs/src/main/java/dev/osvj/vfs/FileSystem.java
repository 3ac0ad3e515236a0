package dev.osvj.vfs;

/** One mounted filesystem instance (OSv's vfsops plus the mount's private data). */
public interface FileSystem {
    /** The root directory vnode. */
    Vnode root();

    /** Fill {@code out} with this filesystem's usage (the VFS sets fsid and namelen). */
    int statfs(StatFs out);

    /** Write dirty state to stable storage. */
    default int sync() {
        return 0;
    }

    /** The mount is going away (the VFS has checked it is not busy). */
    default int unmount() {
        return 0;
    }

    /** True when every write must fail with EROFS. */
    default boolean readOnly() {
        return false;
    }

    /**
     * True when the VFS may keep name-to-vnode entries of this filesystem in its dentry cache. Pseudo
     * filesystems whose names change without the VFS seeing it (procfs, devfs) answer false.
     */
    default boolean cacheDentries() {
        return true;
    }
}
