package dev.osvj.vfs.ramfs;

import dev.osvj.vfs.Vnode;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * A ramfs directory's entries: by name for lookup, and by insertion sequence for readdir, so a
 * directory cookie stays valid while entries come and go (an entry added after a reader started is
 * seen or not, but none is skipped or repeated). Not thread-safe: the VFS holds the directory's read
 * lock for lookup and readdir and its write lock for changes.
 *
 * <p>The sequence order is an append-only array of entries (sequence numbers only grow, so it is
 * sorted): add appends, remove leaves a tombstone (the entry's {@code removed} flag) and the array is
 * compacted once half of it is tombstones. readdir finds its cookie by binary search. Nothing is
 * boxed, so a create/unlink cycle costs the entry and the name map's node only.
 *
 * <pre>
 *   order: [seq 0][seq 3 (removed)][seq 4][seq 7] ...   live = 3, length = 4
 * </pre>
 */
final class RamDir {
    /** One name in the directory; {@code removed} once unlinked or renamed away. */
    static final class Entry {
        final String name;
        final Vnode vnode;
        final long seq;
        boolean removed;

        Entry(final String name, final Vnode vnode, final long seq) {
            this.name = name;
            this.vnode = vnode;
            this.seq = seq;
        }
    }

    final Map<String, Entry> byName = new HashMap<>();
    private Entry[] order = new Entry[8];
    private int length;
    private long nextSeq;

    void add(final String name, final Vnode vnode) {
        final Entry e = new Entry(name, vnode, nextSeq++);
        byName.put(name, e);
        if (length == order.length) {
            compactOrGrow();
        }
        order[length++] = e;
    }

    Entry remove(final String name) {
        final Entry e = byName.remove(name);
        if (e != null) {
            e.removed = true;
        }
        return e;
    }

    Vnode get(final String name) {
        final Entry e = byName.get(name);
        return e == null ? null : e.vnode;
    }

    /** Entries in sequence order: {@link #entryAt}(i) for i in {@code [firstAtOrAfter(seq), length())}. */
    int length() {
        return length;
    }

    Entry entryAt(final int i) {
        return order[i];
    }

    /** Index of the first entry (live or removed) whose sequence number is at least {@code seq}. */
    int firstAtOrAfter(final long seq) {
        int lo = 0;
        int hi = length;
        while (lo < hi) {
            final int mid = (lo + hi) >>> 1;
            if (order[mid].seq < seq) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private void compactOrGrow() {
        final int live = byName.size();
        if (live <= length / 2) {
            int j = 0;
            for (int i = 0; i < length; i++) {
                if (!order[i].removed) {
                    order[j++] = order[i];
                }
            }
            Arrays.fill(order, j, length, null);
            length = j;
        } else {
            order = Arrays.copyOf(order, order.length * 2);
        }
    }
}
