package dev.osvj.vfs;

import dev.osvj.kernel.Errno;

import java.nio.ByteBuffer;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A pipe: a bounded byte ring between a read end and a write end, as the vnode ops of a
 * {@link VType#VFIFO} vnode.
 *
 * <p>Semantics (Linux's): a read blocks while the pipe is empty and a writer exists, returns 0 (EOF)
 * once every write end is closed, and EAGAIN when empty under O_NONBLOCK. A write of at most
 * {@link #PIPE_BUF} bytes is atomic; a larger blocking write may be interleaved with others; a write
 * with no read end left is EPIPE (no SIGPIPE: there are no signals here). The ring is guarded by one
 * lock with two conditions; no VFS vnode lock is held while blocked.
 */
final class Pipe implements VnodeOps {
    /** Capacity of the ring in bytes, Linux's default pipe size. */
    static final int CAPACITY = 65536;
    /** Writes up to this size are atomic (POSIX PIPE_BUF on Linux). */
    static final int PIPE_BUF = 4096;

    private final byte[] ring = new byte[CAPACITY];
    /** Guarded by lock: total bytes ever written and read; used = head - tail. */
    private long head;
    private long tail;
    private int readers = 1;
    private int writers = 1;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final Condition notFull = lock.newCondition();

    @Override
    public long read(final Vnode vp, final long offset, final ByteBuffer dst, final int ioflags) {
        final int want = dst.remaining();
        if (want == 0) {
            return 0;
        }
        lock.lock();
        try {
            while (head == tail) {
                if (writers == 0) {
                    return 0;
                }
                if ((ioflags & Posix.O_NONBLOCK) != 0) {
                    return Errno.EAGAIN.negative();
                }
                notEmpty.awaitUninterruptibly();
            }
            final int n = (int)Math.min(want, head - tail);
            for (int done = 0; done < n; ) {
                final int at = (int)(tail % CAPACITY);
                final int chunk = Math.min(n - done, CAPACITY - at);
                dst.put(ring, at, chunk);
                tail += chunk;
                done += chunk;
            }
            notFull.signalAll();
            vp.setSize(head - tail);
            return n;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long write(final Vnode vp, final long offset, final ByteBuffer src, final int ioflags) {
        final int total = src.remaining();
        if (total == 0) {
            return 0;
        }
        lock.lock();
        try {
            int done = 0;
            while (done < total) {
                if (readers == 0) {
                    return done > 0 ? done : Errno.EPIPE.negative();
                }
                final long free = CAPACITY - (head - tail);
                final int left = total - done;
                // Atomic writes wait for room for all of it; larger ones take what fits.
                final boolean fits = left <= PIPE_BUF ? free >= left : free > 0;
                if (!fits) {
                    if ((ioflags & Posix.O_NONBLOCK) != 0) {
                        return done > 0 ? done : Errno.EAGAIN.negative();
                    }
                    notFull.awaitUninterruptibly();
                    continue;
                }
                final int n = (int)Math.min(left, free);
                for (int copied = 0; copied < n; ) {
                    final int at = (int)(head % CAPACITY);
                    final int chunk = Math.min(n - copied, CAPACITY - at);
                    src.get(ring, at, chunk);
                    head += chunk;
                    copied += chunk;
                }
                done += n;
                notEmpty.signalAll();
            }
            vp.setSize(head - tail);
            return done;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long seek(final Vnode vp, final long offset, final int whence) {
        return Errno.ESPIPE.negative();
    }

    @Override
    public int close(final Vnode vp, final int flags) {
        lock.lock();
        try {
            final int acc = flags & Posix.O_ACCMODE;
            if (acc == Posix.O_RDONLY || acc == Posix.O_RDWR) {
                readers--;
                notFull.signalAll();
            }
            if (acc == Posix.O_WRONLY || acc == Posix.O_RDWR) {
                writers--;
                notEmpty.signalAll();
            }
            return 0;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int fsync(final Vnode vp) {
        return Errno.EINVAL.negative();
    }
}
