package dev.osvj.it.net;

import dev.osvj.it.OsvjProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The built-in HTTP server against real clients (Debian curl, apache2-utils' {@code ab}, wrk): a site in
 * a rofs image built by {@code bin/osvj mkimage} (with a 64 MiB file, larger than any socket buffer,
 * which the server streams from the VFS chunk by chunk), the kernel behind the {@code user} gateway with
 * a host forward to its port 80; files, Range, ETag/304, keep-alive and pipelining, load from ab and wrk
 * without an error or a non-2xx answer, every endpoint of the JSON management API behind a bearer token,
 * {@code /file} refusing {@code ..} escapes, and {@code POST /os/poweroff} ending the process with exit
 * code 0.
 */
class HttpdIT {
    private static final Pattern FORWARD = Pattern.compile("hostfwd tcp:127\\.0\\.0\\.1:(\\d+)-:80");
    private static final String TOKEN = "it-token";

    @TempDir
    Path dir;

    private String base;

    /** Run curl with {@code args} (silent, 60 s at most); its stdout. */
    private static String curl(final String... args) throws Exception {
        final List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "60"));
        cmd.addAll(List.of(args));
        final Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(90, TimeUnit.SECONDS), "curl hung: " + cmd);
        assertEquals(0, p.exitValue(), () -> cmd + ": " + out);
        return out;
    }

    private String status(final String path, final String... args) throws Exception {
        final List<String> a = new ArrayList<>(List.of("-o", "/dev/null", "-w", "%{http_code}"));
        a.addAll(List.of(args));
        a.add(base + path);
        return curl(a.toArray(String[]::new));
    }

    private String api(final String path) throws Exception {
        return curl("-f", "-H", "Authorization: Bearer " + TOKEN, base + path);
    }

    /** Run a load tool to completion (5 minutes at most); its output, after checking that it exited 0. */
    private static String tool(final String... command) throws Exception {
        final List<String> bounded = new ArrayList<>(List.of("timeout", "300"));
        bounded.addAll(List.of(command));
        return NetIT.run(bounded.toArray(String[]::new));
    }

    private static String sha256(final byte[] b) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
    }

    /** 64 MiB with a pattern that shows a misplaced chunk (not all zeros, not periodic in 64 KiB). */
    private static byte[] large() {
        final byte[] b = new byte[64 << 20];
        long x = 0x9E3779B97F4A7C15L;
        for (int i = 0; i < b.length; i += 8) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            for (int k = 0; k < 8; k++) {
                b[i + k] = (byte)(x >>> (8 * k));
            }
        }
        return b;
    }

    /** Three pipelined requests in one write on one connection; the three answers, in order. */
    private String pipelined(final int port) throws Exception {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
            s.setSoTimeout(60_000);
            final String one = "GET /digits.txt HTTP/1.1\r\nHost: t\r\n\r\n";
            s.getOutputStream().write((one + "HEAD /index.html HTTP/1.1\r\nHost: t\r\n\r\n" + one.replace(
                "Host: t\r\n", "Host: t\r\nRange: bytes=0-4\r\nConnection: close\r\n")).getBytes(StandardCharsets.US_ASCII));
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void shouldServeFilesAndTheManagementApiToCurlAbAndWrkAndPowerOff() throws Exception {
        NetIT.requireTool("curl", "curl");
        NetIT.requireTool("ab", "apache2-utils");
        NetIT.requireTool("wrk", "wrk");
        final Path site = Files.createDirectories(dir.resolve("site"));
        Files.writeString(site.resolve("index.html"), "<!doctype html><title>osvj</title><p>hello from osvj\n");
        final StringBuilder big = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            big.append(i % 10);
        }
        Files.writeString(site.resolve("digits.txt"), big);
        final byte[] large = large();
        Files.write(site.resolve("large.bin"), large);
        final Path image = dir.resolve("site.img");
        try (OsvjProcess mk = OsvjProcess.start(Map.of(), "mkimage", site.toString(), image.toString())) {
            assertEquals(0, mk.awaitExit(NetIT.STEP), () -> "stderr: " + mk.stderr());
        }
        final Path conf = NetIT.conf(dir, """
              app { name = httpd, args = ["-l", "0.0.0.0", "-p", "80", "--root", "/site", "--index", "--api",
                                          "--token", "%s"] }
              vfs.disks = [{ file = "%s", read-only = true }]
              mounts = [
                { type = devfs, source = none, path = "/dev", options = "" }
                { type = rofs, source = "/dev/vblk0", path = "/site", options = "" }
              ]
              devices = [ { type = net, backend = user } ]
              net.interfaces = [
                { name = lo, backend = loopback, address = "127.0.0.1", netmask = "255.0.0.0", mtu = 65536 },
                { name = eth0, backend = virtio, dhcp = true, hostfwd = ["tcp:127.0.0.1:0-:80"] }
              ]
            """.formatted(TOKEN, image));
        try (OsvjProcess osvj = NetIT.boot(conf)) {
            final String note = osvj.awaitOut(l -> l.startsWith("eth0: user 10.0.2.2/24"), NetIT.STEP);
            final Matcher m = FORWARD.matcher(note);
            assertTrue(m.find(), note);
            base = "http://127.0.0.1:" + m.group(1);
            NetIT.consoleUntil(osvj, "ifconfig eth0", l -> l.contains("inet 10.0.2.15  netmask 255.255.255.0"));

            assertTrue(curl("-f", base + "/").contains("hello from osvj"));
            assertEquals(big.toString(), curl("-f", base + "/digits.txt"));
            // Two requests on one keep-alive connection.
            assertEquals(big.toString() + big, curl("-f", base + "/digits.txt", base + "/digits.txt"));

            assertEquals("206", status("/digits.txt", "-r", "10-19"));
            assertEquals("0123456789", curl("-f", "-r", "10-19", base + "/digits.txt"));
            assertEquals("416", status("/digits.txt", "-r", "5000-"));

            final String headers = curl("-f", "-I", base + "/digits.txt");
            final Matcher etag = Pattern.compile("(?i)\r\netag: (\"[^\"]+\")\r\n").matcher(headers);
            assertTrue(etag.find(), headers);
            assertTrue(headers.contains("Content-Length: 1000\r\n"), headers);
            assertEquals("304", status("/digits.txt", "-H", "If-None-Match: " + etag.group(1)));
            assertEquals("200", status("/digits.txt", "-H", "If-None-Match: \"stale\""));
            assertEquals("404", status("/missing.html"));

            // keep-alive with pipelining: three requests in one write, answered in order
            final String three = pipelined(Integer.parseInt(m.group(1)));
            assertEquals(3, three.split("HTTP/1\\.1 ", -1).length - 1, three);
            assertTrue(three.startsWith("HTTP/1.1 200 OK\r\n"), three);
            assertTrue(three.endsWith("\r\n\r\n01234"), three);

            // 64 MiB streamed from the rofs image, whole and a range in the middle
            final Path got = dir.resolve("large.got");
            curl("-f", "-o", got.toString(), base + "/large.bin");
            assertEquals(sha256(large), sha256(Files.readAllBytes(got)), "the 64 MiB file differs");
            curl("-f", "-r", "50000000-50999999", "-o", got.toString(), base + "/large.bin");
            assertEquals(sha256(java.util.Arrays.copyOfRange(large, 50_000_000, 51_000_000)),
                sha256(Files.readAllBytes(got)), "the range differs");

            // load: ab with and without keep-alive, wrk with keep-alive; no failure, no non-2xx answer
            for (final List<String> ab : List.of(List.of("ab", "-n", "2000", "-c", "8", "-k", base + "/index.html"),
                List.of("ab", "-n", "300", "-c", "4", base + "/digits.txt"))) {
                final String report = tool(ab.toArray(String[]::new));
                assertTrue(report.contains("Failed requests:        0"), report);
                assertFalse(report.contains("Non-2xx responses"), report);
                assertTrue(report.matches("(?s).*Complete requests: +" + ab.get(2) + "\n.*"), report);
            }
            final String wrk = tool("wrk", "-t", "2", "-c", "8", "-d", "3s", base + "/index.html");
            assertFalse(wrk.contains("Non-2xx or 3xx responses"), wrk);
            assertFalse(wrk.contains("Socket errors"), wrk);
            final Matcher served = Pattern.compile("(\\d+) requests in").matcher(wrk);
            assertTrue(served.find() && Long.parseLong(served.group(1)) > 0, wrk);

            assertEquals("401", status("/os/name"));
            assertEquals("401", status("/os/name", "-H", "Authorization: Bearer wrong"));
            assertEquals("\"osvj\"", api("/os/name"));
            assertTrue(Long.parseLong(api("/os/memory/total")) > 0);
            assertTrue(api("/network/ifconfig").contains("\"address\":\"10.0.2.15\""));
            assertTrue(api("/os/cmdline").startsWith("\"httpd -l 0.0.0.0 -p 80"));
            assertTrue(api("/metrics").contains("osvj_memory_free_bytes "));
            assertTrue(api("/file/site/index.html").contains("hello from osvj"));
            // every endpoint answers 200 with the token
            for (final String endpoint : List.of("/os/name", "/os/version", "/os/uptime", "/os/date", "/os/cmdline",
                "/os/dmesg", "/os/threads", "/os/memory/free", "/os/memory/total", "/file/site/digits.txt", "/fs/df",
                "/network/ifconfig", "/network/route", "/hardware/processor/count", "/trace/status", "/metrics",
                "/dashboard")) {
                assertEquals("200", status(endpoint, "-H", "Authorization: Bearer " + TOKEN), endpoint);
            }
            assertEquals("2", api("/hardware/processor/count"));
            // /file never leaves the VFS: .. escapes (plain, encoded, past the root) are refused
            for (final String escape : List.of("/file/../../etc/passwd", "/file/%2e%2e/%2e%2e/etc/passwd",
                "/file/site/../../../etc/passwd", "/file/..%2f..%2fetc/passwd")) {
                final String code = status(escape, "--path-as-is", "-H", "Authorization: Bearer " + TOKEN);
                assertTrue(code.equals("400") || code.equals("404"), escape + " answered " + code);
            }
            assertEquals("400", status("/file/../../etc/passwd", "--path-as-is", "-H", "Authorization: Bearer " + TOKEN));
            assertTrue(curl("-f", base + "/dashboard").contains("osvj dashboard"));

            assertEquals("{\"poweroff\":true}", curl("-f", "-X", "POST", "-H", "Authorization: Bearer " + TOKEN,
                base + "/os/poweroff"));
            assertEquals(0, osvj.awaitExit(Duration.ofSeconds(60)), () -> "stderr: " + osvj.stderr());
        }
    }
}
