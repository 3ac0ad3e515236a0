package dev.osvj.virtio.ring;

/**
 * A reusable list of guest buffers for one descriptor chain: device-readable buffers first, then
 * device-writable ones (the spec's order). The driver fills one, hands it to
 * {@link VirtqueueDriver#add}, and clears it for the next request; nothing is allocated per request.
 * Not thread-safe: one per submitting thread.
 */
public final class ScatterList {
    private final long[] addr;
    private final int[] len;
    private final boolean[] writable;
    private int count;

    /** @param capacity the most buffers one chain may have. */
    public ScatterList(final int capacity) {
        this.addr = new long[capacity];
        this.len = new int[capacity];
        this.writable = new boolean[capacity];
    }

    public ScatterList clear() {
        count = 0;
        return this;
    }

    /** Append a buffer the device reads; must come before every writable buffer. */
    public ScatterList readable(final long pa, final int length) {
        if (count > 0 && writable[count - 1]) {
            throw new IllegalStateException("device-readable buffers must precede device-writable ones");
        }
        return put(pa, length, false);
    }

    /** Append a buffer the device writes. */
    public ScatterList writable(final long pa, final int length) {
        return put(pa, length, true);
    }

    private ScatterList put(final long pa, final int length, final boolean w) {
        if (count == addr.length) {
            throw new IllegalStateException("scatter list full: " + addr.length);
        }
        addr[count] = pa;
        len[count] = length;
        writable[count] = w;
        count++;
        return this;
    }

    public int count() {
        return count;
    }

    public int capacity() {
        return addr.length;
    }

    public long addr(final int i) {
        return addr[i];
    }

    public int len(final int i) {
        return len[i];
    }

    public boolean isWritable(final int i) {
        return writable[i];
    }
}
