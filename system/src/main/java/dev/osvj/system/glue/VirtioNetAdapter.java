package dev.osvj.system.glue;

import dev.osvj.net.dev.FrameHandler;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.virtio.net.NetDevicePort;
import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A virtio-net driver's {@link NetDevicePort} as the stack's {@link NetDevice}.
 *
 * <p>Receive is push mode ({@link #deliverInline}) and zero-copy: the driver's interrupt actor drains
 * the used ring and calls the port's sink with each frame as a view into guest memory; the sink
 * re-points one {@link UnsafeBuffer} at those bytes ({@code wrap(address, length)}, no allocation) and
 * runs the stack's receive path (classifier, general path) on it right there, as OSv's driver runs
 * the classifier. The stack copies only what it keeps (a segment queued into a flow's net channel goes
 * into a pooled packet buffer). The view is only touched by the interrupt actor, one message at a time.
 *
 * <p>Transmit: claim a transmit buffer in guest memory ({@link NetDevicePort#tryClaim}), copy the
 * frame into it with one {@code MemorySegment.copy} into the guest-memory segment (no allocation on
 * the steady path; the stack's frame is in its per-interface transmit buffer; a send after guest RAM
 * was released is an exception, not a write into freed memory), commit. No free buffer is a dropped frame, counted, as with a full
 * NIC ring; TCP retransmits.
 */
public final class VirtioNetAdapter implements NetDevice {
    private final String name;
    private final NetDevicePort port;
    private final long mac;
    private final int mtu;
    private final AtomicLong dropped = new AtomicLong();
    private final UnsafeBuffer rxView = new UnsafeBuffer(0, 0);
    private final byte[] heapScratch = new byte[65_536 + 64];
    private final UnsafeBuffer heapView = new UnsafeBuffer(heapScratch);

    /**
     * @param name the interface name the stack shows ({@code eth0}).
     * @param mtu  the interface's MTU: at most the device's.
     */
    public VirtioNetAdapter(final String name, final NetDevicePort port, final int mtu) {
        this.name = name;
        this.port = port;
        long m = 0;
        for (final byte b : port.mac()) {
            m = m << 8 | (b & 0xFF);
        }
        this.mac = m;
        this.mtu = Math.min(mtu, port.mtu());
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long mac() {
        return mac;
    }

    @Override
    public int mtu() {
        return mtu;
    }

    /** The device behind this interface. */
    public NetDevicePort port() {
        return port;
    }

    @Override
    public boolean transmit(final DirectBuffer buffer, final int offset, final int length) {
        final int claim = port.tryClaim(length);
        if (claim < 0) {
            dropped.incrementAndGet();
            return false;
        }
        final MemorySegment guest = port.guestMemory();
        final long dst = port.claimedOffset(claim);
        // Through the guest-memory segment, never a raw address: the segment is bound to guest RAM's
        // arena, so a frame sent while the kernel powers off (RAM already released) is an
        // IllegalStateException for the sender, not a write into freed memory.
        MemorySegment.copy(sourceOf(buffer), sourceOffset(buffer) + offset, guest, dst, length);
        port.commit(claim, length);
        return true;
    }

    /** A transmit buffer and the segment over its memory (one immutable pair: senders race freely). */
    private record Source(DirectBuffer buffer, MemorySegment segment) {
    }

    /** The last one used: the stack sends from a few long-lived buffers, so this rarely changes. */
    private volatile Source lastSource;

    /** A segment over the Agrona buffer's memory (its byte array, or its native range). */
    private MemorySegment sourceOf(final DirectBuffer buffer) {
        final Source last = lastSource;
        if (last != null && last.buffer() == buffer && last.segment().byteSize() >= buffer.capacity()) {
            return last.segment();
        }
        final byte[] array = buffer.byteArray();
        final MemorySegment segment = array != null
            ? MemorySegment.ofArray(array)
            : MemorySegment.ofAddress(buffer.addressOffset()).reinterpret(buffer.capacity());
        lastSource = new Source(buffer, segment);
        return segment;
    }

    /** Where the buffer's index 0 lies in {@link #sourceOf}'s segment. */
    private static long sourceOffset(final DirectBuffer buffer) {
        return buffer.byteArray() != null ? buffer.addressOffset() - UnsafeApi.arrayBaseOffset(byte[].class) : 0;
    }

    @Override
    public int poll(final FrameHandler handler, final int budget) {
        return 0; // push mode: frames arrive through deliverInline's sink
    }

    @Override
    public void setRxNotifier(final Runnable notifier) {
        // push mode: no receive actor to wake
    }

    @Override
    public long droppedFrames() {
        return dropped.get();
    }

    @Override
    public boolean deliverInline(final FrameHandler receivePath) {
        port.receiveInto((segment, offset, length) -> {
            if (segment.isNative()) {
                rxView.wrap(segment.address() + offset, length);
                receivePath.onFrame(rxView, 0, length);
            } else if (length <= heapScratch.length) {
                MemorySegment.copy(segment, java.lang.foreign.ValueLayout.JAVA_BYTE, offset, heapScratch, 0, length);
                receivePath.onFrame(heapView, 0, length);
            } else {
                dropped.incrementAndGet();
            }
        });
        return true;
    }
}
