package dev.osvj.bench.apps;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP benchmark's keep-alive client against a scripted server on host loopback: it reads exactly
 * one response per request (headers, then Content-Length bytes, even when they arrive in pieces), and
 * a status other than 200 fails.
 */
class KeepAliveClientTest {
    /** Serve one connection: for each request (up to a blank line) write the given response pieces. */
    private static CompletableFuture<Integer> serve(final ServerSocket ss, final int requests, final String... pieces) {
        return CompletableFuture.supplyAsync(() -> {
            try (Socket s = ss.accept()) {
                final InputStream in = s.getInputStream();
                final OutputStream out = s.getOutputStream();
                int served = 0;
                while (served < requests) {
                    int state = 0;
                    while (state < 4) {
                        final int b = in.read();
                        if (b < 0) {
                            return served;
                        }
                        state = (b == '\r' && state % 2 == 0) || (b == '\n' && state % 2 == 1) ? state + 1 : 0;
                    }
                    for (final String p : pieces) {
                        out.write(p.getBytes(StandardCharsets.ISO_8859_1));
                        out.flush();
                    }
                    served++;
                }
                return served;
            } catch (final IOException e) {
                throw new RuntimeException(e);
            }
        });
    }

    @Test
    void shouldReadOneWholeResponsePerRequestOverOneConnection() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            final CompletableFuture<Integer> served = serve(ss, 3, "HTTP/1.1 200 OK\r\nContent-Len",
                "gth: 10\r\nServer: test\r\n\r\n01234", "56789");
            try (HttpBench.KeepAliveClient c = new HttpBench.KeepAliveClient(
                new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort()))) {
                c.request();
                c.request();
                c.request();
            }
            assertEquals(3, served.get());
        }
    }

    @Test
    void shouldFailOnAStatusOtherThan200() throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            serve(ss, 1, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            try (HttpBench.KeepAliveClient c = new HttpBench.KeepAliveClient(
                new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort()))) {
                final IOException e = assertThrows(IOException.class, c::request);
                assertTrue(e.getMessage().contains("404"), e.getMessage());
            }
        }
    }
}
