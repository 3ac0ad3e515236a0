package dev.osvj.virtio.net;

import dev.osvj.kernel.Errno;
import dev.osvj.virtio.GuestMemory;
import dev.osvj.virtio.VirtioDriver;
import dev.osvj.virtio.VirtioFeatures;
import dev.osvj.virtio.VirtioTransport;
import dev.osvj.virtio.ring.Notifier;
import dev.osvj.virtio.ring.ScatterList;
import dev.osvj.virtio.ring.VirtqueueDriver;
import dev.osvj.virtio.ring.VirtqueueLayout;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The virtio-net driver (kernel side), the {@link NetDevicePort} actors-net uses.
 *
 * <p>Receive (queue 0, interrupt actor only): one receive buffer per queue entry, preallocated in
 * guest memory (a 4 KiB page each with MRG_RXBUF, as OSv; otherwise header + MTU frame). A completed
 * buffer's frame goes to the {@link FrameSink} as a view into guest memory (no copy); a frame that
 * spans buffers (MRG_RXBUF) is assembled in a guest scratch buffer first. Buffers go back to the
 * device in batches: after an interrupt, once at least {@code refillThreshold} are free (OSv: 16),
 * with one publish (one kick at most) per batch.
 *
 * <p>Receive offloads: when the device offers them (its host delivers offload headers), the driver
 * accepts GUEST_CSUM and GUEST_TSO4: frames may then be TCPv4 super-frames of up to 64 KiB (spread
 * over receive pages, MRG_RXBUF) and carry NEEDS_CSUM, whose TCP checksum the driver completes before
 * handing the frame on, so the stack sees an ordinary, fully checksummed (if long) segment.
 *
 * <p>Transmit (queue 1, any thread, under the transmit lock): one preallocated guest buffer per
 * queue entry holds header and frame in one descriptor. Completed transmissions are reclaimed on
 * the next transmit; transmit interrupts stay off (the device's progress is only needed when the
 * stack wants a buffer, and then it reclaims).
 */
public final class VirtioNetDriver extends VirtioDriver implements NetDevicePort {
    private static final int TX_SLOT_ALIGN = 64;

    private final byte[] mac = new byte[6];
    private final int mtu;
    private final boolean mergeable;
    private final int refillThreshold;
    private final VirtqueueDriver rxq;
    private final VirtqueueDriver txq;
    private final int rxBufferBytes;
    private final long rxBase;
    private final int[] rxFree;
    private int rxFreeCount;
    private final long scratchPa;
    private final int scratchBytes;
    private final ScatterList rxList = new ScatterList(1);
    private final VirtqueueDriver.UsedHandler rxHandler = this::received;
    private int mergeRemaining;
    private int mergeLength;
    private boolean mergeBroken;
    /** The merged frame's header fields (from its first buffer): flags, csum_start, csum_offset. */
    private int mergeFlags;
    private int mergeCsumStart;
    private int mergeCsumOffset;
    private final AtomicLong rxChecksumsCompleted = new AtomicLong();
    /** Largest frame assembled from several receive buffers: IPv4's 65535 bytes plus Ethernet, rounded up. */
    static final int MAX_RX_FRAME = 65_536 + 4096;

    private final ReentrantLock txLock = new ReentrantLock();
    private final int txSlotBytes;
    private final long txBase;
    private final int[] txFree;
    private int txFreeCount;
    private final ScatterList txList = new ScatterList(1);
    private final VirtqueueDriver.UsedHandler txReclaim = this::reclaimed;

    private volatile FrameSink sink = (b, o, l) -> {
    };
    private volatile boolean linkUp;
    private final AtomicLong rxFrames = new AtomicLong();
    private final AtomicLong rxErrors = new AtomicLong();
    private final AtomicLong txFrames = new AtomicLong();
    private final AtomicLong txBackPressured = new AtomicLong();

    /**
     * Initialise the device: negotiate, read MAC, status and MTU, set up both queues, DRIVER_OK, post
     * every receive buffer.
     */
    public VirtioNetDriver(final String name, final VirtioTransport transport, final GuestMemory memory,
        final int queueSize, final int refillThreshold) {
        this(name, transport, memory, queueSize, queueSize, refillThreshold);
    }

    /**
     * As above with a receive queue of its own size: receive buffers absorb a burst from the wire (a
     * peer's whole window can arrive while the stack is busy), transmit slots only the stack's output
     * between two reclaims, so the receive queue is the one worth making large.
     *
     * @param rxQueueSize receive queue entries (= posted receive buffers; the device may offer fewer).
     * @param txQueueSize transmit queue entries (= transmit slots), capped so that the slots (one
     *                    MTU-sized frame each) take at most {@link #TX_SLOT_MEMORY} unless that leaves
     *                    fewer than {@link #MIN_TX_SLOTS}.
     */
    public VirtioNetDriver(final String name, final VirtioTransport transport, final GuestMemory memory,
        final int rxQueueSize, final int txQueueSize, final int refillThreshold) {
        super(name, transport, memory);
        negotiate(VirtioFeatures.bit(VirtioNet.F_MAC) | VirtioFeatures.bit(VirtioNet.F_STATUS)
            | VirtioFeatures.bit(VirtioNet.F_MTU) | VirtioFeatures.bit(VirtioNet.F_MRG_RXBUF)
            | VirtioFeatures.bit(VirtioNet.F_GUEST_CSUM) | VirtioFeatures.bit(VirtioNet.F_GUEST_TSO4)
            | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC));
        int m;
        int generation;
        do {
            generation = transport.configGeneration();
            if (hasFeature(VirtioNet.F_MAC)) {
                for (int i = 0; i < 6; i++) {
                    mac[i] = (byte)transport.readConfig(VirtioNet.CONFIG_MAC + i, 1);
                }
            } else {
                System.arraycopy(new byte[] {0x52, 0x54, 0, 0x12, 0x34, 0x56}, 0, mac, 0, 6);
            }
            m = hasFeature(VirtioNet.F_MTU) ? (int)transport.readConfig(VirtioNet.CONFIG_MTU, 2) : VirtioNet.DEFAULT_MTU;
            linkUp = !hasFeature(VirtioNet.F_STATUS)
                || (transport.readConfig(VirtioNet.CONFIG_STATUS, 2) & VirtioNet.S_LINK_UP) != 0;
        } while (generation != transport.configGeneration());
        this.mtu = m < 68 ? VirtioNet.DEFAULT_MTU : m;
        this.mergeable = hasFeature(VirtioNet.F_MRG_RXBUF);
        this.refillThreshold = Math.max(1, refillThreshold);
        final int frameMax = VirtioNet.HEADER_LENGTH + VirtioNet.ETHERNET_HEADER + mtu;
        this.rxq = setupQueue(VirtioNet.RX_QUEUE, rxQueueSize);
        this.txq = setupQueue(VirtioNet.TX_QUEUE, txSlots(txQueueSize, VirtqueueLayout.align(frameMax, TX_SLOT_ALIGN)));
        this.rxBufferBytes = mergeable ? (int)GuestMemory.PAGE_SIZE : (int)VirtqueueLayout.align(frameMax, TX_SLOT_ALIGN);
        this.rxBase = allocate((long)rxq.size() * rxBufferBytes);
        this.rxFree = new int[rxq.size()];
        for (int i = 0; i < rxFree.length; i++) {
            rxFree[rxFreeCount++] = rxFree.length - 1 - i;
        }
        this.scratchBytes = MAX_RX_FRAME; // a TSO4 super-frame: 64 KiB of IP plus its Ethernet header
        this.scratchPa = allocate(scratchBytes);
        this.txSlotBytes = (int)VirtqueueLayout.align(frameMax, TX_SLOT_ALIGN);
        this.txBase = allocate((long)txq.size() * txSlotBytes);
        this.txFree = new int[txq.size()];
        for (int i = 0; i < txFree.length; i++) {
            txFree[txFreeCount++] = txFree.length - 1 - i;
        }
        txq.disableInterrupts();
        driverOk();
        refill();
    }

    /** Guest memory the transmit slots may take before the transmit queue is made shorter. */
    static final long TX_SLOT_MEMORY = 4L << 20;
    /** Transmit slots kept whatever the MTU (the queue size this driver always had). */
    static final int MIN_TX_SLOTS = 256;

    /**
     * Transmit queue entries for {@code wanted} and slots of {@code slotBytes}: as many as fit in
     * {@link #TX_SLOT_MEMORY}, rounded down to a power of two, but not fewer than
     * {@code min(wanted, MIN_TX_SLOTS)}. Enough transmit slots matter: a receiver sends an ACK per
     * one to a few received frames, so with fewer slots than receive buffers a burst that fills the
     * receive queue while the device is busy can leave no slot for the ACKs.
     */
    static int txSlots(final int wanted, final long slotBytes) {
        final long fit = Long.highestOneBit(Math.max(1, TX_SLOT_MEMORY / slotBytes));
        return (int)Math.max(Math.min(wanted, MIN_TX_SLOTS), Math.min(wanted, fit));
    }

    @Override
    public byte[] mac() {
        return mac.clone();
    }

    @Override
    public int mtu() {
        return mtu;
    }

    @Override
    public boolean linkUp() {
        return linkUp;
    }

    @Override
    public void receiveInto(final FrameSink frameSink) {
        sink = frameSink;
    }

    @Override
    public MemorySegment guestMemory() {
        return memory.segment();
    }

    /** Post every free receive buffer, then publish once. Interrupt actor (or init) only. */
    private void refill() {
        while (rxFreeCount > 0) {
            final int b = rxFree[rxFreeCount - 1];
            rxList.clear().writable(rxBase + (long)b * rxBufferBytes, rxBufferBytes);
            if (rxq.add(rxList, b) < 0) {
                break;
            }
            rxFreeCount--;
        }
        rxq.publish();
    }

    @Override
    public void onInterrupt(final int queue) {
        if (queue == Notifier.CONFIG_CHANGE) {
            linkUp = !hasFeature(VirtioNet.F_STATUS)
                || (transport.readConfig(VirtioNet.CONFIG_STATUS, 2) & VirtioNet.S_LINK_UP) != 0;
            return;
        }
        if (queue == VirtioNet.TX_QUEUE) {
            txLock.lock();
            try {
                txq.poll(txReclaim, Integer.MAX_VALUE);
            } finally {
                txLock.unlock();
            }
            return;
        }
        rxq.disableInterrupts();
        do {
            while (rxq.poll(rxHandler, 64) > 0) {
                if (rxFreeCount >= refillThreshold) {
                    refill();
                }
            }
        } while (rxq.enableInterrupts());
        if (rxFreeCount >= refillThreshold || rxq.inFlight() == 0) {
            refill();
        }
    }

    /** One used receive buffer: a whole frame, or a piece of a merged one. */
    private void received(final long cookie, final int len) {
        final int b = (int)cookie;
        final long pa = rxBase + (long)b * rxBufferBytes;
        try {
            final MemorySegment guest = memory.segment();
            if (mergeRemaining > 0) {
                if (!mergeBroken && mergeLength + len <= scratchBytes && len <= rxBufferBytes) {
                    MemorySegment.copy(guest, pa, guest, scratchPa + mergeLength, len);
                    mergeLength += len;
                } else {
                    mergeBroken = true;
                }
                if (--mergeRemaining == 0) {
                    deliverMerged();
                }
                return;
            }
            if (len < VirtioNet.HEADER_LENGTH || len > rxBufferBytes) {
                rxErrors.incrementAndGet(); // an empty buffer (device dropped) or a lying device
                return;
            }
            final int buffers = mergeable ? VirtioNet.numBuffers(guest, pa) : 1;
            final int frameLength = len - VirtioNet.HEADER_LENGTH;
            final int flags = VirtioNet.flags(guest, pa);
            if (buffers <= 1) {
                if (completeChecksum(guest, pa + VirtioNet.HEADER_LENGTH, frameLength, flags,
                    VirtioNet.csumStart(guest, pa), VirtioNet.csumOffset(guest, pa))) {
                    rxFrames.incrementAndGet();
                    sink.onFrame(guest, pa + VirtioNet.HEADER_LENGTH, frameLength);
                }
                return;
            }
            MemorySegment.copy(guest, pa + VirtioNet.HEADER_LENGTH, guest, scratchPa, frameLength);
            mergeLength = frameLength;
            mergeRemaining = buffers - 1;
            mergeBroken = buffers > rxq.size();
            mergeFlags = flags;
            mergeCsumStart = VirtioNet.csumStart(guest, pa);
            mergeCsumOffset = VirtioNet.csumOffset(guest, pa);
        } finally {
            rxFree[rxFreeCount++] = b;
        }
    }

    private void deliverMerged() {
        if (mergeBroken) {
            rxErrors.incrementAndGet();
        } else if (completeChecksum(memory.segment(), scratchPa, mergeLength, mergeFlags, mergeCsumStart,
            mergeCsumOffset)) {
            rxFrames.incrementAndGet();
            sink.onFrame(memory.segment(), scratchPa, mergeLength);
        }
        mergeBroken = false;
        mergeLength = 0;
    }

    /**
     * A frame whose header says NEEDS_CSUM gets its checksum completed in place (GUEST_CSUM); false
     * (counted as an error, the frame dropped) when the header's offsets do not fit the frame.
     */
    private boolean completeChecksum(final MemorySegment guest, final long frame, final int length, final int flags,
        final int csumStart, final int csumOffset) {
        if ((flags & VirtioNet.FLAG_NEEDS_CSUM) == 0) {
            return true;
        }
        if (!VirtioNet.completeChecksum(guest, frame, length, csumStart, csumOffset)) {
            rxErrors.incrementAndGet();
            return false;
        }
        rxChecksumsCompleted.incrementAndGet();
        return true;
    }

    @Override
    public int transmit(final MemorySegment buffer, final long offset, final int length) {
        final int claim = tryClaim(length);
        if (claim < 0) {
            return claim;
        }
        MemorySegment.copy(buffer, offset, memory.segment(), claimedOffset(claim), length);
        commit(claim, length);
        return 0;
    }

    @Override
    public int tryClaim(final int maxLength) {
        if (maxLength < 0 || maxLength > VirtioNet.ETHERNET_HEADER + mtu) {
            return -Errno.EMSGSIZE.number();
        }
        txLock.lock();
        try {
            if (txFreeCount == 0) {
                txq.poll(txReclaim, Integer.MAX_VALUE);
            }
            if (txFreeCount == 0) {
                txBackPressured.incrementAndGet();
                return FrameTransport.BACK_PRESSURED;
            }
            return txFree[--txFreeCount];
        } finally {
            txLock.unlock();
        }
    }

    @Override
    public long claimedOffset(final int claim) {
        return txBase + (long)claim * txSlotBytes + VirtioNet.HEADER_LENGTH;
    }

    @Override
    public void commit(final int claim, final int length) {
        final long slotPa = txBase + (long)claim * txSlotBytes;
        VirtioNet.putHeader(memory.segment(), slotPa, 0);
        txLock.lock();
        try {
            txList.clear().readable(slotPa, VirtioNet.HEADER_LENGTH + length);
            if (txq.add(txList, claim) < 0) {
                txFree[txFreeCount++] = claim; // cannot happen: one descriptor per slot
                txBackPressured.incrementAndGet();
                return;
            }
            txq.publish();
            txFrames.incrementAndGet();
        } finally {
            txLock.unlock();
        }
    }

    private void reclaimed(final long cookie, final int len) {
        txFree[txFreeCount++] = (int)cookie;
    }

    @Override
    public void abort(final int claim) {
        txLock.lock();
        try {
            txFree[txFreeCount++] = claim;
        } finally {
            txLock.unlock();
        }
    }

    @Override
    public String featureName(final int bit) {
        return VirtioNet.featureName(bit);
    }

    @Override
    public String describe() {
        return String.format("mac %s, mtu %d, link %s, rx %d x %d B, %s, rx=%d rx_err=%d rx_csum=%d tx=%d tx_busy=%d",
            VirtioNet.formatMac(mac), mtu, linkUp ? "up" : "down", rxq.size(), rxBufferBytes,
            hasFeature(VirtioNet.F_GUEST_TSO4) ? "rx offloads csum+tso4" : hasFeature(VirtioNet.F_GUEST_CSUM)
                ? "rx offloads csum" : "no rx offloads",
            rxFrames.get(), rxErrors.get(), rxChecksumsCompleted.get(), txFrames.get(), txBackPressured.get());
    }
}
