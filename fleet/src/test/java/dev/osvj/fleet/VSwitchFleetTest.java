package dev.osvj.fleet;

import dev.osvj.net.stack.Sockets;
import dev.osvj.net.wire.Addresses;
import dev.osvj.vswitch.PortStats;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import static dev.osvj.fleet.FleetTesting.fleet;
import static dev.osvj.fleet.FleetTesting.row;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A fleet network on the virtual switch: replicas get their static addresses and reach each other through it. */
class VSwitchFleetTest {
    @Test
    void shouldJoinReplicasToTheNetworksSwitchSoThatTheyReachEachOther() throws Exception {
        final FleetManager m = new FleetManager(fleet("""
            osvj.fleet {
              name = vsf
              networks = [ { name = back, subnet = "10.66.0.0/24", backend = vswitch } ]
              services = [ { name = vs-echo, app = echo, args = ["7"], replicas = 2, memory = 16M, network = back } ]
            }
            """), "local", r -> { });
        try {
            m.deploy();
            assertEquals(InstanceState.RUNNING, row(m, "vs-echo-0").state(), m.status().toString());
            assertEquals(InstanceState.RUNNING, row(m, "vs-echo-1").state(), m.status().toString());
            assertEquals("10.66.0.11", row(m, "vs-echo-1").address());
            assertTrue(FleetTesting.console(m, "vs-echo-1", "ifconfig", "eth0").contains("10.66.0.11"),
                FleetTesting.console(m, "vs-echo-1", "ifconfig", "eth0"));

            // vs-echo-0 is the client of vs-echo-1's echo server, through the switch.
            final Sockets s = ((InJvmInstance)m.instance("vs-echo-0")).kernel().services().require(Sockets.class);
            final int fd = s.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, s.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 60_000));
            assertEquals(0, s.connect(fd, Addresses.parseIpv4("10.66.0.11"), 7));
            final byte[] msg = "hello through the fleet's switch".getBytes(StandardCharsets.US_ASCII);
            assertEquals(msg.length, s.send(fd, msg, 0, msg.length, 0));
            final byte[] got = new byte[msg.length];
            int at = 0;
            while (at < got.length) {
                final int n = s.recv(fd, got, at, got.length - at, 0);
                assertTrue(n > 0, "recv: " + n);
                at += n;
            }
            assertArrayEquals(msg, Arrays.copyOf(got, at));
            s.close(fd);

            final List<String> ports = m.networkSwitch("back").orElseThrow().ports().stream().map(PortStats::name).toList();
            assertTrue(ports.containsAll(List.of("vs-echo-0/eth0", "vs-echo-1/eth0")), ports.toString());
        } finally {
            m.stopAll();
        }
    }

    @Test
    void shouldListenForTrunksOnTheNetworksFixedUdpPortAndFailClearlyWhenItIsTaken() throws Exception {
        final int port = FleetTesting.freeUdpPort("127.0.0.1");
        final String hocon = """
            osvj.fleet {
              name = vsp
              networks = [ { name = back, subnet = "10.67.0.0/24", backend = vswitch, udp-port = %d }
                           { name = side, subnet = "10.68.0.0/24", backend = vswitch } ]
            }
            """.formatted(port);
        final FleetManager m = new FleetManager(fleet(hocon), "127.0.0.1:1", "127.0.0.1", r -> { });
        try {
            final java.util.Map<String, String> endpoints = m.switchEndpoints();
            assertEquals("127.0.0.1:" + port, endpoints.get("back"));
            assertTrue(endpoints.get("side").matches("127\\.0\\.0\\.1:\\d+") && !endpoints.get("side").endsWith(":0")
                && !endpoints.get("side").equals(endpoints.get("back")), endpoints.toString());

            // a second node on the same address cannot have the port: it says which, rather than hang
            final FleetManager second = new FleetManager(fleet(hocon.replace("vsp", "vsq")), "127.0.0.1:2", "127.0.0.1", r -> { });
            try {
                final RuntimeException e = assertThrows(RuntimeException.class, second::switchEndpoints);
                assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
            } finally {
                second.stopAll();
            }
        } finally {
            m.stopAll();
        }
    }
}
