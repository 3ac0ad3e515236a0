package dev.osvj.net.tcp;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * The receive queue of one connection: a byte ring with the in-order bytes the application has not
 * read yet, followed by out-of-order bytes placed at their final position. An {@link Assembler}
 * remembers which out-of-order ranges are present; it holds at most {@link Assembler#MAX_RANGES}
 * ranges, so a segment that would open one more is dropped (bounded state per connection).
 * Not thread-safe: guarded by the socket lock.
 *
 * <pre>
 *   [ readable (in order) | hole | ooo range | hole | ooo range | ... free ... ]
 *   ^head                 ^head+readable (= RCV.NXT)
 * </pre>
 */
final class RecvBuffer {
    private byte[] ring;
    private int head;
    private int readable;
    final Assembler assembler = new Assembler();

    RecvBuffer(final int capacity) {
        ring = new byte[capacity];
    }

    int capacity() {
        return ring.length;
    }

    int readable() {
        return readable;
    }

    /** Space left for bytes beyond RCV.NXT (the receive window). */
    int window() {
        return ring.length - readable;
    }

    void resize(final int capacity) {
        if (!assembler.isEmpty()) {
            return; // not while out-of-order data sits at ring positions
        }
        final int c = Math.max(capacity, readable);
        final byte[] n = new byte[c];
        for (int i = 0; i < readable; i++) {
            n[i] = ring[(head + i) % ring.length];
        }
        ring = n;
        head = 0;
    }

    /**
     * Store {@code len} bytes that start {@code offset} bytes after RCV.NXT (the caller trimmed them to
     * the window). Returns the number of bytes by which RCV.NXT advances (0 for out-of-order data),
     * or -1 when the data could not be stored because the assembler is out of ranges.
     */
    int write(final int offset, final DirectBuffer src, final int srcOff, final int len) {
        if (len <= 0) {
            return 0;
        }
        if (offset > 0 && !assembler.canAdd(offset, offset + len)) {
            return -1;
        }
        int done = 0;
        while (done < len) {
            final int pos = (head + readable + offset + done) % ring.length;
            final int n = Math.min(len - done, ring.length - pos);
            src.getBytes(srcOff + done, ring, pos, n);
            done += n;
        }
        final int advance = assembler.add(offset, offset + len);
        readable += advance;
        return advance;
    }

    /** Copy up to {@code len} readable bytes out and consume them. */
    int read(final MutableDirectBuffer dst, final int dstOff, final int len) {
        final int n = Math.min(len, readable);
        int done = 0;
        while (done < n) {
            final int pos = (head + done) % ring.length;
            final int k = Math.min(n - done, ring.length - pos);
            dst.putBytes(dstOff + done, ring, pos, k);
            done += k;
        }
        head = (head + n) % ring.length;
        readable -= n;
        return n;
    }

    /** Copy without consuming (MSG_PEEK). */
    int peek(final MutableDirectBuffer dst, final int dstOff, final int len) {
        final int n = Math.min(len, readable);
        int done = 0;
        while (done < n) {
            final int pos = (head + done) % ring.length;
            final int k = Math.min(n - done, ring.length - pos);
            dst.putBytes(dstOff + done, ring, pos, k);
            done += k;
        }
        return n;
    }

    /**
     * Out-of-order ranges beyond RCV.NXT as offsets relative to it, sorted, disjoint, non-adjacent.
     * {@link #add} returns how far the front (offset 0) advanced; the remaining ranges are shifted so
     * offsets stay relative to the new RCV.NXT. The range most recently added is remembered for SACK
     * (RFC 2018: the first block reports the most recent segment).
     */
    static final class Assembler {
        static final int MAX_RANGES = 8;
        private final int[] start = new int[MAX_RANGES];
        private final int[] end = new int[MAX_RANGES];
        private int count;
        /** Offsets of the most recently touched range, or -1. */
        private int recentStart = -1;
        private int recentEnd = -1;

        boolean isEmpty() {
            return count == 0;
        }

        int count() {
            return count;
        }

        int start(final int i) {
            return start[i];
        }

        int end(final int i) {
            return end[i];
        }

        int recentStart() {
            return recentStart;
        }

        int recentEnd() {
            return recentEnd;
        }

        /** True when [s, e) overlaps or touches an existing range, or a free slot exists. */
        boolean canAdd(final int s, final int e) {
            if (count < MAX_RANGES) {
                return true;
            }
            for (int i = 0; i < count; i++) {
                if (s <= end[i] && e >= start[i]) {
                    return true;
                }
            }
            return false;
        }

        /** Add [s, e); returns the advance of the in-order front (non-zero only when s == 0). */
        int add(final int s, final int e) {
            int ns = s;
            int ne = e;
            // merge every overlapping or adjacent range into [ns, ne)
            int w = 0;
            for (int i = 0; i < count; i++) {
                if (start[i] <= ne && end[i] >= ns) {
                    ns = Math.min(ns, start[i]);
                    ne = Math.max(ne, end[i]);
                } else {
                    start[w] = start[i];
                    end[w] = end[i];
                    w++;
                }
            }
            count = w;
            if (ns == 0) {
                // the front advances by ne; shift the rest
                for (int i = 0; i < count; i++) {
                    start[i] -= ne;
                    end[i] -= ne;
                }
                if (recentStart >= 0) {
                    recentStart -= ne;
                    recentEnd -= ne;
                    if (recentEnd <= 0) {
                        recentStart = -1;
                        recentEnd = -1;
                    } else if (recentStart < 0) {
                        recentStart = 0;
                    }
                }
                return ne;
            }
            // insert sorted
            int pos = count;
            while (pos > 0 && start[pos - 1] > ns) {
                start[pos] = start[pos - 1];
                end[pos] = end[pos - 1];
                pos--;
            }
            start[pos] = ns;
            end[pos] = ne;
            count++;
            recentStart = ns;
            recentEnd = ne;
            return 0;
        }

        void clear() {
            count = 0;
            recentStart = -1;
            recentEnd = -1;
        }
    }
}
