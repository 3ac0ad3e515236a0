package dev.osvj.virtio.net;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The transmit doorbell outside the driver's transmit lock: {@link NetDevicePort#commitDeferred} publishes in
 * order and owes the kick, {@link NetDevicePort#flushTransmit} sends it; {@link VirtioNetDriver#commit} kicks
 * after releasing the lock, so a second sender is not held up by a kick the device serves inline.
 */
class DeferredKickTest {
    private static final long WAIT_S = 30;

    private static byte[] frame(final int length, final int seed) {
        final byte[] f = new byte[length];
        for (int i = 0; i < length; i++) {
            f[i] = (byte)(seed * 11 + i);
        }
        return f;
    }

    /** An inline-transmitting wire whose next send can be held (inside the device, on the kicking thread). */
    private static final class HoldingWire extends QueueTransport {
        /** Holds the next send of the thread named "kicker" once armed. */
        final Gate sendGate = new Gate();

        @Override
        public boolean transmitsInline() {
            return true;
        }

        @Override
        public int send(final MemorySegment buffer, final long offset, final int length) {
            if ("kicker".equals(Thread.currentThread().getName())) {
                sendGate.pass();
            }
            return super.send(buffer, offset, length);
        }
    }

    private static void commitDeferred(final VirtioNetDriver driver, final byte[] f) {
        int claim;
        while ((claim = driver.tryClaim(f.length)) == FrameTransport.BACK_PRESSURED) {
            driver.flushTransmit(); // all slots in flight: let the device return them
            Thread.onSpinWait();
        }
        assertTrue(claim >= 0, "claim " + claim);
        MemorySegment.copy(MemorySegment.ofArray(f), 0, driver.guestMemory(), driver.claimedOffset(claim), f.length);
        driver.commitDeferred(claim, f.length);
    }

    @Test
    void shouldOweTheKickUntilFlushedAndKeepCommitOrder() throws Exception {
        final QueueTransport wire = new HoldingWire();
        try (NetHarness h = new NetHarness(wire, 1500, 16)) {
            final int frames = 200;
            for (int i = 0; i < frames; i++) {
                final long kicks = h.device.kicksReceived();
                commitDeferred(h.driver, frame(60 + i % 1400, i));
                assertEquals(kicks, h.device.kicksReceived(), "no kick before flushTransmit (frame " + i + ")");
                h.driver.flushTransmit();
            }
            for (int i = 0; i < frames; i++) {
                assertArrayEquals(frame(60 + i % 1400, i), wire.outbound.poll(WAIT_S, TimeUnit.SECONDS), "frame " + i);
            }
            assertNull(wire.outbound.poll(), "no frame twice");
            assertTrue(h.device.kicksReceived() > 0, "the owed kicks were sent: " + h.device.deviceCounters());
        }
    }

    @Test
    void shouldLetAnotherSenderCommitWhileAKickIsServedInline() throws Exception {
        final HoldingWire wire = new HoldingWire();
        try (NetHarness h = new NetHarness(wire, 1500, 16)) {
            // Warm up until a kick is served inline (the backend may be mid duty cycle at first).
            int seed = 0;
            while (h.device.inlineKicks() == 0) {
                assertEquals(0, h.send(frame(100, seed++)));
                assertArrayEquals(frame(100, seed - 1), wire.outbound.poll(WAIT_S, TimeUnit.SECONDS));
            }
            final CountDownLatch release = new CountDownLatch(1);
            wire.sendGate.arm(release);
            // The kicker sends until one of its frames is held in the device on its own thread (an inline kick:
            // a frame the backend's duty cycle took instead passes).
            final int firstSeed = seed;
            final AtomicInteger kickerSent = new AtomicInteger();
            final Thread kicker = Thread.ofPlatform().name("kicker").start(() -> {
                do {
                    h.send(frame(200, firstSeed + kickerSent.getAndIncrement()));
                } while (wire.sendGate.entered.getCount() > 0);
            });
            assertTrue(wire.sendGate.entered.await(WAIT_S, TimeUnit.SECONDS), "a kicker frame's send is held in the device");
            // The kicker is inside an inline kick. A second sender must still be able to queue its frame: with the
            // kick sent under the driver's transmit lock it waited for the whole held send.
            final int second = 1_000_000;
            final AtomicInteger rc = new AtomicInteger(Integer.MIN_VALUE);
            final CountDownLatch committed = new CountDownLatch(1);
            Thread.ofPlatform().name("second").start(() -> {
                rc.set(h.send(frame(300, second)));
                committed.countDown();
            });
            final boolean queued = committed.await(WAIT_S, TimeUnit.SECONDS);
            release.countDown();
            kicker.join(TimeUnit.SECONDS.toMillis(WAIT_S));
            assertTrue(queued, "the second sender queued its frame while the kicker's kick was in the device");
            assertEquals(0, rc.get());
            for (int k = 0; k < kickerSent.get(); k++) {
                assertArrayEquals(frame(200, firstSeed + k), wire.outbound.poll(WAIT_S, TimeUnit.SECONDS), "kicker " + k);
            }
            // the second frame's kick may have fallen back to the backend (the work lock was busy): it still goes
            assertArrayEquals(frame(300, second), wire.outbound.poll(WAIT_S, TimeUnit.SECONDS), "then the second");
            assertNull(wire.outbound.poll(), "no frame twice");
        }
    }
}
