package dev.osvj.it.net;

import dev.osvj.it.OsvjProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * OSv's headline application against a real client: the kernel runs its memcached-compatible server,
 * the host reaches it through the {@code user} gateway's host forward, and libmemcached's conformance
 * tool {@code memccapable} runs its ASCII protocol tests against it (Debian libmemcached-tools).
 */
class MemcachedIT {
    private static final Pattern FORWARD = Pattern.compile("hostfwd tcp:127\\.0\\.0\\.1:(\\d+)-:11211");

    @TempDir
    Path dir;

    @Test
    void shouldPassMemccapablesAsciiTestsThroughTheUserGateway() throws Exception {
        final Path conf = NetIT.conf(dir, """
              app { name = memcached, args = ["-m", "64"] }
              devices = [ { type = net, backend = user } ]
              net.interfaces = [
                { name = lo, backend = loopback, address = "127.0.0.1", netmask = "255.0.0.0", mtu = 65536 },
                { name = eth0, backend = virtio, dhcp = true, hostfwd = ["tcp:127.0.0.1:0-:11211"] }
              ]
            """);
        try (OsvjProcess osvj = NetIT.boot(conf)) {
            final String note = osvj.awaitOut(l -> l.startsWith("eth0: user 10.0.2.2/24"), NetIT.STEP);
            final Matcher m = FORWARD.matcher(note);
            assertTrue(m.find(), note);
            final String port = m.group(1);
            NetIT.consoleUntil(osvj, "ifconfig eth0", l -> l.contains("inet 10.0.2.15  netmask 255.255.255.0"));

            final Process capable = new ProcessBuilder("memccapable", "-h", "127.0.0.1", "-p", port, "-a")
                .redirectErrorStream(true).start();
            final boolean done = capable.waitFor(5, TimeUnit.MINUTES);
            final String report = new String(capable.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(done, "memccapable still running: " + report);
            assertEquals(0, capable.exitValue(), report);
            assertTrue(report.contains("ascii get"), report);
            assertTrue(!report.contains("[FAIL]"), report);

            osvj.type("poweroff");
            assertEquals(0, osvj.awaitExit(Duration.ofSeconds(60)), () -> "stderr: " + osvj.stderr());
        }
    }
}
