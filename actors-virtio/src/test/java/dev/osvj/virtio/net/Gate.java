package dev.osvj.virtio.net;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A one-shot gate in a test backend's call (a send, a poll): once {@link #arm armed}, the next call
 * that passes it counts down {@link #entered} and waits (30 s at most) for the latch it was armed
 * with, so a test can hold a backend inside the device at a chosen point and release it later.
 */
final class Gate {
    private static final long WAIT_S = 30;

    private volatile CountDownLatch release;
    /** Counted down when a call is held at the gate. */
    final CountDownLatch entered = new CountDownLatch(1);

    /** Hold the next call that passes until {@code latch} opens. */
    void arm(final CountDownLatch latch) {
        release = latch;
    }

    /**
     * Called by the backend: holds the call if the gate is armed (once), else returns at once.
     *
     * @return true when this call was held
     */
    boolean pass() {
        final CountDownLatch hold = release;
        if (hold == null) {
            return false;
        }
        release = null;
        entered.countDown();
        try {
            hold.await(WAIT_S, TimeUnit.SECONDS);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return true;
    }
}
