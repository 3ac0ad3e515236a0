package dev.osvj.system.glue;

import dev.osvj.net.dev.FrameHandler;
import dev.osvj.net.dev.RingDevice;
import dev.osvj.net.user.UserGateway;
import dev.osvj.virtio.net.FrameSink;
import dev.osvj.virtio.net.FrameTransport;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;

/**
 * The {@code user} backend as a virtio-net {@link FrameTransport}. The device serialises
 * {@link #send} and {@link #poll} (one thread at a time), so the reusable views need no locking.
 *
 * <ul>
 *   <li>Guest to gateway: {@link #send} runs the frame through the {@link UserGateway} (see its guest
 *       link); with the gateway's inline receive this transport {@link #transmitsInline() transmits
 *       inline}: the device calls {@link #send} on the guest driver's kicking thread, and the gateway
 *       processes the frame and writes the reply to the host socket right there, never blocking it.</li>
 *   <li>Gateway to guest: the device's {@link DirectReceiver} becomes the gateway's
 *       {@link UserGateway.GuestReceiver}, so the gateway's thread writes its frames straight into the
 *       guest's receive queue and interrupts the guest; the frames it does not take (no buffer posted,
 *       busy) wait in the gateway's ring, whose notifier wakes the device's backend thread to
 *       {@link #poll} them, as before.</li>
 * </ul>
 *
 * <p>The rings' memory is off-heap; its {@link MemorySegment} is made once per ring buffer (the
 * gateway keeps one), not per frame; heap frames get a segment per backing array, cached.
 */
final class UserFrameTransport implements FrameTransport {
    private static final long BYTE_ARRAY_BASE = org.agrona.UnsafeApi.arrayBaseOffset(byte[].class);
    private final UserGateway gateway;
    private final RingDevice end;
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

    /** Times the gateway woke the device's backend thread for frames it left in its ring. */
    private final java.util.concurrent.atomic.AtomicLong pollerWakes = new java.util.concurrent.atomic.AtomicLong();

    /** The calling thread (the device's backend) is the one {@link #wakePoller} wakes. */
    private void registerPoller() {
        final Thread self = Thread.currentThread();
        if (poller != self) {
            poller = self;
        }
    }

    private void wakePoller() {
        pollerWakes.incrementAndGet();
        final Thread t = poller;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /**
     * {@link FrameTransport#mayHaveFrames}: frames wait only in the gateway's ring (the others went straight
     * into the guest's queue), whose receive notifier wakes the poller ({@link #wakePoller}) whenever a frame
     * finds no notification pending ({@link RingDevice#mayHaveFrames} is true until the next poll), so the
     * device's backend takes its receive lock only when the ring has something for it. The asking thread
     * is the backend's: it becomes the one to wake even before its first poll.
     */
    @Override
    public boolean mayHaveFrames() {
        registerPoller();
        return end.mayHaveFrames();
    }

    /** {@link FrameTransport#needsPolling}: false, the ring's notifier wakes the poller (see {@link #mayHaveFrames}). */
    @Override
    public boolean needsPolling() {
        return false;
    }

    /** Guest frames run through the gateway on the device's kicking thread when the gateway processes inline. */
    @Override
    public boolean transmitsInline() {
        return gateway.inlineReceive();
    }

    @Override
    public void connectReceiver(final DirectReceiver receiver) {
        gateway.directReceive(receiver == null ? null : new ToDevice(receiver));
    }

    /** The gateway's frames straight into the guest's queue: Agrona buffers as memory segments, no allocation. */
    private static final class ToDevice implements UserGateway.GuestReceiver {
        /** All of native memory, for frames in off-heap buffers (offset = address). */
        private static final MemorySegment NATIVE = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
        private final DirectReceiver device;
        /** The last heap array seen and its segment (one immutable pair: any thread may replace it). */
        private volatile HeapSegment heap = new HeapSegment(new byte[0], MemorySegment.ofArray(new byte[0]));

        private record HeapSegment(byte[] array, MemorySegment segment) {
        }

        ToDevice(final DirectReceiver device) {
            this.device = device;
        }

        @Override
        public int offer(final DirectBuffer buffer, final int offset, final int length, final boolean mayWait) {
            final byte[] array = buffer.byteArray();
            final int rc;
            if (array == null) {
                rc = device.offerRx(NATIVE, buffer.addressOffset() + offset, length, mayWait);
            } else {
                HeapSegment h = heap;
                if (h.array() != array) {
                    h = new HeapSegment(array, MemorySegment.ofArray(array));
                    heap = h;
                }
                rc = device.offerRx(h.segment(), buffer.addressOffset() - BYTE_ARRAY_BASE + offset, length, mayWait);
            }
            return switch (rc) {
                case DirectReceiver.RX_TAKEN -> UserGateway.GuestReceiver.TAKEN;
                case DirectReceiver.RX_NO_ROOM -> UserGateway.GuestReceiver.NO_ROOM;
                case DirectReceiver.RX_BUSY -> UserGateway.GuestReceiver.BUSY;
                default -> UserGateway.GuestReceiver.DOWN;
            };
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
        registerPoller();
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

    /** The gateway (as its boot note) and its counters, for lsdev. */
    @Override
    public String describe() {
        return gateway.describe() + "; " + gateway.counters() + " poller_wakes=" + pollerWakes.get();
    }

    @Override
    public void close() {
        gateway.close();
    }
}
