package dev.osvj.bench.fleet;

import dev.osvj.bench.BenchKernel;
import dev.osvj.bench.apps.MemcachedBench;
import dev.osvj.system.app.memcached.HostMemcached;
import dev.osvj.system.app.memcached.MemcachedOptions;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.util.List;

/**
 * The Linux side of {@code memcached.k2k_vs_linux}: osvj's memcached code on host JDK sockets
 * ({@link HostMemcached}, {@code -m 64 -c 1024 -t WORKERS} on a free loopback port) with its item store
 * in a kernel booted for it (no application, no network device: only its memory and malloc are used),
 * reached by the load client on JDK sockets over Linux's loopback (TCP_NODELAY, 30 s read timeout,
 * as the client of every other host target). Closing it stops the server, then the kernel.
 */
final class HostTwin implements MemcachedBench.Target {
    private final BenchKernel kernel;
    private final HostMemcached server;

    private HostTwin(final BenchKernel kernel, final HostMemcached server) {
        this.kernel = kernel;
        this.server = server;
    }

    /** Boot the memory kernel {@code name} and start the twin with {@code workers} workers. */
    static HostTwin start(final String name, final int workers) throws Exception {
        final BenchKernel k = BenchKernel.boot(name, List.of(), false);
        try {
            final int port = BenchKernel.freeLoopbackPort();
            return new HostTwin(k, HostMemcached.start(k.kernel(), MemcachedOptions.parse(List.of("-p", Integer.toString(port),
                "-m", "64", "-c", "1024", "-t", Integer.toString(workers)), workers)));
        } catch (final Exception | Error e) {
            k.close();
            throw e;
        }
    }

    @Override
    public MemcachedBench.Conn open() throws IOException {
        return new MemcachedBench.HostConn(new Socket(InetAddress.getLoopbackAddress(), server.port()));
    }

    @Override
    public String describe() {
        return "osvj's memcached code on host JDK sockets (HostMemcached, " + server.options().threads()
            + " NIO workers), client on JDK sockets over the host's loopback";
    }

    @Override
    public void close() throws Exception {
        try {
            server.close();
        } finally {
            kernel.close();
        }
    }
}
