package dev.osvj.net.stack;

import dev.osvj.net.dev.FrameHandler;
import dev.osvj.net.dev.NetDevice;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The stack sends a device's owed doorbell ({@link NetDevice#flushTransmit}) after every transmit, once it
 * has released the interface's transmit lock (the virtio-net driver's kick may run a whole inline transmit).
 */
class FlushTransmitTest {
    private static final int ADDRESS = 0x0A000002; // 10.0.0.2/24
    private static final int MASK = 0xFFFFFF00;

    /** Records, per call, whether the interface's transmit lock was held by the caller. */
    private static final class RecordingDevice implements NetDevice {
        volatile NetInterface ifc;
        final List<String> calls = new ArrayList<>();

        @Override
        public String name() {
            return "eth0";
        }

        @Override
        public long mac() {
            return 0x525400123456L;
        }

        @Override
        public int mtu() {
            return 1500;
        }

        @Override
        public boolean transmit(final DirectBuffer buffer, final int offset, final int length) {
            calls.add("transmit locked=" + ifc.txLock.isHeldByCurrentThread());
            return true;
        }

        @Override
        public void flushTransmit() {
            calls.add("flush locked=" + ifc.txLock.isHeldByCurrentThread());
        }

        @Override
        public int poll(final FrameHandler handler, final int budget) {
            return 0;
        }

        @Override
        public void setRxNotifier(final Runnable notifier) {
        }

        @Override
        public long droppedFrames() {
            return 0;
        }
    }

    @Test
    void shouldFlushTheDeviceAfterReleasingTheTransmitLock() {
        final NetStack stack = new NetStack(StackSettings.defaults(), System::nanoTime);
        final RecordingDevice device = new RecordingDevice();
        device.ifc = stack.addInterface(device, false, ADDRESS, MASK, 0);
        final UnsafeBuffer payload = new UnsafeBuffer(new byte[] {1, 2, 3});
        // a broadcast needs no ARP: one frame straight to the device
        assertEquals(3, stack.sendDatagram(ADDRESS, 5000, 0x0A0000FF, 5001, payload, 0, 3));
        assertEquals(List.of("transmit locked=true", "flush locked=false"), device.calls);
        assertEquals(0, stack.counters().get(NetCounters.Counter.TX_LOCK_WAITS), "an uncontended transmit lock");
    }
}
