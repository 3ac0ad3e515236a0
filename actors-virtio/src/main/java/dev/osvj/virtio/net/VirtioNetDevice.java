package dev.osvj.virtio.net;

import dev.osvj.virtio.DeviceType;
import dev.osvj.virtio.VirtioDevice;
import dev.osvj.virtio.VirtioFeatures;
import dev.osvj.virtio.ring.DescriptorChain;
import dev.osvj.virtio.ring.VirtqueueDevice;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The virtio-net device (backend side): moves frames between the guest's queues and a
 * {@link FrameTransport}. Offers MAC, STATUS (link up), MTU and MRG_RXBUF.
 *
 * <p>Transmit (queue 1): each chain is a 12-byte header and a frame; a chain whose header and frame
 * lie in one buffer is sent as a view into guest memory (zero copy), others are gathered into a
 * scratch buffer first. Receive (queue 0): each frame from the transport is written into the next
 * receive chain after a header; with MRG_RXBUF a frame larger than one buffer takes several (the
 * header's {@code num_buffers}). When the guest has posted no buffer the frame is dropped and
 * counted, as a NIC drops on an empty ring; chains taken for a frame that then did not fit are
 * returned with length 0.
 *
 * <p>Receive offloads: over a transport that delivers a host {@code virtio_net_hdr} with each frame
 * ({@link FrameTransport#offloadHeaderLength()} 12: a TAP with IFF_VNET_HDR) the device also offers
 * GUEST_CSUM and GUEST_TSO4, passes the host's header fields to the guest unchanged, and enables on
 * the transport what the driver accepted, so the host may hand over TCP super-frames (up to 64 KiB)
 * with partial checksums: one frame, one read and one receive for what would be 45 frames at MTU
 * 1500.
 *
 * <p>Direct receive ({@link #offerRx}): a transport whose peer runs in this JVM (a virtual switch
 * cutting a frame through on the sender's thread) may write a frame straight into the guest's
 * receive queue from its own thread instead of leaving it on the wire for this device's backend
 * thread. The receive queue's state (its chain, pop and used positions) is guarded by {@code rxLock},
 * held by the backend thread while it receives from the wire and by {@code offerRx}; lock order: a
 * caller's own locks (the switch's forwarding lock) before {@code rxLock}, and nothing is locked
 * under it. The driver is interrupted once per offered frame unless it suppressed interrupts (event
 * index: a driver still busy with earlier completions is not interrupted again). The device hands the
 * same entry to its transport ({@link FrameTransport#connectReceiver}), so an in-JVM peer such as the
 * user gateway receives into the guest from its own thread; {@code mayWait = false} there only
 * {@code tryLock}s (a kernel thread, or a thread inside an inline transmit, must not block). The backend
 * thread takes {@code rxLock} only when the guest was out of buffers or the transport may have frames
 * ({@link FrameTransport#mayHaveFrames}), so its idle duty cycles do not make such offers find it busy.
 *
 * <p>Inline transmit: when the transport {@link FrameTransport#transmitsInline() opts in}, a kick of
 * the transmit queue is served on the kicking thread (the guest driver's; see {@link VirtioDevice}):
 * the frames go to {@link FrameTransport#send} in ring order right there, with the backend thread as
 * the fallback whenever the device's work lock is busy. The receive queue's kicks (refills) still wake
 * the backend, which polls the wire.
 */
public final class VirtioNetDevice extends VirtioDevice {
    static final int BATCH = 64;
    /** Largest frame the device gathers or receives (64 KiB covers any MTU up to 65535 + header). */
    static final int MAX_FRAME = 65_536;

    private final FrameTransport transport;
    private final MemorySegment scratch = Arena.ofAuto().allocate(MAX_FRAME + VirtioNet.HEADER_LENGTH, 64);
    /** A receive header gathered before it is copied into a chain (under {@code rxLock}; {@code scratch} is the transmit side's). */
    private final MemorySegment rxHeader = Arena.ofAuto().allocate(VirtioNet.HEADER_LENGTH, 8);
    private final AtomicLong txFrames = new AtomicLong();
    private final AtomicLong txDropped = new AtomicLong();
    private final AtomicLong rxFrames = new AtomicLong();
    private final AtomicLong rxNoBuffer = new AtomicLong();
    /** Frames received through {@link #offerRx} (not from the backend's poll of the wire). */
    private final AtomicLong rxOffered = new AtomicLong();
    /** Non-waiting offers that found another thread receiving. */
    private final AtomicLong rxBusy = new AtomicLong();
    /** Frames transmitted on a kicking thread (inline kicks). */
    private final AtomicLong txInline = new AtomicLong();
    private final FrameSink rxSink = this::receive;
    /** Guards the receive queue's state: see the class comment. */
    private final ReentrantLock rxLock = new ReentrantLock();
    /** Under {@link #rxLock}: the device is active (between {@link #activate} and {@link #deactivate}). */
    private boolean rxOpen;
    private DescriptorChain txChain;
    private DescriptorChain rxChain;
    private VirtqueueDevice rxq;

    public VirtioNetDevice(final MemorySegment guest, final FrameTransport transport, final byte[] mac, final int mtu,
        final int queueSize) {
        super(DeviceType.NET, guest,
            VirtioFeatures.bit(VirtioNet.F_MAC) | VirtioFeatures.bit(VirtioNet.F_STATUS)
                | VirtioFeatures.bit(VirtioNet.F_MTU) | VirtioFeatures.bit(VirtioNet.F_MRG_RXBUF)
                | (transport.offloadHeaderLength() == VirtioNet.HEADER_LENGTH
                    ? VirtioFeatures.bit(VirtioNet.F_GUEST_CSUM) | VirtioFeatures.bit(VirtioNet.F_GUEST_TSO4) : 0),
            2, queueSize, VirtioNet.CONFIG_SIZE);
        this.transport = transport;
        for (int i = 0; i < 6; i++) {
            config.set(ValueLayout.JAVA_BYTE, VirtioNet.CONFIG_MAC + i, mac[i]);
        }
        putConfig16(VirtioNet.CONFIG_STATUS, VirtioNet.S_LINK_UP);
        putConfig16(VirtioNet.CONFIG_MAX_VIRTQUEUE_PAIRS, 1);
        putConfig16(VirtioNet.CONFIG_MTU, mtu);
        transport.connectReceiver(this::offerRx);
    }

    public FrameTransport frameTransport() {
        return transport;
    }

    /** Change the link state (STATUS) and tell the driver with a config-change interrupt. */
    public void linkUp(final boolean up) {
        putConfig16(VirtioNet.CONFIG_STATUS, up ? VirtioNet.S_LINK_UP : 0);
        configChanged();
    }

    @Override
    protected void activate() {
        txChain = queue(VirtioNet.TX_QUEUE) == null ? null : queue(VirtioNet.TX_QUEUE).newChain();
        rxChain = queue(VirtioNet.RX_QUEUE) == null ? null : queue(VirtioNet.RX_QUEUE).newChain();
        hostHeaders = transport.offloadHeaderLength() == VirtioNet.HEADER_LENGTH && negotiated(VirtioNet.F_GUEST_CSUM);
        transport.enableOffloads(hostHeaders, hostHeaders && negotiated(VirtioNet.F_GUEST_TSO4));
        rxLock.lock();
        try {
            rxOpen = true;
        } finally {
            rxLock.unlock();
        }
    }

    @Override
    protected void deactivate() {
        rxLock.lock(); // an offerRx in progress finishes before the queues are detached
        try {
            rxOpen = false;
        } finally {
            rxLock.unlock();
        }
    }

    /** {@link #offerRx}: the frame is in the guest's receive queue (or was dropped and counted, as a NIC drops). */
    public static final int RX_TAKEN = FrameTransport.DirectReceiver.RX_TAKEN;
    /** {@link #offerRx}: the guest has no receive buffer posted; the caller keeps the frame on its wire. */
    public static final int RX_NO_ROOM = FrameTransport.DirectReceiver.RX_NO_ROOM;
    /** {@link #offerRx}: the device is not running (not yet DRIVER_OK, reset, or needs a reset). */
    public static final int RX_DOWN = FrameTransport.DirectReceiver.RX_DOWN;
    /** {@link #offerRx(MemorySegment, long, int, boolean)} without waiting: another thread is receiving. */
    public static final int RX_BUSY = FrameTransport.DirectReceiver.RX_BUSY;

    /**
     * Any thread: receive one frame straight into the guest's receive queue and interrupt the driver
     * (unless it suppressed interrupts), without the backend thread. The bytes are copied before the
     * call returns. Waits only while another thread receives into this device (the backend thread
     * from the wire, or another offer); never blocks on the guest. A caller that got
     * {@link #RX_NO_ROOM} must deliver this frame, and the ones after it, through the transport, so
     * the guest sees them in order once it posted buffers (the backend resumes the wire then).
     *
     * @return {@link #RX_TAKEN}, {@link #RX_NO_ROOM} or {@link #RX_DOWN}.
     */
    public int offerRx(final MemorySegment buffer, final long offset, final int length) {
        return offerRx(buffer, offset, length, true);
    }

    /**
     * {@link #offerRx(MemorySegment, long, int)}, or with {@code mayWait} false only if no other thread is
     * receiving into this device now ({@link #RX_BUSY} otherwise; never blocks: for kernel threads and
     * inline transmits). Also {@link #RX_BUSY} when the calling thread is receiving into this device
     * already (an interrupt handler it ran inline made the offer). The
     * {@link FrameTransport.DirectReceiver} the device gives its transport.
     *
     * @return {@link #RX_TAKEN}, {@link #RX_NO_ROOM}, {@link #RX_DOWN} or {@link #RX_BUSY}.
     */
    public int offerRx(final MemorySegment buffer, final long offset, final int length, final boolean mayWait) {
        if (rxLock.isHeldByCurrentThread()) {
            // an interrupt handler run inline by this device's own receive made the offer: not re-entered
            rxBusy.incrementAndGet();
            return RX_BUSY;
        }
        if (mayWait) {
            rxLock.lock();
        } else if (!rxLock.tryLock()) {
            rxBusy.incrementAndGet();
            return RX_BUSY;
        }
        try {
            if (!rxOpen || !live()) {
                return RX_DOWN;
            }
            final VirtqueueDevice q = queue(VirtioNet.RX_QUEUE);
            if (q == null) {
                return RX_DOWN;
            }
            if (q.availableChains() == 0) {
                rxStarved = true; // the driver's refill kick is work: the backend then polls the wire
                return RX_NO_ROOM;
            }
            rxq = q;
            receive(buffer, offset, length);
            q.publishUsed();
            rxOffered.incrementAndGet();
            return RX_TAKEN;
        } finally {
            rxLock.unlock();
        }
    }

    /** Set at DRIVER_OK: frames carry the host's offload header, and the guest accepted it. */
    private volatile boolean hostHeaders;

    /** The receive header of a frame at {@code buffer[offset]}: the host's offload fields, or none. */
    private void putRxHeader(final MemorySegment dst, final long dstOffset, final MemorySegment buffer, final long offset,
        final int numBuffers) {
        if (hostHeaders) {
            VirtioNet.putHeader(dst, dstOffset, buffer, offset - VirtioNet.HEADER_LENGTH, numBuffers);
        } else {
            VirtioNet.putHeader(dst, dstOffset, numBuffers);
        }
    }

    @Override
    public boolean needsPolling() {
        return rxStarved || transport.needsPolling();
    }

    @Override
    protected boolean servesKicksInline(final int queue) {
        return queue == VirtioNet.TX_QUEUE && transport.transmitsInline();
    }

    @Override
    protected int doInlineWork(final int queue) {
        int work = 0;
        int n;
        do { // everything the driver published, not just one batch: the backend is not coming
            n = transmitBatch();
            work += n;
        } while (n == BATCH);
        txInline.addAndGet(work);
        return work;
    }

    /** Up to {@link #BATCH} transmit chains to the transport (work lock held: backend or inline kick). */
    private int transmitBatch() {
        final VirtqueueDevice txq = queue(VirtioNet.TX_QUEUE);
        if (txq == null) {
            return 0;
        }
        int work = 0;
        for (int i = 0; i < BATCH; i++) {
            final int head = txq.pop(txChain);
            if (head == VirtqueueDevice.NONE) {
                break;
            }
            work++;
            if (head >= 0) {
                transmit(txChain);
                txq.pushUsed(head, 0);
            }
        }
        txq.publishUsed();
        return work;
    }

    @Override
    protected int doWork() {
        int work = transmitBatch();
        if (!rxStarved && !transport.mayHaveFrames()) {
            return work; // nothing on the wire and buffers posted: the receive lock stays free for direct receives
        }
        rxLock.lock();
        try {
            rxq = queue(VirtioNet.RX_QUEUE);
            if (rxq != null) {
                // Take frames off the wire only while the guest has buffers for them (as QEMU's
                // can_receive): without room they wait on the wire instead of being dropped, and the
                // driver's refill kick (or the re-check before idling) resumes the receive.
                final int room = rxq.availableChains();
                rxStarved = room == 0;
                if (room > 0) {
                    work += transport.poll(rxSink, Math.min(BATCH, room));
                    rxq.publishUsed();
                }
            }
        } finally {
            rxLock.unlock();
        }
        return work;
    }

    @Override
    protected boolean availableIsWork(final int queue) {
        // Posted receive buffers are work only when the last cycle had none for the wire's frames.
        return queue != VirtioNet.RX_QUEUE || rxStarved;
    }

    /** The last receive (backend duty cycle or {@link #offerRx}) found no receive buffer; read by the backend. */
    private volatile boolean rxStarved;

    private void transmit(final DescriptorChain c) {
        final long frameLength = c.readableBytes() - VirtioNet.HEADER_LENGTH;
        if (frameLength <= 0 || frameLength > MAX_FRAME) {
            txDropped.incrementAndGet();
            return;
        }
        final int rc;
        if (c.readableCount() >= 1 && c.len(0) == c.readableBytes()) {
            rc = transport.send(guest(), c.addr(0) + VirtioNet.HEADER_LENGTH, (int)frameLength);
        } else if (c.readableCount() == 2 && c.len(0) == VirtioNet.HEADER_LENGTH) {
            rc = transport.send(guest(), c.addr(1), (int)frameLength);
        } else {
            c.copyFromReadable(VirtioNet.HEADER_LENGTH, scratch, 0, frameLength);
            rc = transport.send(scratch, 0, (int)frameLength);
        }
        if (rc == 0) {
            txFrames.incrementAndGet();
        } else {
            txDropped.incrementAndGet();
        }
    }

    /** A frame from the wire: into the guest's next receive buffer(s). */
    private void receive(final MemorySegment buffer, final long offset, final int length) {
        final VirtqueueDevice q = rxq;
        final boolean merge = negotiated(VirtioNet.F_MRG_RXBUF);
        final long needed = (long)length + VirtioNet.HEADER_LENGTH;
        int head = q.pop(rxChain);
        while (head == VirtqueueDevice.MALFORMED) {
            head = q.pop(rxChain);
        }
        if (head < 0) {
            rxNoBuffer.incrementAndGet();
            return;
        }
        if (!merge || rxChain.writableBytes() >= needed) {
            if (rxChain.writableBytes() < needed) {
                q.pushUsed(head, 0);
                rxNoBuffer.incrementAndGet();
                return;
            }
            final long hdrPa = rxChain.locate(true, 0);
            if (rxChain.len(rxChain.readableCount()) >= VirtioNet.HEADER_LENGTH) {
                putRxHeader(guest(), hdrPa, buffer, offset, 1);
            } else {
                putRxHeader(rxHeader, 0, buffer, offset, 1);
                rxChain.copyToWritable(0, rxHeader, 0, VirtioNet.HEADER_LENGTH);
            }
            rxChain.copyToWritable(VirtioNet.HEADER_LENGTH, buffer, offset, length);
            q.pushUsed(head, (int)needed);
            rxFrames.incrementAndGet();
            return;
        }
        // MRG_RXBUF: spread header + frame over as many buffers as it takes (the driver posts
        // equal buffers, so the first one's size tells how many); the header goes to the first
        // buffer and num_buffers is written once known.
        final long firstHeaderPa = rxChain.locate(true, 0);
        final long per = rxChain.writableBytes();
        final long buffersNeeded = (needed + per - 1) / per;
        if (rxChain.len(rxChain.readableCount()) < VirtioNet.HEADER_LENGTH || q.availableChains() < buffersNeeded - 1) {
            q.pushUsed(head, 0);
            rxNoBuffer.incrementAndGet();
            return;
        }
        long frameDone = Math.min(length, per - VirtioNet.HEADER_LENGTH);
        rxChain.copyToWritable(VirtioNet.HEADER_LENGTH, buffer, offset, frameDone);
        q.pushUsed(head, (int)(frameDone + VirtioNet.HEADER_LENGTH));
        int buffers = 1;
        while (frameDone < length) {
            head = q.pop(rxChain);
            if (head < 0) {
                break; // smaller buffers than the first: the frame arrives truncated, num_buffers says so
            }
            final long n = Math.min(length - frameDone, rxChain.writableBytes());
            rxChain.copyToWritable(0, buffer, offset + frameDone, n);
            q.pushUsed(head, (int)n);
            frameDone += n;
            buffers++;
        }
        putRxHeader(guest(), firstHeaderPa, buffer, offset, buffers);
        rxFrames.incrementAndGet();
    }

    @Override
    public String featureName(final int bit) {
        return VirtioNet.featureName(bit);
    }

    @Override
    public String deviceCounters() {
        return "tx=" + txFrames.get() + " tx_dropped=" + txDropped.get() + " tx_inline=" + txInline.get()
            + " inline_kicks=" + inlineKicks() + " inline_fallbacks=" + inlineFallbacks() + " rx=" + rxFrames.get()
            + " rx_offered=" + rxOffered.get() + " rx_busy=" + rxBusy.get() + " rx_no_buffer=" + rxNoBuffer.get();
    }

    public long rxNoBuffer() {
        return rxNoBuffer.get();
    }

    @Override
    public String location() {
        return "in-process, " + transport.describe();
    }

    @Override
    public void close() {
        super.close();
        transport.close();
    }
}
