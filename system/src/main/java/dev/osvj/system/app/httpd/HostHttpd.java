package dev.osvj.system.app.httpd;

import dev.osvj.system.boot.Kernel;
import dev.osvj.vfs.Vfs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.function.Function;

/**
 * The host twin of osvj's httpd, for comparisons ({@code bin/osvj bench apps}): the <em>same</em>
 * request handling as {@code HttpdApplication} with {@code --root ROOT} (one {@link HttpConnection} per connection, {@link StaticFiles} over the
 * given kernel's VFS, the same error wrapping), but on JDK sockets over the host's loopback instead of
 * the kernel's socket API and {@code EpollServer}. So {@code bench apps}' {@code http.ratio_vs_host}
 * compares the socket layer and network path, not two HTTP implementations.
 *
 * <p>Threads: one acceptor and one platform thread per connection (blocking reads; the benchmark's
 * client keeps a few keep-alive connections, so this is the JDK's natural shape). Each connection's
 * {@link HttpConnection} is used by its own thread only. {@link #close()} closes the listening socket
 * and every connection.
 */
public final class HostHttpd implements AutoCloseable {
    private final ServerSocket listener;
    private final Function<HttpRequest, HttpResponse> handler;
    private final Kernel kernel;
    private final java.util.Set<Socket> open = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private HostHttpd(final Kernel kernel, final String root, final boolean index) throws IOException {
        this.kernel = kernel;
        final StaticFiles files = new StaticFiles(kernel.services().require(Vfs.class));
        final String prefix = root.equals("/") ? "" : root;
        final HttpConnection.Handler h = req -> files.serve(req, prefix + req.path(), index);
        this.handler = HttpConnection.handler(h, HttpServer.logTo(kernel.log()));
        this.listener = new ServerSocket(0, 1024, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("host-httpd-acceptor").start(this::acceptLoop);
    }

    /**
     * Serve the VFS directory {@code root} of {@code kernel} at / on a free host loopback port, as
     * {@code httpd --root ROOT [--index]} does inside the kernel.
     */
    public static HostHttpd start(final Kernel kernel, final String root, final boolean index) throws IOException {
        return new HostHttpd(kernel, root, index);
    }

    /** The host loopback port it listens on. */
    public int port() {
        return listener.getLocalPort();
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            final Socket s;
            try {
                s = listener.accept();
            } catch (final IOException e) {
                return; // closed
            }
            open.add(s);
            Thread.ofPlatform().daemon().name("host-httpd-conn").start(() -> serve(s));
        }
    }

    private void serve(final Socket s) {
        final HttpConnection http = new HttpConnection(65_536, handler, kernel.clock()::realtimeNanos);
        final byte[] b = new byte[64 * 1024];
        try (s) {
            s.setTcpNoDelay(true);
            final InputStream in = s.getInputStream();
            final OutputStream out = s.getOutputStream();
            boolean more = true;
            while (more) {
                final int n = in.read(b);
                if (n < 0) {
                    break;
                }
                more = http.receive(b, 0, n);
                final HttpConnection.OutBuffer o = http.output();
                if (o.readable() > 0) {
                    out.write(o.array(), o.readIndex(), o.readable());
                    o.consume(o.readable());
                }
                http.takeAfterSend().forEach(Runnable::run);
            }
        } catch (final IOException e) {
            // the client went away
        } finally {
            open.remove(s);
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        for (final Socket s : open) {
            s.close();
        }
    }
}
