package dev.osvj.fleet;

import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigException;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.system.boot.Subsystems;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Fleet configurations: defaults, every problem reported with key, expected and got, before anything boots. */
class FleetConfigTest {
    private final List<Subsystem> subsystems = Subsystems.discover();

    @TempDir
    Path dir;

    private FleetConfig parse(final String hocon) throws ConfigException {
        return FleetConfig.parse(ConfigFactory.parseString(hocon).resolve(), subsystems);
    }

    private List<String> problems(final String hocon) {
        final ConfigException e = assertThrows(ConfigException.class, () -> parse(hocon));
        return e.problems().stream().map(ConfigProblem::toString).toList();
    }

    @Test
    void shouldFillServiceDefaultsAndAssignStaticAddresses() throws Exception {
        final FleetConfig f = parse("""
            osvj.fleet {
              name = demo
              networks = [ { name = front, subnet = "10.0.1.0/24" } ]
              services = [ { name = cache, app = memcached, network = front, replicas = 3 }, { name = web, app = echo } ]
            }
            """);
        assertEquals("demo", f.name());
        assertEquals(7070, f.controlPort());
        final FleetConfig.ServiceSpec cache = f.service("cache").orElseThrow();
        assertEquals(1, cache.cpus());
        assertEquals(64L << 20, cache.memoryBytes());
        assertEquals(3, cache.replicas());
        assertEquals(FleetConfig.Mode.IN_JVM, cache.mode());
        assertEquals(List.of(), cache.args());
        final FleetConfig.NetworkSpec front = f.network("front").orElseThrow();
        assertEquals("10.0.1.10", front.addressOf(0));
        assertEquals("10.0.1.12", front.addressOf(2));
        assertEquals("255.255.255.0", front.netmask());
        assertEquals("none", front.backend());
    }

    @Test
    void shouldLoadTheShippedDemoFleet() throws Exception {
        final Path demo = Path.of(System.getProperty("user.dir")).getParent().resolve("conf/fleet-demo.conf");
        final FleetConfig f = FleetConfig.load(demo, subsystems);
        assertTrue(f.services().size() >= 2, f.toString());
    }

    @Test
    void shouldReportEveryProblemWithKeyExpectedAndGot() {
        final List<String> p = problems("""
            osvj.fleet {
              control.port = 70000
              networks = [ { name = front, subnet = "10.0.1.7/24" } ]
              services = [
                { name = cache, app = memcached, cpus = two, memory = 1K, mode = vm, network = back, replicaz = 2 }
              ]
            }
            """);
        assertTrue(p.contains("osvj.fleet.control.port: expected an integer 0..65535, got 70000"), p.toString());
        assertTrue(p.contains("osvj.fleet.services[0].cpus: expected an integer 1..64, got \"two\""), p.toString());
        assertTrue(p.contains("osvj.fleet.services[0].mode: expected one of in-jvm, process, got \"vm\""), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("osvj.fleet.services[0].memory: expected a size in bytes")), p.toString());
        assertTrue(p.contains("osvj.fleet.services[0].replicaz: unknown key; did you mean osvj.fleet.services[0].replicas?"), p.toString());
    }

    @Test
    void shouldRejectAnUnknownNetworkDuplicateNamesAndABadSubnet() {
        final List<String> p = problems("""
            osvj.fleet {
              networks = [ { name = front, subnet = "10.0.1.7/24" }, { name = back, subnet = "10.0.2.0/24" }, { name = back, subnet = "10.0.3.0/24" } ]
              services = [ { name = a, app = echo, network = nowhere }, { name = a, app = echo } ]
            }
            """);
        assertTrue(p.contains("osvj.fleet.networks[0].subnet: expected a network address (host bits zero), got \"10.0.1.7/24\""), p.toString());
        assertTrue(p.contains("osvj.fleet.networks[2].name: expected a unique network name, got \"back\" twice"), p.toString());
        assertTrue(p.contains("osvj.fleet.services[1].name: expected a unique service name, got \"a\" twice"), p.toString());
        assertTrue(p.contains("osvj.fleet.services[0].network: expected \"\" or one of the networks [back, back], got \"nowhere\"")
            || p.stream().anyMatch(s -> s.startsWith("osvj.fleet.services[0].network: expected \"\" or one of the networks")), p.toString());
    }

    @Test
    void shouldValidateTheKernelConfigurationEachServiceGets() {
        final List<String> p = problems("""
            osvj.fleet.services = [ { name = web, app = nosuchapp, settings = { net.tcp.nodelayy = true } } ]
            """);
        assertTrue(p.stream().anyMatch(s -> s.startsWith("osvj.fleet.services[0] (kernel osvj.app.name): ")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("osvj.fleet.services[0] (kernel osvj.net.tcp.nodelayy): unknown key")), p.toString());
    }

    @Test
    void shouldRejectMoreReplicasThanTheSubnetHasAddresses() {
        final List<String> p = problems("""
            osvj.fleet {
              networks = [ { name = tiny, subnet = "10.0.1.0/28" } ]
              services = [ { name = a, app = echo, network = tiny, replicas = 6 } ]
            }
            """);
        assertEquals(List.of("osvj.fleet.networks: network tiny has addresses for 5 instances of each of its 1 services, service a has 6 replicas"), p);
    }

    @Test
    void shouldGiveEachServiceOnANetworkItsOwnBlockOfAddressesAndParseTheRestartPolicy() throws Exception {
        final FleetConfig f = FleetTesting.fleet("""
            osvj.fleet {
              networks = [ { name = n, subnet = "10.0.1.0/24" } ]
              services = [
                { name = a, app = echo, network = n, replicas = 2, restart = on-failure, restart-backoff = 50ms }
                { name = b, app = echo, network = n, replicas = 1 }
                { name = c, app = echo }
              ]
            }
            """);
        final FleetConfig.NetworkSpec n = f.network("n").orElseThrow();
        assertEquals(122, f.addressBlock(n), "245 hosts (.10 to .254) split between two services");
        assertEquals(1, f.addressSlot(f.service("a").orElseThrow(), 1));
        assertEquals(122, f.addressSlot(f.service("b").orElseThrow(), 0));
        assertEquals("10.0.1.132", n.addressOf(f.addressSlot(f.service("b").orElseThrow(), 0)));
        assertEquals(-1, f.addressSlot(f.service("c").orElseThrow(), 0));
        assertEquals(FleetConfig.Restart.ON_FAILURE, f.service("a").orElseThrow().restart());
        assertEquals(java.time.Duration.ofMillis(50), f.service("a").orElseThrow().restartBackoff());
        assertEquals(FleetConfig.Restart.NEVER, f.service("b").orElseThrow().restart());
        assertEquals(List.of("osvj.fleet.services[0].restart: expected one of never, on-failure, always, got \"sometimes\""),
            problems("osvj.fleet.services = [ { name = a, app = echo, restart = sometimes } ]"));
        assertEquals(List.of("osvj.fleet.services[0].restart-backoff-max: expected at least restart-backoff (2s), got 1s"),
            problems("osvj.fleet.services = [ { name = a, app = echo, restart-backoff = 2s, restart-backoff-max = 1s } ]"));
    }

    @Test
    void shouldTakeASwitchUdpPortPerVswitchNetworkAndRejectSharedOrMisplacedOnes() throws Exception {
        final FleetConfig f = parse("""
            osvj.fleet.networks = [ { name = a, subnet = "10.0.1.0/24", backend = vswitch, udp-port = 40123 }
                                    { name = b, subnet = "10.0.2.0/24", backend = vswitch } ]
            """);
        assertEquals(40123, f.network("a").orElseThrow().udpPort());
        assertEquals(0, f.network("b").orElseThrow().udpPort(), "default: a free port at start");
        assertEquals(List.of(
                "osvj.fleet.networks[1].udp-port: expected a port no other network uses, got 40123 (also network a)",
                "osvj.fleet.networks[2].udp-port: expected 0 for a network with backend = none (only a vswitch network has a switch to listen), got 40200"),
            problems("""
                osvj.fleet.networks = [ { name = a, subnet = "10.0.1.0/24", backend = vswitch, udp-port = 40123 }
                                        { name = b, subnet = "10.0.2.0/24", backend = vswitch, udp-port = 40123 }
                                        { name = c, subnet = "10.0.3.0/24", udp-port = 40200 } ]
                """));
        assertEquals(List.of("osvj.fleet.networks[0].udp-port: expected an integer 0..65535, got 65536"),
            problems("osvj.fleet.networks = [ { name = d, subnet = \"10.0.4.0/24\", backend = vswitch, udp-port = 65536 } ]"));
    }

    @Test
    void shouldRejectKeysOutsideTheFleetAndAMissingFile() throws Exception {
        assertEquals(List.of("osvj.cpus: unknown key; a fleet configuration has only osvj.fleet.* keys"), problems("osvj.cpus = 2"));
        final ConfigException e = assertThrows(ConfigException.class, () -> FleetConfig.load(dir.resolve("none.conf"), subsystems));
        assertTrue(e.problems().get(0).message().contains("no such fleet configuration file"));
        final Path bad = dir.resolve("bad.conf");
        Files.writeString(bad, "osvj.fleet { services = [ \n");
        assertThrows(ConfigException.class, () -> FleetConfig.load(bad, subsystems));
    }
}
