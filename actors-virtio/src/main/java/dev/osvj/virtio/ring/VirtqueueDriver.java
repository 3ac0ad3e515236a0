package dev.osvj.virtio.ring;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

import static dev.osvj.virtio.ring.VirtqueueLayout.*;

/**
 * The driver side of one split virtqueue (the kernel's half): producer of the available ring,
 * consumer of the used ring, owner of the descriptor table. Layout: {@link VirtqueueLayout}.
 *
 * <p>Roles and threads: one driver thread at a time calls {@link #add}, {@link #publish},
 * {@link #poll} and the interrupt switches (a caller that shares a queue between threads holds a
 * lock around them). The device side runs on another thread or in another process and only touches
 * guest memory.
 *
 * <p>Publish order (driver to device):
 * <ol>
 *   <li>{@link #add}: plain stores of the descriptors (or of an indirect table and the descriptor
 *       pointing to it), then a plain store of the head into {@code avail.ring[idx % N]};</li>
 *   <li>{@link #publish}: release store of {@code avail.idx} (everything above becomes visible
 *       first), full fence, then a load of {@code used.avail_event} (EVENT_IDX) or {@code used.flags}
 *       to decide whether to kick;</li>
 *   <li>{@link #poll}: acquire load of {@code used.idx}, then plain loads of the used elements; the
 *       chain's descriptors go back to the free list, and {@code avail.used_event} is set (release)
 *       to the next used index wanted.</li>
 * </ol>
 *
 * <p>Free descriptors are chained through a private shadow of {@code next} (OSv keeps them chained
 * through the table itself); what the driver reads back on completion comes from its own shadow
 * state, never from the table, so a misbehaving device cannot corrupt the free list.
 *
 * <p>Indirect descriptors (VIRTIO_F_INDIRECT_DESC) follow OSv's rule: a chain of more than one
 * buffer goes into an indirect table when fewer descriptors are free than it needs, or when less
 * than a quarter of the ring is free ({@link IndirectPolicy#AUTO}). Each head descriptor owns one
 * preallocated table of {@code indirectMax} entries, so no memory is allocated per request.
 */
public final class VirtqueueDriver {
    /** {@link #add} result: not enough free descriptors (back pressure, not an error). */
    public static final int NO_SPACE = -1;

    /** When {@link #add} uses an indirect table. */
    public enum IndirectPolicy { NEVER, AUTO, ALWAYS }

    /** Receives each completed chain: the cookie given to {@link #add} and the bytes the device wrote. */
    @FunctionalInterface
    public interface UsedHandler {
        void onUsed(long cookie, int writtenBytes);
    }

    private final MemorySegment memory;
    private final int index;
    private final int size;
    private final int mask;
    private final long descPa;
    private final long availPa;
    private final long usedPa;
    private final boolean eventIdx;
    private final long indirectPa;
    private final int indirectMax;
    private IndirectPolicy indirectPolicy;
    private final Notifier doorbell;
    private final QueueCounters counters = new QueueCounters();

    /** Shadow free list: nextFree[i] is the descriptor after i on the free list. */
    private final short[] nextFree;
    /** Per head: descriptors the chain occupies in the table (1 for an indirect chain), 0 = not in use. */
    private final int[] chainLength;
    private final int[] chainTail;
    private final long[] cookies;
    private int freeHead;
    private int numFree;

    /** Next {@code avail.idx} to publish (u16). */
    private int availShadow;
    /** {@code avail.idx} at the last publish (u16): the "old" of the event-index test. */
    private int availPublished;
    /** Next used index to consume (u16). */
    private int lastUsed;
    private boolean interruptsEnabled = true;

    /**
     * Take over a queue whose memory the caller allocated and zeroed.
     *
     * @param memory      all of guest memory; offsets are guest physical addresses.
     * @param index       the queue's index on its device (reported to the doorbell).
     * @param placement   where the parts are ({@link VirtqueueLayout#contiguous}).
     * @param eventIdx    VIRTIO_F_EVENT_IDX was negotiated.
     * @param indirectPa  start of {@code size * indirectMax * 16} bytes of indirect tables (16-aligned),
     *                    or -1 when VIRTIO_F_INDIRECT_DESC was not negotiated.
     * @param indirectMax entries per indirect table (0 without indirect descriptors).
     * @param doorbell    sends a kick to the device.
     */
    public VirtqueueDriver(final MemorySegment memory, final int index, final Placement placement,
        final boolean eventIdx, final long indirectPa, final int indirectMax, final Notifier doorbell) {
        final int n = placement.size();
        if (!validSize(n)) {
            throw new IllegalArgumentException("queue size must be a power of two 1..32768: " + n);
        }
        this.memory = memory;
        this.index = index;
        this.size = n;
        this.mask = n - 1;
        this.descPa = placement.descPa();
        this.availPa = placement.availPa();
        this.usedPa = placement.usedPa();
        this.eventIdx = eventIdx;
        this.indirectPa = indirectPa;
        this.indirectMax = indirectPa < 0 ? 0 : indirectMax;
        this.indirectPolicy = indirectPa < 0 ? IndirectPolicy.NEVER : IndirectPolicy.AUTO;
        this.doorbell = doorbell;
        this.nextFree = new short[n];
        this.chainLength = new int[n];
        this.chainTail = new int[n];
        this.cookies = new long[n];
        for (int i = 0; i < n; i++) {
            nextFree[i] = (short)(i + 1);
        }
        this.numFree = n;
        // The spec: the driver initialises used.flags to 0 when it allocates the used ring; both
        // free-running indices and both event indices start at 0 too (nothing relies on zeroed memory).
        putShortPlain(memory, usedPa + USED_FLAGS_OFFSET, 0);
        putShortPlain(memory, usedPa + USED_IDX_OFFSET, 0);
        putShortPlain(memory, usedPa + availEventOffset(n), 0);
        putShortPlain(memory, availPa + AVAIL_FLAGS_OFFSET, 0);
        putShortPlain(memory, availPa + usedEventOffset(n), 0);
        putShortRelease(memory, availPa + AVAIL_IDX_OFFSET, 0);
    }

    /** Bytes of indirect tables a queue of {@code size} with {@code indirectMax} entries per table needs. */
    public static long indirectBytes(final int size, final int indirectMax) {
        return (long)size * indirectMax * DESC_SIZE;
    }

    public int index() {
        return index;
    }

    public int size() {
        return size;
    }

    public int freeDescriptors() {
        return numFree;
    }

    public QueueCounters counters() {
        return counters;
    }

    public boolean eventIdx() {
        return eventIdx;
    }

    /** Force or forbid indirect tables (tests, benchmarks); only when indirect tables exist. */
    public void indirectPolicy(final IndirectPolicy policy) {
        if (policy != IndirectPolicy.NEVER && indirectMax == 0) {
            throw new IllegalStateException("queue " + index + " has no indirect tables");
        }
        this.indirectPolicy = policy;
    }

    /**
     * Make one descriptor chain available (not yet visible to the device: see {@link #publish}).
     *
     * @param buffers the chain's buffers, readable ones first.
     * @param cookie  handed back to the {@link UsedHandler} when the device returns the chain.
     * @return the head descriptor index, or {@link #NO_SPACE} when too few descriptors are free.
     */
    public int add(final ScatterList buffers, final long cookie) {
        final int n = buffers.count();
        if (n == 0) {
            throw new IllegalArgumentException("empty descriptor chain");
        }
        final boolean indirect = n > 1 && n <= indirectMax && switch (indirectPolicy) {
            case NEVER -> false;
            case ALWAYS -> true;
            case AUTO -> numFree < n || numFree < size / 4;
        };
        final int needed = indirect ? 1 : n;
        if (numFree < needed || n > size && !indirect) {
            counters.increment(QueueCounters.FULL);
            return NO_SPACE;
        }
        final int head = freeHead;
        if (indirect) {
            final long table = indirectPa + (long)head * indirectMax * DESC_SIZE;
            for (int i = 0; i < n; i++) {
                final int flags = (buffers.isWritable(i) ? DESC_F_WRITE : 0) | (i < n - 1 ? DESC_F_NEXT : 0);
                writeDescriptor(table + (long)i * DESC_SIZE, buffers.addr(i), buffers.len(i), flags, i < n - 1 ? i + 1 : 0);
            }
            writeDescriptor(descPa + (long)head * DESC_SIZE, table, n * DESC_SIZE, DESC_F_INDIRECT, 0);
            freeHead = nextFree[head] & 0xffff;
            numFree--;
            chainLength[head] = 1;
            chainTail[head] = head;
            counters.increment(QueueCounters.INDIRECT);
        } else {
            int d = head;
            int last = head;
            for (int i = 0; i < n; i++) {
                final int next = nextFree[d] & 0xffff;
                final int flags = (buffers.isWritable(i) ? DESC_F_WRITE : 0) | (i < n - 1 ? DESC_F_NEXT : 0);
                writeDescriptor(descPa + (long)d * DESC_SIZE, buffers.addr(i), buffers.len(i), flags, i < n - 1 ? next : 0);
                last = d;
                d = next;
            }
            freeHead = d;
            numFree -= n;
            chainLength[head] = n;
            chainTail[head] = last;
        }
        cookies[head] = cookie;
        putShortPlain(memory, availPa + availRingEntryOffset(availShadow & mask), head);
        availShadow = (availShadow + 1) & 0xffff;
        counters.increment(QueueCounters.CHAINS);
        counters.add(QueueCounters.DESCRIPTORS, n);
        return head;
    }

    private void writeDescriptor(final long pa, final long addr, final int len, final int flags, final int next) {
        memory.set(U64, pa + DESC_ADDR_OFFSET, addr);
        memory.set(U32, pa + DESC_LEN_OFFSET, len);
        memory.set(U16, pa + DESC_FLAGS_OFFSET, (short)flags);
        memory.set(U16, pa + DESC_NEXT_OFFSET, (short)next);
    }

    /**
     * Expose the chains added since the last publish to the device and kick it unless it suppressed
     * notifications (EVENT_IDX: it asked to hear of an index outside the published range; otherwise
     * it set NO_NOTIFY while polling).
     *
     * @return true when the device was kicked.
     */
    public boolean publish() {
        if (publishWithoutKick()) {
            kick();
            return true;
        }
        return false;
    }

    /**
     * {@link #publish} without the kick: exposes the chains added since the last publish and says whether
     * the device asked to be kicked; the caller then calls {@link #kick} (from any thread, after releasing
     * the locks it holds around {@link #add}/{@code publishWithoutKick}, so that a kick served inline by
     * the device, which may run a whole transmit, does not lengthen them). A later publisher may see no
     * need to kick because this one's kick is still owed: the owed kick covers its chains too (the device
     * reads {@code avail.idx} when it runs), so a caller that got true must kick.
     *
     * @return true when a kick is owed; counted as a notification (false: counted as suppressed).
     */
    public boolean publishWithoutKick() {
        if (availShadow == availPublished) {
            return false;
        }
        putShortRelease(memory, availPa + AVAIL_IDX_OFFSET, availShadow);
        // Store-load barrier: our idx store must be visible before we read the device's event index,
        // or we could both miss each other (the device re-checks idx after writing avail_event).
        VarHandle.fullFence();
        final int old = availPublished;
        availPublished = availShadow;
        final boolean kick = eventIdx
            ? needEvent(getShortAcquire(memory, usedPa + availEventOffset(size)), availShadow, old)
            : (getShortAcquire(memory, usedPa + USED_FLAGS_OFFSET) & USED_F_NO_NOTIFY) == 0;
        if (kick) {
            counters.increment(QueueCounters.NOTIFICATIONS);
        } else {
            counters.increment(QueueCounters.SUPPRESSED);
        }
        return kick;
    }

    /** Ring the device's doorbell for this queue (after {@link #publishWithoutKick} returned true). Any thread. */
    public void kick() {
        doorbell.notify(index);
    }

    /** True when the device has returned chains that {@link #poll} has not consumed yet. */
    public boolean hasUsed() {
        return getShortAcquire(memory, usedPa + USED_IDX_OFFSET) != lastUsed;
    }

    /**
     * Consume up to {@code limit} used chains: free their descriptors, then call {@code handler} for
     * each (so the handler may add new chains at once).
     *
     * @return the number consumed.
     */
    public int poll(final UsedHandler handler, final int limit) {
        final int usedIdx = getShortAcquire(memory, usedPa + USED_IDX_OFFSET);
        if (((usedIdx - lastUsed) & 0xffff) > size) {
            // The device claims more completions than the ring holds: a broken device. Count it and
            // consume nothing; the device's owner sees the counter (and resets the device).
            counters.increment(QueueCounters.MALFORMED);
            return 0;
        }
        int done = 0;
        while (lastUsed != usedIdx && done < limit) {
            final long elem = usedPa + usedElemOffset(lastUsed & mask);
            final int id = memory.get(U32, elem + USED_ELEM_ID_OFFSET);
            final int len = memory.get(U32, elem + USED_ELEM_LEN_OFFSET);
            lastUsed = (lastUsed + 1) & 0xffff;
            if (id < 0 || id >= size || chainLength[id] == 0) {
                counters.increment(QueueCounters.MALFORMED);
                continue;
            }
            final long cookie = cookies[id];
            nextFree[chainTail[id]] = (short)freeHead;
            freeHead = id;
            numFree += chainLength[id];
            chainLength[id] = 0;
            done++;
            handler.onUsed(cookie, len);
        }
        counters.add(QueueCounters.COMPLETIONS, done);
        if (eventIdx && interruptsEnabled) {
            putShortRelease(memory, availPa + usedEventOffset(size), lastUsed);
        }
        return done;
    }

    /**
     * Ask the device not to interrupt while the driver polls (EVENT_IDX: the event index is left
     * one behind the consumer, so the device would interrupt only after 65535 more completions;
     * otherwise NO_INTERRUPT). Best effort by the spec: a spurious interrupt is still possible.
     */
    public void disableInterrupts() {
        interruptsEnabled = false;
        if (eventIdx) {
            putShortRelease(memory, availPa + usedEventOffset(size), (lastUsed - 1) & 0xffff);
        } else {
            putShortRelease(memory, availPa + AVAIL_FLAGS_OFFSET, AVAIL_F_NO_INTERRUPT);
        }
    }

    /**
     * Ask for an interrupt at the next completion, then re-check (OSv's {@code wait_for_queue}: check,
     * enable, fence, check again).
     *
     * @return true when completions arrived meanwhile: poll again instead of waiting.
     */
    public boolean enableInterrupts() {
        interruptsEnabled = true;
        if (eventIdx) {
            putShortRelease(memory, availPa + usedEventOffset(size), lastUsed);
        } else {
            putShortRelease(memory, availPa + AVAIL_FLAGS_OFFSET, 0);
        }
        VarHandle.fullFence();
        return hasUsed();
    }

    /**
     * Interrupt-handler drain (Linux's {@code virtqueue_enable_cb} loop, OSv's {@code wait_for_queue}):
     * with interrupts off, consume every used entry; re-enable them, and poll again if completions
     * arrived in between, so none waits for an interrupt that was never sent.
     *
     * @return the number of used entries consumed.
     */
    public int drain(final UsedHandler handler) {
        int n = 0;
        disableInterrupts();
        do {
            n += poll(handler, Integer.MAX_VALUE);
        } while (enableInterrupts());
        return n;
    }

    public boolean interruptsEnabled() {
        return interruptsEnabled;
    }

    /** Chains made available and not yet returned. */
    public int inFlight() {
        return (availShadow - lastUsed) & 0xffff;
    }

    @Override
    public String toString() {
        return "vq" + index + " size=" + size + " free=" + numFree + " avail=" + availShadow + " used=" + lastUsed;
    }
}
