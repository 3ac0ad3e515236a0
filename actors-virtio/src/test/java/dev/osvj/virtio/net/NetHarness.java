package dev.osvj.virtio.net;

import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.virtio.DeviceAgent;
import dev.osvj.virtio.GuestMemory;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/** Test harness: guest memory, a virtio-net device over a transport on a backend thread, the driver. */
final class NetHarness implements AutoCloseable {
    static final byte[] MAC = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    final PhysicalMemory ram = PhysicalMemory.allocate(16L << 20);
    final GuestMemory guest = new GuestMemory(ram, new PageAllocator(ram, 0));
    final VirtioNetDevice device;
    final DeviceAgent agent;
    final AgentRunner runner;
    final VirtioNetDriver driver;
    /** Every received frame, copied, with a flag whether it was a view into guest memory. */
    final BlockingQueue<byte[]> received = new LinkedBlockingQueue<>();
    volatile boolean allViewsInGuestMemory = true;

    NetHarness(final FrameTransport transport, final int mtu, final int queueSize) {
        device = new VirtioNetDevice(ram.segment(), transport, MAC, mtu, queueSize);
        agent = new DeviceAgent("virtio-net-test");
        agent.add(device);
        runner = DeviceAgent.start(agent, new BackoffIdleStrategy(10, 10, 1000, 200_000));
        driver = new VirtioNetDriver("eth0", device, guest, queueSize, 16);
        driver.receiveInto(this::onFrame);
    }

    private void onFrame(final MemorySegment buffer, final long offset, final int length) {
        if (guest.physicalAddress(buffer, offset) < 0) {
            allViewsInGuestMemory = false;
        }
        received.add(buffer.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE));
    }

    int send(final byte[] frame) {
        return driver.transmit(MemorySegment.ofArray(frame), 0, frame.length);
    }

    @Override
    public void close() {
        driver.close();
        runner.close();
        device.close();
        ram.close();
    }
}
