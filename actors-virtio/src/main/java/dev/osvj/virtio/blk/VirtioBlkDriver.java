package dev.osvj.virtio.blk;

import dev.osvj.kernel.Errno;
import dev.osvj.virtio.GuestMemory;
import dev.osvj.virtio.VirtioDriver;
import dev.osvj.virtio.VirtioFeatures;
import dev.osvj.virtio.VirtioTransport;
import dev.osvj.virtio.ring.Notifier;
import dev.osvj.virtio.ring.ScatterList;
import dev.osvj.virtio.ring.VirtqueueDriver;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The virtio-blk driver (kernel side) as a {@link BlockDevice}. A request takes one of a fixed set of
 * slots; each slot owns a request header, a status byte and a bounce buffer in guest memory, so
 * nothing is allocated per request. Data in guest memory goes to the device by physical address
 * (zero copy); other buffers go through the slot's bounce buffer in chunks.
 *
 * <p>Flow: the caller fills its slot's header, adds the chain (header, data, status) to the queue
 * under the queue lock, publishes (kicking the device unless it is polling), and parks. The
 * interrupt handler ({@link #onInterrupt}, on the interrupt actor) turns interrupts off, consumes the
 * used ring, marks each slot done and unparks its caller, and turns interrupts back on with a
 * re-check. A device status of IOERR is {@code -EIO}, UNSUPP {@code -EOPNOTSUPP}.
 *
 * <p>Asynchronous requests ({@link #submitRead}, {@link #submitWrite}) take a slot without waiting
 * ({@code -EAGAIN} when all are busy), and report their result to a {@link Completion} from the
 * interrupt handler once the used ring has been consumed (the slot is free again by then, and the
 * queue lock is reentrant, so a completion may submit the next request; it must not block).
 * That is how a caller keeps several requests in flight (queue depth), as OSv's bio layer does.
 */
public final class VirtioBlkDriver extends VirtioDriver implements BlockDevice {
    /** Most requests in flight at once (slots). */
    static final int MAX_SLOTS = 16;
    /** Bounce buffer per slot: the largest chunk of a non-guest buffer moved by one request. */
    static final int BOUNCE_BYTES = 32 * 1024;
    private static final int SLOT_HEADER_BYTES = 32;
    /** Busy-wait iterations before a waiting caller parks (a few microseconds). */
    private static final int SPINS_BEFORE_PARK = 2000;
    private static final int PENDING = 0;
    private static final int DONE = 1;

    /** Features the driver asks for (negotiated again after a reset). */
    private static final long WANTED = VirtioFeatures.bit(VirtioBlk.F_SIZE_MAX) | VirtioFeatures.bit(VirtioBlk.F_SEG_MAX)
        | VirtioFeatures.bit(VirtioBlk.F_BLK_SIZE) | VirtioFeatures.bit(VirtioBlk.F_RO)
        | VirtioFeatures.bit(VirtioBlk.F_FLUSH) | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC)
        | VirtioFeatures.bit(VirtioFeatures.EVENT_IDX);

    /** The request queue; replaced when the device is reset after DEVICE_NEEDS_RESET (guarded by the queue lock). */
    private VirtqueueDriver queue;
    private final AtomicLong resets = new AtomicLong();
    private final ReentrantLock queueLock = new ReentrantLock();
    private final long capacity;
    private final int blockSize;
    private final boolean readOnly;
    private final int sizeMax;
    private final int slots;
    private final long headersPa;
    private final long bouncePa;
    /** Bit i set: slot i is free (at most {@link #MAX_SLOTS} <= 64 slots). Lock-free: submitters and completions race for it. */
    private final AtomicLong freeSlots = new AtomicLong();
    /** Callers of {@link #acquire} waiting for a slot; the head is unparked when one is released. */
    private final ConcurrentLinkedQueue<Thread> slotWaiters = new ConcurrentLinkedQueue<>();
    private final AtomicIntegerArray state;
    private final Thread[] waiters;
    private final ScatterList[] lists;
    private final VirtqueueDriver.UsedHandler completion = (cookie, len) -> complete((int)cookie);
    /** Per slot: the completion of an asynchronous request, or null for a waiting caller. */
    private final Completion[] completions;
    private final long[] tags;
    /** Asynchronous slots completed in one pass over the used ring (guarded by the queue lock). */
    private final int[] finished;
    private int finishedCount;
    private volatile String id;

    /** The result of an asynchronous request: 0 or a negative errno, called once on the interrupt context; must not block. */
    @FunctionalInterface
    public interface Completion {
        void complete(long tag, int result);
    }

    /**
     * Initialise the device behind {@code transport}: negotiate, read the config, set up the request
     * queue of up to {@code queueSize} entries, DRIVER_OK.
     */
    public VirtioBlkDriver(final String name, final VirtioTransport transport, final GuestMemory memory, final int queueSize) {
        super(name, transport, memory);
        negotiate(WANTED);
        long cap;
        int blk;
        int smax;
        int generation;
        do { // a config read is consistent when the generation did not change across it
            generation = transport.configGeneration();
            cap = transport.readConfig(VirtioBlk.CONFIG_CAPACITY, 8) * SECTOR_SIZE;
            blk = hasFeature(VirtioBlk.F_BLK_SIZE) ? (int)transport.readConfig(VirtioBlk.CONFIG_BLK_SIZE, 4) : SECTOR_SIZE;
            smax = hasFeature(VirtioBlk.F_SIZE_MAX) ? (int)transport.readConfig(VirtioBlk.CONFIG_SIZE_MAX, 4) : 0;
        } while (generation != transport.configGeneration());
        this.capacity = cap;
        this.blockSize = blk < SECTOR_SIZE || Integer.bitCount(blk) != 1 ? SECTOR_SIZE : blk;
        this.readOnly = hasFeature(VirtioBlk.F_RO);
        this.sizeMax = smax <= 0 ? Integer.MAX_VALUE : smax;
        this.queue = setupQueue(0, queueSize);
        // Three descriptors per request without indirect tables, one with them.
        final int perRequest = hasFeature(VirtioFeatures.INDIRECT_DESC) ? 1 : 3;
        this.slots = Math.max(1, Math.min(MAX_SLOTS, queue.size() / perRequest));
        this.headersPa = allocate((long)slots * SLOT_HEADER_BYTES);
        this.bouncePa = allocate((long)slots * BOUNCE_BYTES);
        this.state = new AtomicIntegerArray(slots);
        this.waiters = new Thread[slots];
        this.lists = new ScatterList[slots];
        this.completions = new Completion[slots];
        this.tags = new long[slots];
        this.finished = new int[slots];
        freeSlots.set(slots == 64 ? -1L : (1L << slots) - 1);
        for (int i = 0; i < slots; i++) {
            lists[i] = new ScatterList(3);
            state.set(i, DONE);
        }
        driverOk();
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public String id() {
        String s = id;
        if (s == null) {
            final int slot = acquire();
            try {
                final long pa = bouncePa + (long)slot * BOUNCE_BYTES;
                memory.segment().asSlice(pa, VirtioBlk.ID_BYTES).fill((byte)0);
                final int rc = submit(slot, VirtioBlk.T_GET_ID, 0, pa, VirtioBlk.ID_BYTES, true);
                if (rc != 0) {
                    return "";
                }
                final byte[] raw = new byte[VirtioBlk.ID_BYTES];
                MemorySegment.copy(memory.segment(), ValueLayout.JAVA_BYTE, pa, raw, 0, raw.length);
                int n = 0;
                while (n < raw.length && raw[n] != 0) {
                    n++;
                }
                s = new String(raw, 0, n, StandardCharsets.US_ASCII);
                id = s;
            } finally {
                release(slot);
            }
        }
        return s;
    }

    @Override
    public int read(final long offset, final MemorySegment buffer, final long bufferOffset, final int length) {
        return transfer(VirtioBlk.T_IN, offset, buffer, bufferOffset, length);
    }

    @Override
    public int write(final long offset, final MemorySegment buffer, final long bufferOffset, final int length) {
        if (readOnly) {
            return -Errno.EROFS.number();
        }
        return transfer(VirtioBlk.T_OUT, offset, buffer, bufferOffset, length);
    }

    @Override
    public int flush() {
        if (!hasFeature(VirtioBlk.F_FLUSH)) {
            return 0; // a device without FLUSH has no volatile cache
        }
        final int slot = acquire();
        try {
            return submit(slot, VirtioBlk.T_FLUSH, 0, -1, 0, false);
        } finally {
            release(slot);
        }
    }

    private int transfer(final int type, final long offset, final MemorySegment buffer, final long bufferOffset,
        final int length) {
        if (offset < 0 || length < 0 || offset % SECTOR_SIZE != 0 || length % SECTOR_SIZE != 0) {
            return -Errno.EINVAL.number();
        }
        if (length == 0) {
            return 0;
        }
        final boolean in = type == VirtioBlk.T_IN;
        final long guestPa = memory.physicalAddress(buffer, bufferOffset);
        final boolean direct = guestPa >= 0 && memory.physicalAddress(buffer, bufferOffset + length - 1) == guestPa + length - 1;
        final int chunkMax = direct ? Math.min(sizeMax, 1 << 20) / SECTOR_SIZE * SECTOR_SIZE : BOUNCE_BYTES;
        final int slot = acquire();
        try {
            long done = 0;
            while (done < length) {
                final int n = (int)Math.min(chunkMax, length - done);
                final long pa;
                if (direct) {
                    pa = guestPa + done;
                } else {
                    pa = bouncePa + (long)slot * BOUNCE_BYTES;
                    if (!in) {
                        MemorySegment.copy(buffer, bufferOffset + done, memory.segment(), pa, n);
                    }
                }
                final int rc = submit(slot, type, (offset + done) / SECTOR_SIZE, pa, n, in);
                if (rc != 0) {
                    return rc;
                }
                if (!direct && in) {
                    MemorySegment.copy(memory.segment(), pa, buffer, bufferOffset + done, n);
                }
                done += n;
            }
            return 0;
        } finally {
            release(slot);
        }
    }

    /** Send one request from {@code slot} and wait for its status. */
    private int submit(final int slot, final int type, final long sector, final long dataPa, final int dataLength,
        final boolean deviceWrites) {
        waiters[slot] = Thread.currentThread();
        post(slot, type, sector, dataPa, dataLength, deviceWrites);
        // A polling device answers within microseconds: spin briefly before paying for a park/unpark.
        for (int spin = 0; spin < SPINS_BEFORE_PARK && state.get(slot) == PENDING; spin++) {
            Thread.onSpinWait();
        }
        while (state.get(slot) == PENDING) {
            LockSupport.park(this);
        }
        return status(slot);
    }

    /**
     * Start reading {@code length} bytes at device {@code offset} into guest memory at physical address
     * {@code guestPa} without waiting; {@code done} gets {@code tag} and the result.
     *
     * @return 0 when the request is in flight, {@code -EAGAIN} when every slot is busy (nothing was
     *         started), {@code -EINVAL} for a misaligned or empty request or one larger than the device's
     *         largest segment.
     */
    public int submitRead(final long offset, final long guestPa, final int length, final long tag, final Completion done) {
        return submitAsync(VirtioBlk.T_IN, offset, guestPa, length, tag, done);
    }

    /** {@link #submitRead} for a write from guest memory; {@code -EROFS} on a read-only device. */
    public int submitWrite(final long offset, final long guestPa, final int length, final long tag, final Completion done) {
        if (readOnly) {
            return -Errno.EROFS.number();
        }
        return submitAsync(VirtioBlk.T_OUT, offset, guestPa, length, tag, done);
    }

    private int submitAsync(final int type, final long offset, final long guestPa, final int length, final long tag,
        final Completion done) {
        if (offset < 0 || length <= 0 || offset % SECTOR_SIZE != 0 || length % SECTOR_SIZE != 0 || length > sizeMax
            || guestPa < 0 || done == null) {
            return -Errno.EINVAL.number();
        }
        final int slot = tryAcquire();
        if (slot < 0) {
            return -Errno.EAGAIN.number();
        }
        completions[slot] = done;
        tags[slot] = tag;
        post(slot, type, offset / SECTOR_SIZE, guestPa, length, type == VirtioBlk.T_IN);
        return 0;
    }

    /** Put the request of {@code slot} on the queue and notify the device. */
    private void post(final int slot, final int type, final long sector, final long dataPa, final int dataLength,
        final boolean deviceWrites) {
        final MemorySegment guest = memory.segment();
        final long hdr = headersPa + (long)slot * SLOT_HEADER_BYTES;
        final long statusPa = hdr + VirtioBlk.HEADER_LENGTH;
        VirtioBlk.putHeader(guest, hdr, type, sector);
        guest.set(ValueLayout.JAVA_BYTE, statusPa, (byte)0xff);
        final ScatterList sg = lists[slot].clear().readable(hdr, VirtioBlk.HEADER_LENGTH);
        if (dataLength > 0) {
            if (deviceWrites) {
                sg.writable(dataPa, dataLength);
            } else {
                sg.readable(dataPa, dataLength);
            }
        }
        sg.writable(statusPa, 1);
        state.set(slot, PENDING);
        queueLock.lock();
        try {
            if (queue.add(sg, slot) < 0) {
                // Cannot happen: slots never outnumber what the ring holds. A kernel bug.
                state.set(slot, DONE);
                throw new IllegalStateException(name + ": request queue full with " + slots + " slots");
            }
            queue.publish();
        } finally {
            queueLock.unlock();
        }
    }

    /** The device's status byte of {@code slot}'s completed request as 0 or a negative errno. */
    private int status(final int slot) {
        final long statusPa = headersPa + (long)slot * SLOT_HEADER_BYTES + VirtioBlk.HEADER_LENGTH;
        final int status = memory.segment().get(ValueLayout.JAVA_BYTE, statusPa) & 0xff;
        return switch (status) {
            case VirtioBlk.S_OK -> 0;
            case VirtioBlk.S_UNSUPP -> -Errno.EOPNOTSUPP.number();
            default -> -Errno.EIO.number();
        };
    }

    private void complete(final int slot) {
        if (slot < 0 || slot >= slots) {
            return;
        }
        if (completions[slot] != null) {
            finished[finishedCount++] = slot; // reported once the used ring has been consumed
            return;
        }
        final Thread waiter = waiters[slot];
        state.set(slot, DONE);
        LockSupport.unpark(waiter);
    }

    /** Report the asynchronous requests {@link #complete} collected; their slots are free again first. */
    private void reportFinished() {
        final int n = finishedCount;
        finishedCount = 0;
        for (int i = 0; i < n; i++) {
            final int slot = finished[i];
            final Completion done = completions[slot];
            final long tag = tags[slot];
            final int result = status(slot);
            completions[slot] = null;
            state.set(slot, DONE);
            release(slot);
            done.complete(tag, result);
        }
    }

    @Override
    public void onInterrupt(final int q) {
        if (q == Notifier.CONFIG_CHANGE) {
            // Capacity changes (resize) are not supported; a device that needs a reset gets one.
            if (deviceNeedsReset()) {
                recover();
            }
            return;
        }
        queueLock.lock();
        try {
            queue.drain(completion);
            reportFinished();
        } finally {
            queueLock.unlock();
        }
    }

    /**
     * Polled completion: consume the used ring on the calling thread and report finished asynchronous
     * requests to their completions (as the interrupt handler does). For a caller that keeps requests in
     * flight and would rather poll than take interrupts (route the interrupt line elsewhere, e.g. a no-op).
     *
     * @return the number of used entries consumed.
     */
    public int reapCompletions() {
        queueLock.lock();
        try {
            final int n = queue.poll(completion, Integer.MAX_VALUE);
            reportFinished();
            return n;
        } finally {
            queueLock.unlock();
        }
    }

    /**
     * The device set DEVICE_NEEDS_RESET (its backend failed, or it could not use a queue): every request
     * in flight completes with {@code -EIO} (a write may or may not have reached the disk, as after a
     * device error on real hardware), then the device is reset and initialised again with a fresh
     * queue, so later requests work. Interrupt context.
     */
    private void recover() {
        queueLock.lock();
        try {
            if (!deviceNeedsReset()) {
                return; // another interrupt already recovered it
            }
            queue = renegotiateAfterReset(WANTED, queue)[0];
            driverOk();
            resets.incrementAndGet();
            // Only now (the queue lock still held) the callers learn: a retry goes to the new queue.
            for (int slot = 0; slot < slots; slot++) {
                if (state.get(slot) == PENDING) {
                    memory.segment().set(ValueLayout.JAVA_BYTE, headersPa + (long)slot * SLOT_HEADER_BYTES
                        + VirtioBlk.HEADER_LENGTH, (byte)VirtioBlk.S_IOERR);
                    complete(slot);
                }
            }
            reportFinished();
        } finally {
            queueLock.unlock();
        }
    }

    /** How many times the device was reset after DEVICE_NEEDS_RESET. */
    public long resets() {
        return resets.get();
    }

    /** Take a free slot without waiting; -1 when all are busy. */
    private int tryAcquire() {
        long mask;
        do {
            mask = freeSlots.get();
            if (mask == 0) {
                return -1;
            }
        } while (!freeSlots.compareAndSet(mask, mask & (mask - 1)));
        return Long.numberOfTrailingZeros(mask);
    }

    /** Take a free slot, parking while all are busy (a synchronous caller). */
    private int acquire() {
        int slot = tryAcquire();
        if (slot >= 0) {
            return slot;
        }
        final Thread self = Thread.currentThread();
        slotWaiters.add(self); // before the re-check: a release after it sees us and unparks
        try {
            while ((slot = tryAcquire()) < 0) {
                LockSupport.park(this);
                if (Thread.interrupted()) {
                    self.interrupt();
                    throw new IllegalStateException(name + ": interrupted waiting for a request slot");
                }
            }
            return slot;
        } finally {
            slotWaiters.remove(self);
            if (freeSlots.get() != 0) {
                wakeSlotWaiter(); // a release may have woken us while another slot was free too
            }
        }
    }

    private void release(final int slot) {
        freeSlots.getAndAccumulate(1L << slot, (mask, bit) -> mask | bit);
        wakeSlotWaiter();
    }

    private void wakeSlotWaiter() {
        final Thread waiter = slotWaiters.peek();
        if (waiter != null) {
            LockSupport.unpark(waiter);
        }
    }

    @Override
    public String featureName(final int bit) {
        return VirtioBlk.featureName(bit);
    }

    @Override
    public String describe() {
        return String.format("capacity %d sectors (%d MiB), block %d, %s, %d slots, %d resets", capacity / SECTOR_SIZE,
            capacity >> 20, blockSize, readOnly ? "ro" : "rw", slots, resets.get());
    }
}
