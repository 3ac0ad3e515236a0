package dev.osvj.virtio.net;

import org.junit.jupiter.api.Test;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The TAP receive wakeup: a {@link ReadinessWatcher} over an eventfd (readable like a TAP with a frame
 * waiting) runs its wake action once per arming, when the descriptor is readable.
 */
class ReadinessWatcherTest {
    @Test
    void shouldWakeOnceWhenAnArmedDescriptorBecomesReadable() throws Exception {
        final int fd = ReadinessWatcher.newEventFd();
        final Semaphore woken = new Semaphore(0);
        try (ReadinessWatcher w = new ReadinessWatcher("test-ready", fd, woken::release)) {
            w.arm();
            assertTrue(w.armed());
            ReadinessWatcher.signal(fd); // "a frame arrived"
            assertTrue(woken.tryAcquire(30, TimeUnit.SECONDS), "the armed watcher woke the poller");
            assertEquals(1, w.wakeups());
            assertFalse(w.armed(), "one wake per arming");
            // the descriptor stays readable (nobody read it): arming again wakes at once, so a frame
            // that arrived between the poller's empty read and the watcher's poll is not missed
            w.arm();
            assertTrue(woken.tryAcquire(30, TimeUnit.SECONDS));
            assertEquals(2, w.wakeups());
        } finally {
            ReadinessWatcher.closeFd(fd);
        }
    }

    @Test
    void shouldNotWakeUntilArmed() throws Exception {
        final int fd = ReadinessWatcher.newEventFd();
        final Semaphore woken = new Semaphore(0);
        try (ReadinessWatcher w = new ReadinessWatcher("test-ready", fd, woken::release)) {
            ReadinessWatcher.signal(fd);
            // a busy poller never arms: the watcher does not poll, whatever arrives
            final Semaphore idle = new Semaphore(0);
            try (ReadinessWatcher other = new ReadinessWatcher("test-ready-2", fd, idle::release)) {
                other.arm();
                assertTrue(idle.tryAcquire(30, TimeUnit.SECONDS), "the same readiness wakes an armed watcher");
            }
            assertEquals(0, w.wakeups());
            assertEquals(0, woken.availablePermits());
        } finally {
            ReadinessWatcher.closeFd(fd);
        }
    }
}
