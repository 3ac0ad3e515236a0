package dev.osvj.it.net;

import dev.osvj.it.OsvjProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;

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
        NetIT.requireTool("passt", "passt");
        final int hostPort = NetIT.freePort();
        try (NetIT.Passt passt = NetIT.Passt.start(dir, hostPort, 7)) {
            final Path conf = NetIT.conf(dir, """
                  app { name = echo, args = [] }
                  devices = [ %s ]
                  net.interfaces = [
                    { name = lo, backend = loopback, address = "127.0.0.1", netmask = "255.0.0.0", mtu = 65536 },
                    { name = eth0, backend = virtio, dhcp = true }
                  ]
                """.formatted(passt.device()));
            try (OsvjProcess osvj = NetIT.boot(conf)) {
                NetIT.consoleUntil(osvj, "ifconfig eth0", l -> l.contains("inet 10.0.2.15  netmask 255.255.255.0"));
                osvj.type("dmesg");
                osvj.awaitOut(l -> l.contains("eth0: dhcp: bound to 10.0.2.15/24 gw 10.0.2.2"), NetIT.STEP);

                assertEquals("hello through passt\n",
                    NetIT.echo(new InetSocketAddress("127.0.0.1", hostPort), "hello through passt\n"));
                osvj.type("poweroff");
                assertEquals(0, osvj.awaitExit(Duration.ofSeconds(60)), () -> "stderr: " + osvj.stderr());
            }
        }
    }
}
