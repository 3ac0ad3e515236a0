package dev.osvj.system.app.memcached;

import dev.osvj.kernel.KernelClock;
import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.net.stack.Sockets;
import dev.osvj.system.app.EpollServer;

import java.nio.charset.StandardCharsets;

/**
 * The memcached server over the kernel's socket API: an {@link EpollServer} (one acceptor thread handing
 * new connections round robin to the workers, memcached's dispatcher and worker threads; each worker owns
 * an epoll instance and the connections registered on it) whose sessions are {@link TextProtocol} or
 * {@link BinaryProtocol} engines (chosen by the connection's first byte) with their {@link OutBuffer} of
 * replies. A connection whose replies the socket does not take at
 * once stops being read (EPOLLOUT instead of EPOLLIN) until they are sent: back pressure per connection.
 * A connection over {@code maxConnections} is answered {@code ERROR Too many open connections} and
 * closed. The connection and traffic counters of {@code stats} are {@link ServerStats}'.
 *
 * <p>Threads are application kernel threads on the vCPUs ({@code osvj.app.threads = kernel}, the
 * default) or host platform threads ({@code platform}, for comparison); {@link #close()} wakes the
 * workers at once and the acceptor within {@link EpollServer#WAKE_MS} ms.
 */
public final class MemcachedServer implements AutoCloseable {
    private static final byte[] TOO_MANY = "ERROR Too many open connections\r\n".getBytes(StandardCharsets.US_ASCII);

    private final ItemStore store;
    private final ServerStats stats;
    private final MemcachedOptions options;
    private final EpollServer server;

    private MemcachedServer(final Sockets sockets, final EpollServer.Threads threads, final ItemStore store,
        final MemcachedOptions options, final ServerStats stats) {
        this.store = store;
        this.options = options;
        this.stats = stats;
        this.server = EpollServer.start("memcached", sockets, options.listenIp(), options.port(), threads,
            options.threads(), options.maxConnections(), stats.currConnections, new Protocol());
    }

    /**
     * Bind, listen and start the threads ({@code threads}: kernel or platform threads, see
     * {@link EpollServer.Threads}).
     *
     * @throws IllegalStateException naming the errno when the socket cannot be set up.
     */
    public static MemcachedServer start(final Sockets sockets, final EpollServer.Threads threads, final Malloc malloc,
        final PhysicalMemory memory, final KernelClock clock, final MemcachedOptions options) {
        final ItemStore store = new ItemStore(malloc, memory, clock, options.memoryLimit(), options.itemSizeMax(),
            options.growthFactor(), Item.HEADER + options.minChunkData(), options.useCas());
        try {
            return new MemcachedServer(sockets, threads, store, options, new ServerStats(options, clock));
        } catch (final RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /** The port it listens on. */
    public int port() {
        return server.port();
    }

    public MemcachedOptions options() {
        return options;
    }

    /** Items currently stored. */
    public long items() {
        return store.items();
    }

    /** Connections open now. */
    public long connections() {
        return stats.currConnections.get();
    }

    /** Stop accepting, close every connection, give the item memory back; waits for the threads. */
    @Override
    public void close() throws InterruptedException {
        if (!server.running()) {
            return;
        }
        server.close();
        store.close();
    }

    /** memcached's side of the {@link EpollServer}: a text protocol engine per connection, the counters. */
    private final class Protocol implements EpollServer.Protocol {
        @Override
        public EpollServer.Session open() {
            return new Session(store, stats);
        }

        @Override
        public byte[] overloadReply() {
            return TOO_MANY;
        }

        @Override
        public void accepted() {
            stats.totalConnections.incrementAndGet();
        }

        @Override
        public void rejected() {
            stats.rejectedConnections.incrementAndGet();
        }

        @Override
        public void sent(final int bytes) {
            stats.bytesWritten.add(bytes);
        }
    }

    /**
     * One connection: its engine and its pending replies. Owned by one worker. The protocol is chosen
     * by the first byte the client sends, as memcached's default {@code -B auto}: the binary request magic
     * {@code 0x80} selects {@link BinaryProtocol}, anything else {@link TextProtocol}, for the life of
     * the connection.
     */
    private static final class Session implements EpollServer.Session {
        private final ItemStore store;
        private final ServerStats stats;
        private final OutBuffer out = new OutBuffer(4096);
        private ProtocolEngine engine;

        Session(final ItemStore store, final ServerStats stats) {
            this.store = store;
            this.stats = stats;
        }

        @Override
        public boolean receive(final byte[] b, final int off, final int len) {
            if (engine == null) {
                if (len == 0) {
                    return true;
                }
                engine = (b[off] & 0xFF) == BinaryHeader.REQUEST_MAGIC ? new BinaryProtocol(store, stats)
                    : new TextProtocol(store, stats);
            }
            return engine.receive(b, off, len, out);
        }

        @Override
        public EpollServer.Output output() {
            return out;
        }

        @Override
        public void closed() {
            if (engine != null) {
                engine.close();
            }
        }
    }
}
