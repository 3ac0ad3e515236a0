package dev.osvj.sched;

/**
 * OSv's reader-writer lock ({@code core/rwlock.cc}): a {@link Mutex} guards the reader count and the
 * writer; readers and writers wait on two {@link WaitQueue}s. Writers are preferred: a new reader waits
 * while a writer waits. The write lock is recursive, and its holder may also take read locks; a
 * recursive read lock while a writer waits deadlocks, as in OSv.
 */
public final class RwLock {
    private final Mutex mutex = new Mutex();
    private final WaitQueue readWaiters = new WaitQueue();
    private final WaitQueue writeWaiters = new WaitQueue();
    private int readers;
    private Object writer;
    private int writerRecursion;

    public void readLock() {
        final Object self = WaitRecord.self();
        mutex.lock();
        try {
            while (!readLockable(self)) {
                readWaiters.await(mutex);
            }
            readers++;
        } finally {
            mutex.unlock();
        }
    }

    public boolean tryReadLock() {
        final Object self = WaitRecord.self();
        mutex.lock();
        try {
            if (!readLockable(self)) {
                return false;
            }
            readers++;
            return true;
        } finally {
            mutex.unlock();
        }
    }

    public void readUnlock() {
        mutex.lock();
        try {
            if (readers <= 0) {
                throw new IllegalMonitorStateException("read unlock without a reader");
            }
            if (--readers == 0) {
                writeWaiters.wakeOne(mutex);
            }
        } finally {
            mutex.unlock();
        }
    }

    public void writeLock() {
        final Object self = WaitRecord.self();
        mutex.lock();
        try {
            if (writer == self) {
                writerRecursion++;
                return;
            }
            while (readers > 0 || writer != null) {
                writeWaiters.await(mutex);
            }
            writer = self;
        } finally {
            mutex.unlock();
        }
    }

    public boolean tryWriteLock() {
        final Object self = WaitRecord.self();
        mutex.lock();
        try {
            if (writer == self) {
                writerRecursion++;
                return true;
            }
            if (readers > 0 || writer != null) {
                return false;
            }
            writer = self;
            return true;
        } finally {
            mutex.unlock();
        }
    }

    public void writeUnlock() {
        mutex.lock();
        try {
            if (writer != WaitRecord.self()) {
                throw new IllegalMonitorStateException("write unlock by a thread that does not hold it");
            }
            if (writerRecursion > 0) {
                writerRecursion--;
                return;
            }
            writer = null;
            if (!writeWaiters.isEmpty()) {
                writeWaiters.wakeOne(mutex);
            } else {
                readWaiters.wakeAll(mutex);
            }
        } finally {
            mutex.unlock();
        }
    }

    private boolean readLockable(final Object self) {
        return writer == null && writeWaiters.isEmpty() || writer == self;
    }
}
