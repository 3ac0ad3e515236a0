package dev.osvj.vswitch;

import dev.osvj.net.dev.FrameHandler;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.virtio.net.NetDevicePort;
import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Test fixture: a virtio-net driver's port as the stack's device, by copy (the system module's
 * zero-copy adapter is out of reach here: system depends on this module). Push-mode receive from
 * the driver's interrupt actor.
 */
final class PortNetDevice implements NetDevice {
    private static final MemorySegment EVERYTHING = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private final String name;
    private final NetDevicePort port;
    private final AtomicLong dropped = new AtomicLong();
    private final byte[] rx = new byte[65_600];
    private final UnsafeBuffer rxView = new UnsafeBuffer(rx);
    /** Runs on the receiving thread before each received frame goes to the stack (tests observe that thread). */
    volatile Runnable onReceive = () -> {
    };
    /** Runs on the receiving thread after each received frame went through the stack's receive path. */
    volatile Runnable afterReceive = () -> {
    };

    PortNetDevice(final String name, final NetDevicePort port) {
        this.name = name;
        this.port = port;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long mac() {
        long m = 0;
        for (final byte b : port.mac()) {
            m = m << 8 | (b & 0xFF);
        }
        return m;
    }

    @Override
    public int mtu() {
        return port.mtu();
    }

    @Override
    public boolean transmit(final DirectBuffer buffer, final int offset, final int length) {
        final byte[] array = buffer.byteArray();
        final int rc = array != null
            ? port.transmit(MemorySegment.ofArray(array), buffer.addressOffset() - UnsafeApi.arrayBaseOffset(byte[].class) + offset, length)
            : port.transmit(EVERYTHING, buffer.addressOffset() + offset, length);
        if (rc != 0) {
            dropped.incrementAndGet();
        }
        return rc == 0;
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
        return dropped.get();
    }

    @Override
    public boolean deliverInline(final FrameHandler receivePath) {
        port.receiveInto((segment, offset, length) -> {
            onReceive.run();
            MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset, rx, 0, length);
            receivePath.onFrame(rxView, 0, length);
            afterReceive.run();
        });
        return true;
    }
}
