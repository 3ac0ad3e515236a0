package dev.osvj.system.glue;

import dev.osvj.net.dev.FrameHandler;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.net.user.UserGateway;
import dev.osvj.virtio.net.FrameSink;
import dev.osvj.virtio.net.FrameTransport;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;

/**
 * The {@code user} backend as a virtio-net {@link FrameTransport}: frames the guest sends go into the
 * {@link UserGateway}'s receive ring (one copy, as a NIC puts them on the wire), and the frames the
 * gateway sends are handed to the device as views into the gateway's transmit ring. Called only by
 * the virtio device's backend thread (one at a time), so the two reusable views need no locking.
 *
 * <p>The ring's memory is off-heap; its {@link MemorySegment} is made once per ring buffer (the
 * gateway keeps one), not per frame.
 */
final class UserFrameTransport implements FrameTransport {
    private static final long BYTE_ARRAY_BASE = org.agrona.UnsafeApi.arrayBaseOffset(byte[].class);
    private final UserGateway gateway;
    private final NetDevice end;
    private final UnsafeBuffer txView = new UnsafeBuffer(0, 0);
    private FrameSink sink;
    private MutableDirectBuffer ringBuffer;
    private MemorySegment ringSegment;
    private final FrameHandler toSink = this::onFrame;

    /** The device backend thread that polls this transport, woken when the gateway sends the guest a frame. */
    private volatile Thread poller;

    UserFrameTransport(final UserGateway gateway) {
        this.gateway = gateway;
        this.end = gateway.guestEnd();
        // Without this the backend thread finds the gateway's frames only when its idle strategy's park
        // runs out (up to osvj.virtio.idle-max-park): every host-to-guest hop paid that latency.
        end.setRxNotifier(this::wakePoller);
    }

    private void wakePoller() {
        final Thread t = poller;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    @Override
    public int send(final MemorySegment buffer, final long offset, final int length) {
        if (!buffer.isNative()) {
            final byte[] copy = buffer.asSlice(offset, length).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            return end.transmit(new UnsafeBuffer(copy), 0, length) ? 0 : BACK_PRESSURED; // heap memory: tests only
        }
        txView.wrap(buffer.address() + offset, length);
        return end.transmit(txView, 0, length) ? 0 : BACK_PRESSURED;
    }

    @Override
    public int poll(final FrameSink frameSink, final int limit) {
        final Thread self = Thread.currentThread();
        if (poller != self) {
            poller = self;
        }
        sink = frameSink;
        try {
            return end.poll(toSink, limit);
        } finally {
            sink = null;
        }
    }

    private void onFrame(final MutableDirectBuffer buffer, final int offset, final int length) {
        if (buffer != ringBuffer) {
            ringBuffer = buffer;
            ringSegment = buffer.byteArray() != null ? MemorySegment.ofArray(buffer.byteArray())
                : MemorySegment.ofAddress(buffer.addressOffset()).reinterpret(buffer.capacity());
        }
        final long base = buffer.byteArray() != null ? buffer.addressOffset() - BYTE_ARRAY_BASE : 0;
        sink.onFrame(ringSegment, base + offset, length);
    }

    @Override
    public String describe() {
        return gateway.describe();
    }

    @Override
    public void close() {
        gateway.close();
    }
}
