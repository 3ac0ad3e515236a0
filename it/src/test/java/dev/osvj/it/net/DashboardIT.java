package dev.osvj.it.net;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.osvj.it.OsvjProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The httpd dashboard in a real browser: Debian's headless Chromium loads
 * {@code /dashboard#token=T} from osvj behind the {@code user} gateway (a host forward to guest port
 * 80) and the test drives it over the Chrome DevTools protocol (the JDK's WebSocket client). It checks
 * that the page's JavaScript ran and filled in live values from the management API behind the bearer
 * token (the configured vCPU count, one load bar per vCPU, the configured guest RAM, the interfaces
 * with eth0's DHCP address, the thread table), that the same page keeps updating (uptime grows, a busy
 * % and a byte rate appear, which need two samples), and takes a 1280x900 PNG screenshot.
 * Chromium is required, never skipped: Debian's package {@code chromium}.
 */
class DashboardIT {
    private static final Pattern FORWARD = Pattern.compile("hostfwd tcp:127\\.0\\.0\\.1:(\\d+)-:80");
    private static final Pattern DEVTOOLS = Pattern.compile("DevTools listening on (ws://\\S+)");
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final String TOKEN = "dash-token";
    private static final int CPUS = 3;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void shouldShowLiveKernelValuesInHeadlessChromium() throws Exception {
        assertTrue(Files.isExecutable(CHROMIUM), "DashboardIT needs Debian's chromium (apt-get install -y chromium)");
        final Path conf = NetIT.conf(dir, """
              cpus = %d
              memory = 192M
              app { name = httpd, args = ["-l", "0.0.0.0", "-p", "80", "--api", "--token", "%s"] }
              devices = [ { type = net, backend = user } ]
              net.interfaces = [
                { name = lo, backend = loopback, address = "127.0.0.1", netmask = "255.0.0.0", mtu = 65536 },
                { name = eth0, backend = virtio, dhcp = true, hostfwd = ["tcp:127.0.0.1:0-:80"] }
              ]
            """.formatted(CPUS, TOKEN));
        try (OsvjProcess osvj = NetIT.boot(conf)) {
            final String note = osvj.awaitOut(l -> l.startsWith("eth0: user 10.0.2.2/24"), NetIT.STEP);
            final Matcher m = FORWARD.matcher(note);
            assertTrue(m.find(), note);
            NetIT.consoleUntil(osvj, "ifconfig eth0", l -> l.contains("inet 10.0.2.15  netmask 255.255.255.0"));
            final String url = "http://127.0.0.1:" + m.group(1) + "/dashboard#token=" + TOKEN;

            try (Browser browser = Browser.start(dir.resolve("chromium-profile"), url);
                 Cdp page = browser.page("/dashboard")) {
                // The first sample: every API call answered (the token from the fragment was sent).
                final JsonNode first = page.await("+$('samples').textContent >= 1 && $('err').textContent === ''"
                    + " && $('ifs').tBodies[0].rows.length > 0 ? snapshot() : null");
                assertEquals("osvj", first.get("name").asText(), first::toString);
                assertFalse(first.get("version").asText().isBlank() || first.get("version").asText().equals("?"),
                    first::toString);
                assertEquals(String.valueOf(CPUS), first.get("ncpus").asText(), first::toString);
                assertEquals(CPUS, first.get("cpuRows").asInt(), first::toString);
                assertEquals("192", first.get("memtotal").asText(), first::toString);
                final double free = Double.parseDouble(first.get("memfree").asText());
                assertTrue(free > 0 && free < 192, first::toString);
                assertTrue(first.get("ifs").toString().contains("\"eth0\""), first::toString);
                assertTrue(first.get("ifs").toString().contains("\"lo\""), first::toString);
                assertTrue(first.get("eth0").asText().startsWith("10.0.2.15/255.255.255.0"), first::toString);
                assertTrue(first.get("nthreads").asInt() > 0, first::toString);
                assertTrue(first.get("threadRows").asInt() > 0, first::toString);
                final long uptime = first.get("uptime").asLong();

                // The same page keeps polling: uptime grows, and two samples give a busy % and byte rates.
                // (At least four samples, so the busy-% history chart in the screenshot has lines.)
                final JsonNode later = page.await("+$('uptime').dataset.seconds > " + uptime
                    + " && +text('samples') >= 4 && [...document.querySelectorAll('#cpus .pct')].every(e => e.textContent.endsWith('%'))"
                    + " && $('err').textContent === '' ? snapshot() : null");
                assertTrue(later.get("samples").asInt() >= 4, later::toString);
                assertTrue(later.get("eth0Rates").asText().contains("/s"), later::toString);
                assertTrue(later.get("status").asText().startsWith("live"), later::toString);

                final byte[] png = page.screenshot();
                final Path shot = dir.resolve("dashboard.png");
                Files.write(shot, png);
                assertTrue(Files.size(shot) > 2000, "screenshot too small: " + Files.size(shot));
                assertArrayEquals(new byte[] {(byte)0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
                    java.util.Arrays.copyOf(png, 8));
                // IHDR: width and height, big-endian, at bytes 16..23.
                assertEquals(1280, ByteBuffer.wrap(png, 16, 4).getInt());
                assertEquals(900, ByteBuffer.wrap(png, 20, 4).getInt());
                final String keep = System.getProperty("osvj.dashboard.png");
                if (keep != null) {
                    Files.copy(shot, Path.of(keep), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
            osvj.type("poweroff");
            assertEquals(0, osvj.awaitExit(Duration.ofSeconds(60)), () -> "stderr: " + osvj.stderr());
        }
    }

    /** Headless Chromium with a new profile and a DevTools port of its choosing, its output collected. */
    private static final class Browser implements AutoCloseable {
        private final Process process;
        private final List<String> output = new ArrayList<>();
        private final String devtools;

        private Browser(final Process process, final String devtools) {
            this.process = process;
            this.devtools = devtools;
        }

        static Browser start(final Path profile, final String url) throws IOException {
            Files.createDirectories(profile);
            final Process p = new ProcessBuilder(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + profile, "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1", "--window-size=1280,900", "--hide-scrollbars", url)
                .redirectErrorStream(true).start();
            final List<String> seen = new ArrayList<>();
            final BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            String line;
            String ws = null;
            // Chromium names its DevTools endpoint on stderr once it listens (a blocking read, no polling).
            while ((line = r.readLine()) != null) {
                seen.add(line);
                final Matcher m = DEVTOOLS.matcher(line);
                if (m.find()) {
                    ws = m.group(1);
                    break;
                }
            }
            if (ws == null) {
                p.destroyForcibly();
                throw new AssertionError("chromium ended without a DevTools endpoint: " + String.join("\n", seen));
            }
            final Browser b = new Browser(p, ws);
            b.output.addAll(seen);
            Thread.ofPlatform().daemon().start(() -> {
                try (r) {
                    String l;
                    while ((l = r.readLine()) != null) {
                        synchronized (b.output) {
                            b.output.add(l);
                        }
                    }
                } catch (final IOException e) {
                    // chromium gone
                }
            });
            return b;
        }

        /** Attach to the page target whose URL contains {@code path}. */
        Cdp page(final String path) throws Exception {
            final URI ws = URI.create(devtools);
            final URI list = URI.create("http://" + ws.getAuthority() + "/json/list");
            final HttpClient http = HttpClient.newHttpClient();
            final HttpResponse<String> r = http.send(HttpRequest.newBuilder(list).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r::body);
            for (final JsonNode t : JSON.readTree(r.body())) {
                if (t.path("type").asText().equals("page") && t.path("url").asText().contains(path)) {
                    return Cdp.connect(http, URI.create(t.get("webSocketDebuggerUrl").asText()), this);
                }
            }
            throw new AssertionError("no page target with " + path + ": " + r.body());
        }

        String output() {
            synchronized (output) {
                return String.join("\n", output);
            }
        }

        @Override
        public void close() throws InterruptedException {
            final List<ProcessHandle> children = process.descendants().toList();
            process.destroy();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
            children.forEach(ProcessHandle::destroyForcibly);
        }
    }

    /**
     * A minimal Chrome DevTools protocol session on one page: commands as JSON text messages with an
     * id, answered by the message with the same id; events are ignored.
     */
    private static final class Cdp implements AutoCloseable, WebSocket.Listener {
        /** Page helpers: {@code $} and {@code snapshot()}, what the assertions read from the DOM. */
        private static final String HELPERS = """
            const $ = id => document.getElementById(id);
            const text = id => $(id).textContent;
            const snapshot = () => {
              const ifs = [...$('ifs').tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent));
              const eth0 = ifs.find(r => r[0] === 'eth0') || [];
              return { name: text('name'), version: text('version'), ncpus: text('ncpus'),
                cpuRows: document.querySelectorAll('#cpus .cpu .bar').length,
                memtotal: text('memtotal'), memfree: text('memfree'), nthreads: text('nthreads'),
                threadRows: $('threads').tBodies[0].rows.length, uptime: $('uptime').dataset.seconds,
                samples: text('samples'), status: text('status'), ifs: ifs.map(r => r[0]),
                eth0: eth0[1] || '', eth0Rates: (eth0[5] || '') + ' ' + (eth0[8] || '') };
            };
            """;

        private final WebSocket socket;
        private final Browser browser;
        private final AtomicInteger ids = new AtomicInteger();
        private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
        private final StringBuilder partial = new StringBuilder();

        private Cdp(final HttpClient http, final URI uri, final Browser browser) throws Exception {
            this.browser = browser;
            this.socket = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(30)).buildAsync(uri, this)
                .get(60, TimeUnit.SECONDS);
        }

        static Cdp connect(final HttpClient http, final URI uri, final Browser browser) throws Exception {
            return new Cdp(http, uri, browser);
        }

        @Override
        public CompletionStage<?> onText(final WebSocket ws, final CharSequence data, final boolean last) {
            partial.append(data);
            if (last) {
                try {
                    final JsonNode msg = JSON.readTree(partial.toString());
                    final CompletableFuture<JsonNode> f = msg.has("id") ? pending.remove(msg.get("id").asInt()) : null;
                    if (f != null) {
                        f.complete(msg);
                    }
                } catch (final IOException e) {
                    pending.values().forEach(f -> f.completeExceptionally(e));
                }
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public void onError(final WebSocket ws, final Throwable error) {
            pending.values().forEach(f -> f.completeExceptionally(error));
        }

        JsonNode call(final String method, final ObjectNode params, final Duration timeout) throws Exception {
            final int id = ids.incrementAndGet();
            final CompletableFuture<JsonNode> answer = new CompletableFuture<>();
            pending.put(id, answer);
            final ObjectNode msg = JSON.createObjectNode().put("id", id).put("method", method);
            msg.set("params", params);
            socket.sendText(JSON.writeValueAsString(msg), true).get(30, TimeUnit.SECONDS);
            final JsonNode reply;
            try {
                reply = answer.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (final java.util.concurrent.TimeoutException e) {
                throw new AssertionError(method + ": no answer within " + timeout + "\nchromium: " + browser.output());
            }
            if (reply.has("error")) {
                throw new AssertionError(method + ": " + reply.get("error") + "\nchromium: " + browser.output());
            }
            return reply.get("result");
        }

        /**
         * Evaluate {@code condition} in the page until it gives a non-null value (the page itself waits,
         * 100 ms between tries, 90 s at most); that value.
         */
        JsonNode await(final String condition) throws Exception {
            final String expr = "(() => {" + HELPERS + "return new Promise((resolve, reject) => {"
                + " const t0 = Date.now(); const check = () => { let v = null;"
                + " try { v = (" + condition + "); } catch (e) { v = null; }"
                + " if (v !== null) resolve(v);"
                + " else if (Date.now() - t0 > 90000) reject(new Error('timed out; page: '"
                + " + JSON.stringify(snapshot()) + ' err: ' + $('err').textContent));"
                + " else setTimeout(check, 100); }; check(); }); })()";
            final ObjectNode params = JSON.createObjectNode().put("expression", expr).put("awaitPromise", true)
                .put("returnByValue", true);
            final JsonNode r = call("Runtime.evaluate", params, Duration.ofSeconds(150));
            if (r.has("exceptionDetails")) {
                throw new AssertionError("in the page: " + r.get("exceptionDetails") + "\nchromium: " + browser.output());
            }
            return r.get("result").get("value");
        }

        /** A PNG of the page at a 1280x900 CSS-pixel viewport (the window's size less headless chrome's frame). */
        byte[] screenshot() throws Exception {
            call("Emulation.setDeviceMetricsOverride", JSON.createObjectNode().put("width", 1280).put("height", 900)
                .put("deviceScaleFactor", 1).put("mobile", false), Duration.ofSeconds(60));
            final JsonNode r = call("Page.captureScreenshot", JSON.createObjectNode().put("format", "png"),
                Duration.ofSeconds(60));
            return Base64.getDecoder().decode(r.get("data").asText());
        }

        @Override
        public void close() {
            socket.sendClose(WebSocket.NORMAL_CLOSURE, "done");
        }
    }
}
