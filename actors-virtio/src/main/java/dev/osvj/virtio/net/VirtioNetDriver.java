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
 * <p>Receive (queue 0, in the interrupt context only: the interrupt actor, or inline on the host thread
 * that raised the interrupt, see {@link #inlineInterrupt}; one at a time): one receive buffer per queue
 * entry, preallocated in guest memory (a 4 KiB page each with MRG_RXBUF, as OSv; otherwise header + MTU frame). A completed
 * buffer's frame goes to the {@link FrameSink} as a view into guest memory (no copy). A frame that
 * spans buffers (MRG_RXBUF, a TSO4 super-frame takes 17 pages) is a view too when its buffers are
 * adjacent, which they usually are: the buffers are one array and go back to the device in the order
 * the device used them (a FIFO), so it fills them in ascending order; only a frame that wraps from
 * the last buffer to the first is assembled in a guest scratch buffer. Buffers go back to the
 * device in batches: after an interrupt, once at least {@code refillThreshold} are free (OSv: 16),
 * with one publish (one kick at most) per batch.
 *
 * <p>Receive offloads: when the device offers them (its host delivers offload headers), the driver
 * accepts GUEST_CSUM and GUEST_TSO4: frames may then be TCPv4 super-frames of up to 64 KiB (spread
 * over receive pages, MRG_RXBUF) and carry NEEDS_CSUM (a partial checksum: the host produced the data
 * itself) or DATA_VALID (the host checked it). A sink that {@link FrameSink#acceptsChecksumValid()
 * accepts it} gets such a frame with {@link FrameSink#CHECKSUM_VALID} and no checksum pass at all (the
 * stack then skips its own check too: two passes over up to 64 KiB saved per super-frame, as Linux's
 * virtio-net hands the stack CHECKSUM_PARTIAL); other sinks, and frames of at most
 * {@link #TRUST_MIN_FRAME} bytes (handshakes, ACKs: cheap, and a held SYN may be replayed later through
 * a path that no longer knows the flag), get the checksum completed in place, an ordinary segment.
 *
 * <p>Transmit (queue 1, any thread, under the transmit lock): one preallocated guest buffer per
 * queue entry holds header and frame in one descriptor. Completed transmissions are reclaimed on
 * the next transmit; transmit interrupts stay off (the device's progress is only needed when the
 * stack wants a buffer, and then it reclaims). The doorbell is rung outside the transmit lock: a commit
 * publishes under it and owes the kick ({@link #commitDeferred}), which {@link #flushTransmit} (or
 * {@link #commit} itself) sends after the lock is released, so a kick the device serves inline (the user
 * gateway's whole host-side transmit, on this thread) never holds up another sender.
 *
 * <p>Recovery (as virtio-blk's driver): a device that sets DEVICE_NEEDS_RESET (its backend failed, or
 * it could not use a queue) raises a config-change interrupt; the driver then, in interrupt context
 * and under the transmit lock, (1) delivers the receive buffers the device had completed, (2) reclaims
 * the transmit slots the device had completed, (3) resets the device and negotiates again with the
 * same features, (4) sets up fresh queues, DRIVER_OK, and posts every receive buffer again. A transmit
 * slot still in flight at the reset may or may not have reached the wire: it is freed and counted in
 * {@link #txLostOnReset()} (TCP retransmits it, as after a drop on a real link); a frame a sender had
 * claimed but not committed yet goes to the new queue when committed. No frame the device handed to
 * the driver is lost, so nothing the stack acknowledged is lost. {@link #resets()} counts the resets.
 */
public final class VirtioNetDriver extends VirtioDriver implements NetDevicePort {
    private static final int TX_SLOT_ALIGN = 64;

    private final byte[] mac = new byte[6];
    private final int mtu;
    private final boolean mergeable;
    private final int refillThreshold;
    /** Features the driver can use: negotiated at start and again after a reset. */
    static final long WANTED = VirtioFeatures.bit(VirtioNet.F_MAC) | VirtioFeatures.bit(VirtioNet.F_STATUS)
        | VirtioFeatures.bit(VirtioNet.F_MTU) | VirtioFeatures.bit(VirtioNet.F_MRG_RXBUF)
        | VirtioFeatures.bit(VirtioNet.F_GUEST_CSUM) | VirtioFeatures.bit(VirtioNet.F_GUEST_TSO4)
        | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC);

    /** Receive queue: used by the interrupt context; replaced by {@link #recover()} (volatile for describe). */
    private volatile VirtqueueDriver rxq;
    /** Transmit queue: guarded by the transmit lock; replaced by {@link #recover()} (volatile for describe). */
    private volatile VirtqueueDriver txq;
    private final AtomicLong resets = new AtomicLong();
    private final AtomicLong txLostOnReset = new AtomicLong();
    private final int rxBufferBytes;
    private final long rxBase;
    /**
     * Free receive buffers, a FIFO ring ({@link #rxFreeHead}, {@link #rxFreeCount}): buffers go back to
     * the device in the order they came back from it, so the device keeps filling them in ascending
     * address order and the pages of a merged frame are usually adjacent in guest memory.
     */
    private final int[] rxFree;
    private int rxFreeHead;
    private int rxFreeCount;
    /**
     * The merged frame being assembled lies in place so far: its buffers are adjacent in guest memory,
     * each but the last filled completely, so the frame is one contiguous view from
     * {@link #mergeStartPa} and needs no copy; its buffers are held ({@link #mergeHeld}) until it is
     * delivered. Otherwise it is copied into the scratch buffer as its pieces arrive.
     */
    private boolean mergeInPlace;
    private long mergeStartPa;
    /** Where the next piece must start for the frame to stay in place. */
    private long mergeEndPa;
    private final int[] mergeHeld;
    private int mergeHeldCount;
    private final AtomicLong rxMergedInPlace = new AtomicLong();
    private final AtomicLong rxMergedByCopy = new AtomicLong();
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
    /** Frames handed on with {@link FrameSink#CHECKSUM_VALID} instead of a checksum pass. */
    private final AtomicLong rxChecksumsTrusted = new AtomicLong();
    /**
     * Frames up to this length get a NEEDS_CSUM checksum completed even for a sink that accepts
     * {@link FrameSink#CHECKSUM_VALID}: the pass costs nothing at that size, and the frame stays an
     * ordinary one wherever it goes (a SYN held for the outbound gate is replayed without its flags).
     */
    static final int TRUST_MIN_FRAME = 256;
    /** Largest frame assembled from several receive buffers: IPv4's 65535 bytes plus Ethernet, rounded up. */
    static final int MAX_RX_FRAME = 65_536 + 4096;

    private final ReentrantLock txLock = new ReentrantLock();
    /** A publish asked for a kick that {@link #flushTransmit} has not sent yet (set under the transmit lock). */
    private final java.util.concurrent.atomic.AtomicBoolean kickOwed = new java.util.concurrent.atomic.AtomicBoolean();
    private final int txSlotBytes;
    private final long txBase;
    private final int[] txFree;
    private int txFreeCount;
    /** Per transmit slot: committed to the device and not yet reclaimed (under the transmit lock). */
    private final boolean[] txInFlight;
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
        negotiate(WANTED);
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
        this.mergeHeld = new int[rxq.size()];
        for (int i = 0; i < rxFree.length; i++) {
            freeRx(i);
        }
        this.scratchBytes = MAX_RX_FRAME; // a TSO4 super-frame: 64 KiB of IP plus its Ethernet header
        this.scratchPa = allocate(scratchBytes);
        this.txSlotBytes = (int)VirtqueueLayout.align(frameMax, TX_SLOT_ALIGN);
        this.txBase = allocate((long)txq.size() * txSlotBytes);
        this.txFree = new int[txq.size()];
        this.txInFlight = new boolean[txq.size()];
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

    /** Post every free receive buffer, then publish once. Interrupt context (or init) only. */
    private void refill() {
        while (rxFreeCount > 0) {
            final int b = rxFree[rxFreeHead];
            rxList.clear().writable(rxBase + (long)b * rxBufferBytes, rxBufferBytes);
            if (rxq.add(rxList, b) < 0) {
                break;
            }
            rxFreeHead = rxFreeHead + 1 == rxFree.length ? 0 : rxFreeHead + 1;
            rxFreeCount--;
        }
        rxq.publish();
    }

    /** Receive buffer {@code b} is the driver's again (at the tail of the free ring). */
    private void freeRx(final int b) {
        final int at = rxFreeHead + rxFreeCount;
        rxFree[at >= rxFree.length ? at - rxFree.length : at] = b;
        rxFreeCount++;
    }

    /** The buffers a merged frame held in place are free again. */
    private void releaseHeld() {
        for (int i = 0; i < mergeHeldCount; i++) {
            freeRx(mergeHeld[i]);
        }
        mergeHeldCount = 0;
    }

    /**
     * The receive queue's interrupt runs inline on the thread that raises it: its handler drains the
     * used ring into the sink (the stack's classifier, which only queues into net channels and wakes
     * consumers) and refills, as OSv's receive interrupt does; the stack's protocol work for channel
     * flows then happens in the consumer's context. Transmit and config-change interrupts (a reset)
     * stay on the interrupt actor.
     */
    @Override
    public boolean inlineInterrupt(final int queue) {
        return queue == VirtioNet.RX_QUEUE;
    }

    @Override
    public void onInterrupt(final int queue) {
        if (queue == Notifier.CONFIG_CHANGE) {
            if (deviceNeedsReset()) {
                recover();
            }
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

    /**
     * DEVICE_NEEDS_RESET: take what the device completed, reset it, set up fresh queues and post every
     * receive buffer again (see the class comment). Interrupt context (the receive side's only context).
     */
    private void recover() {
        txLock.lock();
        try {
            if (!deviceNeedsReset()) {
                return; // another interrupt already recovered it
            }
            // Frames the device completed before it stopped: to the stack, in order, as usual.
            while (rxq.poll(rxHandler, Integer.MAX_VALUE) > 0) {
                // drained
            }
            txq.poll(txReclaim, Integer.MAX_VALUE);
            final VirtqueueDriver[] fresh = renegotiateAfterReset(WANTED, rxq, txq); // RX_QUEUE 0, TX_QUEUE 1
            rxq = fresh[VirtioNet.RX_QUEUE];
            txq = fresh[VirtioNet.TX_QUEUE];
            txq.disableInterrupts();
            // Transmit slots the device had not completed: perhaps sent, perhaps not; reported.
            for (int slot = 0; slot < txInFlight.length; slot++) {
                if (txInFlight[slot]) {
                    txInFlight[slot] = false;
                    txFree[txFreeCount++] = slot;
                    txLostOnReset.incrementAndGet();
                }
            }
            // Every receive buffer is the driver's again; a frame half merged is incomplete: dropped.
            if (mergeRemaining > 0) {
                rxErrors.incrementAndGet();
            }
            mergeRemaining = 0;
            mergeLength = 0;
            mergeBroken = false;
            mergeInPlace = false;
            mergeHeldCount = 0;
            rxFreeHead = 0;
            rxFreeCount = 0;
            for (int i = 0; i < rxFree.length; i++) {
                freeRx(i);
            }
            driverOk();
            resets.incrementAndGet();
            refill();
        } finally {
            txLock.unlock();
        }
    }

    /** Received frames handed on with {@link FrameSink#CHECKSUM_VALID} (no checksum pass). */
    public long rxChecksumsTrusted() {
        return rxChecksumsTrusted.get();
    }

    /** Received frames whose partial (NEEDS_CSUM) checksum the driver completed. */
    public long rxChecksumsCompleted() {
        return rxChecksumsCompleted.get();
    }

    /** How many times the device was reset after DEVICE_NEEDS_RESET. */
    public long resets() {
        return resets.get();
    }

    /** Transmit frames in flight at a reset: they may or may not have reached the wire (TCP retransmits). */
    public long txLostOnReset() {
        return txLostOnReset.get();
    }

    /**
     * One used receive buffer: a whole frame, or a piece of a merged one. A merged frame whose pieces
     * are adjacent in guest memory is delivered in place (its buffers held until then); at the first
     * piece that is not, the part so far is copied into the scratch buffer and the rest follows it.
     */
    private void received(final long cookie, final int len) {
        final int b = (int)cookie;
        final long pa = rxBase + (long)b * rxBufferBytes;
        boolean held = false;
        try {
            final MemorySegment guest = memory.segment();
            if (mergeRemaining > 0) {
                if (!mergeBroken && mergeLength + len <= scratchBytes && len <= rxBufferBytes) {
                    if (mergeInPlace && pa == mergeEndPa) {
                        mergeHeld[mergeHeldCount++] = b;
                        held = true;
                        mergeEndPa = pa + len;
                    } else {
                        if (mergeInPlace) {
                            // not adjacent: the part so far to the scratch buffer, its buffers free again
                            MemorySegment.copy(guest, mergeStartPa, guest, scratchPa, mergeLength);
                            mergeInPlace = false;
                            releaseHeld();
                        }
                        MemorySegment.copy(guest, pa, guest, scratchPa + mergeLength, len);
                    }
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
                final int rxFlags = checksum(guest, pa + VirtioNet.HEADER_LENGTH, frameLength, flags,
                    VirtioNet.csumStart(guest, pa), VirtioNet.csumOffset(guest, pa));
                if (rxFlags >= 0) {
                    rxFrames.incrementAndGet();
                    deliver(guest, pa + VirtioNet.HEADER_LENGTH, frameLength, rxFlags);
                }
                return;
            }
            // the first piece: in place for now (the frame stays there while its pieces are adjacent)
            mergeInPlace = len == rxBufferBytes;
            if (mergeInPlace) {
                mergeStartPa = pa + VirtioNet.HEADER_LENGTH;
                mergeEndPa = pa + len;
                mergeHeld[mergeHeldCount++] = b;
                held = true;
            } else {
                MemorySegment.copy(guest, pa + VirtioNet.HEADER_LENGTH, guest, scratchPa, frameLength);
            }
            mergeLength = frameLength;
            mergeRemaining = buffers - 1;
            mergeBroken = buffers > rxq.size();
            mergeFlags = flags;
            mergeCsumStart = VirtioNet.csumStart(guest, pa);
            mergeCsumOffset = VirtioNet.csumOffset(guest, pa);
        } finally {
            if (!held) {
                freeRx(b);
            }
        }
    }

    private void deliverMerged() {
        if (mergeBroken) {
            rxErrors.incrementAndGet();
        } else {
            final long at = mergeInPlace ? mergeStartPa : scratchPa;
            final int rxFlags = checksum(memory.segment(), at, mergeLength, mergeFlags, mergeCsumStart,
                mergeCsumOffset);
            if (rxFlags >= 0) {
                rxFrames.incrementAndGet();
                (mergeInPlace ? rxMergedInPlace : rxMergedByCopy).incrementAndGet();
                deliver(memory.segment(), at, mergeLength, rxFlags);
            }
        }
        releaseHeld(); // after the sink returned: the frame's view is dead now
        mergeInPlace = false;
        mergeBroken = false;
        mergeLength = 0;
    }

    /** Merged (multi-buffer) frames delivered in place, without a copy. */
    public long rxMergedInPlace() {
        return rxMergedInPlace.get();
    }

    /** Merged frames assembled by copying into the scratch buffer (their pieces were not adjacent). */
    public long rxMergedByCopy() {
        return rxMergedByCopy.get();
    }

    private void deliver(final MemorySegment guest, final long frame, final int length, final int rxFlags) {
        final FrameSink s = sink;
        if (rxFlags == 0) {
            s.onFrame(guest, frame, length);
        } else {
            s.onFrame(guest, frame, length, rxFlags);
        }
    }

    /**
     * The receive flags of a frame (GUEST_CSUM): {@link FrameSink#CHECKSUM_VALID} for a NEEDS_CSUM or
     * DATA_VALID frame the sink may trust as it is; 0 for an ordinary frame, or one whose NEEDS_CSUM
     * checksum was just completed in place; -1 (counted as an error, the frame dropped) when the
     * header's checksum offsets do not fit the frame.
     */
    private int checksum(final MemorySegment guest, final long frame, final int length, final int flags,
        final int csumStart, final int csumOffset) {
        final boolean trusting = length > TRUST_MIN_FRAME && sink.acceptsChecksumValid();
        if ((flags & VirtioNet.FLAG_NEEDS_CSUM) == 0) {
            if (trusting && (flags & VirtioNet.FLAG_DATA_VALID) != 0) {
                rxChecksumsTrusted.incrementAndGet();
                return FrameSink.CHECKSUM_VALID;
            }
            return 0;
        }
        if (!VirtioNet.checksumFits(length, csumStart, csumOffset)) {
            rxErrors.incrementAndGet();
            return -1;
        }
        if (trusting) {
            rxChecksumsTrusted.incrementAndGet();
            return FrameSink.CHECKSUM_VALID;
        }
        VirtioNet.completeChecksum(guest, frame, length, csumStart, csumOffset);
        rxChecksumsCompleted.incrementAndGet();
        return 0;
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
        commitDeferred(claim, length);
        flushTransmit();
    }

    /**
     * Add and publish under the transmit lock; the kick, when the device asks for one, is owed
     * ({@link #kickOwed}) and sent by {@link #flushTransmit} outside the lock: with a transport that
     * transmits inline, the kick runs the device's whole transmit on this thread, and another sender must
     * not wait for that on the transmit lock.
     */
    @Override
    public void commitDeferred(final int claim, final int length) {
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
            txInFlight[claim] = true;
            if (txq.publishWithoutKick()) {
                kickOwed.set(true);
            }
            txFrames.incrementAndGet();
        } finally {
            txLock.unlock();
        }
    }

    /**
     * The owed kick, if any: taken with one atomic swap so exactly one thread sends it, and sent after the
     * publish that owed it (the flag is set after that publish), so it covers every chain published before.
     */
    @Override
    public void flushTransmit() {
        if (kickOwed.get() && kickOwed.getAndSet(false)) {
            txq.kick();
        }
    }

    private void reclaimed(final long cookie, final int len) {
        txInFlight[(int)cookie] = false;
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

    /** "mac 52:54:00:12:34:56, mtu 1500, link up, rx 1024 x 4096 B, no rx offloads": for the boot message. */
    @Override
    public String summary() {
        return String.format("mac %s, mtu %d, link %s, rx %d x %d B, %s", VirtioNet.formatMac(mac), mtu,
            linkUp ? "up" : "down", rxq.size(), rxBufferBytes, offloads());
    }

    private String offloads() {
        return hasFeature(VirtioNet.F_GUEST_TSO4) ? "rx offloads csum+tso4" : hasFeature(VirtioNet.F_GUEST_CSUM)
            ? "rx offloads csum" : "no rx offloads";
    }

    @Override
    public String describe() {
        return String.format("mac %s, mtu %d, link %s, rx %d x %d B, %s, rx=%d rx_err=%d rx_csum=%d rx_csum_trusted=%d"
            + " rx_merged_in_place=%d rx_merged_by_copy=%d tx=%d tx_busy=%d"
            + " resets=%d tx_lost_on_reset=%d rx_free=%d rx_in_flight=%d merging=%d, %s",
            VirtioNet.formatMac(mac), mtu, linkUp ? "up" : "down", rxq.size(), rxBufferBytes, offloads(),
            rxFrames.get(), rxErrors.get(), rxChecksumsCompleted.get(), rxChecksumsTrusted.get(), rxMergedInPlace.get(),
            rxMergedByCopy.get(), txFrames.get(), txBackPressured.get(), resets.get(),
            txLostOnReset.get(), rxFreeCount, rxq.inFlight(), mergeRemaining, interruptLine());
    }
}
