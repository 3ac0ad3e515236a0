package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;

import java.nio.ByteBuffer;

/**
 * The vnode operations a filesystem implements: OSv's 23 VOPs (open, close, read, write, seek, ioctl,
 * fsync, readdir, lookup, create, remove, rename, mkdir, rmdir, getattr, setattr, inactive, truncate,
 * link, cache, fallocate, readlink, symlink).
 *
 * <p><b>Conventions.</b> Operations that produce a count or status return it, or {@code -errno}
 * ({@link Errno#negative()}); operations that produce a vnode or a string throw {@link ErrnoException}
 * (stackless, so as cheap as a return code). The defaults are what a filesystem that does not support
 * the operation answers.
 *
 * <p><b>What the VFS has checked before calling</b>: names are 1..255 bytes and neither {@code .} nor
 * {@code ..} nor contain {@code /}; directory operations get a directory that is still linked; writing
 * operations are not called on a read-only mount (the VFS answers EROFS); an existing target of
 * {@code create} has been handled (EEXIST or open). <b>Locks held</b> (see {@link Vnode}): read lock of
 * {@code vp} for read, readdir, getattr, readlink, cache and of {@code dir} for lookup; write lock of
 * {@code vp} for write, truncate, fallocate, setattr; write lock of {@code dir} for create, mkdir,
 * symlink, link, remove, rmdir; write locks of both directories for rename. Devices, pipes and sockets
 * ({@code !type.vfsLocked()}) are called without a lock.
 */
public interface VnodeOps {
    /** setattr mask: change the permission bits. */
    int ATTR_MODE = 1;
    /** setattr mask: change the access time. */
    int ATTR_ATIME = 2;
    /** setattr mask: change the modification time. */
    int ATTR_MTIME = 4;

    /** An open of {@code vp} with open(2) {@code flags}; 0 or -errno. */
    default int open(final Vnode vp, final int flags) {
        return 0;
    }

    /** The last close of an open file of {@code vp}. */
    default int close(final Vnode vp, final int flags) {
        return 0;
    }

    /**
     * Read up to {@code dst.remaining()} bytes at {@code offset} into {@code dst}, advancing its position.
     *
     * @param ioflags the open file's flags ({@link Posix#O_NONBLOCK} matters to devices and pipes)
     * @return bytes read (0 at end of file), or -errno
     */
    default long read(final Vnode vp, final long offset, final ByteBuffer dst, final int ioflags) {
        return vp.isDir() ? Errno.EISDIR.negative() : Errno.EINVAL.negative();
    }

    /** Write {@code src.remaining()} bytes at {@code offset}; returns bytes written or -errno. */
    default long write(final Vnode vp, final long offset, final ByteBuffer src, final int ioflags) {
        return vp.isDir() ? Errno.EISDIR.negative() : Errno.EINVAL.negative();
    }

    /**
     * Validate or compute a seek. For SEEK_SET/CUR/END the VFS passes the computed non-negative target
     * and the default accepts it; for SEEK_DATA/SEEK_HOLE it passes the start offset and the default
     * treats the whole file as data (Linux's generic answer): ENXIO at or past the end.
     */
    default long seek(final Vnode vp, final long offset, final int whence) {
        return switch (whence) {
            case Posix.SEEK_DATA -> offset >= vp.size() ? Errno.ENXIO.negative() : offset;
            case Posix.SEEK_HOLE -> offset >= vp.size() ? Errno.ENXIO.negative() : vp.size();
            default -> offset;
        };
    }

    default int ioctl(final Vnode vp, final long request, final Object arg) {
        return Errno.ENOTTY.negative();
    }

    /** Write dirty state of {@code vp} to stable storage. */
    default int fsync(final Vnode vp) {
        return 0;
    }

    /**
     * Emit directory entries starting at {@code cookie} (0 = first entry; {@code .} and {@code ..} are
     * the VFS's, not the filesystem's) until the sink is full.
     *
     * @return the cookie to continue from, or -errno
     */
    default long readdir(final Vnode dir, final long cookie, final DirentSink sink) {
        return Errno.ENOTDIR.negative();
    }

    /** The child {@code name} of {@code dir}, or null when there is none. */
    default Vnode lookup(final Vnode dir, final String name) throws ErrnoException {
        throw new ErrnoException(Errno.ENOTDIR);
    }

    /** Create a regular file {@code name} in {@code dir} with permission bits {@code mode}. */
    default Vnode create(final Vnode dir, final String name, final int mode) throws ErrnoException {
        throw new ErrnoException(Errno.EPERM);
    }

    /** Remove the non-directory {@code vp} named {@code name} from {@code dir}. */
    default int remove(final Vnode dir, final Vnode vp, final String name) {
        return Errno.EPERM.negative();
    }

    /**
     * Move {@code vp} from {@code sdir/sname} to {@code ddir/dname}, atomically replacing {@code target}
     * when not null (the VFS has checked the directory rules: types match, a replaced directory is empty,
     * a directory is not moved below itself).
     */
    default int rename(final Vnode sdir, final Vnode vp, final String sname, final Vnode ddir, final Vnode target,
        final String dname) {
        return Errno.EPERM.negative();
    }

    default Vnode mkdir(final Vnode dir, final String name, final int mode) throws ErrnoException {
        throw new ErrnoException(Errno.EPERM);
    }

    /** Remove the empty directory {@code vp} (the VFS has checked it is empty through readdir). */
    default int rmdir(final Vnode dir, final Vnode vp, final String name) {
        return Errno.EPERM.negative();
    }

    /**
     * Adjust {@code st}, which the VFS has filled from the vnode's attributes (filesystems with dynamic
     * sizes, or block counts that differ from {@code ceil(size/512)}, override this).
     */
    default int getattr(final Vnode vp, final Stat st) {
        return 0;
    }

    /** Change attributes selected by {@code mask} ({@link #ATTR_MODE}...); times in ns since the epoch. */
    default int setattr(final Vnode vp, final int mask, final int mode, final long atimeNs, final long mtimeNs) {
        if ((mask & ATTR_MODE) != 0) {
            vp.setPermissions(mode);
        }
        if ((mask & ATTR_ATIME) != 0) {
            vp.setAtimeNs(atimeNs);
        }
        if ((mask & ATTR_MTIME) != 0) {
            vp.setMtimeNs(mtimeNs);
        }
        vp.touchChanged();
        return 0;
    }

    /** {@code vp} has no links and no open files any more: release its storage. */
    default void inactive(final Vnode vp) {
    }

    /** Set the size of a regular file, zero-filling on growth. */
    default int truncate(final Vnode vp, final long length) {
        return Errno.EINVAL.negative();
    }

    /** Add the link {@code dir/name} to the non-directory {@code vp}. */
    default int link(final Vnode dir, final Vnode vp, final String name) {
        return Errno.EPERM.negative();
    }

    /**
     * The 4 KiB page of {@code vp} at {@code pageOffset} (a multiple of 4096) as a read-only buffer of
     * 4096 bytes (zeros past the end of file), for mmap through the mmu's file mappings. The buffer may
     * be a view of the page cache: the caller copies or maps it and does not keep it past the mapping.
     */
    default ByteBuffer cache(final Vnode vp, final long pageOffset) throws ErrnoException {
        throw new ErrnoException(Errno.ENODEV);
    }

    /**
     * {@link #cache} for a filesystem without a page cache of its own (rofs, virtiofs): the page is read
     * with {@link #read} into a fresh 4 KiB buffer. EINVAL for a non-file or a misaligned offset.
     */
    static ByteBuffer pageByRead(final VnodeOps ops, final Vnode vp, final long pageOffset) throws ErrnoException {
        if (vp.type() != VType.VREG || pageOffset < 0 || pageOffset % 4096 != 0) {
            throw new ErrnoException(Errno.EINVAL);
        }
        final ByteBuffer page = ByteBuffer.allocate(4096);
        final long r = ops.read(vp, pageOffset, page, 0);
        if (r < 0) {
            throw new ErrnoException(Errno.fromResult(r));
        }
        return page.clear().asReadOnlyBuffer();
    }

    /** fallocate(2): {@code mode} 0 (allocate) or {@code PUNCH_HOLE|KEEP_SIZE}, optionally KEEP_SIZE. */
    default int fallocate(final Vnode vp, final int mode, final long offset, final long length) {
        return Errno.EOPNOTSUPP.negative();
    }

    /** The target of the symbolic link {@code vp}. */
    default String readlink(final Vnode vp) throws ErrnoException {
        throw new ErrnoException(Errno.EINVAL);
    }

    /** Create the symbolic link {@code dir/name} pointing at {@code target}. */
    default Vnode symlink(final Vnode dir, final String name, final String target) throws ErrnoException {
        throw new ErrnoException(Errno.EPERM);
    }
}
