package dev.osvj.virtio.rng;

import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.virtio.DeviceAgent;
import dev.osvj.virtio.DeviceStatus;
import dev.osvj.virtio.GuestMemory;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.security.SecureRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtioRngTest {
    /** A deterministic "random" source, so the test can check the bytes crossed the queue intact. */
    private static SecureRandom seeded() throws Exception {
        final SecureRandom r = SecureRandom.getInstance("SHA1PRNG");
        r.setSeed(42);
        return r;
    }

    @Test
    void shouldFillBuffersLargerThanOneRequestWithTheDevicesBytes() throws Exception {
        try (PhysicalMemory ram = PhysicalMemory.allocate(4L << 20)) {
            final GuestMemory guest = new GuestMemory(ram, new PageAllocator(ram, 0));
            final VirtioRngDevice device = new VirtioRngDevice(ram.segment(), seeded(), 16);
            final DeviceAgent agent = new DeviceAgent("rng-test");
            agent.add(device);
            try (AgentRunner runner = DeviceAgent.start(agent, new BackoffIdleStrategy());
                 VirtioRngDriver driver = new VirtioRngDriver("rng0", device, guest, 16)) {
                final byte[] got = new byte[10_000];
                assertEquals(got.length, driver.read(MemorySegment.ofArray(got), 0, got.length));
                // The same generator, read the way the device reads it: 4096-byte requests, chunk by chunk.
                final SecureRandom expected = seeded();
                final byte[] want = new byte[got.length];
                int at = 0;
                while (at < want.length) {
                    final byte[] chunk = new byte[4096];
                    expected.nextBytes(chunk);
                    final int n = Math.min(4096, want.length - at);
                    System.arraycopy(chunk, 0, want, at, n);
                    at += n;
                }
                assertArrayEquals(want, got);
                assertTrue(device.deviceCounters().contains("bytes=10000"));
            }
            device.close();
        }
    }

    /** A generator whose next call throws once (a backend bug), then serves the seeded bytes. */
    private static final class FailingOnce extends SecureRandom {
        private final SecureRandom inner;
        volatile boolean failNext;

        FailingOnce(final SecureRandom inner) {
            this.inner = inner;
        }

        @Override
        public void nextBytes(final byte[] bytes) {
            if (failNext) {
                failNext = false;
                throw new IllegalStateException("entropy source failed (test)");
            }
            inner.nextBytes(bytes);
        }
    }

    @Test
    void shouldResetTheDeviceAndRepostTheRequestWhenTheDeviceNeedsAReset() throws Exception {
        try (PhysicalMemory ram = PhysicalMemory.allocate(4L << 20)) {
            final GuestMemory guest = new GuestMemory(ram, new PageAllocator(ram, 0));
            final FailingOnce source = new FailingOnce(seeded());
            final VirtioRngDevice device = new VirtioRngDevice(ram.segment(), source, 16);
            final DeviceAgent agent = new DeviceAgent("rng-reset-test");
            agent.add(device);
            try (AgentRunner runner = DeviceAgent.start(agent, new BackoffIdleStrategy());
                 VirtioRngDriver driver = new VirtioRngDriver("rng0", device, guest, 16)) {
                final byte[] first = new byte[4096];
                assertEquals(4096, driver.read(MemorySegment.ofArray(first), 0, first.length));
                source.failNext = true; // the next request makes the device throw: DEVICE_NEEDS_RESET
                final byte[] second = new byte[4096];
                assertEquals(4096, driver.read(MemorySegment.ofArray(second), 0, second.length));
                assertEquals(1, agent.errors());
                assertEquals(1, driver.resets());
                assertEquals(0, device.status() & DeviceStatus.DEVICE_NEEDS_RESET);
                assertEquals(DeviceStatus.DRIVER_OK, device.status() & DeviceStatus.DRIVER_OK);
                // the re-posted request got the generator's next bytes, not the failed request's stale buffer
                final SecureRandom expected = seeded();
                final byte[] want = new byte[4096];
                expected.nextBytes(want);
                assertArrayEquals(want, first);
                expected.nextBytes(want);
                assertArrayEquals(want, second);
                assertTrue(driver.describe().contains("resets=1"), driver.describe());
            }
            device.close();
        }
    }
}
