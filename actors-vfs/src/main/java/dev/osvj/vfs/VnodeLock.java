package dev.osvj.vfs;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A vnode's read/write lock: a {@link ReentrantReadWriteLock} plus a reader-biased fast path for the
 * hottest reader, {@link Vfs}'s read/pread, so readers of one file on different CPUs do not write a
 * shared lock word on every call (the RRWL read lock CASes its state word twice per read and writes its
 * cached hold counter; two readers of one file then bounce that cache line between cores: issue 7).
 *
 * <p><b>Fast readers</b> ({@link #tryFastRead()}/{@link #endFastRead(int)}) announce themselves in
 * one of a few per-stripe counters, each alone on its own 128-byte line, chosen by thread id:
 * <pre>
 *   readers (AtomicLongArray, longs): [ pad x16 | stripe 0 @16 | pad x15 | stripe 1 @32 | ... | pad x16 ]
 * </pre>
 * then check {@link #writer}; if a writer is present they withdraw and take the ordinary read lock.
 *
 * <p><b>Writers</b> use the ordinary write lock ({@link #writeLock()}); on the outermost acquisition,
 * after the RRWL write lock is held (so no slow reader and no other writer is inside), they set
 * {@link #writer} and wait until every stripe is zero; the outermost release clears it before
 * releasing the RRWL lock. So writers still exclude all readers.
 *
 * <p><b>Memory ordering.</b> Dekker style with sequentially consistent operations only: a fast reader
 * does a volatile RMW on its stripe then a volatile read of {@code writer}; a writer does a volatile
 * write of {@code writer} then volatile reads of all stripes. In the total order of these
 * synchronization actions at least one side sees the other, so a reader never runs with a writer.
 * A reader that read {@code writer == 0} written by a writer's release happens-after all that
 * writer's changes; a writer that read a stripe's decrement happens-after that reader's reads.
 *
 * <p>A fast read must not block for long (a writer spins, then yields, then parks in short steps while
 * a fast reader is inside) and must not take this vnode's write lock. Reentrancy as for RRWL: the
 * write-lock holder's own reads fall back to the (reentrant) read lock.
 */
final class VnodeLock extends ReentrantReadWriteLock {
    private static final long serialVersionUID = 1L;
    /** Longs per 128-byte line (two 64-byte lines: adjacent-line prefetch). */
    private static final int PAD = 16;
    private static final int STRIPES = Math.min(8,
        Integer.highestOneBit(Math.max(2, Runtime.getRuntime().availableProcessors() - 1) << 1));

    private final transient AtomicLongArray readers = new AtomicLongArray((STRIPES + 2) * PAD);
    /** 1 while a writer holds (or is acquiring) the write lock; written only by the RRWL write-lock holder. */
    private volatile int writer;
    private final transient BiasedWriteLock writeLock = new BiasedWriteLock(this);

    @Override
    public WriteLock writeLock() {
        return writeLock;
    }

    /**
     * Enter a fast read if no writer is present.
     *
     * @return the stripe slot to pass to {@link #endFastRead(int)}, or -1: take {@code readLock()} instead
     */
    int tryFastRead() {
        if (writer != 0) {
            return -1;
        }
        final int slot = ((int)Thread.currentThread().threadId() & (STRIPES - 1)) * PAD + PAD;
        readers.getAndIncrement(slot);
        if (writer == 0) {
            return slot;
        }
        readers.getAndDecrement(slot);
        return -1;
    }

    /** Leave a fast read entered with {@link #tryFastRead()}. */
    void endFastRead(final int slot) {
        readers.getAndDecrement(slot);
    }

    /** Outermost write acquisition (RRWL write lock held): shut out fast readers and wait for those inside. */
    private void revoke() {
        writer = 1;
        for (int s = 0; s < STRIPES; s++) {
            final int slot = s * PAD + PAD;
            int spins = 0;
            while (readers.get(slot) != 0) {
                if (spins < 256) {
                    Thread.onSpinWait();
                } else if (spins < 512) {
                    Thread.yield();
                } else {
                    LockSupport.parkNanos(20_000L);
                }
                spins++;
            }
        }
    }

    /** Outermost write release (RRWL write lock still held): let fast readers in again. */
    private void restore() {
        writer = 0;
    }

    /** The write lock: RRWL's, plus {@link #revoke()}/{@link #restore()} around the outermost hold. */
    private static final class BiasedWriteLock extends WriteLock {
        private static final long serialVersionUID = 1L;
        private final transient VnodeLock owner;

        BiasedWriteLock(final VnodeLock owner) {
            super(owner);
            this.owner = owner;
        }

        @Override
        public void lock() {
            super.lock();
            acquired();
        }

        @Override
        public void lockInterruptibly() throws InterruptedException {
            super.lockInterruptibly();
            acquired();
        }

        @Override
        public boolean tryLock() {
            if (!super.tryLock()) {
                return false;
            }
            acquired();
            return true;
        }

        @Override
        public boolean tryLock(final long timeout, final TimeUnit unit) throws InterruptedException {
            if (!super.tryLock(timeout, unit)) {
                return false;
            }
            acquired();
            return true;
        }

        @Override
        public void unlock() {
            if (getHoldCount() == 1) {
                owner.restore();
            }
            super.unlock();
        }

        private void acquired() {
            if (getHoldCount() == 1) {
                owner.revoke();
            }
        }
    }
}
