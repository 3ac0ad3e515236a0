package dev.osvj.system.app.memcached;

import dev.osvj.kernel.KernelContext;
import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PhysicalMemory;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The host twin of osvj's memcached, for comparisons ({@code bin/osvj bench fleet}'s
 * {@code memcached.k2k_vs_linux}): the <em>same</em> server code as {@link MemcachedApplication}
 * (an {@link ItemStore} in the given kernel's guest memory through its malloc, a {@link TextProtocol}
 * or {@link BinaryProtocol} engine per connection chosen by the first byte, {@link OutBuffer} replies,
 * {@link ServerStats}), driven the way {@link MemcachedServer}'s {@code EpollServer} drives it, but on
 * JDK NIO over the host's loopback instead of the kernel's socket API: one acceptor thread handing
 * new connections round robin to {@code -t} workers, each a {@link Selector} loop owning its
 * connections (the JDK's epoll where the kernel's workers have its epoll). So a comparison with it
 * measures the socket layer and the network path, not two memcached implementations.
 *
 * <p>Per connection, as {@code EpollServer}: up to 16 reads per readiness while the 64 KiB read buffer
 * fills, every reply batch written at once, and a connection whose replies the socket does not take
 * stops being read (OP_WRITE instead of OP_READ) until they are sent. A connection over {@code -c} is
 * answered {@code ERROR Too many open connections} and closed. The listening address is the host's
 * loopback ({@code -l} is ignored), on {@link MemcachedOptions#port()}.
 *
 * <p>Threads: platform daemon threads ({@code host-memcached-*}); a connection and its engine are
 * used by the worker that owns it only. {@link #close()} stops the threads, closes every connection
 * and gives the item memory back.
 */
public final class HostMemcached implements AutoCloseable {
    private static final byte[] TOO_MANY = "ERROR Too many open connections\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final int READ_BUFFER = 64 * 1024;
    private static final int READ_ROUNDS = 16;
    private static final int BACKLOG = 1024;

    private final ItemStore store;
    private final ServerStats stats;
    private final MemcachedOptions options;
    private final ServerSocketChannel listener;
    private final Worker[] workers;
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean running = true;

    private HostMemcached(final ItemStore store, final ServerStats stats, final MemcachedOptions options)
        throws IOException {
        this.store = store;
        this.stats = stats;
        this.options = options;
        this.listener = ServerSocketChannel.open();
        try {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), options.port()), BACKLOG);
            workers = new Worker[options.threads()];
            for (int i = 0; i < workers.length; i++) {
                workers[i] = new Worker(Selector.open());
            }
        } catch (final IOException e) {
            listener.close();
            throw e;
        }
        for (int i = 0; i < workers.length; i++) {
            threads.add(Thread.ofPlatform().daemon().name("host-memcached-worker-" + i).start(workers[i]::loop));
        }
        threads.add(Thread.ofPlatform().daemon().name("host-memcached-acceptor").start(this::acceptLoop));
    }

    /**
     * Serve on the host loopback's port {@code options.port()} with {@code options.threads()} workers,
     * the items in {@code kernel}'s guest memory (its {@link Malloc} and {@link PhysicalMemory}), as
     * {@code memcached OPTIONS} does inside that kernel.
     *
     * @throws IOException when the port cannot be bound.
     */
    public static HostMemcached start(final KernelContext kernel, final MemcachedOptions options) throws IOException {
        final ItemStore store = new ItemStore(kernel.services().require(Malloc.class),
            kernel.services().require(PhysicalMemory.class), kernel.clock(), options.memoryLimit(), options.itemSizeMax(),
            options.growthFactor(), Item.HEADER + options.minChunkData(), options.useCas());
        try {
            return new HostMemcached(store, new ServerStats(options, kernel.clock()), options);
        } catch (final IOException | RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /** The host loopback port it listens on. */
    public int port() {
        return listener.socket().getLocalPort();
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

    private void acceptLoop() {
        int next = 0;
        while (running) {
            final SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (final IOException e) {
                return; // closed
            }
            try {
                if (stats.currConnections.get() >= options.maxConnections()) {
                    stats.rejectedConnections.incrementAndGet();
                    ch.configureBlocking(false);
                    ch.write(ByteBuffer.wrap(TOO_MANY));
                    ch.close();
                    continue;
                }
                ch.configureBlocking(false);
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            } catch (final IOException e) {
                closeQuietly(ch);
                continue;
            }
            stats.currConnections.incrementAndGet();
            stats.totalConnections.incrementAndGet();
            workers[next].adopt(ch);
            next = (next + 1) % workers.length;
        }
    }

    /** Stop accepting, close every connection, give the item memory back; waits for the threads. */
    @Override
    public void close() throws InterruptedException {
        if (!running) {
            return;
        }
        running = false;
        closeQuietly(listener);
        for (final Worker w : workers) {
            w.selector.wakeup();
        }
        for (final Thread t : threads) {
            t.join();
        }
        store.close();
    }

    private static void closeQuietly(final java.io.Closeable c) {
        try {
            c.close();
        } catch (final IOException e) {
            // closing anyway
        }
    }

    /**
     * One connection: its protocol engine (chosen by the first byte, as memcached's {@code -B auto}),
     * its pending replies and its back-pressure state. Owned by one worker.
     */
    private final class Conn {
        final SocketChannel channel;
        final OutBuffer out = new OutBuffer(4096);
        ProtocolEngine engine;
        SelectionKey key;
        boolean writeBlocked;
        boolean closing;
        boolean closed;

        Conn(final SocketChannel channel) {
            this.channel = channel;
        }

        /** {@link ProtocolEngine#receive}; false once the connection is to close after the replies. */
        boolean receive(final byte[] b, final int len) {
            if (engine == null) {
                engine = (b[0] & 0xFF) == BinaryHeader.REQUEST_MAGIC ? new BinaryProtocol(store, stats)
                    : new TextProtocol(store, stats);
            }
            return engine.receive(b, 0, len, out);
        }
    }

    /** A selector loop and the connections registered on it. */
    private final class Worker {
        final Selector selector;
        final Queue<SocketChannel> adopted = new ConcurrentLinkedQueue<>();
        final byte[] buf = new byte[READ_BUFFER];
        final ByteBuffer in = ByteBuffer.wrap(buf);

        Worker(final Selector selector) {
            this.selector = selector;
        }

        /** Called by the acceptor: registered by the worker at its next wake. */
        void adopt(final SocketChannel ch) {
            adopted.add(ch);
            selector.wakeup();
        }

        void loop() {
            try {
                while (running) {
                    selector.select();
                    for (SocketChannel ch = adopted.poll(); ch != null; ch = adopted.poll()) {
                        final Conn c = new Conn(ch);
                        try {
                            c.key = ch.register(selector, SelectionKey.OP_READ, c);
                        } catch (final ClosedChannelException e) {
                            closeConn(c);
                        }
                    }
                    for (final SelectionKey k : selector.selectedKeys()) {
                        serve((Conn)k.attachment());
                    }
                    selector.selectedKeys().clear();
                }
            } catch (final IOException e) {
                // the selector failed: close what this worker owns
            } finally {
                for (final SelectionKey k : selector.keys()) {
                    closeConn((Conn)k.attachment());
                }
                for (SocketChannel ch = adopted.poll(); ch != null; ch = adopted.poll()) {
                    closeConn(new Conn(ch));
                }
                closeQuietly(selector);
            }
        }

        private void serve(final Conn c) {
            if (c.closed) {
                return;
            }
            if (c.writeBlocked) {
                if (!flush(c)) {
                    return;
                }
                c.writeBlocked = false;
                if (c.closing) {
                    closeConn(c);
                    return;
                }
                c.key.interestOps(SelectionKey.OP_READ);
            }
            for (int round = 0; round < READ_ROUNDS; round++) {
                final int r;
                try {
                    in.clear();
                    r = c.channel.read(in);
                } catch (final IOException e) {
                    closeConn(c);
                    return;
                }
                if (r == 0) {
                    return;
                }
                if (r < 0) {
                    closeConn(c);
                    return;
                }
                final boolean keep = c.receive(buf, r);
                final boolean sent = flush(c);
                if (c.closed) {
                    return;
                }
                if (!keep) {
                    c.closing = true;
                }
                if (!sent) {
                    c.writeBlocked = true;
                    c.key.interestOps(SelectionKey.OP_WRITE);
                    return;
                }
                if (!keep) {
                    closeConn(c);
                    return;
                }
                if (r < buf.length) {
                    return;
                }
            }
        }

        /** Send what is pending; false when the socket is full (or failed: then the connection is closed). */
        private boolean flush(final Conn c) {
            final OutBuffer out = c.out;
            while (out.readable() > 0) {
                final int w;
                try {
                    w = c.channel.write(ByteBuffer.wrap(out.array(), out.readIndex(), out.readable()));
                } catch (final IOException e) {
                    closeConn(c);
                    return false;
                }
                if (w == 0) {
                    return false;
                }
                stats.bytesWritten.add(w);
                out.consume(w);
            }
            return true;
        }

        private void closeConn(final Conn c) {
            if (c.closed) {
                return;
            }
            c.closed = true;
            if (c.key != null) {
                c.key.cancel();
            }
            closeQuietly(c.channel);
            if (c.engine != null) {
                c.engine.close();
            }
            stats.currConnections.decrementAndGet();
        }
    }
}
