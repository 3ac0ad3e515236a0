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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The built-in HTTP server against the real {@code curl} (Debian curl): a site in a rofs image built by
 * {@code bin/osvj mkimage}, the kernel behind the {@code user} gateway with a host forward to its port
 * 80; files, Range, ETag/304, the JSON management API behind a bearer token, {@code /file} refusing
 * a {@code ..} escape, and {@code POST /os/poweroff} ending the process with exit code 0.
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

    @Test
    void shouldServeFilesAndTheManagementApiToCurlAndPowerOff() throws Exception {
        final Path site = Files.createDirectories(dir.resolve("site"));
        Files.writeString(site.resolve("index.html"), "<!doctype html><title>osvj</title><p>hello from osvj\n");
        final StringBuilder big = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            big.append(i % 10);
        }
        Files.writeString(site.resolve("digits.txt"), big);
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

            assertEquals("401", status("/os/name"));
            assertEquals("401", status("/os/name", "-H", "Authorization: Bearer wrong"));
            assertEquals("\"osvj\"", api("/os/name"));
            assertTrue(Long.parseLong(api("/os/memory/total")) > 0);
            assertTrue(api("/network/ifconfig").contains("\"address\":\"10.0.2.15\""));
            assertTrue(api("/os/cmdline").startsWith("\"httpd -l 0.0.0.0 -p 80"));
            assertTrue(api("/metrics").contains("osvj_memory_free_bytes "));
            assertTrue(api("/file/site/index.html").contains("hello from osvj"));
            assertEquals("400", status("/file/../../etc/passwd", "--path-as-is", "-H", "Authorization: Bearer " + TOKEN));
            assertTrue(curl("-f", base + "/dashboard").contains("osvj dashboard"));

            assertEquals("{\"poweroff\":true}", curl("-f", "-X", "POST", "-H", "Authorization: Bearer " + TOKEN,
                base + "/os/poweroff"));
            assertEquals(0, osvj.awaitExit(Duration.ofSeconds(60)), () -> "stderr: " + osvj.stderr());
        }
    }
}
