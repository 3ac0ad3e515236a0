package dev.osvj.net;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.kernel.testing.StandaloneKernel;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The subsystem: its configuration keys validate against the declared spec, it boots on a supervisor
 * actor, publishes the socket API, registers its console commands, and its actors drive real traffic
 * (loopback TCP in both receive modes).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NetSubsystemTest {
    private static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    /** The reference configuration plus the kernel core's osvj.net.pcap (system's reference.conf). */
    private static Config withCore() {
        return ConfigFactory.parseString("osvj.net.pcap = \"\"").withFallback(ConfigFactory.load());
    }

    private static ConfigSpec spec() {
        final ConfigSpec spec = new ConfigSpec("osvj.net");
        new NetSubsystem().declareConfig(spec);
        spec.string("osvj.net.pcap"); // declared by the kernel core
        return spec;
    }

    @Test
    void shouldDeclareEveryKeyOfReferenceConf() {
        final List<ConfigProblem> problems = spec().validate(withCore());
        assertEquals(List.of(), problems);
        final NetConfig c = NetConfig.from(ConfigFactory.load());
        assertEquals(1, c.interfaces().size());
        assertEquals("lo", c.interfaces().get(0).name());
        assertTrue(c.settings().netChannels());
        assertEquals(32 * 1024, c.settings().tcp().sendBuffer());
    }

    @Test
    void shouldReportBadInterfaceEntriesAndUnknownKeys() {
        final Config bad = ConfigFactory.parseString("""
            osvj.net.interfaces = [
              { name = "eth0", backend = "virtio", dhcp = true, address = "10.0.0.1" },
              { name = "Eth 1", backend = "carrier-pigeon", netmask = "255.0.255.0", speed = 10 },
              { name = "eth0", backend = "virtio", address = "300.1.1.1" }
            ]
            osvj.net.tcp.delayed-ak = 10ms
            """).withFallback(withCore());
        final List<String> shown = new ArrayList<>();
        for (final ConfigProblem p : spec().validate(bad)) {
            shown.add(p.toString());
        }
        final String all = String.join("\n", shown);
        assertTrue(all.contains("osvj.net.interfaces[0]: dhcp = true and a static address exclude each other"), all);
        assertTrue(all.contains("osvj.net.interfaces[1].name"), all);
        assertTrue(all.contains("osvj.net.interfaces[1].backend: expected one of loopback, virtio"), all);
        assertTrue(all.contains("osvj.net.interfaces[1].speed: unknown key"), all);
        assertTrue(all.contains("osvj.net.interfaces[2].address"), all);
        assertTrue(all.contains("osvj.net.tcp.delayed-ak: unknown key; did you mean osvj.net.tcp.delayed-ack?"), all);
    }

    /** Boots the net subsystem on a supervisor actor of a standalone kernel over {@code config}. */
    private static StandaloneKernel boot(final Config config) throws Exception {
        return boot(new StandaloneKernel("nettest", config));
    }

    private static StandaloneKernel boot(final StandaloneKernel kernel) throws Exception {
        kernel.bootOnActor(KIT, new NetSubsystem());
        return kernel;
    }

    @Test
    void shouldBootPublishSocketsAndServeLoopbackTcpThroughItsActors() throws Exception {
        for (final String path : new String[] {"netchannel", "layered"}) {
            final StandaloneKernel b = boot(StandaloneKernel.config("osvj.net.receive-path = " + path));
            final Sockets api = b.services().require(Sockets.class);
            assertNotNull(b.services().require(NetStack.class));
            final int l = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, api.bind(l, 0, 7));
            assertEquals(0, api.listen(l, 4));
            final int c = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, api.setsockopt(c, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 20_000));
            assertEquals(0, api.connect(c, 0x7F000001, 7), path);
            final int s = api.accept(l, null);
            assertTrue(s > 0);
            final byte[] msg = new byte[200_000];
            java.util.Arrays.fill(msg, (byte)7);
            final CompletableFuture<Integer> reader = CompletableFuture.supplyAsync(() -> {
                final byte[] got = new byte[65536];
                int total = 0;
                int n;
                while ((n = api.recv(s, got, 0, got.length, 0)) > 0) {
                    total += n;
                }
                return total;
            });
            int off = 0;
            while (off < msg.length) {
                final int n = api.send(c, msg, off, msg.length - off, 0);
                assertTrue(n > 0);
                off += n;
            }
            api.close(c);
            assertEquals(msg.length, reader.get(30, TimeUnit.SECONDS), path);
            final String netstat = run(b, "netstat");
            assertTrue(netstat.contains("LISTEN"), netstat);
            final String ifconfig = run(b, "ifconfig");
            assertTrue(ifconfig.contains("lo: flags=<UP,LOOPBACK>  mtu 65536"), ifconfig);
            assertTrue(ifconfig.contains("inet 127.0.0.1  netmask 255.0.0.0"), ifconfig);
            assertTrue(run(b, "route").contains("127.0.0.0"));
            assertTrue(run(b, "netstat", "-s").contains("tcp_active_opens"));
            assertNotNull(b.commands().find("arp"));
        }
    }

    @Test
    void shouldReportBadFallbacksAndHostForwards() {
        final Config bad = ConfigFactory.parseString("""
            osvj.net.interfaces = [
              { name = "eth0", backend = "virtio", fallback = "10.0.2.15/24" },
              { name = "eth1", backend = "virtio", dhcp = true, fallback = "10.0.2.15" },
              { name = "eth2", backend = "virtio", dhcp = true, hostfwd = ["tcp::8080-:80", "udp::53-:53"] },
              { name = "lo", backend = "loopback", hostfwd = ["tcp::1-:1"] }
            ]
            """).withFallback(withCore());
        final String all = String.join("\n", spec().validate(bad).stream().map(ConfigProblem::toString).toList());
        assertTrue(all.contains("osvj.net.interfaces[0].fallback: a static fallback needs dhcp = true"), all);
        assertTrue(all.contains("osvj.net.interfaces[1].fallback: expected an address with a prefix length"), all);
        assertTrue(all.contains("osvj.net.interfaces[2].hostfwd[1]: expected tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"), all);
        assertTrue(!all.contains("hostfwd[0]"), all);
        assertTrue(all.contains("osvj.net.interfaces[3].hostfwd: port forwards need a virtio interface"), all);
    }

    /** A kernel whose provider hands out {@code device}, under the interface's name, for every non-loopback interface. */
    private static StandaloneKernel providing(final Config config, final dev.osvj.net.dev.NetDevice device) {
        final StandaloneKernel kernel = new StandaloneKernel("nettest", config);
        kernel.services().provide(dev.osvj.net.dev.NetDeviceProvider.class, (name, backend, entry) -> new dev.osvj.net.dev.NetDevice() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public long mac() {
                return 0x525400123456L;
            }

            @Override
            public int mtu() {
                return device.mtu();
            }

            @Override
            public boolean transmit(final org.agrona.DirectBuffer buffer, final int offset, final int length) {
                return device.transmit(buffer, offset, length);
            }

            @Override
            public int poll(final dev.osvj.net.dev.FrameHandler handler, final int budget) {
                return device.poll(handler, budget);
            }

            @Override
            public void setRxNotifier(final Runnable notifier) {
                device.setRxNotifier(notifier);
            }

            @Override
            public long droppedFrames() {
                return device.droppedFrames();
            }
        });
        return kernel;
    }

    /** Wait (30 s at most) for a dmesg line containing {@code text}; the actor logs after configuring. */
    private static void awaitLog(final KernelLog log, final String text) {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (log.lines().stream().noneMatch(l -> l.contains(text))) {
            assertTrue(System.nanoTime() < deadline, () -> "no \"" + text + "\" in dmesg: " + log.lines());
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
        }
    }

    @Test
    void shouldConfigureAnInterfaceByDhcpThroughItsActor() throws Exception {
        final NetConfig.UserNetwork net = new NetConfig.UserNetwork(0x0A000202, 0xFFFFFF00, 0x0A00020F,
            java.time.Duration.ofHours(1));
        try (dev.osvj.net.user.UserGateway gateway = dev.osvj.net.user.UserGateway.start("eth0", net, 1500, List.of())) {
            final StandaloneKernel b = boot(providing(StandaloneKernel.config("""
                osvj.net.interfaces = [{ name = eth0, backend = virtio, dhcp = true }]
                """), gateway.guestEnd()));
            final KernelLog log = b.log();
            final NetStack stack = b.services().require(NetStack.class);
            awaitLog(log, "eth0: dhcp: bound to 10.0.2.15/24 gw 10.0.2.2 from 10.0.2.2, lease 3600 s");
            assertEquals(0x0A00020F, stack.interfaceByName("eth0").address());
            assertEquals(0xFFFFFF00, stack.interfaceByName("eth0").netmask());
            assertEquals(0x0A000202, stack.interfaceByName("eth0").gateway());
            assertTrue(run(b, "netstat").contains(":68"), "the DHCP client's socket is listed");
        }
    }

    @Test
    void shouldTakeTheStaticFallbackWhenNoDhcpServerAnswers() throws Exception {
        final dev.osvj.net.dev.Wire wire = new dev.osvj.net.dev.Wire(1500); // nobody at the other end
        final StandaloneKernel b = boot(providing(StandaloneKernel.config("""
            osvj.net.interfaces = [{ name = eth0, backend = virtio, dhcp = true, fallback = "10.9.9.9/16", gateway = "10.9.0.1" }]
            osvj.net.dhcp { initial-timeout = 100ms, max-timeout = 200ms, attempts = 2 }
            """), wire.a()));
        final KernelLog log = b.log();
        final NetStack stack = b.services().require(NetStack.class);
        awaitLog(log, "eth0: dhcp: no DHCPOFFER after 2 DISCOVERs; using the static fallback 10.9.9.9/16 and still trying");
        assertEquals(0x0A090909, stack.interfaceByName("eth0").address());
        assertEquals(0xFFFF0000, stack.interfaceByName("eth0").netmask());
        assertEquals(0x0A090001, stack.interfaceByName("eth0").gateway());
        assertTrue(log.lines().stream().anyMatch(l -> l.contains("ERROR") && l.contains("no DHCPOFFER")), log.lines().toString());
        // the DISCOVERs went out on the wire as broadcasts from 0.0.0.0:68 to 255.255.255.255:67
        final int[] discovers = {0};
        wire.b().poll((buf, off, len) -> {
            if (len > 42 && buf.getShort(off + 12, java.nio.ByteOrder.BIG_ENDIAN) == 0x0800
                && buf.getShort(off + 36, java.nio.ByteOrder.BIG_ENDIAN) == 67) {
                discovers[0]++;
            }
        }, 100);
        assertTrue(discovers[0] >= 2, "DISCOVERs seen: " + discovers[0]);
    }

    @Test
    void shouldFailTheBootForAnInterfaceWithoutADeviceProvider() {
        final Config c = ConfigFactory.parseString(
            "osvj.net.interfaces = [{ name = eth0, backend = virtio, address = \"10.0.2.15\" }]")
            .withFallback(ConfigFactory.load());
        final Exception e = org.junit.jupiter.api.Assertions.assertThrows(Exception.class, () -> boot(c));
        assertTrue(String.valueOf(e.getCause()).contains("no device provider"), String.valueOf(e));
    }

    /** Runs a console command that must succeed and returns its output. */
    private static String run(final StandaloneKernel kernel, final String name, final String... args) throws Exception {
        final StandaloneKernel.CommandResult result = kernel.execute(name, args);
        assertEquals(0, result.status());
        return result.output();
    }
}
