package dev.osvj.vfs;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The dentry cache: name to vnode, per directory, with lock-free lookups and a global size bound
 * ({@code osvj.vfs.dentry-cache-size}).
 *
 * <p>Each directory vnode holds its own {@link DentryTable} ({@link Vnode#dentries}), so a lookup is
 * one lock-free read of the parent's table, straight from the characters of the path, and
 * allocates nothing (OSv hashes (mount, path) into 32 buckets under a mutex). The protocol that keeps it
 * exact: an entry is added only while holding the directory's read lock, right after the filesystem's
 * lookup found the name; every change of the name (unlink, rmdir, rename) removes it while holding the
 * directory's write lock. So an added entry is never stale, and a lookup that misses simply asks the
 * filesystem. Only positive entries are cached.
 *
 * <p>Eviction is FIFO over insertions: when the count passes the bound, the oldest insertions are
 * dropped (an entry already removed is skipped). Evicting is always safe: it only turns a later hit
 * into a miss. The insertion order is a ring of (directory, name, child) in three parallel arrays,
 * so recording an insertion allocates nothing; unlink and rename leave their entries' records
 * behind, and a full ring first drops such dead records (compaction) before it grows (doubling, up
 * to twice the bound plus 64 records).
 *
 * <pre>
 *   ring:  head -> [dir|name|child] [dead] [dir|name|child] ... (length records, oldest first)
 * </pre>
 *
 * <p>Recording, eviction and compaction hold this object's monitor (only on insertions: a lookup
 * never touches it); lock order: this monitor, then a directory's {@link DentryTable}.
 */
final class DentryCache {
    private static final int INITIAL_RING = 1024;

    private final int capacity;
    private final int maxRing;
    private final AtomicInteger size = new AtomicInteger();
    /** Guarded by this: the insertion ring. */
    private Vnode[] ringDirs;
    private String[] ringNames;
    private Vnode[] ringChildren;
    private int head;
    private int length;
    final LongAdder hits = new LongAdder();
    final LongAdder misses = new LongAdder();
    final LongAdder evictions = new LongAdder();

    DentryCache(final int capacity) {
        this.capacity = capacity;
        this.maxRing = Math.max(INITIAL_RING, Integer.highestOneBit(Math.max(1, 2 * capacity + 64) - 1) << 1);
        final int initial = Math.min(INITIAL_RING, maxRing);
        this.ringDirs = new Vnode[initial];
        this.ringNames = new String[initial];
        this.ringChildren = new Vnode[initial];
    }

    static boolean cacheable(final Vnode dir) {
        final Mount m = dir.mount();
        return m != null && m.fs != null && m.fs.cacheDentries();
    }

    /** The cached child {@code name} of {@code dir}, or null. Lock-free. */
    Vnode get(final Vnode dir, final String name) {
        return get(dir, name, 0, name.length(), name.hashCode());
    }

    /**
     * The cached child of {@code dir} named {@code path[from, to)} ({@code hash} is that name's
     * {@link String#hashCode()}), or null. Lock-free, allocation-free.
     */
    Vnode get(final Vnode dir, final String path, final int from, final int to, final int hash) {
        final Vnode v = dir.dentries.get(path, from, to, hash);
        if (v != null) {
            hits.increment();
        } else {
            misses.increment();
        }
        return v;
    }

    /** Add an entry. Caller holds {@code dir}'s read (or write) lock and got {@code child} from the filesystem. */
    void put(final Vnode dir, final String name, final Vnode child) {
        if (capacity == 0 || !cacheable(dir)) {
            return;
        }
        if (dir.dentries.putIfAbsent(name, child)) {
            size.incrementAndGet();
            record(dir, name, child);
        }
    }

    /** Drop the entry of {@code name}. Caller holds {@code dir}'s write lock. */
    void remove(final Vnode dir, final String name) {
        if (dir.dentries.remove(name) != null) {
            size.decrementAndGet();
        }
    }

    /** Drop every entry of {@code dir} (its filesystem is going away). */
    void purge(final Vnode dir) {
        for (final String name : dir.dentries.names()) {
            remove(dir, name);
        }
    }

    private synchronized void record(final Vnode dir, final String name, final Vnode child) {
        if (length == ringDirs.length) {
            compact();
            if (length > ringDirs.length / 2 && ringDirs.length < maxRing) {
                grow();
            }
            while (length == ringDirs.length) {
                evictOldest(); // only live records are left and the ring is at its bound
            }
        }
        final int at = (head + length) & (ringDirs.length - 1);
        ringDirs[at] = dir;
        ringNames[at] = name;
        ringChildren[at] = child;
        length++;
        while (size.get() > capacity && length > 0) {
            evictOldest();
        }
    }

    /** Pop the oldest record; evict its entry when it is still live. Holds the monitor. */
    private void evictOldest() {
        final int at = head;
        final Vnode dir = ringDirs[at];
        final String name = ringNames[at];
        final Vnode child = ringChildren[at];
        ringDirs[at] = null;
        ringNames[at] = null;
        ringChildren[at] = null;
        head = (head + 1) & (ringDirs.length - 1);
        length--;
        if (dir.dentries.remove(name, child) != null) {
            size.decrementAndGet();
            evictions.increment();
        }
    }

    /** Drop the records of entries that unlink or rename removed, keeping live ones in order. Holds the monitor. */
    private void compact() {
        final int mask = ringDirs.length - 1;
        int kept = 0;
        for (int i = 0; i < length; i++) {
            final int from = (head + i) & mask;
            final Vnode dir = ringDirs[from];
            final String name = ringNames[from];
            final Vnode child = ringChildren[from];
            ringDirs[from] = null;
            ringNames[from] = null;
            ringChildren[from] = null;
            if (dir.dentries.get(name) == child) {
                final int to = (head + kept) & mask;
                ringDirs[to] = dir;
                ringNames[to] = name;
                ringChildren[to] = child;
                kept++;
            }
        }
        length = kept;
    }

    private void grow() {
        final int n = ringDirs.length * 2;
        final Vnode[] dirs = new Vnode[n];
        final String[] names = new String[n];
        final Vnode[] children = new Vnode[n];
        final int mask = ringDirs.length - 1;
        for (int i = 0; i < length; i++) {
            final int from = (head + i) & mask;
            dirs[i] = ringDirs[from];
            names[i] = ringNames[from];
            children[i] = ringChildren[from];
        }
        ringDirs = dirs;
        ringNames = names;
        ringChildren = children;
        head = 0;
    }

    int size() {
        return size.get();
    }

    int capacity() {
        return capacity;
    }
}
