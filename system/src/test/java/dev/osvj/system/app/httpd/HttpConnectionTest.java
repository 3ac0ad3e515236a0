package dev.osvj.system.app.httpd;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The protocol state machine on literal bytes: pipelining, splits at every byte, limits, errors. */
class HttpConnectionTest {
    /** 1970-01-01 + 0 ns: the Date header is constant. */
    private static final String DATE = "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";

    private static HttpConnection conn() {
        final HttpConnection.Handler echo = req -> {
            if (req.path().equals("/boom")) {
                throw new IllegalStateException("handler bug");
            }
            if (req.path().equals("/missing")) {
                throw new HttpException(404, "not found: /missing");
            }
            return new HttpResponse(200).header("Content-Type", "text/plain")
                .body((req.method() + " " + req.path() + " q=" + req.query() + " body=" + new String(req.body(),
                    StandardCharsets.ISO_8859_1)).getBytes(StandardCharsets.ISO_8859_1));
        };
        return new HttpConnection(16, HttpConnection.handler(echo, e -> { }), () -> 0L);
    }

    private static byte[] ascii(final String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static String text(final byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    private static String ok(final String body, final boolean close) {
        return "HTTP/1.1 200 OK\r\nServer: osvj-httpd\r\n" + DATE + "Content-Type: text/plain\r\nContent-Length: "
            + body.length() + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n" + body;
    }

    private static final String PIPELINE = "GET /a%20b/./c?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
        + "\r\nPOST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        + "HEAD /h HTTP/1.1\nHost: h\n\n"
        + "GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        + "GET /ignored HTTP/1.1\r\nHost: h\r\n\r\n";

    private static final String EXPECTED = ok("GET /a b/c q=x=1 body=", false) + ok("POST /p q= body=hello", false)
        + ok("HEAD /h q= body=", false).replace("HEAD /h q= body=", "") + ok("GET /last q= body=", true);

    @Test
    void shouldAnswerPipelinedRequestsInOrderAndStopAfterClose() {
        final HttpConnection c = conn();
        final byte[] in = ascii(PIPELINE);
        assertFalse(c.receive(in, 0, in.length));
        assertEquals(EXPECTED, text(c.output().drain()));
    }

    @Test
    void shouldParseTheSameWhenSplitAtEveryByteBoundary() {
        final byte[] in = ascii(PIPELINE);
        for (int cut = 1; cut < in.length; cut++) {
            final HttpConnection c = conn();
            c.receive(in, 0, cut);
            c.receive(in, cut, in.length - cut);
            assertEquals(EXPECTED, text(c.output().drain()), "split at " + cut);
        }
        final HttpConnection c = conn();
        for (int i = 0; i < in.length; i++) {
            c.receive(in, i, 1);
        }
        assertEquals(EXPECTED, text(c.output().drain()), "one byte at a time");
    }

    @Test
    void shouldKeepHttp10AliveOnlyWhenAsked() {
        final HttpConnection c = conn();
        final byte[] in = ascii("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /x HTTP/1.0\r\n\r\n");
        assertFalse(c.receive(in, 0, in.length));
        // the kept HTTP/1.0 connection is announced (ab -k waits for the close without it)
        assertEquals(ok("GET /k q= body=", false).replace("\r\n\r\n", "\r\nConnection: keep-alive\r\n\r\n")
            + ok("GET /x q= body=", true), text(c.output().drain()));
    }

    private static String errorOf(final String request) {
        final HttpConnection c = conn();
        final byte[] in = ascii(request);
        assertFalse(c.receive(in, 0, in.length), request);
        final String out = text(c.output().drain());
        assertTrue(out.contains("Connection: close\r\n"), out);
        return out;
    }

    @Test
    void shouldRefuseMalformedRequestsWithClearStatuses() {
        assertTrue(errorOf("GET / HTTP/1.1\r\n\r\n").startsWith("HTTP/1.1 400 Bad Request"), "no Host");
        assertTrue(errorOf("GET  / HTTP/1.1\r\nHost: h\r\n\r\n").contains("400 Bad Request: malformed request line"));
        assertTrue(errorOf("G(T / HTTP/1.1\r\nHost: h\r\n\r\n").contains("400 Bad Request: malformed method"));
        assertTrue(errorOf("GET / HTTP/2.0\r\nHost: h\r\n\r\n").startsWith("HTTP/1.1 505 "));
        assertTrue(errorOf("GET / HTTQ/1.1\r\nHost: h\r\n\r\n").startsWith("HTTP/1.1 400 "));
        assertTrue(errorOf("GET /../etc HTTP/1.1\r\nHost: h\r\n\r\n").contains("path climbs above /"));
        assertTrue(errorOf("GET /%2e%2e/x HTTP/1.1\r\nHost: h\r\n\r\n").contains("path climbs above /"));
        assertTrue(errorOf("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n").contains("percent-encoding"));
        assertTrue(errorOf("GET /%00 HTTP/1.1\r\nHost: h\r\n\r\n").startsWith("HTTP/1.1 400 "));
        assertTrue(errorOf("GET x HTTP/1.1\r\nHost: h\r\n\r\n").contains("absolute path"));
        assertTrue(errorOf("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n").contains("line folding"));
        assertTrue(errorOf("GET / HTTP/1.1\r\nHost : h\r\n\r\n").contains("malformed header line"));
        assertTrue(errorOf("GET / HTTP/1.1\r\nHost: h\r\nX: a\u0001b\r\n\r\n").contains("control character"));
        assertTrue(errorOf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n").contains("malformed Content-Length"));
        assertTrue(errorOf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
            .contains("conflicting Content-Length"));
        assertTrue(errorOf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n").startsWith("HTTP/1.1 413 Content Too Large"));
        assertTrue(errorOf("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n").startsWith("HTTP/1.1 501 "));
    }

    @Test
    void shouldEnforceTheRequestLineAndHeaderLimits() {
        final String longTarget = "/" + "a".repeat(HttpParser.MAX_REQUEST_LINE);
        assertTrue(errorOf("GET " + longTarget).startsWith("HTTP/1.1 414 URI Too Long"), "before the line ends");
        final StringBuilder many = new StringBuilder("GET / HTTP/1.1\r\nHost: h\r\n");
        for (int i = 0; i < HttpParser.MAX_HEADERS; i++) {
            many.append("X-").append(i).append(": v\r\n");
        }
        assertTrue(errorOf(many + "\r\n").startsWith("HTTP/1.1 431 "), "too many header lines");
        final String big = "GET / HTTP/1.1\r\nHost: h\r\nX: " + "v".repeat(HttpParser.MAX_HEAD) + "\r\n";
        assertTrue(errorOf(big).startsWith("HTTP/1.1 431 "), "head too long");
    }

    @Test
    void shouldAnswerHandlerErrorsAndBugsWithoutThrowing() {
        final HttpConnection c = conn();
        final byte[] in = ascii("GET /missing HTTP/1.1\r\nHost: h\r\n\r\nGET /boom HTTP/1.1\r\nHost: h\r\n\r\n");
        assertTrue(c.receive(in, 0, in.length));
        final String out = text(c.output().drain());
        assertTrue(out.startsWith("HTTP/1.1 404 Not Found\r\n"), out);
        assertTrue(out.contains("404 Not Found: not found: /missing\n"), out);
        assertTrue(out.contains("HTTP/1.1 500 Internal Server Error\r\n"), out);
    }

    @Test
    void shouldNeverThrowOnRandomBytes() {
        final Random random = new Random(42);
        final byte[] alphabet = ascii("GET POST HTTP/1.1\r\n:Host%0aA-z /.?#\t\u0000\u00ff0123456789Content-Length");
        for (int round = 0; round < 2000; round++) {
            final HttpConnection c = conn();
            final byte[] in = new byte[random.nextInt(300)];
            for (int i = 0; i < in.length; i++) {
                in[i] = random.nextInt(4) == 0 ? (byte)random.nextInt(256) : alphabet[random.nextInt(alphabet.length)];
            }
            c.receive(in, 0, in.length);
            c.output().drain();
        }
    }

    @Test
    void shouldNormaliseAndDecodePaths() {
        assertEquals("/a/c", HttpPaths.normalise("/a/./b/../c"));
        assertEquals("/a/", HttpPaths.normalise("//a//"));
        assertEquals("/", HttpPaths.normalise("/a/.."));
        assertNull(HttpPaths.normalise("/a/../.."));
        assertNull(HttpPaths.normalise("a"));
        assertEquals("/é", HttpPaths.decode("/%C3%A9"));
        assertNull(HttpPaths.decode("/%C3"));
        assertNull(HttpPaths.decode("/%ff"));
    }

    @Test
    void shouldParseSingleByteRanges() {
        assertArrayEquals(new long[] {0, 9}, StaticFiles.range("bytes=0-9", 100));
        assertArrayEquals(new long[] {90, 99}, StaticFiles.range("bytes=-10", 100));
        assertArrayEquals(new long[] {0, 99}, StaticFiles.range("bytes=-1000", 100));
        assertArrayEquals(new long[] {50, 99}, StaticFiles.range("bytes=50-", 100));
        assertArrayEquals(new long[] {50, 99}, StaticFiles.range("bytes=50-500", 100));
        assertTrue(StaticFiles.range("bytes=100-", 100) == StaticFiles.UNSATISFIABLE);
        assertTrue(StaticFiles.range("bytes=-0", 100) == StaticFiles.UNSATISFIABLE);
        assertNull(StaticFiles.range("bytes=5-1", 100));
        assertNull(StaticFiles.range("bytes=0-1,5-6", 100));
        assertNull(StaticFiles.range("items=0-1", 100));
        assertNull(StaticFiles.range("bytes=x-1", 100));
    }

    @Test
    void shouldParseOptions() {
        final HttpdOptions d = HttpdOptions.parse(List.of(), 2);
        assertEquals(8000, d.port());
        assertEquals(0x7F000001, d.listenIp());
        assertFalse(d.api());
        final HttpdOptions o = HttpdOptions.parse(List.of("-p", "80", "--listen=0.0.0.0", "--root", "/srv/./www/",
            "--api", "--token", "t", "--index"), 2);
        assertEquals(80, o.port());
        assertEquals(0, o.listenIp());
        assertEquals("/srv/www/", o.root());
        assertTrue(o.api() && o.index());
        assertEquals("t", o.token());
        assertEquals("httpd: unknown option --nope (supported: -p -l --root --index --api --token -t -c --max-body)",
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> HttpdOptions.parse(List.of("--nope"), 2)).getMessage());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
            () -> HttpdOptions.parse(List.of("--root", "/../x"), 2));
    }
}
