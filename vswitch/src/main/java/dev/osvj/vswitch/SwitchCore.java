package dev.osvj.vswitch;

import org.agrona.DirectBuffer;
import org.agrona.collections.Long2LongHashMap;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The forwarding logic of a learning L2 switch (IEEE 802.1D transparent bridging without spanning
 * tree): no I/O, time passed in, one thread (the switch's duty cycle) calls every mutating method.
 *
 * <p>For each frame from an ingress port:
 * <ol>
 *   <li>check it: shorter than 14 bytes is {@link Drop#RUNT}, an Ethernet payload above the MTU plus
 *       4 bytes (one 802.1Q tag) is {@link Drop#GIANT}, a group source MAC is {@link Drop#BAD_SOURCE};</li>
 *   <li>learn: the source MAC is now reached through the ingress port, seen at {@code now} (a station
 *       that moved is re-learned on its new port; a full table learns nothing new but still forwards);</li>
 *   <li>forward: a group destination (broadcast, multicast: bit 0 of the first byte) or an unknown or
 *       aged-out unicast destination is flooded to every port but the ingress one; a known unicast
 *       destination goes to its port only, or is {@link Drop#FILTERED} when that is the ingress port.</li>
 * </ol>
 * <p>Trunk ports (links to other switches of a full mesh, one per pair of switches) follow split
 * horizon: a frame that came in on a trunk goes out of local ports only, never out of another trunk
 * (every switch of the mesh gets a station's flooded frame straight from the station's switch), so
 * the mesh has no forwarding loop without a spanning tree; a unicast frame from a trunk to a MAC
 * learned on another trunk is {@link Drop#SPLIT_HORIZON}.
 *
 * <p>A learned entry ages out {@code ageingNs} after the station last sent (802.1D's default is 300 s);
 * {@link #age} sweeps the table, and a lookup of an expired entry treats it as unknown. Removing a port
 * forgets every MAC learned on it.
 *
 * <p>Table layout: one {@link Long2LongHashMap} from the MAC (48 bits, big-endian order in the low
 * bits of a long) to {@code lastSeenMs << 16 | port}, so a learn is one put and no object per
 * entry. Ports are numbered 0..maxPorts-1 (at most 65535), numbers are reused after removal.
 */
final class SwitchCore {
    /** Egress result: the frame went out. */
    static final int SENT = 0;

    /** Where frames leave the switch. */
    interface Egress {
        /**
         * Send {@code buffer[offset .. offset + length)} (one whole Ethernet frame) out of {@code port};
         * the bytes may be reused on return. Must not block.
         *
         * @return {@link #SENT}, or the egress {@link Drop} reason's ordinal + 1.
         */
        int send(int port, DirectBuffer buffer, int offset, int length);
    }

    /** Ethernet header: destination, source, ethertype. */
    static final int ETHERNET_HEADER = 14;
    /** One IEEE 802.1Q tag, allowed above the MTU. */
    static final int VLAN_TAG = 4;
    private static final int PORT_BITS = 16;
    private static final long PORT_MASK = (1L << PORT_BITS) - 1;
    private static final long NONE = -1;

    /** Switch-wide counter slots ({@link #counter}). */
    static final int FLOODED = 0;
    static final int UNKNOWN_UNICAST = 1;
    static final int LEARNED = 2;
    static final int MOVED = 3;
    static final int AGED = 4;
    static final int TABLE_FULL = 5;

    private final int maxPorts;
    private final int maxFrame;
    private final long ageingMs;
    private final int maxMacs;
    private final Egress egress;
    private final Long2LongHashMap table = new Long2LongHashMap(NONE);
    private final String[] names;
    /** Per port number: a trunk link to another switch (split horizon applies). */
    private final boolean[] trunk;
    private final PortCounters[] counters;
    /** Live port numbers, densely packed in [0, livePorts); written by the switch thread only. */
    private final int[] live;
    private int livePorts;
    private final AtomicLongArray totals = new AtomicLongArray(6);

    /**
     * @param maxPorts  the most ports at once, 1..65535.
     * @param mtu       the largest Ethernet payload, in bytes.
     * @param ageingNs  how long a learned MAC stays without traffic from it, nanoseconds.
     * @param maxMacs   the most MAC entries learned at once.
     */
    SwitchCore(final int maxPorts, final int mtu, final long ageingNs, final int maxMacs, final Egress egress) {
        if (maxPorts < 1 || maxPorts > PORT_MASK) {
            throw new IllegalArgumentException("maxPorts " + maxPorts + " outside 1..65535");
        }
        this.maxPorts = maxPorts;
        this.maxFrame = ETHERNET_HEADER + mtu + VLAN_TAG;
        this.ageingMs = Math.max(1, ageingNs / 1_000_000);
        this.maxMacs = maxMacs;
        this.egress = egress;
        this.names = new String[maxPorts];
        this.trunk = new boolean[maxPorts];
        this.counters = new PortCounters[maxPorts];
        this.live = new int[maxPorts];
    }

    /** The largest frame accepted, in bytes (header + MTU + one VLAN tag). */
    int maxFrame() {
        return maxFrame;
    }

    /**
     * Add a port.
     *
     * @return its number, or -1 when the switch has {@code maxPorts} ports already.
     */
    int addPort(final String name) {
        return addPort(name, false);
    }

    /**
     * Add a port, a trunk link to another switch when {@code isTrunk}.
     *
     * @return its number, or -1 when the switch has {@code maxPorts} ports already.
     */
    int addPort(final String name, final boolean isTrunk) {
        for (int p = 0; p < maxPorts; p++) {
            if (names[p] == null) {
                names[p] = name;
                trunk[p] = isTrunk;
                counters[p] = new PortCounters();
                live[livePorts++] = p;
                return p;
            }
        }
        return -1;
    }

    /** Remove port {@code port} and forget the MACs learned on it; its final counters are returned. */
    PortStats removePort(final int port) {
        if (names[port] == null) {
            throw new IllegalArgumentException("no port " + port);
        }
        forget(port);
        final PortStats last = counters[port].snapshot(port, names[port], 0);
        names[port] = null;
        trunk[port] = false;
        counters[port] = null;
        for (int i = 0; i < livePorts; i++) {
            if (live[i] == port) {
                live[i] = live[--livePorts];
                break;
            }
        }
        return last;
    }

    private int forget(final int port) {
        int n = 0;
        final Long2LongHashMap.EntryIterator it = table.entrySet().iterator();
        while (it.hasNext()) {
            it.next();
            if ((it.getLongValue() & PORT_MASK) == port) {
                it.remove();
                n++;
            }
        }
        return n;
    }

    /** Whether {@code port} is a live trunk port. */
    boolean isTrunk(final int port) {
        return hasPort(port) && trunk[port];
    }

    /** Whether {@code port} is a live port number. */
    boolean hasPort(final int port) {
        return port >= 0 && port < maxPorts && names[port] != null;
    }

    int portCount() {
        return livePorts;
    }

    /** Count a malformed control message on {@code port}. */
    void malformed(final int port) {
        counters[port].dropRelease(Drop.MALFORMED);
    }

    /** Switch thread: forward one frame that came in on {@code ingress} at {@code nowNs}. */
    void onFrame(final int ingress, final DirectBuffer buffer, final int offset, final int length, final long nowNs) {
        final PortCounters in = counters[ingress];
        in.addRelease(PortCounters.RX_FRAMES, 1);
        in.addRelease(PortCounters.RX_BYTES, length);
        if (length < ETHERNET_HEADER) {
            in.dropRelease(Drop.RUNT);
            return;
        }
        if (length > maxFrame) {
            in.dropRelease(Drop.GIANT);
            return;
        }
        final long dst = mac(buffer, offset);
        final long src = mac(buffer, offset + 6);
        if (isGroup(src)) {
            in.dropRelease(Drop.BAD_SOURCE);
            return;
        }
        final long nowMs = nowNs / 1_000_000;
        learn(src, ingress, nowMs);
        if (!isGroup(dst)) {
            final long entry = table.get(dst);
            if (entry != NONE && nowMs - (entry >>> PORT_BITS) <= ageingMs) {
                final int out = (int)(entry & PORT_MASK);
                if (out == ingress) {
                    in.dropRelease(Drop.FILTERED);
                } else if (trunk[ingress] && trunk[out]) {
                    in.dropRelease(Drop.SPLIT_HORIZON);
                } else {
                    transmit(out, buffer, offset, length);
                }
                return;
            }
            bump(UNKNOWN_UNICAST);
        }
        bump(FLOODED);
        final boolean fromTrunk = trunk[ingress];
        for (int i = 0; i < livePorts; i++) {
            final int out = live[i];
            if (out != ingress && !(fromTrunk && trunk[out])) {
                transmit(out, buffer, offset, length);
            }
        }
    }

    private void learn(final long src, final int port, final long nowMs) {
        final long value = nowMs << PORT_BITS | port;
        final long old = table.get(src);
        if (old == NONE) {
            if (table.size() >= maxMacs) {
                bump(TABLE_FULL);
                return;
            }
            bump(LEARNED);
        } else if ((old & PORT_MASK) != port) {
            bump(MOVED);
        }
        table.put(src, value);
    }

    /** Switch thread: send a frame the switch itself originates (a DHCP reply) out of {@code port}, counted. */
    void inject(final int port, final DirectBuffer buffer, final int offset, final int length) {
        transmit(port, buffer, offset, length);
    }

    private void transmit(final int out, final DirectBuffer buffer, final int offset, final int length) {
        final PortCounters c = counters[out];
        final int rc = egress.send(out, buffer, offset, length);
        if (rc == SENT) {
            c.addRelease(PortCounters.TX_FRAMES, 1);
            c.addRelease(PortCounters.TX_BYTES, length);
        } else {
            c.dropRelease(Drop.values()[rc - 1]);
        }
    }

    /**
     * Switch thread: forget entries older than the ageing time.
     *
     * @return how many were forgotten.
     */
    int age(final long nowNs) {
        final long nowMs = nowNs / 1_000_000;
        int n = 0;
        final Long2LongHashMap.EntryIterator it = table.entrySet().iterator();
        while (it.hasNext()) {
            it.next();
            if (nowMs - (it.getLongValue() >>> PORT_BITS) > ageingMs) {
                it.remove();
                n++;
            }
        }
        totals.lazySet(AGED, totals.getPlain(AGED) + n);
        return n;
    }

    /** The port {@code mac} is learned on (and not aged out at {@code nowNs}), or -1. */
    int lookup(final long mac, final long nowNs) {
        final long entry = table.get(mac);
        return entry == NONE || nowNs / 1_000_000 - (entry >>> PORT_BITS) > ageingMs ? -1 : (int)(entry & PORT_MASK);
    }

    /** Learned entries, aged ones not yet swept included. */
    int macCount() {
        return table.size();
    }

    /** A switch-wide counter ({@link #FLOODED}...), readable from any thread. */
    long counter(final int slot) {
        return totals.get(slot);
    }

    private void bump(final int slot) {
        totals.lazySet(slot, totals.getPlain(slot) + 1);
    }

    /**
     * Counter snapshots of the live ports. Switch thread only (the MAC counts walk the table); other
     * threads ask the switch for them through its command queue.
     */
    List<PortStats> stats() {
        final int[] macs = new int[maxPorts];
        final Long2LongHashMap.EntryIterator it = table.entrySet().iterator();
        while (it.hasNext()) {
            it.next();
            macs[(int)(it.getLongValue() & PORT_MASK)]++;
        }
        final List<PortStats> out = new ArrayList<>();
        for (int p = 0; p < maxPorts; p++) {
            if (names[p] != null) {
                out.add(counters[p].snapshot(p, names[p], macs[p]));
            }
        }
        return out;
    }

    /** The MAC of {@code buffer[offset .. offset + 6)} in the low 48 bits. */
    static long mac(final DirectBuffer buffer, final int offset) {
        return (buffer.getInt(offset, ByteOrder.BIG_ENDIAN) & 0xFFFF_FFFFL) << 16
            | buffer.getShort(offset + 4, ByteOrder.BIG_ENDIAN) & 0xFFFF;
    }

    /** Group address (broadcast or multicast): the I/G bit, bit 0 of the first byte on the wire. */
    static boolean isGroup(final long mac) {
        return (mac >>> 40 & 1) != 0;
    }
}
