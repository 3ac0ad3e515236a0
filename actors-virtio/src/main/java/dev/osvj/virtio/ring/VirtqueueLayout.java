package dev.osvj.virtio.ring;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The virtio 1.x split virtqueue layout in guest memory (virtio spec, "Split Virtqueues"): three
 * physically contiguous parts, each written by one side only. All fields are little-endian.
 *
 * <pre>
 * Descriptor table (Descriptor Area), 16 * N bytes, 16-byte aligned, written by the driver
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |                     addr (le64, guest physical)               |  0
 * |                                                               |
 * +---------------------------------------------------------------+
 * |                     len (le32, bytes)                         |  8
 * +-------------------------------+-------------------------------+
 * |  flags (NEXT=1 WRITE=2 IND=4) |  next (le16, index)           | 12
 * +-------------------------------+-------------------------------+
 *
 * Available ring (Driver Area), 6 + 2 * N bytes, 2-byte aligned, written by the driver
 * +-------------------------------+-------------------------------+
 * |  flags (NO_INTERRUPT=1)       |  idx (free-running, wraps)    |  0
 * +-------------------------------+-------------------------------+
 * |  ring[0] (head index)         |  ring[1]  ...  ring[N-1]      |  4
 * +-------------------------------+-------------------------------+
 * |  used_event (EVENT_IDX only)  |                                  4 + 2N
 * +-------------------------------+
 *
 * Used ring (Device Area), 6 + 8 * N bytes, 4-byte aligned, written by the device
 * +-------------------------------+-------------------------------+
 * |  flags (NO_NOTIFY=1)          |  idx (free-running, wraps)    |  0
 * +-------------------------------+-------------------------------+
 * |  ring[0].id (le32, head)                                      |  4
 * |  ring[0].len (le32, bytes written by the device)              |  8
 * |  ...  ring[N-1]                                               |
 * +-------------------------------+-------------------------------+
 * |  avail_event (EVENT_IDX only) |                                  4 + 8N
 * +-------------------------------+
 * </pre>
 *
 * <p>N (the queue size) is a power of two, 1..32768, so the 16-bit free-running indices always tell a
 * full ring from an empty one; slot = idx &amp; (N - 1). {@link #contiguous} places the three parts in
 * one block the way this kernel's driver allocates them: the used ring starts on its own 64-byte
 * cache line so the driver's and the device's stores never share a line.
 *
 * <p>Memory ordering (the publish protocol, both sides): a producer writes entries with plain stores
 * and then the index with a release store ({@link #putShortRelease}); the consumer reads the index
 * with an acquire load ({@link #getShortAcquire}) before the entries. The notification decision is a
 * Dekker pattern (publish my index, then read the other side's event index; the other side writes
 * its event index, then re-reads my index), so both sides put a full fence between that store and
 * that load.
 */
public final class VirtqueueLayout {
    /** Largest queue size: the highest power of two that fits the 16-bit index arithmetic. */
    public static final int MAX_QUEUE_SIZE = 32768;

    public static final int DESC_SIZE = 16;
    public static final int DESC_ADDR_OFFSET = 0;
    public static final int DESC_LEN_OFFSET = 8;
    public static final int DESC_FLAGS_OFFSET = 12;
    public static final int DESC_NEXT_OFFSET = 14;
    /** Descriptor continues via {@code next}. */
    public static final int DESC_F_NEXT = 1;
    /** Buffer is device write-only (otherwise device read-only). */
    public static final int DESC_F_WRITE = 2;
    /** Buffer holds a table of descriptors. */
    public static final int DESC_F_INDIRECT = 4;

    public static final int AVAIL_FLAGS_OFFSET = 0;
    public static final int AVAIL_IDX_OFFSET = 2;
    public static final int AVAIL_RING_OFFSET = 4;
    /** Driver to device: don't interrupt me (ignored when EVENT_IDX is negotiated). */
    public static final int AVAIL_F_NO_INTERRUPT = 1;

    public static final int USED_FLAGS_OFFSET = 0;
    public static final int USED_IDX_OFFSET = 2;
    public static final int USED_RING_OFFSET = 4;
    public static final int USED_ELEM_SIZE = 8;
    public static final int USED_ELEM_ID_OFFSET = 0;
    public static final int USED_ELEM_LEN_OFFSET = 4;
    /** Device to driver: don't kick me (ignored when EVENT_IDX is negotiated). */
    public static final int USED_F_NO_NOTIFY = 1;

    public static final int DESC_ALIGN = 16;
    public static final int AVAIL_ALIGN = 2;
    public static final int USED_ALIGN = 4;
    /** Where {@link #contiguous} starts the used ring: a cache line of its own. */
    public static final int USED_PLACEMENT_ALIGN = 64;

    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle U16_HANDLE = U16.varHandle();

    private VirtqueueLayout() {
    }

    /** Where the three parts of one queue are, as guest physical addresses. */
    public record Placement(long descPa, long availPa, long usedPa, int size) {
    }

    public static boolean validSize(final int size) {
        return size >= 1 && size <= MAX_QUEUE_SIZE && Integer.bitCount(size) == 1;
    }

    public static long descTableBytes(final int size) {
        return (long)DESC_SIZE * size;
    }

    public static long availBytes(final int size) {
        return 6L + 2L * size;
    }

    public static long usedBytes(final int size) {
        return 6L + (long)USED_ELEM_SIZE * size;
    }

    public static long availRingEntryOffset(final int slot) {
        return AVAIL_RING_OFFSET + 2L * slot;
    }

    /** Offset of {@code used_event} in the available ring. */
    public static long usedEventOffset(final int size) {
        return AVAIL_RING_OFFSET + 2L * size;
    }

    public static long usedElemOffset(final int slot) {
        return USED_RING_OFFSET + (long)USED_ELEM_SIZE * slot;
    }

    /** Offset of {@code avail_event} in the used ring. */
    public static long availEventOffset(final int size) {
        return USED_RING_OFFSET + (long)USED_ELEM_SIZE * size;
    }

    /** The placement of a queue whose parts lie one after another from {@code basePa} (16-aligned). */
    public static Placement contiguous(final long basePa, final int size) {
        if ((basePa & (DESC_ALIGN - 1)) != 0) {
            throw new IllegalArgumentException("descriptor table must be 16-byte aligned: " + basePa);
        }
        final long availPa = basePa + descTableBytes(size);
        final long usedPa = align(availPa + availBytes(size), USED_PLACEMENT_ALIGN);
        return new Placement(basePa, availPa, usedPa, size);
    }

    /** Bytes {@link #contiguous} needs for a queue of {@code size}. */
    public static long contiguousBytes(final int size) {
        final Placement p = contiguous(0, size);
        return p.usedPa() + usedBytes(size);
    }

    /** {@code value} rounded up to a multiple of {@code alignment} (a power of two). */
    public static long align(final long value, final long alignment) {
        return (value + alignment - 1) & -alignment;
    }

    /**
     * The event-index test (virtio spec, {@code vring_need_event}): true when the index
     * {@code eventIdx} the other side asked to be told about lies in [{@code oldIdx}, {@code newIdx}),
     * the entries published since the last notification, in 16-bit wrap-around arithmetic.
     */
    public static boolean needEvent(final int eventIdx, final int newIdx, final int oldIdx) {
        return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
    }

    static int getShortAcquire(final MemorySegment memory, final long offset) {
        return (short)U16_HANDLE.getAcquire(memory, offset) & 0xffff;
    }

    static void putShortRelease(final MemorySegment memory, final long offset, final int value) {
        U16_HANDLE.setRelease(memory, offset, (short)value);
    }

    static int getShortPlain(final MemorySegment memory, final long offset) {
        return memory.get(U16, offset) & 0xffff;
    }

    static void putShortPlain(final MemorySegment memory, final long offset, final int value) {
        memory.set(U16, offset, (short)value);
    }
}
