package dev.osvj.virtio.ring;

import java.lang.foreign.MemorySegment;

/**
 * One descriptor chain as the device sees it after {@link VirtqueueDevice#pop}: the validated list of
 * guest buffers (indirect tables already flattened), device-readable ones first. A reusable flyweight:
 * the device keeps one and refills it per chain, so walking a chain allocates nothing.
 *
 * <p>After a successful pop every buffer lies inside guest memory, readable buffers precede writable
 * ones, and the chain has at most {@link #capacity()} buffers: the accessors below cannot go out of
 * bounds of guest memory. Offsets given to {@link #copyFromReadable} and {@link #copyToWritable}
 * count from the start of the readable or the writable part.
 */
public final class DescriptorChain {
    private final long[] addr;
    private final int[] len;
    private int head = -1;
    private int count;
    private int readableCount;
    private long readableBytes;
    private long writableBytes;
    private MemorySegment memory;

    public DescriptorChain(final int capacity) {
        this.addr = new long[capacity];
        this.len = new int[capacity];
    }

    void reset(final MemorySegment mem, final int headIndex) {
        memory = mem;
        head = headIndex;
        count = 0;
        readableCount = 0;
        readableBytes = 0;
        writableBytes = 0;
    }

    /** Append a validated buffer; false when the chain is longer than this flyweight holds. */
    boolean append(final long pa, final int length, final boolean writable) {
        if (count == addr.length) {
            return false;
        }
        addr[count] = pa;
        len[count] = length;
        count++;
        if (writable) {
            writableBytes += Integer.toUnsignedLong(length);
        } else {
            readableCount++;
            readableBytes += Integer.toUnsignedLong(length);
        }
        return true;
    }

    public int capacity() {
        return addr.length;
    }

    public int head() {
        return head;
    }

    public int count() {
        return count;
    }

    public int readableCount() {
        return readableCount;
    }

    public int writableCount() {
        return count - readableCount;
    }

    public long readableBytes() {
        return readableBytes;
    }

    public long writableBytes() {
        return writableBytes;
    }

    public long addr(final int i) {
        return addr[i];
    }

    /** Length in bytes (an unsigned 32-bit value in the descriptor). */
    public long len(final int i) {
        return Integer.toUnsignedLong(len[i]);
    }

    public boolean isWritable(final int i) {
        return i >= readableCount;
    }

    /** Guest memory the chain's addresses refer to. */
    public MemorySegment memory() {
        return memory;
    }

    /**
     * Copy {@code length} bytes from the readable part, starting {@code offset} bytes into it.
     *
     * @return bytes copied (less than {@code length} when the readable part is shorter).
     */
    public long copyFromReadable(final long offset, final MemorySegment dst, final long dstOffset, final long length) {
        return copy(0, readableCount, offset, dst, dstOffset, length, false);
    }

    /**
     * Copy {@code length} bytes into the writable part, starting {@code offset} bytes into it.
     *
     * @return bytes copied (less than {@code length} when the writable part is shorter).
     */
    public long copyToWritable(final long offset, final MemorySegment src, final long srcOffset, final long length) {
        return copy(readableCount, count, offset, src, srcOffset, length, true);
    }

    private long copy(final int from, final int to, final long offset, final MemorySegment other,
        final long otherOffset, final long length, final boolean toGuest) {
        long skip = offset;
        long done = 0;
        for (int i = from; i < to && done < length; i++) {
            final long l = len(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            final long n = Math.min(l - skip, length - done);
            if (toGuest) {
                MemorySegment.copy(other, otherOffset + done, memory, addr[i] + skip, n);
            } else {
                MemorySegment.copy(memory, addr[i] + skip, other, otherOffset + done, n);
            }
            done += n;
            skip = 0;
        }
        return done;
    }

    /**
     * Locate byte {@code offset} of the readable ({@code writable = false}) or writable part.
     *
     * @return its guest physical address, or -1 when the part is shorter.
     */
    public long locate(final boolean writable, final long offset) {
        long skip = offset;
        for (int i = writable ? readableCount : 0; i < (writable ? count : readableCount); i++) {
            final long l = len(i);
            if (skip < l) {
                return addr[i] + skip;
            }
            skip -= l;
        }
        return -1;
    }
}
