package dev.osvj.system.app.memcached;

import dev.osvj.kernel.KernelClock;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * What {@code stats} and {@code stats settings} report beyond the store: the settings, connection
 * counters (updated by the acceptor and the workers) and traffic. Thread-safe.
 */
final class ServerStats {
    final MemcachedOptions options;
    final KernelClock clock;
    final AtomicLong currConnections = new AtomicLong();
    final AtomicLong totalConnections = new AtomicLong();
    final AtomicLong rejectedConnections = new AtomicLong();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder bytesWritten = new LongAdder();
    final AtomicInteger verbosity;
    /** {@code stats detail}: per-prefix get/hit/set/del counts. */
    final PrefixStats prefixes = new PrefixStats();

    ServerStats(final MemcachedOptions options, final KernelClock clock) {
        this.options = options;
        this.clock = clock;
        this.verbosity = new AtomicInteger(options.verbosity());
    }

    private static void stat(final OutBuffer out, final String name, final String value) {
        out.put("STAT ").put(name).put((byte)' ').put(value).crlf();
    }

    private static void stat(final OutBuffer out, final String name, final long value) {
        out.put("STAT ").put(name).put((byte)' ').putUnsigned(value).crlf();
    }

    /** {@code stats}: memcached's general statistics, then END. */
    void appendGeneral(final OutBuffer out, final ItemStore store) {
        final long now = clock.realtimeNanos() / 1_000_000_000L;
        stat(out, "pid", ProcessHandle.current().pid());
        stat(out, "uptime", store.now() - ItemStore.START_TIME);
        stat(out, "time", now);
        stat(out, "version", TextProtocol.VERSION);
        stat(out, "libevent", "osvj-epoll");
        stat(out, "pointer_size", 64);
        final long cpuNs = java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
        stat(out, "rusage_user", String.format(java.util.Locale.ROOT, "%d.%06d", cpuNs / 1_000_000_000L, cpuNs / 1000 % 1_000_000));
        stat(out, "rusage_system", "0.000000");
        stat(out, "max_connections", options.maxConnections());
        stat(out, "curr_connections", currConnections.get());
        stat(out, "total_connections", totalConnections.get());
        stat(out, "rejected_connections", rejectedConnections.get());
        stat(out, "connection_structures", currConnections.get());
        store.appendCommandStats(out);
        stat(out, "auth_cmds", 0);
        stat(out, "auth_errors", 0);
        stat(out, "bytes_read", bytesRead.sum());
        stat(out, "bytes_written", bytesWritten.sum());
        stat(out, "limit_maxbytes", options.memoryLimit());
        stat(out, "accepting_conns", 1);
        stat(out, "threads", options.threads());
        stat(out, "conn_yields", 0);
        store.appendItemTotals(out);
        out.put("END").crlf();
    }

    /** {@code stats settings}. */
    void appendSettings(final OutBuffer out) {
        stat(out, "maxbytes", options.memoryLimit());
        stat(out, "maxconns", options.maxConnections());
        stat(out, "tcpport", options.port());
        stat(out, "udpport", 0);
        stat(out, "inter", dev.osvj.net.wire.Addresses.ipv4(options.listenIp()));
        stat(out, "verbosity", verbosity.get());
        stat(out, "oldest", 0);
        stat(out, "evictions", "on");
        stat(out, "domain_socket", "NULL");
        stat(out, "umask", 700);
        stat(out, "growth_factor", String.format(java.util.Locale.ROOT, "%.2f", options.growthFactor()));
        stat(out, "chunk_size", options.minChunkData());
        stat(out, "num_threads", options.threads());
        stat(out, "stat_key_prefix", ":");
        stat(out, "detail_enabled", prefixes.enabled() ? "yes" : "no");
        stat(out, "reqs_per_event", 20);
        stat(out, "cas_enabled", options.useCas() ? "yes" : "no");
        stat(out, "tcp_backlog", 1024);
        stat(out, "binding_protocol", "auto-negotiate");
        stat(out, "auth_enabled_sasl", "no");
        stat(out, "item_size_max", options.itemSizeMax());
        stat(out, "maxconns_fast", "yes");
        stat(out, "hashpower_init", 0);
        stat(out, "slab_reassign", "no");
        stat(out, "slab_automove", 0);
        stat(out, "lru_crawler", "no");
        stat(out, "lru_maintainer_thread", "no");
        stat(out, "flush_enabled", "yes");
        out.put("END").crlf();
    }
}
