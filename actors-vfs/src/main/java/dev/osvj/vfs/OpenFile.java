package dev.osvj.vfs;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An open file description (OSv's {@code struct file}): a vnode, the open flags and the file offset,
 * shared by every descriptor that dup(2) made from one open(2).
 *
 * <p>The offset is guarded by {@link #positionLock} for seekable files, so two threads reading through
 * one descriptor never read the same bytes (Linux's {@code f_pos_lock}); pread/pwrite take no such
 * lock. {@link #refs} counts descriptors; the last close calls the vnode's close VOP.
 */
final class OpenFile {
    final Vnode vnode;
    volatile int flags;
    /** Guarded by {@link #positionLock}. For directories: the getdents cookie. */
    long offset;
    final ReentrantLock positionLock = new ReentrantLock();
    final AtomicInteger refs = new AtomicInteger(1);

    OpenFile(final Vnode vnode, final int flags) {
        this.vnode = vnode;
        this.flags = flags;
    }

    boolean readable() {
        final int acc = flags & Posix.O_ACCMODE;
        return (flags & Posix.O_PATH) == 0 && (acc == Posix.O_RDONLY || acc == Posix.O_RDWR);
    }

    boolean writable() {
        final int acc = flags & Posix.O_ACCMODE;
        return (flags & Posix.O_PATH) == 0 && (acc == Posix.O_WRONLY || acc == Posix.O_RDWR);
    }

    boolean seekable() {
        final VType t = vnode.type();
        return t != VType.VFIFO && t != VType.VSOCK;
    }
}
