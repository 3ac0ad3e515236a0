package dev.osvj.it.net;

import dev.osvj.it.OsvjProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The kernel behind a real {@code passt} (Debian package) over the {@code stream} backend: passt's
 * DHCP server gives the kernel its address (DISCOVER, OFFER, REQUEST, ACK through virtio-net and the
 * kernel's DHCP client), and a host client reaches the kernel's echo service through passt's own TCP
 * port forward ({@code -t HOSTPORT:7}), so the kernel's TCP talks to passt's.
 */
class NetPasstIT {
    @TempDir
    Path dir;

    @Test
    void shouldGetItsAddressFromPasstByDhcpAndServeEchoThroughPasst() throws Exception {
        // passt drops root privileges (to nobody): its socket directory must be reachable and writable for it
        final Path shared = Files.createDirectory(dir.resolve("shared"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        final Path sock = shared.resolve("passt.sock");
        final int hostPort = freePort();
        final Process passt = new ProcessBuilder("passt", "-f", "-e", "-1", "-s", sock.toString(),
            "-a", "10.0.2.15", "-n", "24", "-g", "10.0.2.2", "-t", hostPort + ":7", "-u", "none")
            .redirectErrorStream(true).start();
        try {
            awaitLine(passt, "UNIX domain socket bound");
            final Path conf = NetIT.conf(dir, """
                  app { name = echo, args = [] }
                  devices = [ { type = net, backend = stream, address = "unix:%s" } ]
                  net.interfaces = [
                    { name = lo, backend = loopback, address = "127.0.0.1", netmask = "255.0.0.0", mtu = 65536 },
                    { name = eth0, backend = virtio, dhcp = true }
                  ]
                """.formatted(sock));
            try (OsvjProcess osvj = NetIT.boot(conf)) {
                NetIT.consoleUntil(osvj, "ifconfig eth0", l -> l.contains("inet 10.0.2.15  netmask 255.255.255.0"));
                osvj.type("dmesg");
                osvj.awaitOut(l -> l.contains("eth0: dhcp: bound to 10.0.2.15/24 gw 10.0.2.2"), NetIT.STEP);

                assertEquals("hello through passt\n",
                    NetIT.echo(new InetSocketAddress("127.0.0.1", hostPort), "hello through passt\n"));
                osvj.type("poweroff");
                assertEquals(0, osvj.awaitExit(Duration.ofSeconds(60)), () -> "stderr: " + osvj.stderr());
            }
        } finally {
            passt.destroy();
            passt.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Wait (30 s at most) for a line containing {@code text} on the process's output; keep draining it. */
    private static void awaitLine(final Process p, final String text) throws Exception {
        final CompletableFuture<Boolean> seen = new CompletableFuture<>();
        final StringBuilder all = new StringBuilder();
        Thread.ofPlatform().daemon().name("passt-output").start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (all) {
                        all.append(line).append('\n');
                    }
                    if (line.contains(text)) {
                        seen.complete(true);
                    }
                }
            } catch (final Exception e) {
                seen.completeExceptionally(e);
            }
            seen.complete(false);
        });
        if (!seen.get(30, TimeUnit.SECONDS)) {
            synchronized (all) {
                throw new AssertionError("passt did not start: no \"" + text + "\" in:\n" + all);
            }
        }
    }
}
