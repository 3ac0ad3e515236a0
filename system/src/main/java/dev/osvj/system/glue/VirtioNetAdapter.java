package dev.osvj.system.glue;

import dev.osvj.net.dev.FrameHandler;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.virtio.net.FrameSink;
import dev.osvj.virtio.net.NetDevicePort;
import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A virtio-net driver's {@link NetDevicePort} as the stack's {@link NetDevice}.
 *
 * <p>Receive is push mode ({@link #deliverInline}) and zero-copy: the driver's receive interrupt handler
 * (inline on the host thread that raised the interrupt, or the interrupt actor) drains
 * the used ring and calls the port's sink with each frame as a view into guest memory; the sink
 * re-points one {@link UnsafeBuffer} at those bytes ({@code wrap(address, length)}, no allocation) and
 * runs the stack's receive path (classifier, general path) on it right there, as OSv's driver runs
 * the classifier. The stack copies only what it keeps (a segment queued into a flow's net channel goes
 * into a pooled packet buffer). The view is only touched by that handler, which runs one at a time
 * (the driver's interrupt context).
 * A frame whose checksum the driver trusts (receive offloads, {@link FrameSink#CHECKSUM_VALID}) goes on
 * with {@link FrameHandler#CHECKSUM_VALID}, and the driver is told to trust exactly when the stack's
 * receive path accepts that flag, so neither does a pass over the frame to check it.
 *
 * <p>With {@link #DEFERRED_KICK} the doorbell is deferred ({@link NetDevicePort#commitDeferred},
 * {@link #flushTransmit}): the frame is published in order under the stack's interface transmit lock, and
 * the kick, which with an inline transmitting backend (the user gateway) runs the whole host-side
 * transmit on this thread, is sent after the stack released that lock, so a second vCPU sending meanwhile
 * does not wait on it.
 *
 * <p>Transmit: claim a transmit buffer in guest memory ({@link NetDevicePort#tryClaim}), copy the
 * frame into it with one {@code MemorySegment.copy} into the guest-memory segment (no allocation on
 * the steady path; the stack's frame is in its per-interface transmit buffer; a send after guest RAM
 * was released is an exception, not a write into freed memory), commit. No free buffer is a dropped frame, as with a full
 * NIC ring (TCP retransmits): {@link #transmit} returns false, the stack counts it as the interface's
 * {@code tx_dropped}, and the adapter counts it in {@link #transmitDropped()}. {@link #droppedFrames()}
 * (the stack adds it to {@code rx_dropped}) counts only received frames the adapter could not hand on.
 */
public final class VirtioNetAdapter implements NetDevice {
    /**
     * {@code -Ddev.osvj.virtio.net.deferred-kick} (default false): true makes {@link #transmit} publish the
     * frame and leave the doorbell to {@link #flushTransmit}, which the stack calls after releasing the
     * interface's transmit lock; false kicks inside {@code transmit} (under that lock; the driver itself
     * kicks after releasing its own lock either way). Measured on the user gateway's memcached load (11
     * interleaved pairs on a loaded 2-core host): deferring removes the waits for the interface's transmit
     * lock (0.14-0.17 per request to 0.001) but vCPU halts rise by 0.1-0.15 per request (the second sender
     * no longer waits, briefly, for the first one's inline transmit: it goes idle and is woken later) and
     * throughput was lower in 7 of 11 pairs, so it stays off until a quiet machine says otherwise.
     */
    static final boolean DEFERRED_KICK = Boolean.parseBoolean(
        System.getProperty("dev.osvj.virtio.net.deferred-kick", "false"));
    private final String name;
    private final NetDevicePort port;
    private final long mac;
    private final int mtu;
    /** Received frames not handed to the stack (receive side: part of the interface's rx_dropped). */
    private final AtomicLong rxDropped = new AtomicLong();
    /** Frames the device had no transmit buffer for (transmit side; the stack counts them as tx_dropped). */
    private final AtomicLong txDropped = new AtomicLong();
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
            txDropped.incrementAndGet();
            return false;
        }
        final MemorySegment guest = port.guestMemory();
        final long dst = port.claimedOffset(claim);
        // Through the guest-memory segment, never a raw address: the segment is bound to guest RAM's
        // arena, so a frame sent while the kernel powers off (RAM already released) is an
        // IllegalStateException for the sender, not a write into freed memory.
        MemorySegment.copy(sourceOf(buffer), sourceOffset(buffer) + offset, guest, dst, length);
        if (DEFERRED_KICK) {
            port.commitDeferred(claim, length);
        } else {
            port.commit(claim, length);
        }
        return true;
    }

    /** The kick {@link #transmit} owed: the stack calls this after releasing the interface's transmit lock. */
    @Override
    public void flushTransmit() {
        port.flushTransmit();
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

    /** Received frames dropped here (never transmit failures: those are {@link #transmitDropped()}). */
    @Override
    public long droppedFrames() {
        return rxDropped.get();
    }

    /** Frames {@link #transmit} dropped because the device had no free transmit buffer. */
    public long transmitDropped() {
        return txDropped.get();
    }

    @Override
    public boolean deliverInline(final FrameHandler receivePath) {
        port.receiveInto(new FrameSink() {
            @Override
            public void onFrame(final MemorySegment segment, final long offset, final int length) {
                onFrame(segment, offset, length, 0);
            }

            @Override
            public void onFrame(final MemorySegment segment, final long offset, final int length, final int flags) {
                final int handlerFlags = (flags & FrameSink.CHECKSUM_VALID) != 0 ? FrameHandler.CHECKSUM_VALID : 0;
                if (segment.isNative()) {
                    rxView.wrap(segment.address() + offset, length);
                    hand(receivePath, rxView, length, handlerFlags);
                } else if (length <= heapScratch.length) {
                    MemorySegment.copy(segment, java.lang.foreign.ValueLayout.JAVA_BYTE, offset, heapScratch, 0, length);
                    hand(receivePath, heapView, length, handlerFlags);
                } else {
                    rxDropped.incrementAndGet();
                }
            }

            /** The driver may skip checksum passes exactly when the stack's receive path honours the flag. */
            @Override
            public boolean acceptsChecksumValid() {
                return receivePath.acceptsChecksumValid();
            }
        });
        return true;
    }

    private static void hand(final FrameHandler receivePath, final UnsafeBuffer frame, final int length,
        final int flags) {
        if (flags == 0) {
            receivePath.onFrame(frame, 0, length);
        } else {
            receivePath.onFrame(frame, 0, length, flags);
        }
    }
}
