package dev.osvj.system.app.memcached;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * memcached's per-prefix statistics ({@code stats_prefix.c}), behind {@code stats detail on|off|dump}:
 * while detail is on, every get (with whether it hit), set and delete of a key that contains the prefix
 * delimiter ({@link #DELIMITER}, memcached's default {@code -D ':'}) is counted under the key's prefix,
 * the bytes before the first delimiter. Keys without the delimiter are not counted. {@code dump} writes
 * one line per prefix seen, {@code PREFIX <prefix> get <n> hit <n> set <n> del <n>}, then {@code END}
 * (memcached lists them in hash order; here sorted by prefix). {@code stats reset} clears them, as
 * memcached's {@code stats_reset} does.
 *
 * <p>Thread-safe: any worker records; counters are {@link LongAdder}s in a concurrent map, so recording
 * takes no lock once a prefix exists. Recording allocates the prefix's String per call, only while
 * detail is on (memcached documents the detail mode as a debugging aid with a cost too).
 */
final class PrefixStats {
    /** memcached's default prefix delimiter ({@code stat_key_prefix}). */
    static final byte DELIMITER = ':';

    /** The counters of one prefix. */
    private static final class Counters {
        final LongAdder gets = new LongAdder();
        final LongAdder hits = new LongAdder();
        final LongAdder sets = new LongAdder();
        final LongAdder deletes = new LongAdder();
    }

    private final ConcurrentHashMap<String, Counters> byPrefix = new ConcurrentHashMap<>();
    private volatile boolean enabled;

    /** {@code stats detail on|off}. */
    void setEnabled(final boolean on) {
        enabled = on;
    }

    /** True while {@code stats detail on} is in force ({@code detail_enabled} of {@code stats settings}). */
    boolean enabled() {
        return enabled;
    }

    /** The counters of {@code key}'s prefix, or null when detail is off or the key has no delimiter. */
    private Counters find(final byte[] key, final int off, final int len) {
        if (!enabled) {
            return null;
        }
        for (int i = 0; i < len; i++) {
            if (key[off + i] == DELIMITER) {
                return byPrefix.computeIfAbsent(new String(key, off, i, StandardCharsets.ISO_8859_1),
                    p -> new Counters());
            }
        }
        return null;
    }

    /** A get (get, gets, gat, gats; one per key) of {@code key}, and whether it found the item. */
    void recordGet(final byte[] key, final int off, final int len, final boolean hit) {
        final Counters c = find(key, off, len);
        if (c != null) {
            c.gets.increment();
            if (hit) {
                c.hits.increment();
            }
        }
    }

    /** A storage command (set, add, replace, append, prepend, cas) of {@code key}. */
    void recordSet(final byte[] key, final int off, final int len) {
        final Counters c = find(key, off, len);
        if (c != null) {
            c.sets.increment();
        }
    }

    /** A delete of {@code key}, found or not. */
    void recordDelete(final byte[] key, final int off, final int len) {
        final Counters c = find(key, off, len);
        if (c != null) {
            c.deletes.increment();
        }
    }

    /** Forget every prefix ({@code stats reset}). */
    void clear() {
        byPrefix.clear();
    }

    /** {@code stats detail dump}: a PREFIX line per prefix, then END. */
    void dump(final OutBuffer out) {
        for (final Map.Entry<String, Counters> e : new TreeMap<>(byPrefix).entrySet()) {
            final Counters c = e.getValue();
            out.put("PREFIX ").put(e.getKey()).put(" get ").putUnsigned(c.gets.sum()).put(" hit ")
                .putUnsigned(c.hits.sum()).put(" set ").putUnsigned(c.sets.sum()).put(" del ")
                .putUnsigned(c.deletes.sum()).crlf();
        }
        out.put("END").crlf();
    }
}
