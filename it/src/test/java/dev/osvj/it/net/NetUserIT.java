package dev.osvj.it.net;

import dev.osvj.it.OsvjProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedded {@code user} backend end to end: {@code bin/osvj} boots with a virtio-net device whose
 * backend is the in-JVM gateway, the kernel's DHCP client leases 10.0.2.15 from the gateway, and a
 * host client on 127.0.0.1 reaches the kernel's built-in echo service through a {@code hostfwd}
 * (host port 0: the gateway picks a free port and the boot output names it). Needs nothing installed
 * and no root.
 */
class NetUserIT {
    private static final Pattern DEFAULT_ROUTE = Pattern.compile("default\\s+10\\.0\\.2\\.2\\s+0\\.0\\.0\\.0\\s+eth0");
    private static final Pattern RX_PACKETS = Pattern.compile("RX packets [1-9]\\d*  bytes [1-9]");
    private static final Pattern FORWARD = Pattern.compile("hostfwd tcp:127\\.0\\.0\\.1:(\\d+)-:7");

    @TempDir
    Path dir;

    @Test
    void shouldReachTheKernelsEchoServiceFromTheHostThroughAHostForward() throws Exception {
        final Path conf = NetIT.conf(dir, """
              app { name = echo, args = [] }
              devices = [ { type = net, backend = user } ]
              net.interfaces = [
                { name = lo, backend = loopback, address = "127.0.0.1", netmask = "255.0.0.0", mtu = 65536 },
                { name = eth0, backend = virtio, dhcp = true, hostfwd = ["tcp:127.0.0.1:0-:7"] }
              ]
            """);
        try (OsvjProcess osvj = NetIT.boot(conf)) {
            final String note = osvj.awaitOut(l -> l.startsWith("eth0: user 10.0.2.2/24"), NetIT.STEP);
            final Matcher m = FORWARD.matcher(note);
            assertTrue(m.find(), note);
            final InetSocketAddress forward = new InetSocketAddress("127.0.0.1", Integer.parseInt(m.group(1)));
            // the kernel's DHCP client got its address from the gateway's DHCP server
            NetIT.consoleUntil(osvj, "ifconfig eth0", l -> l.contains("inet 10.0.2.15  netmask 255.255.255.0"));
            NetIT.consoleUntil(osvj, "route", l -> DEFAULT_ROUTE.matcher(l).find());

            assertEquals("hello through the user gateway\n", NetIT.echo(forward, "hello through the user gateway\n"));
            // a bigger transfer, both directions at once, compared by digest
            final byte[] data = new byte[4 << 20];
            new Random(7).nextBytes(data);
            try (Socket s = new Socket()) {
                s.connect(forward, 30_000);
                s.setSoTimeout(120_000);
                final OutputStream out = s.getOutputStream();
                final InputStream in = s.getInputStream();
                final Thread writer = Thread.ofVirtual().start(() -> {
                    try {
                        out.write(data);
                        s.shutdownOutput();
                    } catch (final Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                final byte[] back = in.readAllBytes();
                writer.join();
                assertEquals(data.length, back.length);
                assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(data),
                    MessageDigest.getInstance("SHA-256").digest(back));
            }
            // the console sees the virtio interface's traffic, lsdev the gateway behind the device
            osvj.type("ifconfig eth0");
            osvj.awaitOut(l -> RX_PACKETS.matcher(l).find(), NetIT.STEP);
            osvj.type("lsdev");
            osvj.awaitOut(l -> l.contains("user 10.0.2.2/24, dhcp 10.0.2.15"), NetIT.STEP);
            osvj.type("dmesg");
            osvj.awaitOut(l -> l.contains("eth0: dhcp: bound to 10.0.2.15/24 gw 10.0.2.2 from 10.0.2.2"), NetIT.STEP);
            osvj.type("poweroff");
            assertEquals(0, osvj.awaitExit(Duration.ofSeconds(60)), () -> "stderr: " + osvj.stderr());
        }
    }
}
