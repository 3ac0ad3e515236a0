package dev.osvj.system.app.httpd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.net.stack.Sockets;
import dev.osvj.system.app.AppSubsystem;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import dev.osvj.vfs.Vfs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A whole kernel booted with {@code osvj.app.name = httpd}, files in its ramfs, and clients on the
 * kernel's own loopback sockets: static files (ETag, Range, HEAD, no listing), keep-alive, the JSON
 * API, the bearer token, {@code /file} confinement, {@code /metrics}.
 */
class HttpServerTest {
    private static final int LOOPBACK = 0x7F000001;
    private static final String TOKEN = "s3cret";
    private static final String CONTENT = "0123456789abcdefghij";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static Kernel kernel;
    private static Sockets sockets;
    private static HttpServer server;

    @BeforeAll
    static void boot() throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        final Config config = KernelConfigLoader.load(null, List.of("osvj.name=httpd-test", "osvj.app.name=httpd",
            "osvj.console.enabled=false",
            "osvj.app.args=[\"-p\", \"0\", \"--root\", \"/tmp/www\", \"--api\", \"--token\", \"" + TOKEN + "\", \"-t\", \"2\"]"),
            new Properties(), subsystems, tracepoints);
        kernel = Kernel.boot(config, subsystems, tracepoints,
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        final Vfs vfs = kernel.services().require(Vfs.class);
        assertEquals(0, vfs.mkdir("/tmp/www", 0755));
        assertEquals(0, vfs.mkdir("/tmp/www/sub", 0755));
        vfs.writeFile("/tmp/www/a.txt", CONTENT.getBytes(StandardCharsets.US_ASCII));
        vfs.writeFile("/tmp/secret.txt", "outside the root".getBytes(StandardCharsets.US_ASCII));
        kernel.services().require(AppSubsystem.AppLauncher.class).start(kernel);
        sockets = kernel.services().require(Sockets.class);
        server = kernel.services().require(HttpServer.class);
    }

    @AfterAll
    static void powerOff() throws Exception {
        server.close();
        kernel.powerOff(0);
        assertEquals(0, kernel.awaitPoweredOff(Duration.ofSeconds(30)));
    }

    /** Send {@code request} on a new connection and read until the server closes it. */
    private static String exchange(final String request) {
        final int fd = sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertTrue(fd >= 0, "socket " + fd);
        try {
            assertEquals(0, sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
            assertEquals(0, sockets.connect(fd, LOOPBACK, server.port()));
            final byte[] out = request.getBytes(StandardCharsets.ISO_8859_1);
            int sent = 0;
            while (sent < out.length) {
                final int n = sockets.send(fd, out, sent, out.length - sent, 0);
                assertTrue(n > 0, "send " + n);
                sent += n;
            }
            final ByteArrayOutputStream in = new ByteArrayOutputStream();
            final byte[] buf = new byte[8192];
            while (true) {
                final int n = sockets.recv(fd, buf, 0, buf.length, 0);
                assertTrue(n >= 0, "recv " + n);
                if (n == 0) {
                    return in.toString(StandardCharsets.ISO_8859_1);
                }
                in.write(buf, 0, n);
            }
        } finally {
            sockets.close(fd);
        }
    }

    private static String get(final String path, final String... headers) {
        return exchange("GET " + path + " HTTP/1.1\r\nHost: t\r\n" + String.join("", headers) + "Connection: close\r\n\r\n");
    }

    private static String api(final String path) {
        return get(path, "Authorization: Bearer " + TOKEN + "\r\n");
    }

    private static String body(final String response) {
        return response.substring(response.indexOf("\r\n\r\n") + 4);
    }

    private static String header(final String response, final String name) {
        final Matcher m = Pattern.compile("\r\n" + name + ": ([^\r]*)\r\n").matcher(response);
        assertTrue(m.find(), name + " in " + response);
        return m.group(1);
    }

    @Test
    void shouldServeFilesWithETagRangeAndHead() {
        final String full = get("/a.txt");
        assertTrue(full.startsWith("HTTP/1.1 200 OK\r\n"), full);
        assertEquals(CONTENT, body(full));
        assertEquals("text/plain; charset=utf-8", header(full, "Content-Type"));
        final String etag = header(full, "ETag");

        final String cached = get("/a.txt", "If-None-Match: " + etag + "\r\n");
        assertTrue(cached.startsWith("HTTP/1.1 304 Not Modified\r\n"), cached);
        assertEquals("", body(cached));
        assertTrue(get("/a.txt", "If-None-Match: \"other\"\r\n").startsWith("HTTP/1.1 200 "));

        final String part = get("/a.txt", "Range: bytes=5-9\r\n");
        assertTrue(part.startsWith("HTTP/1.1 206 Partial Content\r\n"), part);
        assertEquals("bytes 5-9/20", header(part, "Content-Range"));
        assertEquals("56789", body(part));
        assertEquals("ghij", body(get("/a.txt", "Range: bytes=-4\r\n")));
        final String past = get("/a.txt", "Range: bytes=20-\r\n");
        assertTrue(past.startsWith("HTTP/1.1 416 "), past);
        assertEquals("bytes */20", header(past, "Content-Range"));

        final String head = exchange("HEAD /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assertEquals("20", header(head, "Content-Length"));
        assertEquals("", body(head));
    }

    @Test
    void shouldRefuseListingsMissingFilesOtherMethodsAndEscapes() {
        assertTrue(get("/sub/").contains("directory listing is off"));
        assertTrue(get("/nope.txt").startsWith("HTTP/1.1 404 Not Found\r\n"));
        final String post = exchange("DELETE /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assertTrue(post.startsWith("HTTP/1.1 405 "), post);
        assertEquals("GET, HEAD", header(post, "Allow"));
        assertTrue(get("/../secret.txt").startsWith("HTTP/1.1 400 "));
        assertTrue(get("/%2E%2E/secret.txt").startsWith("HTTP/1.1 400 "));
        assertTrue(api("/file/../../tmp/secret.txt").startsWith("HTTP/1.1 400 "));
        // Normalised before routing: /file/../tmp/secret.txt is /tmp/secret.txt under the root, which is not there.
        assertTrue(api("/file/../tmp/secret.txt").startsWith("HTTP/1.1 404 "));
    }

    @Test
    void shouldKeepConnectionsAliveAcrossPipelinedRequests() {
        final String r = exchange("GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /os/name HTTP/1.1\r\nHost: t\r\n"
            + "Authorization: Bearer " + TOKEN + "\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assertEquals(3, r.split("HTTP/1.1 200 OK\r\n", -1).length - 1, r);
        assertTrue(r.contains("\r\n\r\n\"osvj\""), r);
    }

    @Test
    void shouldAnswerTheManagementApiInJson() throws Exception {
        assertEquals("osvj", JSON.readTree(body(api("/os/name"))).asText());
        assertTrue(JSON.readTree(body(api("/os/version"))).isTextual());
        assertTrue(JSON.readTree(body(api("/os/uptime"))).asLong() >= 0);
        assertTrue(JSON.readTree(body(api("/os/date"))).asText().endsWith("Z"));
        assertTrue(JSON.readTree(body(api("/os/cmdline"))).asText().startsWith("httpd -p 0 --root /tmp/www"));
        assertTrue(JSON.readTree(body(api("/os/dmesg"))).asText().contains("listening on 127.0.0.1:"));
        final JsonNode threads = JSON.readTree(body(api("/os/threads")));
        assertTrue(threads.get("list").isArray());
        assertEquals(kernel.config().getInt("osvj.cpus"), threads.get("cpus").size());
        final long total = JSON.readTree(body(api("/os/memory/total"))).asLong();
        final long free = JSON.readTree(body(api("/os/memory/free"))).asLong();
        assertEquals(kernel.config().getBytes("osvj.memory").longValue(), total);
        assertTrue(free > 0 && free <= total, free + " of " + total);
        assertEquals(kernel.config().getInt("osvj.cpus"), JSON.readTree(body(api("/hardware/processor/count"))).asInt());
        final JsonNode df = JSON.readTree(body(api("/fs/df")));
        assertTrue(df.toString().contains("\"mount\":\"/tmp\""), df.toString());
        final JsonNode ifs = JSON.readTree(body(api("/network/ifconfig")));
        assertEquals("lo", ifs.get(0).get("name").asText());
        assertEquals("127.0.0.1", ifs.get(0).get("address").asText());
        assertTrue(JSON.readTree(body(api("/network/route"))).isArray());
        assertTrue(JSON.readTree(body(api("/trace/status"))).isArray());
        assertEquals(CONTENT, body(api("/file/tmp/www/a.txt")));
        assertEquals("outside the root", body(api("/file/tmp/secret.txt")));
        assertTrue(api("/os/nothing").startsWith("HTTP/1.1 404 "));
        final String wrong = exchange("GET /os/poweroff HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + TOKEN
            + "\r\nConnection: close\r\n\r\n");
        assertTrue(wrong.startsWith("HTTP/1.1 405 "), wrong);
        assertEquals("POST", header(wrong, "Allow"));
    }

    @Test
    void shouldExportPrometheusMetrics() {
        final String m = api("/metrics");
        assertTrue(m.contains("Content-Type: text/plain; version=0.0.4"), m);
        final String b = body(m);
        assertTrue(b.contains("# TYPE osvj_memory_total_bytes gauge\nosvj_memory_total_bytes "
            + kernel.config().getBytes("osvj.memory") + "\n"), b);
        assertTrue(b.contains("osvj_net_events_total{counter=\"tcp_passive_opens\"} "), b);
        assertTrue(b.contains("osvj_net_rx_bytes_total{interface=\"lo\"} "), b);
        assertTrue(b.contains("osvj_cpu_context_switches_total{cpu=\"0\"} "), b);
        for (final String line : b.split("\n")) {
            assertTrue(line.startsWith("# ") || line.matches("[a-z_]+(\\{[a-z_]+=\"[^\"]*\"\\})? -?[0-9.E]+"), line);
        }
    }

    @Test
    void shouldWantTheBearerTokenForTheApi() {
        final String none = get("/os/name");
        assertTrue(none.startsWith("HTTP/1.1 401 Unauthorized\r\n"), none);
        assertEquals("Bearer realm=\"osvj\"", header(none, "WWW-Authenticate"));
        assertTrue(get("/os/name", "Authorization: Bearer wrong\r\n").startsWith("HTTP/1.1 401 "));
        assertTrue(get("/file/tmp/www/a.txt").startsWith("HTTP/1.1 401 "));
        final String dash = get("/dashboard");
        assertTrue(dash.startsWith("HTTP/1.1 200 OK\r\n") && dash.contains("/os/memory/free"), dash);
    }
    /** A file several times the streaming chunk, with a byte pattern that shows any misplaced chunk. */
    private static byte[] bigFile(final int size) {
        final byte[] big = new byte[size];
        for (int i = 0; i < size; i++) {
            big[i] = (byte)(i * 31 + (i >>> 16));
        }
        return big;
    }

    @Test
    void shouldStreamAFileLargerThanTheSocketBuffersAndServeRangesOfIt() throws Exception {
        final Vfs vfs = kernel.services().require(Vfs.class);
        final byte[] big = bigFile((3 << 20) + 12345);
        vfs.writeFile("/tmp/www/big.bin", big);
        final String whole = get("/big.bin");
        assertTrue(whole.startsWith("HTTP/1.1 200 OK\r\n"), whole.substring(0, 200));
        assertEquals(Integer.toString(big.length), header(whole, "Content-Length"));
        assertTrue(java.util.Arrays.equals(big, body(whole).getBytes(StandardCharsets.ISO_8859_1)), "the body differs");
        final String part = get("/big.bin", "Range: bytes=2000000-2199999\r\n");
        assertTrue(part.startsWith("HTTP/1.1 206 Partial Content\r\n"), part.substring(0, 200));
        assertEquals("bytes 2000000-2199999/" + big.length, header(part, "Content-Range"));
        assertTrue(java.util.Arrays.equals(java.util.Arrays.copyOfRange(big, 2_000_000, 2_200_000),
            body(part).getBytes(StandardCharsets.ISO_8859_1)), "the range differs");
    }

    @Test
    void shouldHoldOneChunkOfAStreamedFileKeepPipelinedOrderAndCloseWhenTheFileShrinks() throws Exception {
        final Vfs vfs = kernel.services().require(Vfs.class);
        final byte[] big = bigFile(4 << 20);
        vfs.writeFile("/tmp/www/stream.bin", big);
        final StaticFiles files = new StaticFiles(vfs);
        final HttpConnection c = new HttpConnection(1024,
            HttpConnection.handler(req -> files.serve(req, "/tmp/www" + req.path(), false), e -> { }), () -> 0L);
        final byte[] req = ("GET /stream.bin HTTP/1.1\r\nHost: t\r\n\r\n"
            + "GET /a.txt HTTP/1.1\r\nHost: t\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
        assertTrue(c.receive(req, 0, req.length));
        final HttpConnection.OutBuffer out = c.output();
        final ByteArrayOutputStream all = new ByteArrayOutputStream();
        int largest = 0;
        while (out.readable() > 0) {
            largest = Math.max(largest, out.capacity());
            all.write(out.array(), out.readIndex(), out.readable());
            out.consume(out.readable());
        }
        assertTrue(largest <= HttpConnection.OutBuffer.CHUNK, "held " + largest + " bytes of a " + big.length + "-byte file");
        final String text = all.toString(StandardCharsets.ISO_8859_1);
        final int first = text.indexOf("\r\n\r\n") + 4;
        assertTrue(java.util.Arrays.equals(big, java.util.Arrays.copyOfRange(all.toByteArray(), first, first + big.length)));
        assertTrue(text.substring(first + big.length).startsWith("HTTP/1.1 200 OK\r\n"), "the pipelined response follows");
        assertTrue(text.endsWith(CONTENT), text.substring(text.length() - 100));
        assertFalse(out.broken());

        // the file shrinks after its length was announced: the body ends short and the connection must close
        final byte[] again = "GET /stream.bin HTTP/1.1\r\nHost: t\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        assertTrue(c.receive(again, 0, again.length));
        assertEquals(0, vfs.truncate("/tmp/www/stream.bin", 100_000));
        final int sent = out.drain().length;
        assertTrue(sent < big.length, "sent " + sent);
        assertTrue(out.broken());
        c.close();
    }
}
