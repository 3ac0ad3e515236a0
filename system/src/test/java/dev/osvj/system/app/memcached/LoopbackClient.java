package dev.osvj.system.app.memcached;

import dev.osvj.net.stack.Sockets;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A blocking memcached client connection over a booted kernel's loopback (127.0.0.1), for tests. */
final class LoopbackClient implements AutoCloseable {
    static final int LOOPBACK = 0x7F000001;

    /** Wait up to 30 s for {@code condition} (polling each millisecond), failing with {@code what}. */
    static void await(final java.util.function.BooleanSupplier condition, final String what) {
        final long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }
    final int fd;
    private final Sockets sockets;
    private final byte[] buf = new byte[64 * 1024];

    /** Connect to {@code port}, with a 30 s receive timeout so a lost reply fails the test. */
    LoopbackClient(final Sockets sockets, final int port) {
        this.sockets = sockets;
        fd = sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertTrue(fd >= 0, "socket " + fd);
        assertEquals(0, sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
        assertEquals(0, sockets.connect(fd, LOOPBACK, port));
    }

    void send(final String s) {
        final byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
        int off = 0;
        while (off < b.length) {
            final int n = sockets.send(fd, b, off, b.length - off, 0);
            assertTrue(n > 0, "send " + n);
            off += n;
        }
    }

    /** Read exactly {@code length} bytes (the expected reply's length), or until EOF or the timeout. */
    String read(final int length) {
        final StringBuilder sb = new StringBuilder();
        while (sb.length() < length) {
            final int n = sockets.recv(fd, buf, 0, Math.min(buf.length, length - sb.length()), 0);
            if (n <= 0) {
                break;
            }
            sb.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
        }
        return sb.toString();
    }

    /** Read until the reply ends with {@code suffix} (nothing else may follow it), EOF or the timeout. */
    String readUntil(final String suffix) {
        final StringBuilder sb = new StringBuilder();
        while (!sb.toString().endsWith(suffix)) {
            final int n = sockets.recv(fd, buf, 0, buf.length, 0);
            if (n <= 0) {
                break;
            }
            sb.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
        }
        return sb.toString();
    }

    String call(final String request, final String expected) {
        send(request);
        return read(expected.length());
    }

    /** The next recv: 0 at EOF. */
    int recvOnce() {
        return sockets.recv(fd, buf, 0, buf.length, 0);
    }

    @Override
    public void close() {
        sockets.close(fd);
    }
}
