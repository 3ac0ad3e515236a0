package dev.osvj.virtio.ring;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static dev.osvj.virtio.ring.VirtqueueLayout.*;

/**
 * The device side of one split virtqueue (the backend's half, "the hypervisor"): consumer of the
 * available ring, producer of the used ring. It reads only what the driver published and treats all
 * of it as untrusted: every chain is validated by {@link #pop} (indices in range, buffers inside
 * guest memory, no loops, no nested or chained indirect tables, readable before writable); a
 * malformed chain is counted, returned with length 0 and skipped, never thrown at the caller.
 *
 * <p>Roles and threads: one device thread calls {@link #pop}, {@link #pushUsed},
 * {@link #publishUsed} and the notification switches.
 *
 * <p>Publish order (device to driver):
 * <ol>
 *   <li>{@link #pop}: acquire load of {@code avail.idx} (only when the cached copy is exhausted), then
 *       plain loads of {@code avail.ring[]} and the descriptors;</li>
 *   <li>{@link #pushUsed}: plain stores of {@code used.ring[idx % N]} (id, len) after the data
 *       buffers were written;</li>
 *   <li>{@link #publishUsed}: release store of {@code used.idx}, full fence, load of
 *       {@code avail.used_event} (EVENT_IDX) or {@code avail.flags} to decide whether to interrupt.</li>
 * </ol>
 */
public final class VirtqueueDevice {
    /** {@link #pop} result: nothing available. */
    public static final int NONE = -1;
    /** {@link #pop} result: the next chain was malformed; it was returned to the driver with length 0. */
    public static final int MALFORMED = -2;

    private final MemorySegment memory;
    private final long memorySize;
    private final int index;
    private final int size;
    private final int mask;
    private final long descPa;
    private final long availPa;
    private final long usedPa;
    private final boolean eventIdx;
    private final boolean indirect;
    private final Notifier interrupt;
    private final QueueCounters counters = new QueueCounters();

    private int lastAvail;
    /** Cached {@code avail.idx}: the acquire load happens only when the chains below it are used up. */
    private int availSeen;
    private int usedShadow;
    /** {@code used.idx} at the last publish: the "old" of the event-index test. */
    private int usedPublished;
    private boolean notificationsEnabled = true;

    /**
     * Attach to a queue the driver set up (the transport's queue registers).
     *
     * @throws IllegalArgumentException when the size or a part's address or alignment is invalid (the
     *                                  transport refuses the queue; the driver sees a failed setup).
     */
    public VirtqueueDevice(final MemorySegment memory, final int index, final Placement placement,
        final boolean eventIdx, final boolean indirect, final Notifier interrupt) {
        final int n = placement.size();
        if (!validSize(n)) {
            throw new IllegalArgumentException("queue size must be a power of two 1..32768: " + n);
        }
        this.memory = memory;
        this.memorySize = memory.byteSize();
        checkPart("descriptor table", placement.descPa(), descTableBytes(n), DESC_ALIGN);
        checkPart("available ring", placement.availPa(), availBytes(n), AVAIL_ALIGN);
        checkPart("used ring", placement.usedPa(), usedBytes(n), USED_ALIGN);
        this.index = index;
        this.size = n;
        this.mask = n - 1;
        this.descPa = placement.descPa();
        this.availPa = placement.availPa();
        this.usedPa = placement.usedPa();
        this.eventIdx = eventIdx;
        this.indirect = indirect;
        this.interrupt = interrupt;
        // A queue starts with both free-running indices at 0 (the driver zeroed the rings).
    }

    private void checkPart(final String what, final long pa, final long bytes, final int align) {
        if (pa < 0 || pa > memorySize - bytes || (pa & (align - 1)) != 0) {
            throw new IllegalArgumentException(what + " at 0x" + Long.toHexString(pa) + " (" + bytes
                + " bytes, alignment " + align + ") is not inside guest memory of " + memorySize + " bytes");
        }
    }

    public int index() {
        return index;
    }

    public int size() {
        return size;
    }

    public QueueCounters counters() {
        return counters;
    }

    /** A chain flyweight big enough for any chain this queue accepts. */
    public DescriptorChain newChain() {
        return new DescriptorChain(size);
    }

    /** True when the driver has published chains that {@link #pop} has not taken. */
    public boolean hasAvailable() {
        if (lastAvail != availSeen) {
            return true;
        }
        availSeen = getShortAcquire(memory, availPa + AVAIL_IDX_OFFSET);
        return lastAvail != availSeen;
    }

    /** Chains the driver has published and {@link #pop} has not taken (refreshes the cached index). */
    public int availableChains() {
        availSeen = getShortAcquire(memory, availPa + AVAIL_IDX_OFFSET);
        final int n = (availSeen - lastAvail) & 0xffff;
        return n > size ? 0 : n;
    }

    /**
     * Take the next available chain into {@code chain}.
     *
     * @return its head index, {@link #NONE}, or {@link #MALFORMED} (already returned to the driver).
     */
    public int pop(final DescriptorChain chain) {
        if (!hasAvailable()) {
            return NONE;
        }
        if (((availSeen - lastAvail) & 0xffff) > size) {
            // The driver claims more chains than the ring holds; take none of them.
            counters.increment(QueueCounters.MALFORMED);
            availSeen = lastAvail;
            return NONE;
        }
        final int head = getShortPlain(memory, availPa + availRingEntryOffset(lastAvail & mask));
        lastAvail = (lastAvail + 1) & 0xffff;
        if (head >= size || !walk(chain, head)) {
            counters.increment(QueueCounters.MALFORMED);
            if (head < size) {
                pushUsed(head, 0);
            }
            return MALFORMED;
        }
        counters.increment(QueueCounters.CHAINS);
        counters.add(QueueCounters.DESCRIPTORS, chain.count());
        return head;
    }

    private boolean walk(final DescriptorChain chain, final int head) {
        chain.reset(memory, head);
        boolean seenWritable = false;
        int d = head;
        for (int hops = 0; ; hops++) {
            if (hops >= size || d >= size) {
                return false; // a loop, or an index outside the table
            }
            final long pa = descPa + (long)d * DESC_SIZE;
            final int flags = memory.get(U16, pa + DESC_FLAGS_OFFSET) & 0xffff;
            final long addr = memory.get(U64, pa + DESC_ADDR_OFFSET);
            final int len = memory.get(U32, pa + DESC_LEN_OFFSET);
            if ((flags & DESC_F_INDIRECT) != 0) {
                // Only as the last descriptor of a chain, never with NEXT, and only if negotiated.
                if (!indirect || (flags & DESC_F_NEXT) != 0) {
                    return false;
                }
                return walkIndirect(chain, addr, Integer.toUnsignedLong(len), seenWritable);
            }
            final boolean writable = (flags & DESC_F_WRITE) != 0;
            if (!writable && seenWritable || !inMemory(addr, len) || !chain.append(addr, len, writable)) {
                return false;
            }
            seenWritable |= writable;
            if ((flags & DESC_F_NEXT) == 0) {
                return true;
            }
            d = memory.get(U16, pa + DESC_NEXT_OFFSET) & 0xffff;
        }
    }

    private boolean walkIndirect(final DescriptorChain chain, final long table, final long bytes, final boolean writableBefore) {
        if (bytes == 0 || bytes % DESC_SIZE != 0 || (table & (DESC_ALIGN - 1)) != 0 || !inMemory(table, (int)Math.min(bytes, Integer.MAX_VALUE))
            || bytes > (long)MAX_QUEUE_SIZE * DESC_SIZE) {
            return false;
        }
        final int entries = (int)(bytes / DESC_SIZE);
        boolean seenWritable = writableBefore;
        int d = 0;
        for (int hops = 0; ; hops++) {
            if (hops >= entries || d >= entries) {
                return false;
            }
            final long pa = table + (long)d * DESC_SIZE;
            final int flags = memory.get(U16, pa + DESC_FLAGS_OFFSET) & 0xffff;
            if ((flags & DESC_F_INDIRECT) != 0) {
                return false; // no nested tables
            }
            final long addr = memory.get(U64, pa + DESC_ADDR_OFFSET);
            final int len = memory.get(U32, pa + DESC_LEN_OFFSET);
            final boolean writable = (flags & DESC_F_WRITE) != 0;
            if (!writable && seenWritable || !inMemory(addr, len) || !chain.append(addr, len, writable)) {
                return false;
            }
            seenWritable |= writable;
            if ((flags & DESC_F_NEXT) == 0) {
                return true;
            }
            d = memory.get(U16, pa + DESC_NEXT_OFFSET) & 0xffff;
        }
    }

    private boolean inMemory(final long addr, final int len) {
        final long l = Integer.toUnsignedLong(len);
        return addr >= 0 && l <= memorySize && addr <= memorySize - l;
    }

    /**
     * Return a chain to the driver (visible at the next {@link #publishUsed}).
     *
     * @param head         the chain's head index from {@link #pop}.
     * @param writtenBytes bytes the device wrote into the chain's writable buffers.
     */
    public void pushUsed(final int head, final int writtenBytes) {
        final long elem = usedPa + usedElemOffset(usedShadow & mask);
        memory.set(U32, elem + USED_ELEM_ID_OFFSET, head);
        memory.set(U32, elem + USED_ELEM_LEN_OFFSET, writtenBytes);
        usedShadow = (usedShadow + 1) & 0xffff;
    }

    /**
     * Expose the chains pushed since the last publish and interrupt the driver unless it suppressed
     * interrupts.
     *
     * @return true when the driver was interrupted.
     */
    public boolean publishUsed() {
        if (usedShadow == usedPublished) {
            return false;
        }
        putShortRelease(memory, usedPa + USED_IDX_OFFSET, usedShadow);
        VarHandle.fullFence(); // store used.idx before loading the driver's used_event (Dekker pair)
        final int old = usedPublished;
        counters.add(QueueCounters.COMPLETIONS, (usedShadow - old) & 0xffff);
        usedPublished = usedShadow;
        final boolean notify = eventIdx
            ? needEvent(getShortAcquire(memory, availPa + usedEventOffset(size)), usedShadow, old)
            : (getShortAcquire(memory, availPa + AVAIL_FLAGS_OFFSET) & AVAIL_F_NO_INTERRUPT) == 0;
        if (notify) {
            counters.increment(QueueCounters.NOTIFICATIONS);
            interrupt.notify(index);
        } else {
            counters.increment(QueueCounters.SUPPRESSED);
        }
        return notify;
    }

    /**
     * Ask the driver not to kick while the device polls (EVENT_IDX: the event index is left one
     * behind the consumer; otherwise NO_NOTIFY).
     */
    public void disableNotifications() {
        notificationsEnabled = false;
        if (eventIdx) {
            putShortRelease(memory, usedPa + availEventOffset(size), (lastAvail - 1) & 0xffff);
        } else {
            putShortRelease(memory, usedPa + USED_FLAGS_OFFSET, USED_F_NO_NOTIFY);
        }
    }

    /**
     * Ask for a kick at the next available chain, then re-check.
     *
     * @return true when chains arrived meanwhile: keep polling instead of idling.
     */
    public boolean enableNotifications() {
        notificationsEnabled = true;
        if (eventIdx) {
            putShortRelease(memory, usedPa + availEventOffset(size), lastAvail);
        } else {
            putShortRelease(memory, usedPa + USED_FLAGS_OFFSET, 0);
        }
        VarHandle.fullFence(); // store our event index before re-loading avail.idx (Dekker pair)
        return hasAvailable();
    }

    public boolean notificationsEnabled() {
        return notificationsEnabled;
    }

    @Override
    public String toString() {
        return "vq" + index + " size=" + size + " lastAvail=" + lastAvail + " used=" + usedShadow;
    }
}
