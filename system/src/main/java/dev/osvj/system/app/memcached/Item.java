package dev.osvj.system.app.memcached;

import dev.osvj.mmu.phys.PhysicalMemory;

/**
 * Flyweight accessors for one item in guest memory, addressed by the kernel virtual address of its
 * slab chunk (as memcached's {@code item} struct). An item is the header, the key and the value with
 * its trailing CRLF, contiguous in one chunk:
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |                 hash-chain next (VA, 0 = end)  / free-list next | 0
 * +---------------------------------------------------------------+
 * |                 LRU prev (towards the head, VA, 0 = none)       | 8
 * +---------------------------------------------------------------+
 * |                 LRU next (towards the tail, VA, 0 = none)       | 16
 * +---------------------------------------------------------------+
 * |                 CAS unique (0 = none)                           | 24
 * +-------------------------------+-------------------------------+
 * |  exptime (server s, 0 never)  |  time (last access, server s) | 32
 * +-------------------------------+-------------------------------+
 * |  client flags (u32)           |  nbytes (value + CRLF)        | 40
 * +-------+-------+-------+-------+-------------------------------+
 * | nkey  | clsid | iflags|  pad  |  key hash (u32)               | 48
 * +-------+-------+-------+-------+-------------------------------+
 * |  key (nkey bytes) ... value (nbytes bytes, ends with CRLF)      | 56
 * +---------------------------------------------------------------+
 * </pre>
 *
 * <p>Times are the store's server seconds ({@code rel_time_t} in memcached). Fields are plain
 * (not volatile): every access to a linked item happens under the store's lock; an unlinked item being
 * filled by a connection belongs to that connection alone.
 */
final class Item {
    static final int HNEXT = 0;
    static final int PREV = 8;
    static final int NEXT = 16;
    static final int CAS = 24;
    static final int EXPTIME = 32;
    static final int TIME = 36;
    static final int FLAGS = 40;
    static final int NBYTES = 44;
    static final int NKEY = 48;
    static final int CLSID = 49;
    static final int IFLAGS = 50;
    static final int HASH = 52;
    static final int KEY = 56;
    /** Header bytes before the key. */
    static final int HEADER = KEY;

    /** In the hash table and an LRU. */
    static final int LINKED = 1;
    /** Read at least once since it was stored (for the *_unfetched statistics). */
    static final int FETCHED = 2;

    private Item() {
    }

    /** Chunk bytes an item with this key and value (CRLF included) needs. */
    static long totalSize(final int nkey, final int nbytes) {
        return (long)HEADER + nkey + nbytes;
    }

    static long pa(final long it) {
        return PhysicalMemory.phys(it);
    }

    static long getLong(final PhysicalMemory m, final long it, final int field) {
        return m.getLong(pa(it) + field);
    }

    static void putLong(final PhysicalMemory m, final long it, final int field, final long v) {
        m.putLong(pa(it) + field, v);
    }

    static int getInt(final PhysicalMemory m, final long it, final int field) {
        return m.getInt(pa(it) + field);
    }

    static void putInt(final PhysicalMemory m, final long it, final int field, final int v) {
        m.putInt(pa(it) + field, v);
    }

    static int nkey(final PhysicalMemory m, final long it) {
        return m.getByte(pa(it) + NKEY) & 0xFF;
    }

    static int clsid(final PhysicalMemory m, final long it) {
        return m.getByte(pa(it) + CLSID) & 0xFF;
    }

    static int iflags(final PhysicalMemory m, final long it) {
        return m.getByte(pa(it) + IFLAGS) & 0xFF;
    }

    static void setIflags(final PhysicalMemory m, final long it, final int flags) {
        m.putByte(pa(it) + IFLAGS, (byte)flags);
    }

    /** Physical address of the value (first byte after the key). */
    static long valuePa(final PhysicalMemory m, final long it) {
        return pa(it) + KEY + nkey(m, it);
    }

    /** Write the header of a fresh, unlinked item and its key. */
    static void init(final PhysicalMemory m, final long it, final int clsid, final byte[] key, final int koff,
        final int nkey, final int hash, final int flags, final int exptime, final int nbytes, final int now) {
        final long pa = pa(it);
        m.putLong(pa + HNEXT, 0);
        m.putLong(pa + PREV, 0);
        m.putLong(pa + NEXT, 0);
        m.putLong(pa + CAS, 0);
        m.putInt(pa + EXPTIME, exptime);
        m.putInt(pa + TIME, now);
        m.putInt(pa + FLAGS, flags);
        m.putInt(pa + NBYTES, nbytes);
        m.putByte(pa + NKEY, (byte)nkey);
        m.putByte(pa + CLSID, (byte)clsid);
        m.putByte(pa + IFLAGS, (byte)0);
        m.putByte(pa + IFLAGS + 1, (byte)0);
        m.putInt(pa + HASH, hash);
        m.write(pa + KEY, key, koff, nkey);
    }
}
