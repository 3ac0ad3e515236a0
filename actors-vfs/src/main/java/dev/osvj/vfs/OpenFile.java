package dev.osvj.vfs;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;

/**
 * An open file description (OSv's {@code struct file}): a vnode, the open flags and the file offset,
 * shared by every descriptor that dup(2) made from one open(2).
 *
 * <p>The offset is guarded by the position lock ({@link #lockPosition}) for seekable files, so two
 * threads reading through one descriptor never read the same bytes (Linux's {@code f_pos_lock});
 * pread/pwrite take no such lock. The class is its own lock's synchronizer (it extends
 * {@link AbstractQueuedSynchronizer}; nothing else of AQS is used). {@code refs} counts descriptors; the last close calls the vnode's close VOP.
 */
final class OpenFile extends AbstractQueuedSynchronizer {
    final Vnode vnode;
    volatile int flags;
    /** Guarded by the position lock ({@link #lockPosition}). For directories: the getdents cookie. */
    long offset;
    /** Descriptors sharing this description (dup); starts at 1. */
    private volatile int refs = 1;
    private static final VarHandle REFS;

    static {
        try {
            REFS = MethodHandles.lookup().findVarHandle(OpenFile.class, "refs", int.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** One more descriptor (dup, dup2, F_DUPFD). */
    void retain() {
        REFS.getAndAdd(this, 1);
    }

    /** One descriptor fewer; returns the descriptors left. */
    int releaseRef() {
        return (int)REFS.getAndAdd(this, -1) - 1;
    }

    OpenFile(final Vnode vnode, final int flags) {
        this.vnode = vnode;
        this.flags = flags;
    }

    /**
     * Take the position lock (Linux's {@code f_pos_lock}): a plain, non-reentrant mutex that is this
     * object's synchronizer state (0 free, 1 held), so an open file costs no lock object of its own.
     * Never taken twice by one thread: readv and writev take it once per call, read and write once.
     */
    void lockPosition() {
        if (!compareAndSetState(0, 1)) {
            acquire(1);
        }
    }

    void unlockPosition() {
        release(1);
    }

    @Override
    protected boolean tryAcquire(final int arg) {
        return compareAndSetState(0, 1);
    }

    @Override
    protected boolean tryRelease(final int arg) {
        setState(0);
        return true;
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
