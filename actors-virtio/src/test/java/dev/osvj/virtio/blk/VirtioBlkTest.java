package dev.osvj.virtio.blk;

import dev.osvj.kernel.Errno;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.virtio.DeviceAgent;
import dev.osvj.virtio.DeviceStatus;
import dev.osvj.virtio.GuestMemory;
import dev.osvj.virtio.VirtioFeatures;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The block-device contract through virtio: the guest driver, the split virtqueue in guest memory and
 * the virtio-blk device on its backend thread, over a host file image. Plus virtio specifics.
 */
class VirtioBlkTest extends BlockDeviceContract {
    private VirtioBlkDevice device;
    private GuestMemory guest;

    @Override
    protected BlockDevice open(final Path image, final boolean readOnly) throws Exception {
        final PhysicalMemory ram = PhysicalMemory.allocate(8L << 20);
        closeLater(ram::close);
        guest = new GuestMemory(ram, new PageAllocator(ram, 0));
        device = new VirtioBlkDevice(ram.segment(), FileImageBackend.open("img", image, readOnly), 256, 32, 128 * 1024);
        closeLater(device);
        final DeviceAgent agent = new DeviceAgent("virtio-test");
        agent.add(device);
        final AgentRunner runner = DeviceAgent.start(agent, new BackoffIdleStrategy(10, 10, 1000, 1_000_000));
        closeLater(runner);
        return new VirtioBlkDriver("vblk0", device, guest, 64);
    }

    @Test
    void shouldNegotiateFeaturesAndReachDriverOk() throws Exception {
        final VirtioBlkDriver d = (VirtioBlkDriver)open(image(), true);
        closeLater(d);
        assertEquals(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK,
            device.status());
        assertTrue(d.hasFeature(VirtioBlk.F_RO));
        assertTrue(d.hasFeature(VirtioBlk.F_FLUSH));
        assertTrue(d.hasFeature(VirtioFeatures.EVENT_IDX));
        assertTrue(d.hasFeature(VirtioFeatures.INDIRECT_DESC));
        assertTrue(d.hasFeature(VirtioFeatures.VERSION_1));
        assertEquals(2048, device.readConfig(VirtioBlk.CONFIG_CAPACITY, 8));
        assertEquals(32, device.readConfig(VirtioBlk.CONFIG_SEG_MAX, 4));
        assertEquals(64, d.queues().get(0).size());
    }

    @Test
    void shouldRejectMisalignedRequestsWithEinval() throws Exception {
        final BlockDevice d = open(image(), false);
        closeLater(d);
        final MemorySegment buf = MemorySegment.ofArray(new byte[1024]);
        assertEquals(-Errno.EINVAL.number(), d.read(100, buf, 0, 512));
        assertEquals(-Errno.EINVAL.number(), d.read(0, buf, 0, 100));
    }

    @Test
    void shouldReadGuestMemoryBuffersWithoutBouncing() throws Exception {
        final BlockDevice d = open(image(), true);
        closeLater(d);
        final long pa = guest.allocate(16384);
        final MemorySegment ram = guest.segment();
        assertEquals(0, d.read(8192, ram, pa, 16384));
        assertEquals(pattern(8192), ram.get(ValueLayout.JAVA_BYTE, pa));
        assertEquals(pattern(8192 + 16383), ram.get(ValueLayout.JAVA_BYTE, pa + 16383));
        // one request: header + one data descriptor + status, in an indirect table or three descriptors
        assertTrue(device.queueCounters(0).get(dev.osvj.virtio.ring.QueueCounters.CHAINS) >= 1);
    }

    @Test
    void shouldAnswerIoErrorForOutOfRangeDeviceRequestsFromTheDeviceItself() throws Exception {
        // The driver does not pre-check the capacity: the IOERR comes from the device.
        final BlockDevice d = open(image(), false);
        closeLater(d);
        final MemorySegment buf = MemorySegment.ofArray(new byte[512]);
        final String before = device.deviceCounters();
        assertEquals(-Errno.EIO.number(), d.read(IMAGE_BYTES, buf, 0, 512));
        assertTrue(device.deviceCounters().contains("ioerr=1"), before + " -> " + device.deviceCounters());
    }

    @Test
    void shouldCompleteManyAsynchronousReadsInFlightWithTheirTagsAndData() throws Exception {
        final VirtioBlkDriver d = (VirtioBlkDriver)open(image(), false);
        closeLater(d);
        final int requests = 200;
        final long buffers = guest.allocate(4096L * requests);
        final ConcurrentHashMap<Long, Integer> results = new ConcurrentHashMap<>();
        final CountDownLatch all = new CountDownLatch(requests);
        final VirtioBlkDriver.Completion done = (tag, result) -> {
            results.put(tag, result);
            all.countDown();
        };
        for (int i = 0; i < requests; i++) {
            final long offset = (long)(i * 7 % (IMAGE_BYTES / 4096)) * 4096;
            int rc;
            while ((rc = d.submitRead(offset, buffers + 4096L * i, 4096, i, done)) == -Errno.EAGAIN.number()) {
                Thread.onSpinWait(); // every slot busy: wait for a completion to free one
            }
            assertEquals(0, rc);
        }
        assertTrue(all.await(30, TimeUnit.SECONDS), "completions: " + results.size());
        assertEquals(requests, results.size());
        for (int i = 0; i < requests; i++) {
            assertEquals(0, results.get((long)i), "request " + i);
            final long offset = (long)(i * 7 % (IMAGE_BYTES / 4096)) * 4096;
            assertEquals(pattern(offset), guest.segment().get(ValueLayout.JAVA_BYTE, buffers + 4096L * i));
            assertEquals(pattern(offset + 4095), guest.segment().get(ValueLayout.JAVA_BYTE, buffers + 4096L * i + 4095));
        }
    }

    @Test
    void shouldRefuseAsynchronousRequestsThatCannotStart() throws Exception {
        final VirtioBlkDriver ro = (VirtioBlkDriver)open(image(), true);
        closeLater(ro);
        final long pa = guest.allocate(4096);
        final VirtioBlkDriver.Completion never = (tag, result) -> {
            throw new AssertionError("no request should have started");
        };
        assertEquals(-Errno.EROFS.number(), ro.submitWrite(0, pa, 4096, 1, never));
        assertEquals(-Errno.EINVAL.number(), ro.submitRead(100, pa, 4096, 1, never));
        assertEquals(-Errno.EINVAL.number(), ro.submitRead(0, pa, 0, 1, never));
        assertEquals(-Errno.EINVAL.number(), ro.submitRead(0, -1, 4096, 1, never));
    }

    @Test
    void shouldReportAnOutOfRangeAsynchronousReadAsEio() throws Exception {
        final VirtioBlkDriver d = (VirtioBlkDriver)open(image(), false);
        closeLater(d);
        final long pa = guest.allocate(4096);
        final CompletableFuture<Integer> result = new CompletableFuture<>();
        assertEquals(0, d.submitRead(IMAGE_BYTES, pa, 4096, 42, (tag, rc) -> result.complete(tag == 42 ? rc : 1)));
        assertEquals(-Errno.EIO.number(), result.get(30, TimeUnit.SECONDS));
        // the slot came back: a synchronous read still works
        assertEquals(0, d.read(0, guest.segment(), pa, 4096));
    }

    @Test
    void shouldReapCompletionsOnTheSubmittingThreadWhenInterruptsGoNowhere() throws Exception {
        final VirtioBlkDriver d = (VirtioBlkDriver)open(image(), true);
        closeLater(d);
        d.interruptLine(q -> { }); // polled mode: nobody handles interrupts
        final long pa = guest.allocate(4096L * 4);
        final long[] results = {-1, -1, -1, -1};
        for (int i = 0; i < 4; i++) {
            final int tag = i;
            assertEquals(0, d.submitRead(4096L * (10 + i), pa + 4096L * i, 4096, tag, (t, rc) -> results[(int)t] = rc));
        }
        int reaped = 0;
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (reaped < 4 && System.nanoTime() < deadline) {
            reaped += d.reapCompletions();
        }
        assertEquals(4, reaped);
        for (int i = 0; i < 4; i++) {
            assertEquals(0, results[i], "request " + i);
            assertEquals(pattern(4096L * (10 + i)), guest.segment().get(ValueLayout.JAVA_BYTE, pa + 4096L * i));
        }
    }

    @Test
    void shouldFailTheRequestInFlightWithEioAndRecoverWhenTheDeviceNeedsAReset() throws Exception {
        final PhysicalMemory ram = PhysicalMemory.allocate(8L << 20);
        closeLater(ram::close);
        final GuestMemory g = new GuestMemory(ram, new PageAllocator(ram, 0));
        final FailingBackend backend = new FailingBackend(FileImageBackend.open("img", image(), true));
        final VirtioBlkDevice dev = new VirtioBlkDevice(ram.segment(), backend, 256, 32, 128 * 1024);
        closeLater(dev);
        final DeviceAgent agent = new DeviceAgent("virtio-reset-test");
        agent.add(dev);
        closeLater(DeviceAgent.start(agent, new BackoffIdleStrategy(10, 10, 1000, 1_000_000)));
        final VirtioBlkDriver d = new VirtioBlkDriver("vblk0", dev, g, 64);
        closeLater(d);
        final long pa = g.allocate(4096);
        backend.failNext = true; // the backend throws inside the device: a backend bug
        assertEquals(-Errno.EIO.number(), d.read(4096, ram.segment(), pa, 4096));
        assertEquals(1, agent.errors());
        assertEquals(1, d.resets());
        assertEquals(0, dev.status() & DeviceStatus.DEVICE_NEEDS_RESET);
        assertEquals(DeviceStatus.DRIVER_OK, dev.status() & DeviceStatus.DRIVER_OK);
        // the reset device serves the next request from its new queue
        assertEquals(0, d.read(8192, ram.segment(), pa, 4096));
        assertEquals(pattern(8192), ram.segment().get(ValueLayout.JAVA_BYTE, pa));
        assertEquals(pattern(8192 + 4095), ram.segment().get(ValueLayout.JAVA_BYTE, pa + 4095));
        assertEquals(1, d.queues().size());
    }

    @Test
    void shouldRefuseFeaturesOkAndDriverOkOutOfOrderAndClearNeedsResetOnReset() throws Exception {
        final PhysicalMemory ram = PhysicalMemory.allocate(2L << 20);
        closeLater(ram::close);
        final VirtioBlkDevice dev = new VirtioBlkDevice(ram.segment(), FileImageBackend.open("img", image(), true), 16,
            32, 128 * 1024);
        closeLater(dev);
        final int acked = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER;
        dev.status(DeviceStatus.ACKNOWLEDGE);
        dev.status(acked);
        // a legacy driver (no VERSION_1): the device does not keep FEATURES_OK
        dev.driverFeatures(dev.deviceFeatures() & ~VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        dev.status(acked | DeviceStatus.FEATURES_OK);
        assertEquals(0, dev.status() & DeviceStatus.FEATURES_OK);
        // DRIVER_OK without FEATURES_OK: refused, and the device asks for a reset
        dev.status(acked | DeviceStatus.DRIVER_OK);
        assertEquals(0, dev.status() & DeviceStatus.DRIVER_OK);
        assertEquals(DeviceStatus.DEVICE_NEEDS_RESET, dev.status() & DeviceStatus.DEVICE_NEEDS_RESET);
        dev.status(0);
        assertEquals(0, dev.status());
    }

    /** A backend whose next read throws once (a backend bug the device must survive). */
    private static final class FailingBackend implements BlockDevice {
        private final BlockDevice inner;
        volatile boolean failNext;

        FailingBackend(final BlockDevice inner) {
            this.inner = inner;
        }

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public long capacity() {
            return inner.capacity();
        }

        @Override
        public int blockSize() {
            return inner.blockSize();
        }

        @Override
        public boolean readOnly() {
            return inner.readOnly();
        }

        @Override
        public String id() {
            return inner.id();
        }

        @Override
        public int read(final long offset, final MemorySegment buffer, final long bufferOffset, final int length) {
            if (failNext) {
                failNext = false;
                throw new IllegalStateException("injected backend failure");
            }
            return inner.read(offset, buffer, bufferOffset, length);
        }

        @Override
        public int write(final long offset, final MemorySegment buffer, final long bufferOffset, final int length) {
            return inner.write(offset, buffer, bufferOffset, length);
        }

        @Override
        public int flush() {
            return inner.flush();
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
