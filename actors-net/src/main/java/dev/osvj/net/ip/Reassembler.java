package dev.osvj.net.ip;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * IPv4 fragment reassembly (RFC 791 §3.2, RFC 815 hole tracking) with bounded memory: at most
 * {@code maxDatagrams} datagrams in progress and {@code maxBytes} of buffer among them; a datagram
 * not completed within the timeout is dropped (Linux's ipfrag_time is 30 s). When a new datagram does
 * not fit, the oldest one is evicted, so a flood of first fragments cannot pin memory.
 * Not thread-safe: one per receive context, or guarded by the caller.
 */
public final class Reassembler {
    /** Result codes of {@link #add}. */
    public static final int PENDING = -1;
    public static final int DROPPED = -2;
    private static final int MAX_RANGES = 16;

    private static final class Slot {
        boolean used;
        int src;
        int dst;
        int id;
        int protocol;
        long startedAt;
        byte[] data;
        int totalLength = -1;
        final int[] rs = new int[MAX_RANGES];
        final int[] re = new int[MAX_RANGES];
        int ranges;
    }

    private final Slot[] slots;
    private final long maxBytes;
    private final long timeoutNs;
    private long bytesInUse;
    private long timeouts;
    private long evictions;
    private long malformed;
    private long completed;

    public Reassembler(final int maxDatagrams, final long maxBytes, final long timeoutNs) {
        this.slots = new Slot[maxDatagrams];
        for (int i = 0; i < maxDatagrams; i++) {
            slots[i] = new Slot();
        }
        this.maxBytes = maxBytes;
        this.timeoutNs = timeoutNs;
    }

    /**
     * Add one fragment's payload.
     *
     * @param fragOffset offset of this payload in the datagram, bytes.
     * @param more       the MF flag.
     * @param out        where a completed datagram's payload is copied.
     * @return the completed payload length, {@link #PENDING} or {@link #DROPPED}.
     */
    public int add(final long now, final int src, final int dst, final int id, final int protocol,
        final int fragOffset, final boolean more, final DirectBuffer payload, final int offset, final int length,
        final MutableDirectBuffer out) {
        expire(now);
        final int end = fragOffset + length;
        if (end > 65535 - 20 || more && (length % 8 != 0 || length == 0)) {
            malformed++;
            return DROPPED;
        }
        Slot s = find(src, dst, id, protocol);
        if (s == null) {
            s = allocate(now);
            s.used = true;
            s.src = src;
            s.dst = dst;
            s.id = id;
            s.protocol = protocol;
            s.startedAt = now;
            s.totalLength = -1;
            s.ranges = 0;
        }
        if (!more) {
            if (s.totalLength >= 0 && s.totalLength != end || maxEnd(s) > end) {
                malformed++;
                free(s);
                return DROPPED;
            }
            s.totalLength = end;
        } else if (s.totalLength >= 0 && end > s.totalLength) {
            malformed++;
            free(s);
            return DROPPED;
        }
        if (!ensureCapacity(s, end)) {
            free(s);
            return DROPPED;
        }
        payload.getBytes(offset, s.data, fragOffset, length);
        if (!addRange(s, fragOffset, end)) {
            malformed++;
            free(s);
            return DROPPED;
        }
        if (s.totalLength >= 0 && s.ranges == 1 && s.rs[0] == 0 && s.re[0] == s.totalLength) {
            final int n = s.totalLength;
            out.putBytes(0, s.data, 0, n);
            completed++;
            free(s);
            return n;
        }
        return PENDING;
    }

    private static int maxEnd(final Slot s) {
        int m = 0;
        for (int i = 0; i < s.ranges; i++) {
            m = Math.max(m, s.re[i]);
        }
        return m;
    }

    private boolean addRange(final Slot s, final int start, final int end) {
        int ns = start;
        int ne = end;
        int w = 0;
        for (int i = 0; i < s.ranges; i++) {
            if (s.rs[i] <= ne && s.re[i] >= ns) {
                ns = Math.min(ns, s.rs[i]);
                ne = Math.max(ne, s.re[i]);
            } else {
                s.rs[w] = s.rs[i];
                s.re[w] = s.re[i];
                w++;
            }
        }
        if (w == MAX_RANGES) {
            return false;
        }
        s.rs[w] = ns;
        s.re[w] = ne;
        s.ranges = w + 1;
        return true;
    }

    private boolean ensureCapacity(final Slot s, final int end) {
        final int have = s.data == null ? 0 : s.data.length;
        if (end <= have) {
            return true;
        }
        final int want = Math.min(65535, Math.max(end, Math.max(2048, have * 2)));
        while (bytesInUse - have + want > maxBytes) {
            final Slot victim = oldestOther(s);
            if (victim == null) {
                return false;
            }
            evictions++;
            free(victim);
        }
        final byte[] n = new byte[want];
        if (s.data != null) {
            System.arraycopy(s.data, 0, n, 0, have);
        }
        bytesInUse += want - have;
        s.data = n;
        return true;
    }

    private Slot find(final int src, final int dst, final int id, final int protocol) {
        for (final Slot s : slots) {
            if (s.used && s.src == src && s.dst == dst && s.id == id && s.protocol == protocol) {
                return s;
            }
        }
        return null;
    }

    private Slot allocate(final long now) {
        for (final Slot s : slots) {
            if (!s.used) {
                return s;
            }
        }
        final Slot victim = oldestOther(null);
        evictions++;
        free(victim);
        return victim;
    }

    private Slot oldestOther(final Slot except) {
        Slot oldest = null;
        for (final Slot s : slots) {
            if (s.used && s != except && (oldest == null || s.startedAt < oldest.startedAt)) {
                oldest = s;
            }
        }
        return oldest;
    }

    private void free(final Slot s) {
        if (s.data != null) {
            bytesInUse -= s.data.length;
            s.data = null;
        }
        s.used = false;
        s.ranges = 0;
        s.totalLength = -1;
    }

    /** Drop datagrams older than the timeout. */
    public void expire(final long now) {
        for (final Slot s : slots) {
            if (s.used && now - s.startedAt >= timeoutNs) {
                timeouts++;
                free(s);
            }
        }
    }

    public long bytesInUse() {
        return bytesInUse;
    }

    public int inProgress() {
        int n = 0;
        for (final Slot s : slots) {
            if (s.used) {
                n++;
            }
        }
        return n;
    }

    public long timeouts() {
        return timeouts;
    }

    public long evictions() {
        return evictions;
    }

    public long malformed() {
        return malformed;
    }

    public long completed() {
        return completed;
    }
}
