package dev.osvj.vfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The reader fast path of {@link VnodeLock}: writers still exclude every reader. */
class VnodeLockTest {
    @Test
    void shouldRefuseFastReadsWhileWriteLockedIncludingReentrantHolds() {
        final VnodeLock lock = new VnodeLock();
        lock.writeLock().lock();
        lock.writeLock().lock();
        assertEquals(-1, lock.tryFastRead());
        lock.writeLock().unlock();
        assertEquals(-1, lock.tryFastRead(), "still held once");
        lock.writeLock().unlock();
        final int slot = lock.tryFastRead();
        assertTrue(slot >= 0);
        lock.endFastRead(slot);
        assertTrue(lock.writeLock().tryLock());
        assertEquals(-1, lock.tryFastRead());
        lock.writeLock().unlock();
    }

    @Test
    void shouldMakeWriterWaitForFastReaderInside() throws Exception {
        final VnodeLock lock = new VnodeLock();
        final int slot = lock.tryFastRead();
        assertTrue(slot >= 0);
        final AtomicBoolean readerLeft = new AtomicBoolean();
        final AtomicBoolean sawReaderInside = new AtomicBoolean();
        final CountDownLatch acquired = new CountDownLatch(1);
        final Thread w = Thread.ofPlatform().start(() -> {
            lock.writeLock().lock();
            sawReaderInside.set(!readerLeft.get());
            lock.writeLock().unlock();
            acquired.countDown();
        });
        // The writer cannot get past revoke() until the reader leaves, however long it runs.
        assertTrue(!acquired.await(50, TimeUnit.MILLISECONDS) || !sawReaderInside.get());
        readerLeft.set(true);
        lock.endFastRead(slot);
        assertTrue(acquired.await(30, TimeUnit.SECONDS));
        w.join();
        assertEquals(false, sawReaderInside.get());
    }

    @Test
    void shouldNeverLetFastReadersSeeAHalfDoneWrite() throws Exception {
        final VnodeLock lock = new VnodeLock();
        final long[] pair = new long[2];
        final AtomicLong torn = new AtomicLong();
        final AtomicBoolean stop = new AtomicBoolean();
        final Thread[] readers = new Thread[2];
        for (int r = 0; r < readers.length; r++) {
            readers[r] = Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    final int slot = lock.tryFastRead();
                    if (slot < 0) {
                        lock.readLock().lock();
                    }
                    try {
                        final long a = pair[0];
                        Thread.onSpinWait();
                        if (a != pair[1]) {
                            torn.incrementAndGet();
                        }
                    } finally {
                        if (slot < 0) {
                            lock.readLock().unlock();
                        } else {
                            lock.endFastRead(slot);
                        }
                    }
                }
            });
        }
        for (int i = 0; i < 20_000; i++) {
            lock.writeLock().lock();
            try {
                pair[0] = i;
                Thread.onSpinWait();
                pair[1] = i;
            } finally {
                lock.writeLock().unlock();
            }
        }
        stop.set(true);
        for (final Thread t : readers) {
            t.join();
        }
        assertEquals(0, torn.get());
    }
}
