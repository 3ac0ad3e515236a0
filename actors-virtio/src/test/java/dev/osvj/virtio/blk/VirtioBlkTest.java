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
}
