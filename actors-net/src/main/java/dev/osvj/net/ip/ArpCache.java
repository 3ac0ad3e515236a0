package dev.osvj.net.ip;

import org.agrona.collections.Int2ObjectHashMap;

import java.util.ArrayList;
import java.util.List;

/**
 * IPv4-to-MAC neighbour cache with entry timeouts and a request rate limit (smoltcp: 60 s entries, at
 * most one request per second per address). Lookups allocate nothing; entries are created on the
 * control path (an ARP packet or a first request). Thread-safe (monitor).
 */
public final class ArpCache {
    /** A neighbour entry; fields guarded by the cache's monitor. */
    private static final class Entry {
        long mac = -1;
        long expiresAt;
        long lastRequestAt = Long.MIN_VALUE / 2;
        int requests;
    }

    /** One line of {@code arp} output. */
    public record Neighbour(int ip, long mac, long expiresInNs) {
    }

    private final Int2ObjectHashMap<Entry> entries = new Int2ObjectHashMap<>();
    private final long ttlNs;
    private final long requestIntervalNs;
    private final int capacity;

    /**
     * @param ttlNs             lifetime of a learned entry.
     * @param requestIntervalNs at most one request per address per interval.
     * @param capacity          entries kept; the cache is cleared of expired ones, then refuses new ones.
     */
    public ArpCache(final long ttlNs, final long requestIntervalNs, final int capacity) {
        this.ttlNs = ttlNs;
        this.requestIntervalNs = requestIntervalNs;
        this.capacity = capacity;
    }

    /** The MAC for {@code ip}, or -1 when unknown or expired. */
    public synchronized long lookup(final int ip, final long now) {
        final Entry e = entries.get(ip);
        return e != null && e.mac >= 0 && e.expiresAt > now ? e.mac : -1;
    }

    /** Learn or refresh a mapping. */
    public synchronized void update(final int ip, final long mac, final long now) {
        Entry e = entries.get(ip);
        if (e == null) {
            if (entries.size() >= capacity) {
                expire(now);
                if (entries.size() >= capacity) {
                    return;
                }
            }
            e = new Entry();
            entries.put(ip, e);
        }
        e.mac = mac;
        e.expiresAt = now + ttlNs;
        e.requests = 0;
    }

    /** True when the caller should send an ARP request for {@code ip} now (rate limited). */
    public synchronized boolean shouldRequest(final int ip, final long now) {
        Entry e = entries.get(ip);
        if (e == null) {
            if (entries.size() >= capacity) {
                expire(now);
                if (entries.size() >= capacity) {
                    return false;
                }
            }
            e = new Entry();
            entries.put(ip, e);
        }
        if (now - e.lastRequestAt < requestIntervalNs) {
            return false;
        }
        e.lastRequestAt = now;
        e.requests++;
        return true;
    }

    /** Drop expired and never-answered entries. */
    public synchronized void expire(final long now) {
        entries.values().removeIf(e -> e.mac >= 0 ? e.expiresAt <= now : now - e.lastRequestAt > 10 * requestIntervalNs);
    }

    public synchronized List<Neighbour> neighbours(final long now) {
        final List<Neighbour> out = new ArrayList<>();
        entries.forEach((ip, e) -> {
            if (e.mac >= 0 && e.expiresAt > now) {
                out.add(new Neighbour(ip, e.mac, e.expiresAt - now));
            }
        });
        out.sort((a, b) -> Integer.compareUnsigned(a.ip(), b.ip()));
        return out;
    }
}
