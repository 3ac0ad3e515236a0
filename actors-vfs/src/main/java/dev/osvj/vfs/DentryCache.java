package dev.osvj.vfs;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The dentry cache: name to vnode, per directory, with lock-free lookups and a global size bound
 * ({@code osvj.vfs.dentry-cache-size}).
 *
 * <p>Each directory vnode holds its own {@link java.util.concurrent.ConcurrentHashMap}
 * ({@link Vnode#dentries}), so a lookup is one lock-free {@code get} on the parent's table and
 * allocates nothing (OSv hashes (mount, path) into 32 buckets under a mutex). The protocol that keeps it
 * exact: an entry is added only while holding the directory's read lock, right after the filesystem's
 * lookup found the name; every change of the name (unlink, rmdir, rename) removes it while holding the
 * directory's write lock. So an added entry is never stale, and a lookup that misses simply asks the
 * filesystem. Only positive entries are cached.
 *
 * <p>Eviction is FIFO over insertions: when the count passes the bound, the oldest insertions are
 * dropped (an entry already removed is skipped). Evicting is always safe: it only turns a later hit
 * into a miss.
 */
final class DentryCache {
    private record Entry(Vnode dir, String name, Vnode child) {
    }

    private final int capacity;
    private final AtomicInteger size = new AtomicInteger();
    private final ConcurrentLinkedQueue<Entry> fifo = new ConcurrentLinkedQueue<>();
    /** Entries in {@link #fifo}, live or already removed. */
    private final AtomicInteger fifoLength = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicBoolean compacting = new java.util.concurrent.atomic.AtomicBoolean();
    final LongAdder hits = new LongAdder();
    final LongAdder misses = new LongAdder();
    final LongAdder evictions = new LongAdder();

    DentryCache(final int capacity) {
        this.capacity = capacity;
    }

    static boolean cacheable(final Vnode dir) {
        final Mount m = dir.mount();
        return m != null && m.fs != null && m.fs.cacheDentries();
    }

    /** The cached child {@code name} of {@code dir}, or null. Lock-free. */
    Vnode get(final Vnode dir, final String name) {
        final Vnode v = dir.dentries.get(name);
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
        if (dir.dentries.putIfAbsent(name, child) == null) {
            fifo.add(new Entry(dir, name, child));
            fifoLength.incrementAndGet();
            if (size.incrementAndGet() > capacity) {
                evict();
            }
            if (fifoLength.get() > 2 * capacity + 64) {
                compact();
            }
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
        for (final String name : dir.dentries.keySet()) {
            remove(dir, name);
        }
    }

    /**
     * Drop FIFO records of entries that unlink or rename already removed (create/unlink cycles leave
     * one each), keeping live ones in order. One thread at a time; others skip.
     */
    private void compact() {
        if (!compacting.compareAndSet(false, true)) {
            return;
        }
        try {
            int budget = fifoLength.get();
            while (budget-- > 0 && fifoLength.get() > capacity + 32) {
                final Entry e = fifo.poll();
                if (e == null) {
                    return;
                }
                if (e.dir.dentries.get(e.name) == e.child) {
                    fifo.add(e);
                } else {
                    fifoLength.decrementAndGet();
                }
            }
        } finally {
            compacting.set(false);
        }
    }

    private void evict() {
        while (size.get() > capacity) {
            final Entry e = fifo.poll();
            if (e == null) {
                return;
            }
            fifoLength.decrementAndGet();
            if (e.dir.dentries.remove(e.name, e.child)) {
                size.decrementAndGet();
                evictions.increment();
            }
        }
    }

    int size() {
        return size.get();
    }

    int capacity() {
        return capacity;
    }
}
