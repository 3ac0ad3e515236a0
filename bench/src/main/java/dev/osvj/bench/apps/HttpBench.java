package dev.osvj.bench.apps;

import dev.osvj.bench.BenchKernel;
import dev.osvj.bench.ClosedLoop;
import dev.osvj.system.app.httpd.HostHttpd;
import dev.osvj.vfs.Posix;
import dev.osvj.vfs.Vfs;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * HTTP requests per second of osvj's httpd against the same server code on host JVM sockets, with
 * one Java keep-alive client for both (wrk and ab are not assumed to be installed).
 *
 * <p>What is compared, exactly: one kernel is booted in this JVM with the built-in httpd
 * ({@code httpd -l 0.0.0.0 -p 8000 --root /tmp}) behind the embedded {@code user} gateway (a host
 * loopback port forwarded to guest port 8000). <b>osvj</b>: the client's JDK sockets reach it through
 * the gateway, so each request crosses the gateway's stack, the virtio-net device and the kernel's
 * stack. <b>host</b>: {@link HostHttpd} runs the same request handling (HttpConnection, StaticFiles
 * over the same kernel's VFS) on JDK sockets over the host's loopback. Both serve one static file of
 * {@link #FILE_BYTES} bytes from the ramfs {@code /tmp}.
 *
 * <p>The workload: {@code connections} closed-loop keep-alive clients ({@link ClosedLoop}), each
 * sending {@code GET /bench.html HTTP/1.1} and reading the whole response (headers, then
 * Content-Length bytes); a status other than 200 fails the run.
 */
public final class HttpBench {
    /** Size of the file served, in bytes. */
    static final int FILE_BYTES = 1024;
    private static final int GUEST_PORT = 8000;
    private static final String PATH = "/bench.html";

    private HttpBench() {
    }

    /** Both sides' results. */
    public record Results(ClosedLoop.Result osvj, ClosedLoop.Result host) {
    }

    /** Boot the kernel, run the host twin and then osvj for {@code durationNanos} each. */
    public static Results run(final String name, final int connections, final long durationNanos) throws Exception {
        final int hostPort = BenchKernel.freeLoopbackPort();
        final List<String> overrides = new ArrayList<>(List.of("osvj.app.name=httpd",
            "osvj.app.args=[\"-l\", \"0.0.0.0\", \"-p\", \"" + GUEST_PORT + "\", \"--root\", \"/tmp\"]"));
        overrides.addAll(BenchKernel.userNetwork(hostPort, GUEST_PORT));
        try (BenchKernel k = BenchKernel.boot(name, overrides, true)) {
            writeFile(k.kernel().services().require(Vfs.class));
            final ClosedLoop.Result host;
            try (HostHttpd twin = HostHttpd.start(k.kernel(), "/tmp", false)) {
                host = load(twin.port(), connections, durationNanos);
            }
            final ClosedLoop.Result osvj = load(hostPort, connections, durationNanos);
            return new Results(osvj, host);
        }
    }

    private static void writeFile(final Vfs vfs) {
        final byte[] body = new byte[FILE_BYTES];
        for (int i = 0; i < body.length; i++) {
            body[i] = (byte)('a' + i % 26);
        }
        final int fd = vfs.open("/tmp" + PATH, Posix.O_WRONLY | Posix.O_CREAT | Posix.O_TRUNC, 0644);
        if (fd < 0) {
            throw new IllegalStateException("open /tmp" + PATH + ": errno " + -fd);
        }
        try {
            if (vfs.write(fd, body, 0, body.length) != body.length) {
                throw new IllegalStateException("short write to /tmp" + PATH);
            }
        } finally {
            vfs.close(fd);
        }
    }

    /**
     * An unmeasured warm-up load of {@link MemcachedBench#WARMUP_NANOS} ({@code -Dbench.apps.warmup-ms}, as for
     * memcached), then the measured one: both servers are measured warm (without it a quick run measured osvj's
     * path while the JIT still compiled it: 4-5k req/s in a run of this metric alone, where the whole suite, run
     * after the memcached loads, measured 23k).
     */
    private static ClosedLoop.Result load(final int port, final int connections, final long durationNanos)
        throws Exception {
        awaitReachable(port);
        if (MemcachedBench.WARMUP_NANOS > 0) {
            ClosedLoop.run(index -> new KeepAliveClient(new Socket(InetAddress.getLoopbackAddress(), port)),
                connections, MemcachedBench.WARMUP_NANOS);
        }
        return ClosedLoop.run(index -> new KeepAliveClient(new Socket(InetAddress.getLoopbackAddress(), port)),
            connections, durationNanos);
    }

    /** One good response through a fresh connection, retried for 30 s (the gateway accepts before the guest does). */
    private static void awaitReachable(final int port) throws Exception {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try (KeepAliveClient c = new KeepAliveClient(new Socket(InetAddress.getLoopbackAddress(), port))) {
                c.request();
                return;
            } catch (final IOException e) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("httpd on port " + port + " is not reachable: " + e.getMessage(), e);
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
            }
        }
    }

    /** A keep-alive HTTP/1.1 client: one GET at a time, the whole response read by Content-Length. */
    static final class KeepAliveClient implements ClosedLoop.Client {
        private static final byte[] REQUEST = ("GET " + PATH + " HTTP/1.1\r\nHost: bench\r\nUser-Agent: osvj-bench\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII);
        private final MemcachedBench.Conn conn;
        private final byte[] buf = new byte[16 * 1024];

        KeepAliveClient(final Socket socket) throws IOException {
            this.conn = new MemcachedBench.HostConn(socket);
        }

        @Override
        public void request() throws IOException {
            conn.write(REQUEST, REQUEST.length);
            int n = 0;
            int headerEnd = -1;
            while (headerEnd < 0) {
                if (n == buf.length) {
                    throw new IOException("response headers too long");
                }
                final int r = conn.read(buf, n, buf.length - n);
                if (r < 0) {
                    throw new IOException("server closed the connection");
                }
                n += r;
                headerEnd = indexOfBlankLine(n);
            }
            final String head = new String(buf, 0, headerEnd, StandardCharsets.ISO_8859_1);
            if (!head.startsWith("HTTP/1.1 200 ")) {
                throw new IOException("GET " + PATH + ": " + head.lines().findFirst().orElse(""));
            }
            final int length = contentLength(head);
            int left = length - (n - headerEnd - 4);
            if (left < 0) {
                throw new IOException("more bytes than the response (pipelining is not used)");
            }
            while (left > 0) {
                final int r = conn.read(buf, 0, Math.min(buf.length, left));
                if (r < 0) {
                    throw new IOException("server closed the connection in a body");
                }
                left -= r;
            }
        }

        private int indexOfBlankLine(final int n) {
            for (int i = 0; i + 3 < n; i++) {
                if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
                    return i;
                }
            }
            return -1;
        }

        private static int contentLength(final String head) throws IOException {
            for (final String line : head.split("\r\n")) {
                final int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase("Content-Length")) {
                    return Integer.parseInt(line.substring(colon + 1).trim());
                }
            }
            throw new IOException("response without Content-Length");
        }

        @Override
        public void close() throws IOException {
            conn.close();
        }
    }
}
