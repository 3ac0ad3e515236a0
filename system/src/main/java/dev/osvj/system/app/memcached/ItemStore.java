package dev.osvj.system.app.memcached;

import dev.osvj.kernel.KernelClock;
import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The cache: items in guest memory ({@link Item} in {@link Slabs} chunks), a chained hash table, one
 * LRU per slab class, expiration, {@code flush_all}, CAS uniques and memcached's counters. Semantics
 * follow memcached 1.6's {@code items.c}/{@code memcached.c}: times are server seconds (the clock starts
 * at 62 as memcached's does); {@code exptime} 0 never expires, up to 30 days is relative, above is an
 * absolute Unix time, negative is already expired; an item is gone once {@code exptime <= now}.
 *
 * <p>Concurrency: one lock guards everything (the hash table, the LRUs, linked items, counters). Values
 * are copied into the reply under it; an item being received is unlinked and owned by its connection
 * until {@link #store} links or frees it. The bucket array is on the Java heap; items are not.
 */
final class ItemStore implements AutoCloseable {
    static final int KEY_MAX_LENGTH = 250;
    /** Expiration times above this many seconds (30 days) are absolute Unix times. */
    static final int REALTIME_MAXDELTA = 60 * 60 * 24 * 30;
    /** memcached's clock starts here (process_started = now - ITEM_UPDATE_INTERVAL - 2). */
    static final int START_TIME = 62;

    static final int SET = 1;
    static final int ADD = 2;
    static final int REPLACE = 3;
    static final int APPEND = 4;
    static final int PREPEND = 5;
    static final int CAS = 6;

    static final int STORED = 0;
    static final int NOT_STORED = 1;
    static final int EXISTS = 2;
    static final int NOT_FOUND = 3;

    /** {@link #allocate} results that are not items. */
    static final long TOO_LARGE = -1;
    static final long NO_MEMORY = -2;

    static final int DELTA_OK = 0;
    static final int NON_NUMERIC = 1;
    static final int DELTA_NO_MEMORY = 2;
    static final int DELTA_NOT_FOUND = 3;
    /** The item's CAS unique differs from the one the (binary) request named. */
    static final int DELTA_CAS_MISMATCH = 4;

    /** {@link #delete(byte[], int, int, long)} removed the item. */
    static final int DELETED = 0;

    private static final int TAIL_REPAIR_TRIES = 5;
    private static final int INITIAL_HASH_POWER = 16;

    private final ReentrantLock lock = new ReentrantLock();
    private final PhysicalMemory memory;
    private final MemorySegment ram;
    private final Slabs slabs;
    private final KernelClock clock;
    private final boolean useCas;
    private final long startMonoNs;
    /** Unix seconds that correspond to server time 0. */
    private final long processStarted;
    private final long memoryLimit;

    private long[] buckets = new long[1 << INITIAL_HASH_POWER];
    private int hashPower = INITIAL_HASH_POWER;
    private final long[] lruHead;
    private final long[] lruTail;
    private final long[] lruCount;
    private long casId;
    private int oldestLive;
    private long oldestCas;
    /** An item that eviction must skip (the source of an append or incr being rewritten). */
    private long pinned;
    /** The item {@link #link} linked last (read under the same lock hold, for its CAS unique). */
    private long lastLinked;

    // Counters, guarded by the lock.
    private long currItems;
    private long totalItems;
    private long currBytes;
    private long evictions;
    private long reclaimed;
    private long expiredUnfetched;
    private long evictedUnfetched;
    private long getHits;
    private long getMisses;
    private long getExpired;
    private long getFlushed;
    private long cmdGet;
    private long cmdSet;
    private long cmdTouch;
    private long cmdFlush;
    private long touchHits;
    private long touchMisses;
    private long deleteHits;
    private long deleteMisses;
    private long incrHits;
    private long incrMisses;
    private long decrHits;
    private long decrMisses;
    private long casHits;
    private long casMisses;
    private long casBadval;
    private final long[] evictedPerClass;
    private final long[] outOfMemoryPerClass;
    private final long[] setsPerClass;
    private final long[] hitsPerClass;
    /** Why the last {@link #find} missed: 0 absent, 1 expired, 2 flushed. */
    private int missReason;

    ItemStore(final Malloc malloc, final PhysicalMemory memory, final KernelClock clock, final long memoryLimit,
        final int itemSizeMax, final double factor, final int minChunk, final boolean useCas) {
        this.memory = memory;
        this.ram = memory.segment();
        this.slabs = new Slabs(malloc, memory, memoryLimit, itemSizeMax, factor, minChunk);
        this.clock = clock;
        this.useCas = useCas;
        this.memoryLimit = memoryLimit;
        this.startMonoNs = clock.monotonicNanos();
        this.processStarted = clock.realtimeNanos() / 1_000_000_000L - START_TIME;
        final int n = slabs.largest() + 1;
        lruHead = new long[n];
        lruTail = new long[n];
        lruCount = new long[n];
        evictedPerClass = new long[n];
        outOfMemoryPerClass = new long[n];
        setsPerClass = new long[n];
        hitsPerClass = new long[n];
    }

    /** Server time in seconds. */
    int now() {
        return START_TIME + (int)((clock.monotonicNanos() - startMonoNs) / 1_000_000_000L);
    }

    long processStarted() {
        return processStarted;
    }

    Slabs slabs() {
        return slabs;
    }

    long memoryLimit() {
        return memoryLimit;
    }

    /**
     * memcached's {@code realtime()} applied to a client exptime: 0 stays 0 (never); a negative value
     * is already expired; above 30 days an absolute Unix time; otherwise relative to now.
     */
    int realtime(final long exptime) {
        if (exptime == 0) {
            return 0;
        }
        if (exptime < 0) {
            return 1;
        }
        if (exptime > REALTIME_MAXDELTA) {
            if (exptime <= processStarted) {
                return 1;
            }
            return (int)Math.min(Integer.MAX_VALUE, exptime - processStarted);
        }
        return (int)(exptime + now());
    }

    // ---- hashing ---------------------------------------------------------------------------------

    /** FNV-1a over the key with murmur3's finalizer. */
    static int hash(final byte[] b, final int off, final int len) {
        int h = 0x811C9DC5;
        for (int i = off; i < off + len; i++) {
            h = (h ^ (b[i] & 0xFF)) * 0x01000193;
        }
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        h ^= h >>> 16;
        return h;
    }

    private boolean keyEquals(final long it, final byte[] b, final int off, final int len) {
        if (Item.nkey(memory, it) != len) {
            return false;
        }
        // Byte by byte: keys are at most 250 bytes, and a MemorySegment over the caller's array for
        // MemorySegment.mismatch would cost two allocations per lookup (a segment and its session).
        final long pa = Item.pa(it) + Item.KEY;
        for (int i = 0; i < len; i++) {
            if (ram.get(ValueLayout.JAVA_BYTE, pa + i) != b[off + i]) {
                return false;
            }
        }
        return true;
    }

    private boolean isExpired(final long it, final int now) {
        final int exp = Item.getInt(memory, it, Item.EXPTIME);
        return exp != 0 && exp <= now;
    }

    private boolean isFlushed(final long it, final int now) {
        if (oldestLive == 0 || oldestLive > now) {
            return false;
        }
        final long cas = Item.getLong(memory, it, Item.CAS);
        return Item.getInt(memory, it, Item.TIME) <= oldestLive || (oldestCas != 0 && cas != 0 && cas < oldestCas);
    }

    /** The live item with this key, or 0; an expired or flushed one is unlinked and freed on the way. */
    private long find(final byte[] b, final int off, final int len, final int hash, final int now) {
        missReason = 0;
        long it = buckets[hash & (buckets.length - 1)];
        while (it != 0) {
            if (Item.getInt(memory, it, Item.HASH) == hash && keyEquals(it, b, off, len)) {
                break;
            }
            it = Item.getLong(memory, it, Item.HNEXT);
        }
        if (it == 0) {
            return 0;
        }
        if (isFlushed(it, now)) {
            missReason = 2;
            unlinkAndFree(it);
            return 0;
        }
        if (isExpired(it, now)) {
            missReason = 1;
            unlinkAndFree(it);
            return 0;
        }
        return it;
    }

    private byte[] keyOf(final long it) {
        final byte[] key = new byte[Item.nkey(memory, it)];
        memory.read(Item.pa(it) + Item.KEY, key, 0, key.length);
        return key;
    }

    // ---- linking ---------------------------------------------------------------------------------

    private void link(final long it, final int now) {
        final int hash = Item.getInt(memory, it, Item.HASH);
        final int b = hash & (buckets.length - 1);
        Item.setIflags(memory, it, Item.iflags(memory, it) | Item.LINKED);
        lastLinked = it;
        Item.putInt(memory, it, Item.TIME, now);
        Item.putLong(memory, it, Item.CAS, useCas ? ++casId : 0);
        Item.putLong(memory, it, Item.HNEXT, buckets[b]);
        buckets[b] = it;
        lruLink(it, Item.clsid(memory, it));
        currItems++;
        totalItems++;
        currBytes += Item.totalSize(Item.nkey(memory, it), Item.getInt(memory, it, Item.NBYTES));
        if (currItems > (buckets.length * 3L) / 2 && hashPower < 30) {
            expand();
        }
    }

    private void unlink(final long it) {
        final int hash = Item.getInt(memory, it, Item.HASH);
        final int b = hash & (buckets.length - 1);
        final long next = Item.getLong(memory, it, Item.HNEXT);
        if (buckets[b] == it) {
            buckets[b] = next;
        } else {
            long p = buckets[b];
            while (p != 0) {
                final long n = Item.getLong(memory, p, Item.HNEXT);
                if (n == it) {
                    Item.putLong(memory, p, Item.HNEXT, next);
                    break;
                }
                p = n;
            }
        }
        lruUnlink(it, Item.clsid(memory, it));
        Item.setIflags(memory, it, Item.iflags(memory, it) & ~Item.LINKED);
        currItems--;
        currBytes -= Item.totalSize(Item.nkey(memory, it), Item.getInt(memory, it, Item.NBYTES));
    }

    private void unlinkAndFree(final long it) {
        unlink(it);
        slabs.free(it, Item.clsid(memory, it));
    }

    private void replace(final long old, final long it, final int now) {
        unlinkAndFree(old);
        link(it, now);
    }

    private void expand() {
        final long[] old = buckets;
        final long[] table = new long[old.length * 2];
        final int mask = table.length - 1;
        for (long head : old) {
            while (head != 0) {
                final long next = Item.getLong(memory, head, Item.HNEXT);
                final int b = Item.getInt(memory, head, Item.HASH) & mask;
                Item.putLong(memory, head, Item.HNEXT, table[b]);
                table[b] = head;
                head = next;
            }
        }
        buckets = table;
        hashPower++;
    }

    private void lruLink(final long it, final int cls) {
        final long head = lruHead[cls];
        Item.putLong(memory, it, Item.PREV, 0);
        Item.putLong(memory, it, Item.NEXT, head);
        if (head != 0) {
            Item.putLong(memory, head, Item.PREV, it);
        }
        lruHead[cls] = it;
        if (lruTail[cls] == 0) {
            lruTail[cls] = it;
        }
        lruCount[cls]++;
    }

    private void lruUnlink(final long it, final int cls) {
        final long p = Item.getLong(memory, it, Item.PREV);
        final long n = Item.getLong(memory, it, Item.NEXT);
        if (p != 0) {
            Item.putLong(memory, p, Item.NEXT, n);
        } else {
            lruHead[cls] = n;
        }
        if (n != 0) {
            Item.putLong(memory, n, Item.PREV, p);
        } else {
            lruTail[cls] = p;
        }
        lruCount[cls]--;
    }

    /** A hit: most recently used, fetched, accessed now. */
    private void bump(final long it, final int now) {
        final int cls = Item.clsid(memory, it);
        if (lruHead[cls] != it) {
            lruUnlink(it, cls);
            lruLink(it, cls);
        }
        Item.putInt(memory, it, Item.TIME, now);
        Item.setIflags(memory, it, Item.iflags(memory, it) | Item.FETCHED);
    }

    // ---- allocation ------------------------------------------------------------------------------

    /**
     * A new unlinked item for a key and a value of {@code nbytes} (CRLF included), header and key
     * written; the caller fills the value with {@link #writeValue} and gives it to {@link #store} or
     * {@link #discard}. When the class is full its LRU tail is reclaimed (expired) or evicted.
     *
     * @return the item, {@link #TOO_LARGE} or {@link #NO_MEMORY}.
     */
    long allocate(final byte[] key, final int koff, final int nkey, final int flags, final int exptime,
        final int nbytes) {
        lock.lock();
        try {
            return allocateLocked(key, koff, nkey, hash(key, koff, nkey), flags, exptime, nbytes, now());
        } finally {
            lock.unlock();
        }
    }

    private long allocateLocked(final byte[] key, final int koff, final int nkey, final int hash, final int flags,
        final int exptime, final int nbytes, final int now) {
        final int cls = slabs.classFor(Item.totalSize(nkey, nbytes));
        if (cls == 0) {
            return TOO_LARGE;
        }
        long it = slabs.alloc(cls);
        for (int tries = 0; it == 0 && tries < TAIL_REPAIR_TRIES; tries++) {
            long victim = lruTail[cls];
            if (victim != 0 && victim == pinned) {
                victim = Item.getLong(memory, victim, Item.PREV);
            }
            if (victim == 0) {
                break;
            }
            final boolean fetched = (Item.iflags(memory, victim) & Item.FETCHED) != 0;
            if (isExpired(victim, now) || isFlushed(victim, now)) {
                reclaimed++;
                if (!fetched) {
                    expiredUnfetched++;
                }
            } else {
                evictions++;
                evictedPerClass[cls]++;
                if (!fetched) {
                    evictedUnfetched++;
                }
            }
            unlinkAndFree(victim);
            it = slabs.alloc(cls);
        }
        if (it == 0) {
            outOfMemoryPerClass[cls]++;
            return NO_MEMORY;
        }
        Item.init(memory, it, cls, key, koff, nkey, hash, flags, exptime, nbytes, now);
        return it;
    }

    /** Copy value bytes into an unlinked item the caller owns, at {@code pos} within the value. */
    void writeValue(final long it, final int pos, final byte[] src, final int off, final int len) {
        memory.write(Item.valuePa(memory, it) + pos, src, off, len);
    }

    /** True when the value's last two bytes are CRLF. */
    boolean endsWithCrlf(final long it) {
        final int n = Item.getInt(memory, it, Item.NBYTES);
        final long pa = Item.valuePa(memory, it) + n - 2;
        return n >= 2 && memory.getByte(pa) == '\r' && memory.getByte(pa + 1) == '\n';
    }

    /** Free an item that was allocated but will not be stored. */
    void discard(final long it) {
        lock.lock();
        try {
            slabs.free(it, Item.clsid(memory, it));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Store an item received for {@code op} (memcached's {@code do_store_item}); the item is consumed:
     * linked, or freed.
     *
     * @param casUnique the client's CAS value for {@link #CAS}.
     * @return {@link #STORED}, {@link #NOT_STORED}, {@link #EXISTS} or {@link #NOT_FOUND}.
     */
    int store(final long it, final int op, final long casUnique) {
        return store(it, op, casUnique, null);
    }

    /**
     * {@link #store(long, int, long)} that also reports the CAS unique of the item now linked under the
     * key (in {@code casOut[0]}, when it is not null and the result is {@link #STORED}), as the binary
     * protocol's responses carry it. For {@link #APPEND} and {@link #PREPEND} a non-zero
     * {@code casUnique} must match the stored item's ({@link #EXISTS} otherwise), as memcached checks it
     * for binary requests; the text protocol passes 0.
     */
    int store(final long it, final int op, final long casUnique, final long[] casOut) {
        lock.lock();
        try {
            final int now = now();
            final byte[] key = keyOf(it);
            final int hash = Item.getInt(memory, it, Item.HASH);
            final long old = find(key, 0, key.length, hash, now);
            cmdSet++;
            setsPerClass[Item.clsid(memory, it)]++;
            int result;
            long consumed = 0;
            switch (op) {
                case ADD -> {
                    if (old != 0) {
                        bump(old, now);
                        result = NOT_STORED;
                    } else {
                        link(it, now);
                        consumed = it;
                        result = STORED;
                    }
                }
                case CAS -> {
                    if (old == 0) {
                        casMisses++;
                        result = NOT_FOUND;
                    } else if (Item.getLong(memory, old, Item.CAS) == casUnique) {
                        casHits++;
                        replace(old, it, now);
                        consumed = it;
                        result = STORED;
                    } else {
                        casBadval++;
                        result = EXISTS;
                    }
                }
                case REPLACE -> {
                    if (old == 0) {
                        result = NOT_STORED;
                    } else {
                        replace(old, it, now);
                        consumed = it;
                        result = STORED;
                    }
                }
                case APPEND, PREPEND -> {
                    if (old == 0) {
                        result = NOT_STORED;
                    } else if (casUnique != 0 && Item.getLong(memory, old, Item.CAS) != casUnique) {
                        result = EXISTS;
                    } else {
                        result = concatenate(old, it, op == APPEND, key, hash, now);
                    }
                }
                default -> {
                    if (old != 0) {
                        replace(old, it, now);
                    } else {
                        link(it, now);
                    }
                    consumed = it;
                    result = STORED;
                }
            }
            if (consumed == 0) {
                slabs.free(it, Item.clsid(memory, it));
            }
            if (result == STORED && casOut != null) {
                casOut[0] = Item.getLong(memory, lastLinked, Item.CAS);
            }
            return result;
        } finally {
            lock.unlock();
        }
    }

    private int concatenate(final long old, final long it, final boolean append, final byte[] key, final int hash,
        final int now) {
        final int oldBytes = Item.getInt(memory, old, Item.NBYTES);
        final int addBytes = Item.getInt(memory, it, Item.NBYTES);
        pinned = old;
        final long merged;
        try {
            merged = allocateLocked(key, 0, key.length, hash, Item.getInt(memory, old, Item.FLAGS),
                Item.getInt(memory, old, Item.EXPTIME), oldBytes + addBytes - 2, now);
        } finally {
            pinned = 0;
        }
        if (merged < 0) {
            return NOT_STORED;
        }
        final long dst = Item.valuePa(memory, merged);
        final long first = append ? old : it;
        final long second = append ? it : old;
        final int firstBytes = Item.getInt(memory, first, Item.NBYTES) - 2;
        memory.copy(Item.valuePa(memory, first), dst, firstBytes);
        memory.copy(Item.valuePa(memory, second), dst + firstBytes, Item.getInt(memory, second, Item.NBYTES));
        replace(old, merged, now);
        return STORED;
    }

    // ---- retrieval and the other commands --------------------------------------------------------

    /**
     * get/gets/gat/gats of one key: appends {@code VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n} on a
     * hit. {@code touch} sets the expiration to {@code exptime} (already converted by {@link #realtime}).
     *
     * @return true on a hit.
     */
    boolean get(final byte[] key, final int off, final int len, final OutBuffer out, final boolean withCas,
        final boolean touch, final int exptime) {
        lock.lock();
        try {
            final long it = lookup(key, off, len, touch, exptime);
            if (it == 0) {
                return false;
            }
            final int nbytes = Item.getInt(memory, it, Item.NBYTES);
            out.put("VALUE ").put(key, off, len).put((byte)' ')
                .putUnsigned(Integer.toUnsignedLong(Item.getInt(memory, it, Item.FLAGS))).put((byte)' ')
                .putUnsigned(nbytes - 2);
            if (withCas) {
                out.put((byte)' ').putUnsigned(Item.getLong(memory, it, Item.CAS));
            }
            out.crlf().putFromMemory(memory, Item.valuePa(memory, it), nbytes);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The binary protocol's get/getk/gat/gatk/touch of one key: on a hit appends the whole response
     * packet (header with the item's CAS, the flags as 4 bytes of extras, the key when
     * {@code returnKey}, the value without its CRLF when {@code returnValue}); on a miss appends nothing.
     *
     * @param opcode the request's opcode (echoed), {@code opaque} its opaque (echoed as is).
     * @return true on a hit.
     */
    boolean getBinary(final byte[] key, final int off, final int len, final OutBuffer out, final int opcode,
        final int opaque, final boolean returnKey, final boolean returnValue, final boolean touch, final int exptime) {
        lock.lock();
        try {
            final long it = lookup(key, off, len, touch, exptime);
            if (it == 0) {
                return false;
            }
            final int vlen = returnValue ? Item.getInt(memory, it, Item.NBYTES) - 2 : 0;
            final int klen = returnKey ? len : 0;
            BinaryHeader.putResponse(out, opcode, klen, 4, BinaryHeader.SUCCESS, 4 + klen + vlen, opaque,
                Item.getLong(memory, it, Item.CAS));
            out.putIntBE(Item.getInt(memory, it, Item.FLAGS));
            if (returnKey) {
                out.put(key, off, len);
            }
            if (vlen > 0) {
                out.putFromMemory(memory, Item.valuePa(memory, it), vlen);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Find a live item for a read (get/gets) or a read-and-touch (gat/gats/touch), count the hit or miss,
     * set the new expiration when touching, and make it the most recently used. Called under the lock.
     */
    private long lookup(final byte[] key, final int off, final int len, final boolean touch, final int exptime) {
        final int now = now();
        final long it = find(key, off, len, hash(key, off, len), now);
        if (touch) {
            cmdTouch++;
        } else {
            cmdGet++;
        }
        if (it == 0) {
            if (touch) {
                touchMisses++;
            } else {
                getMisses++;
                if (missReason == 1) {
                    getExpired++;
                } else if (missReason == 2) {
                    getFlushed++;
                }
            }
            return 0;
        }
        if (touch) {
            touchHits++;
            Item.putInt(memory, it, Item.EXPTIME, exptime);
        } else {
            getHits++;
        }
        hitsPerClass[Item.clsid(memory, it)]++;
        bump(it, now);
        return it;
    }

    /** delete: true when an item was removed. */
    boolean delete(final byte[] key, final int off, final int len) {
        return delete(key, off, len, 0) == DELETED;
    }

    /**
     * delete with the binary protocol's CAS check: a non-zero {@code cas} must equal the item's.
     *
     * @return {@link #DELETED}, {@link #NOT_FOUND} or {@link #EXISTS} (CAS mismatch, nothing removed).
     */
    int delete(final byte[] key, final int off, final int len, final long cas) {
        lock.lock();
        try {
            final long it = find(key, off, len, hash(key, off, len), now());
            if (it == 0) {
                deleteMisses++;
                return NOT_FOUND;
            }
            if (cas != 0 && Item.getLong(memory, it, Item.CAS) != cas) {
                return EXISTS;
            }
            deleteHits++;
            unlinkAndFree(it);
            return DELETED;
        } finally {
            lock.unlock();
        }
    }

    /** touch: sets the expiration ({@link #realtime} already applied); true when the item exists. */
    boolean touch(final byte[] key, final int off, final int len, final int exptime) {
        lock.lock();
        try {
            final int now = now();
            final long it = find(key, off, len, hash(key, off, len), now);
            cmdTouch++;
            if (it == 0) {
                touchMisses++;
                return false;
            }
            touchHits++;
            Item.putInt(memory, it, Item.EXPTIME, exptime);
            bump(it, now);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * incr/decr (memcached's {@code do_add_delta}): the value must be a decimal unsigned 64-bit number;
     * incr wraps around 2^64, decr stops at 0. A result that fits is written in place padded with spaces
     * (as memcached does), otherwise the item is replaced. Either way the item gets a new CAS unique.
     *
     * @param result {@code result[0]} receives the new value.
     * @return {@link #DELTA_OK}, {@link #NON_NUMERIC}, {@link #DELTA_NO_MEMORY} or {@link #DELTA_NOT_FOUND}.
     */
    int delta(final byte[] key, final int off, final int len, final boolean incr, final long delta, final long[] result) {
        return delta(key, off, len, incr, delta, 0, result);
    }

    /**
     * {@link #delta(byte[], int, int, boolean, long, long[])} with the binary protocol's CAS: a non-zero
     * {@code expectCas} must equal the item's ({@link #DELTA_CAS_MISMATCH} otherwise, nothing changed);
     * when {@code result} has room, {@code result[1]} receives the item's new CAS unique.
     */
    int delta(final byte[] key, final int off, final int len, final boolean incr, final long delta,
        final long expectCas, final long[] result) {
        lock.lock();
        try {
            final int now = now();
            final int hash = hash(key, off, len);
            final long it = find(key, off, len, hash, now);
            if (it == 0) {
                if (incr) {
                    incrMisses++;
                } else {
                    decrMisses++;
                }
                return DELTA_NOT_FOUND;
            }
            if (expectCas != 0 && Item.getLong(memory, it, Item.CAS) != expectCas) {
                return DELTA_CAS_MISMATCH;
            }
            final int nbytes = Item.getInt(memory, it, Item.NBYTES);
            if (nbytes <= 2) {
                return NON_NUMERIC;
            }
            final byte[] digits = new byte[Math.min(nbytes, 4096)];
            memory.read(Item.valuePa(memory, it), digits, 0, digits.length);
            final long[] parsed = new long[1];
            if (!Numbers.strtoull(digits, 0, digits.length, parsed, true)) {
                return NON_NUMERIC;
            }
            long value = parsed[0];
            if (incr) {
                value += delta;
                incrHits++;
            } else {
                value = Long.compareUnsigned(delta, value) > 0 ? 0 : value - delta;
                decrHits++;
            }
            hitsPerClass[Item.clsid(memory, it)]++;
            result[0] = value;
            final byte[] text = Long.toUnsignedString(value).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            if (text.length + 2 <= nbytes) {
                final long pa = Item.valuePa(memory, it);
                Item.putLong(memory, it, Item.CAS, useCas ? ++casId : 0);
                memory.write(pa, text, 0, text.length);
                for (int i = text.length; i < nbytes - 2; i++) {
                    memory.putByte(pa + i, (byte)' ');
                }
                bump(it, now);
                if (result.length > 1) {
                    result[1] = Item.getLong(memory, it, Item.CAS);
                }
                return DELTA_OK;
            }
            pinned = it;
            final long fresh;
            try {
                fresh = allocateLocked(key, off, len, hash, Item.getInt(memory, it, Item.FLAGS),
                    Item.getInt(memory, it, Item.EXPTIME), text.length + 2, now);
            } finally {
                pinned = 0;
            }
            if (fresh < 0) {
                return DELTA_NO_MEMORY;
            }
            final long pa = Item.valuePa(memory, fresh);
            memory.write(pa, text, 0, text.length);
            memory.putByte(pa + text.length, (byte)'\r');
            memory.putByte(pa + text.length + 1, (byte)'\n');
            replace(it, fresh, now);
            if (result.length > 1) {
                result[1] = Item.getLong(memory, fresh, Item.CAS);
            }
            return DELTA_OK;
        } finally {
            lock.unlock();
        }
    }

    /** flush_all [delay]: items last stored before the (delayed) flush time become invisible. */
    void flushAll(final long delay) {
        lock.lock();
        try {
            final int now = now();
            cmdFlush++;
            final int newOldest = delay > 0 ? realtime(delay) : now;
            if (useCas) {
                oldestLive = newOldest - 1;
                if (oldestLive <= now) {
                    oldestCas = ++casId;
                }
            } else {
                oldestLive = newOldest;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Items currently linked (stats curr_items). */
    long items() {
        lock.lock();
        try {
            return currItems;
        } finally {
            lock.unlock();
        }
    }

    // ---- statistics ------------------------------------------------------------------------------

    private static void stat(final OutBuffer out, final String name, final long value) {
        out.put("STAT ").put(name).put((byte)' ').putUnsigned(value).crlf();
    }

    /** The store's lines of {@code stats}, in memcached's order. */
    void appendCommandStats(final OutBuffer out) {
        lock.lock();
        try {
            stat(out, "cmd_get", cmdGet);
            stat(out, "cmd_set", cmdSet);
            stat(out, "cmd_flush", cmdFlush);
            stat(out, "cmd_touch", cmdTouch);
            stat(out, "get_hits", getHits);
            stat(out, "get_misses", getMisses);
            stat(out, "get_expired", getExpired);
            stat(out, "get_flushed", getFlushed);
            stat(out, "delete_misses", deleteMisses);
            stat(out, "delete_hits", deleteHits);
            stat(out, "incr_misses", incrMisses);
            stat(out, "incr_hits", incrHits);
            stat(out, "decr_misses", decrMisses);
            stat(out, "decr_hits", decrHits);
            stat(out, "cas_misses", casMisses);
            stat(out, "cas_hits", casHits);
            stat(out, "cas_badval", casBadval);
            stat(out, "touch_hits", touchHits);
            stat(out, "touch_misses", touchMisses);
        } finally {
            lock.unlock();
        }
    }

    /** The item lines of {@code stats} (after the connection lines). */
    void appendItemTotals(final OutBuffer out) {
        lock.lock();
        try {
            stat(out, "hash_power_level", hashPower);
            stat(out, "hash_bytes", buckets.length * 8L);
            stat(out, "hash_is_expanding", 0);
            stat(out, "bytes", currBytes);
            stat(out, "curr_items", currItems);
            stat(out, "total_items", totalItems);
            stat(out, "expired_unfetched", expiredUnfetched);
            stat(out, "evicted_unfetched", evictedUnfetched);
            stat(out, "evictions", evictions);
            stat(out, "reclaimed", reclaimed);
            stat(out, "total_malloced", slabs.totalMalloced());
        } finally {
            lock.unlock();
        }
    }

    /** {@code stats items}: per slab class with items. */
    void appendItems(final OutBuffer out) {
        lock.lock();
        try {
            final int now = now();
            for (int c = 1; c <= slabs.largest(); c++) {
                if (lruCount[c] == 0 && evictedPerClass[c] == 0 && outOfMemoryPerClass[c] == 0) {
                    continue;
                }
                final String p = "items:" + c + ":";
                stat(out, p + "number", lruCount[c]);
                stat(out, p + "age", lruTail[c] == 0 ? 0 : now - Item.getInt(memory, lruTail[c], Item.TIME));
                stat(out, p + "evicted", evictedPerClass[c]);
                stat(out, p + "evicted_nonzero", 0);
                stat(out, p + "evicted_time", 0);
                stat(out, p + "outofmemory", outOfMemoryPerClass[c]);
                stat(out, p + "tailrepairs", 0);
                stat(out, p + "reclaimed", 0);
                stat(out, p + "expired_unfetched", 0);
                stat(out, p + "evicted_unfetched", 0);
            }
        } finally {
            lock.unlock();
        }
    }

    /** {@code stats slabs}: per class with pages, then active_slabs and total_malloced. */
    void appendSlabs(final OutBuffer out) {
        lock.lock();
        try {
            int active = 0;
            for (int c = 1; c <= slabs.largest(); c++) {
                if (slabs.pages(c) == 0) {
                    continue;
                }
                active++;
                final String p = c + ":";
                stat(out, p + "chunk_size", slabs.chunkSize(c));
                stat(out, p + "chunks_per_page", slabs.chunksPerPage(c));
                stat(out, p + "total_pages", slabs.pages(c));
                stat(out, p + "total_chunks", slabs.pages(c) * slabs.chunksPerPage(c));
                stat(out, p + "used_chunks", slabs.usedChunks(c));
                stat(out, p + "free_chunks", slabs.freeChunks(c));
                stat(out, p + "free_chunks_end", 0);
                stat(out, p + "get_hits", hitsPerClass[c]);
                stat(out, p + "cmd_set", setsPerClass[c]);
            }
            stat(out, "active_slabs", active);
            stat(out, "total_malloced", slabs.totalMalloced());
        } finally {
            lock.unlock();
        }
    }

    /** {@code stats reset}: zero the command counters (not the item counts). */
    void resetStats() {
        lock.lock();
        try {
            totalItems = evictions = reclaimed = expiredUnfetched = evictedUnfetched = 0;
            getHits = getMisses = getExpired = getFlushed = cmdGet = cmdSet = cmdTouch = cmdFlush = 0;
            touchHits = touchMisses = deleteHits = deleteMisses = incrHits = incrMisses = decrHits = decrMisses = 0;
            casHits = casMisses = casBadval = 0;
            java.util.Arrays.fill(evictedPerClass, 0);
            java.util.Arrays.fill(outOfMemoryPerClass, 0);
            java.util.Arrays.fill(setsPerClass, 0);
            java.util.Arrays.fill(hitsPerClass, 0);
        } finally {
            lock.unlock();
        }
    }

    /** Give every slab page back to the kernel's malloc. */
    @Override
    public void close() {
        lock.lock();
        try {
            slabs.close();
            java.util.Arrays.fill(buckets, 0);
            java.util.Arrays.fill(lruHead, 0);
            java.util.Arrays.fill(lruTail, 0);
            currItems = 0;
        } finally {
            lock.unlock();
        }
    }
}
