package dev.osvj.net.stack;

import dev.osvj.net.NetEvents;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Stack-wide counters, Aeron-style: health as numbers, not log lines. Drops are counted by reason
 * (and traced as {@code osvj.net.Drop} events when that tracepoint is on); nothing malformed is ever
 * thrown through the stack. Increments are atomic (any thread); reads are
 * for the console, {@code /proc/net} and the REST API.
 */
public final class NetCounters {
    /** Every counter, with the name {@code netstat -s} shows. */
    public enum Counter {
        RX_FRAMES("frames received"),
        TX_FRAMES("frames sent"),
        DROP_SHORT_FRAME("dropped: frame too short"),
        DROP_OTHER_HOST("dropped: frame for another MAC"),
        DROP_ETHERTYPE("dropped: unsupported ethertype"),
        ARP_IN("arp packets received"),
        DROP_ARP_MALFORMED("dropped: malformed arp"),
        ARP_REQUESTS_SENT("arp requests sent"),
        ARP_REPLIES_SENT("arp replies sent"),
        DROP_ARP_UNRESOLVED("dropped: neighbour unresolved"),
        IP_IN("ip packets received"),
        DROP_IP_MALFORMED("dropped: malformed ip header"),
        DROP_IP_CHECKSUM("dropped: bad ip checksum"),
        DROP_IP_NOT_FOR_US("dropped: ip packet for another host"),
        DROP_IP_PROTOCOL("dropped: unknown ip protocol"),
        IP_FRAGMENTS_IN("ip fragments received"),
        IP_REASSEMBLED("ip datagrams reassembled"),
        DROP_IP_REASSEMBLY("dropped: fragment (malformed, evicted or out of memory)"),
        IP_FRAGMENTS_OUT("ip fragments sent"),
        DROP_NO_ROUTE("dropped: no route to host"),
        DROP_DEVICE("dropped: device queue full"),
        DROP_TX_OVER_MTU("dropped: outgoing packet larger than the interface mtu"),
        ICMP_IN("icmp messages received"),
        DROP_ICMP_MALFORMED("dropped: malformed icmp"),
        ICMP_ECHO_REPLIES("icmp echo replies sent"),
        ICMP_UNREACH_SENT("icmp port unreachable sent"),
        UDP_IN("udp datagrams received"),
        DROP_UDP_MALFORMED("dropped: malformed udp"),
        DROP_UDP_CHECKSUM("dropped: bad udp checksum"),
        DROP_UDP_NO_PORT("dropped: udp to a closed port"),
        DROP_UDP_QUEUE_FULL("dropped: udp receive queue full"),
        UDP_OUT("udp datagrams sent"),
        TCP_IN("tcp segments received"),
        TCP_OUT("tcp segments sent"),
        TCP_ACK_ONLY_OUT("tcp segments sent that only acknowledge (no data, SYN, FIN or RST)"),
        TX_LOCK_WAITS("transmits that waited for an interface's transmit lock another sender held"),
        DROP_TCP_MALFORMED("dropped: malformed tcp header"),
        DROP_TCP_CHECKSUM("dropped: bad tcp checksum"),
        DROP_TCP_OPTIONS("dropped: malformed tcp options"),
        TCP_RESETS_SENT("tcp resets sent for closed ports"),
        TCP_ACTIVE_OPENS("tcp active opens"),
        TCP_PASSIVE_OPENS("tcp passive opens"),
        TCP_SYN_COOKIES_SENT("tcp syn cookies sent"),
        TCP_SYN_COOKIES_VALID("tcp syn cookies accepted"),
        TCP_SYN_COOKIES_INVALID("tcp syn cookies rejected"),
        DROP_TCP_LISTEN_OVERFLOW("dropped: syn to a full listen queue"),
        TCP_OUTBOUND_ADMITTED("tcp connections admitted by the outbound gate"),
        TCP_OUTBOUND_REFUSED("tcp connections refused by the outbound gate"),
        UDP_OUTBOUND("udp datagrams taken by the outbound gate"),
        TCP_CHANNEL_PACKETS("tcp segments through net channels"),
        TCP_CHANNEL_FULL("tcp segments to the general path: channel full"),
        TCP_CHANNEL_WAKEUPS("net channel consumer wakeups"),
        TCP_LOOPBACK_TO_CHANNEL("loopback segments put into a net channel by their sender (no receive queue)"),
        TCP_CHANNEL_ACTOR_DRAINS("net channel drains by flow actors"),
        TCP_CHANNEL_BY_TIMER("tcp segments a net channel held until the timer tick (a missed or late wakeup)"),
        TCP_CHANNEL_BY_GENERAL("tcp segments a net channel held until a later segment took the general path"),
        TCP_LAYERED_PACKETS("frames through the layered receive stage"),
        DROP_RECEIVE_STAGE_FULL("dropped: layered receive stage full"),
        RX_CHECKSUM_TRUSTED("frames whose layer-4 checksum the device vouched for (receive offloads; not verified)"),
        ICMP_UNREACH_IN("icmp destination unreachable received"),
        ICMP_ERRORS_TO_TCP("icmp errors that failed a tcp connection or lowered its path mtu");

        private final String description;
        /** A drop reason: incrementing it also emits an {@code osvj.net.Drop} tracepoint. */
        private final boolean drop;

        Counter(final String description) {
            this.description = description;
            this.drop = name().startsWith("DROP_");
        }

        public String description() {
            return description;
        }
    }

    private final AtomicLongArray values = new AtomicLongArray(Counter.values().length);

    public void increment(final Counter c) {
        values.incrementAndGet(c.ordinal());
        if (c.drop) {
            NetEvents.drop(c.name().toLowerCase(java.util.Locale.ROOT), c.description);
        }
    }

    public void add(final Counter c, final long n) {
        values.addAndGet(c.ordinal(), n);
        if (c.drop && n > 0) {
            NetEvents.drop(c.name().toLowerCase(java.util.Locale.ROOT), c.description);
        }
    }

    public long get(final Counter c) {
        return values.get(c.ordinal());
    }

    /** All counters by name, in declaration order. */
    public Map<String, Long> snapshot() {
        final Map<String, Long> m = new LinkedHashMap<>();
        for (final Counter c : Counter.values()) {
            m.put(c.name().toLowerCase(java.util.Locale.ROOT), get(c));
        }
        return m;
    }
}
