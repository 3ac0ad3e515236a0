package dev.osvj.it.net;

import dev.osvj.it.OsvjProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kernel and the Linux kernel's own TCP/IP stack as peers over the {@code tap} backend, entirely
 * inside a network namespace this test creates and deletes ({@code osvjit<pid>}; the host's interfaces
 * are never touched, the private addresses exist only in there; needs root). {@code bin/osvj} opens
 * the TAP inside the namespace; Linux pings the kernel's address (ICMP echo from a raw socket, the
 * system's python3 standing in for ping), and Linux's TCP, driven by bash's {@code /dev/tcp} under
 * {@code ip netns exec}, talks to the kernel's built-in echo service.
 */
class NetTapIT {
    private static final String KERNEL_IP = "10.99.0.2";
    private static final String LINUX_IP = "10.99.0.1";
    /** One ICMP echo request from a raw socket; prints "reply from ADDR" for the matching echo reply. */
    private static final String PING = """
        import os, socket, struct, sys
        def csum(b):
            s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
            s = (s >> 16) + (s & 0xffff); s += s >> 16
            return ~s & 0xffff
        ident = os.getpid() & 0xffff
        payload = b'osvj-ping-from-linux'
        hdr = struct.pack('!BBHHH', 8, 0, 0, ident, 1)
        pkt = struct.pack('!BBHHH', 8, 0, csum(hdr + payload), ident, 1) + payload
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.settimeout(5)
        for attempt in range(6):
            s.sendto(pkt, (sys.argv[1], 0))
            try:
                while True:
                    data, addr = s.recvfrom(2048)
                    icmp = data[(data[0] & 15) * 4:]
                    t, _, _, i, seq = struct.unpack('!BBHHH', icmp[:8])
                    if t == 0 and i == ident and icmp[8:] == payload:
                        print('reply from', addr[0]); sys.exit(0)
            except socket.timeout:
                pass
        sys.exit(1)
        """;

    @TempDir
    Path dir;
    private NetIT.Namespace namespace;
    private String ns;

    @BeforeEach
    void createNamespace() throws Exception {
        namespace = NetIT.Namespace.create("osvjit" + ProcessHandle.current().pid());
        ns = namespace.name();
    }

    @AfterEach
    void deleteNamespace() throws Exception {
        namespace.close();
    }

    @Test
    void shouldBePingedAndServeEchoToLinuxTcpOverATapInANamespace() throws Exception {
        final Path conf = NetIT.conf(dir, """
              app { name = echo, args = [] }
              devices = [ { type = net, backend = tap, ifname = osvjtap0, netns = "%s" } ]
              net.interfaces = [
                { name = lo, backend = loopback, address = "127.0.0.1", netmask = "255.0.0.0", mtu = 65536 },
                { name = eth0, backend = virtio, address = "%s", netmask = "255.255.255.0" }
              ]
            """.formatted(ns, KERNEL_IP));
        final Path ping = dir.resolve("ping.py");
        Files.writeString(ping, PING);
        try (OsvjProcess osvj = NetIT.boot(conf)) {
            // the kernel created the TAP inside the namespace; Linux's side gets its address there
            namespace.upLinuxEnd("osvjtap0", LINUX_IP + "/24");

            final String pong = NetIT.run("ip", "netns", "exec", ns, "/usr/bin/python3", ping.toString(), KERNEL_IP);
            assertTrue(pong.contains("reply from " + KERNEL_IP), pong);

            final String echoed = NetIT.run("ip", "netns", "exec", ns, "timeout", "60", "bash", "-c",
                "exec 3<>/dev/tcp/" + KERNEL_IP + "/7 && printf 'hello from linux tcp\\n' >&3 && head -c 21 <&3");
            assertEquals("hello from linux tcp\n", echoed);

            // a second connection, 1 MiB through Linux's TCP and back, compared by digest
            final String digests = NetIT.run("ip", "netns", "exec", ns, "timeout", "120", "bash", "-c",
                "head -c 1048576 /dev/urandom > " + dir.resolve("blob") + " && exec 3<>/dev/tcp/" + KERNEL_IP + "/7"
                    + " && (cat " + dir.resolve("blob") + " >&3 &) && head -c 1048576 <&3 | sha256sum"
                    + " && sha256sum < " + dir.resolve("blob"));
            final String[] lines = digests.strip().split("\n");
            assertEquals(2, lines.length, digests);
            assertEquals(lines[1], lines[0], "the echoed megabyte differs");

            // Linux learned the kernel's MAC, and the kernel shows the traffic on its virtio interface
            final String neigh = NetIT.run("ip", "-n", ns, "neigh", "show", KERNEL_IP);
            assertTrue(neigh.contains("52:54:00:12:34:56"), neigh);
            NetIT.consoleUntil(osvj, "arp", l -> l.contains(LINUX_IP));
            osvj.type("netstat");
            osvj.awaitOut(l -> l.contains("LISTEN") && l.contains(":7"), NetIT.STEP);
            osvj.type("poweroff");
            assertEquals(0, osvj.awaitExit(Duration.ofSeconds(60)), () -> "stderr: " + osvj.stderr());
        }
    }
}
