package dev.osvj.net.channel;

import dev.osvj.net.tcp.SipHash;

/**
 * A hash table of IPv4 TCP flows keyed by the 4-tuple (local address and port, remote address and
 * port), with a keyed bucket hash ({@link SipHash}, random key per table) so that crafted tuples cannot
 * pile into one bucket; OSv's classifier uses an unkeyed XOR of the four fields.
 *
 * <p>Readers ({@link #get}) are lock-free and allocation-free: they read the bucket array and walk an
 * immutable chain. Writers ({@link #put}, {@link #remove}) are serialized by the table's monitor and
 * publish a new chain (copy-on-write per bucket), RCU style; the array doubles when the load exceeds 1.
 *
 * @param <V> the value (a socket).
 */
public final class FlowTable<V> {
    private static final class Node<V> {
        final long key;
        final int remoteIp;
        final V value;
        final Node<V> next;

        Node(final long key, final int remoteIp, final V value, final Node<V> next) {
            this.key = key;
            this.remoteIp = remoteIp;
            this.value = value;
            this.next = next;
        }
    }

    private final SipHash hash;
    private volatile Node<V>[] buckets;
    private int size;

    public FlowTable(final SipHash hash) {
        this.hash = hash;
        this.buckets = newArray(64);
    }

    @SuppressWarnings("unchecked")
    private static <V> Node<V>[] newArray(final int n) {
        return (Node<V>[])new Node[n];
    }

    /** Local address, local port and remote port packed in one long (the remote address is separate). */
    private static long key(final int localIp, final int localPort, final int remotePort) {
        return ((long)localIp << 32) | ((long)(localPort & 0xFFFF) << 16) | (remotePort & 0xFFFF);
    }

    private int index(final int localIp, final int localPort, final int remoteIp, final int remotePort, final int n) {
        return (int)hash.hashTuple(localIp, localPort, remoteIp, remotePort, 0) & (n - 1);
    }

    public V get(final int localIp, final int localPort, final int remoteIp, final int remotePort) {
        final Node<V>[] b = buckets;
        final long k = key(localIp, localPort, remotePort);
        for (Node<V> n = b[index(localIp, localPort, remoteIp, remotePort, b.length)]; n != null; n = n.next) {
            if (n.key == k && n.remoteIp == remoteIp) {
                return n.value;
            }
        }
        return null;
    }

    /** Insert; false when the tuple is already present. */
    public synchronized boolean put(final int localIp, final int localPort, final int remoteIp, final int remotePort,
        final V value) {
        if (get(localIp, localPort, remoteIp, remotePort) != null) {
            return false;
        }
        if (size + 1 > buckets.length) {
            resize(buckets.length * 2);
        }
        final Node<V>[] b = buckets;
        final int i = index(localIp, localPort, remoteIp, remotePort, b.length);
        b[i] = new Node<>(key(localIp, localPort, remotePort), remoteIp, value, b[i]);
        buckets = b; // volatile store publishes the new chain head
        size++;
        return true;
    }

    /** Remove the tuple if it maps to {@code value}; true when removed. */
    public synchronized boolean remove(final int localIp, final int localPort, final int remoteIp, final int remotePort,
        final V value) {
        final Node<V>[] b = buckets;
        final int i = index(localIp, localPort, remoteIp, remotePort, b.length);
        final long k = key(localIp, localPort, remotePort);
        boolean found = false;
        Node<V> rebuilt = null;
        for (Node<V> n = b[i]; n != null; n = n.next) {
            if (!found && n.key == k && n.remoteIp == remoteIp && n.value == value) {
                found = true;
            } else {
                rebuilt = new Node<>(n.key, n.remoteIp, n.value, rebuilt);
            }
        }
        if (found) {
            b[i] = rebuilt;
            buckets = b;
            size--;
        }
        return found;
    }

    private void resize(final int n) {
        final Node<V>[] old = buckets;
        final Node<V>[] b = newArray(n);
        for (Node<V> head : old) {
            for (Node<V> e = head; e != null; e = e.next) {
                final int localIp = (int)(e.key >>> 32);
                final int localPort = (int)(e.key >>> 16) & 0xFFFF;
                final int remotePort = (int)e.key & 0xFFFF;
                final int i = index(localIp, localPort, e.remoteIp, remotePort, n);
                b[i] = new Node<>(e.key, e.remoteIp, e.value, b[i]);
            }
        }
        buckets = b;
    }

    public synchronized int size() {
        return size;
    }

    /** Longest chain (diagnostics and the keyed-hash test). */
    public synchronized int longestChain() {
        int max = 0;
        for (Node<V> head : buckets) {
            int len = 0;
            for (Node<V> e = head; e != null; e = e.next) {
                len++;
            }
            max = Math.max(max, len);
        }
        return max;
    }

    /** Visit every value (control path: netstat). */
    public void forEach(final java.util.function.Consumer<V> action) {
        for (Node<V> head : buckets) {
            for (Node<V> e = head; e != null; e = e.next) {
                action.accept(e.value);
            }
        }
    }
}
