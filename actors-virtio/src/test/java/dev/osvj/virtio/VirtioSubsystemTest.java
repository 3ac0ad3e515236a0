package dev.osvj.virtio;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Services;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.console.ConsoleCommands;
import dev.osvj.kernel.console.Terminal;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.virtio.blk.BlockDevice;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VirtioSubsystemTest {
    private static final ActorTestKit TESTKIT = ActorTestKit.create();

    @TempDir
    Path dir;

    @AfterAll
    static void shutdown() {
        TESTKIT.shutdownTestKit();
    }

    /** A boot context over a test actor's context. */
    private record Boot(ActorContext<?> actorContext, Config config, Services services, ConsoleCommands commands,
        List<String> notes, KernelLog log) implements BootContext {
        @Override
        public void note(final String message) {
            notes.add(message);
        }

        @Override
        public String name() {
            return "test";
        }

        @Override
        public Tracepoints tracepoints() {
            return new Tracepoints();
        }

        @Override
        public KernelClock clock() {
            return KernelClock.SYSTEM;
        }

        @Override
        public long bootStartNanos() {
            return 0;
        }

        @Override
        public void powerOff(final int exitCode) {
        }
    }

    private Boot boot(final VirtioSubsystem subsystem, final Config config, final Services services) {
        final TestProbe<Object> probe = TESTKIT.createTestProbe();
        final List<String> notes = new ArrayList<>();
        final ConsoleCommands commands = new ConsoleCommands();
        final Boot[] boot = new Boot[1];
        TESTKIT.spawn(Behaviors.setup(ctx -> {
            boot[0] = new Boot(ctx, config, services, commands, notes, new KernelLog("test", 64, System::nanoTime));
            try {
                subsystem.boot(boot[0]);
                probe.getRef().tell("booted");
            } catch (final Exception e) {
                probe.getRef().tell(e);
            }
            return Behaviors.empty();
        }));
        final Object result = probe.receiveMessage(Duration.ofSeconds(60));
        if (result instanceof Exception e) {
            throw new AssertionError("boot failed", e);
        }
        return boot[0];
    }

    private static String lsdev(final Boot boot) throws Exception {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final PrintStream out = new PrintStream(bytes, true);
        final int rc = boot.commands().find("lsdev").run(List.of(), new Terminal() {
            @Override
            public PrintStream out() {
                return out;
            }

            @Override
            public boolean interactive() {
                return false;
            }

            @Override
            public String pollLine(final long timeoutMs) {
                return null;
            }
        });
        assertEquals(0, rc);
        return bytes.toString();
    }

    @Test
    void shouldDeclareEveryKeyOfItsReferenceConf() {
        final ConfigSpec spec = new ConfigSpec("osvj.virtio");
        new VirtioSubsystem().declareConfig(spec);
        assertEquals(List.of(), spec.validate(ConfigFactory.load()));
        assertTrue(spec.paths().contains("osvj.devices"));
    }

    @Test
    void shouldReportBadDeviceObjectsWithTheirPaths() {
        final ConfigSpec spec = new ConfigSpec("osvj.virtio");
        new VirtioSubsystem().declareConfig(spec);
        final Config bad = ConfigFactory.parseString("""
            osvj.devices = [ {type = blk}, {type = net, backend = carrier-pigeon}, {type = disk},
                             {type = net, address = "unix:/x", colour = red}, {type = net, address = "unix:/x", mac = "nope"} ]
            osvj.virtio.queue-size = 100
            """).withFallback(ConfigFactory.load()).resolve();
        final List<String> problems = spec.validate(bad).stream().map(ConfigProblem::toString).toList();
        assertTrue(problems.contains("osvj.devices[0].path: needed: the host image file of the block device"), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.devices[1].backend: expected one of stream, dgram, tap, user")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.devices[2].type: expected one of net, blk, rng")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.devices[3].colour: unknown key")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.devices[4].mac: expected a MAC address")), problems.toString());
        assertTrue(problems.contains("osvj.virtio.queue-size: expected a power of two 2..32768, got 100"), problems.toString());
    }

    @Test
    void shouldCheckTheVswitchBackendsKeys() {
        final ConfigSpec spec = new ConfigSpec("osvj.virtio");
        new VirtioSubsystem().declareConfig(spec);
        final Config bad = ConfigFactory.parseString("""
            osvj.devices = [ {type = net, backend = vswitch}, {type = net, backend = vswitch, switch = s, channel = "tcp:x:1"},
                             {type = net, backend = vswitch, switch = s, channel = "aeron:ipc"},
                             {type = net, backend = vswitch, switch = "fabric0", port-name = "a"},
                             {type = net, backend = vswitch, switch = s, channel = "aeron:udp?endpoint=127.0.0.1:40123"} ]
            """).withFallback(ConfigFactory.load()).resolve();
        final List<String> problems = spec.validate(bad).stream().map(ConfigProblem::toString).toList();
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.devices[0].switch: backend vswitch needs")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.devices[1].channel: expected an Aeron channel")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.devices[2].aeron-dir: channel aeron:ipc")), problems.toString());
        assertTrue(problems.stream().noneMatch(p -> p.startsWith("osvj.devices[3]") || p.startsWith("osvj.devices[4]")),
            problems.toString());
    }

    @Test
    void shouldRunAVswitchDevicesReceiveInterruptsInlineUnlessItsInterruptsKeySaysActor() {
        final Config config = ConfigFactory.parseString("""
            osvj.devices = [ {type = net, backend = vswitch, switch = s},
                             {type = net, backend = vswitch, switch = s, interrupts = actor},
                             {type = net, backend = user},
                             {type = net, backend = user, interrupts = inline},
                             {type = net, backend = vswitch, switch = s, interrupts = sometimes} ]
            """).withFallback(ConfigFactory.load()).resolve();
        final List<DeviceConfig> devices = DeviceConfig.parse(config.withValue("osvj.devices",
            ConfigValueFactory.fromIterable(config.getList("osvj.devices").subList(0, 4))));
        assertTrue(VirtioSubsystem.inlineInterrupts(devices.get(0)), "auto: inline for vswitch");
        assertFalse(VirtioSubsystem.inlineInterrupts(devices.get(1)), "actor");
        assertEquals(InterruptLine.inlineByDefault(), VirtioSubsystem.inlineInterrupts(devices.get(2)),
            "auto: the JVM property for the other backends");
        assertTrue(VirtioSubsystem.inlineInterrupts(devices.get(3)), "inline");
        final ConfigSpec spec = new ConfigSpec("osvj.virtio");
        new VirtioSubsystem().declareConfig(spec);
        final List<String> problems = spec.validate(config).stream().map(ConfigProblem::toString).toList();
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.devices[4].interrupts")), problems.toString());
        assertTrue(problems.stream().noneMatch(p -> p.startsWith("osvj.devices[3]")), problems.toString());
    }

    @Test
    void shouldOfferAnAttachPointPerPluggableBackendWithTheDevicesOptions() throws Exception {
        final Config config = ConfigFactory.parseString("""
            osvj.devices = [ {type = net, backend = user},
                             {type = net, backend = vswitch, switch = "fabric0", port-name = "web-1"} ]
            """).withFallback(ConfigFactory.load()).resolve();
        final VirtioSubsystem s = new VirtioSubsystem();
        final Boot b = boot(s, config, new Services());
        final VirtioDevices devices = b.services().require(VirtioDevices.class);
        assertTrue(devices.userTransport("eth0").isPresent());
        assertTrue(devices.userTransport("eth1").isEmpty(), "a vswitch slot is not the user gateway's");
        final List<VirtioDevices.Entry> ports = devices.pluggableOf("vswitch");
        assertEquals(List.of("eth1"), ports.stream().map(VirtioDevices.Entry::name).toList());
        final dev.osvj.virtio.net.PluggableTransport slot = ports.get(0).pluggable();
        assertEquals("vswitch", ports.get(0).backend());
        assertEquals("fabric0", ports.get(0).options().getString("switch"));
        assertEquals("web-1", ports.get(0).options().getString("port-name"));
        assertEquals(1500, ports.get(0).options().getInt("mtu"), "defaults merged in");
        assertEquals(-dev.osvj.kernel.Errno.ENETDOWN.number(), slot.send(MemorySegment.ofArray(new byte[64]), 0, 64),
            "down until attached");
        assertTrue(lsdev(b).contains("eth1 vswitch (not attached)"), lsdev(b));
        assertTrue(java.util.Arrays.equals(VirtioSubsystem.switchMac("test", "eth1"), devices.net("eth1").orElseThrow().mac()),
            "a switch port's default MAC comes from the instance's and device's names");
        assertTrue(!java.util.Arrays.equals(VirtioSubsystem.switchMac("web-1", "eth0"), VirtioSubsystem.switchMac("web-2", "eth0")));
        assertEquals(0x52, VirtioSubsystem.switchMac("web-1", "eth0")[0]);
        s.stop(b);
    }

    @Test
    void shouldGiveEachKernelsRngDifferentBytesPerRequest() {
        final java.util.Set<String> seen = new java.util.HashSet<>();
        for (int kernel = 0; kernel < 2; kernel++) {
            try (PhysicalMemory ram = PhysicalMemory.allocate(8L << 20)) {
                final Services services = new Services();
                services.provide(PhysicalMemory.class, ram);
                services.provide(PageAllocator.class, new PageAllocator(ram, 0));
                final VirtioSubsystem s = new VirtioSubsystem();
                final Boot b = boot(s, ConfigFactory.parseString("osvj.devices = [ {type = rng} ]")
                    .withFallback(ConfigFactory.load()).resolve(), services);
                final var rng = services.require(VirtioDevices.class).entropy().orElseThrow();
                for (int i = 0; i < 3; i++) {
                    final byte[] bytes = new byte[32];
                    assertEquals(32, rng.read(MemorySegment.ofArray(bytes), 0, 32));
                    seen.add(java.util.HexFormat.of().formatHex(bytes));
                }
                s.stop(b);
            }
        }
        assertEquals(6, seen.size(), "32 bytes of entropy never repeat, within a kernel or across kernels: " + seen);
    }

    @Test
    void shouldBootWithNoDevicesByDefault() {
        final VirtioSubsystem s = new VirtioSubsystem();
        final Boot b = boot(s, ConfigFactory.load(), new Services());
        assertTrue(b.services().require(VirtioDevices.class).all().isEmpty());
        assertTrue(b.notes().contains("virtio: no devices"));
        s.stop(b);
    }

    @Test
    void shouldBootBlkNetAndRngDevicesOnTheMmuMemoryAndListThem() throws Exception {
        final Path image = dir.resolve("disk.img");
        final byte[] data = new byte[64 * 1024];
        data[512] = 42;
        Files.write(image, data);
        final Path sock = dir.resolve("net.sock");
        try (PhysicalMemory ram = PhysicalMemory.allocate(32L << 20);
             ServerSocketChannel peer = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            peer.bind(UnixDomainSocketAddress.of(sock));
            final Services services = new Services();
            services.provide(PhysicalMemory.class, ram);
            services.provide(PageAllocator.class, new PageAllocator(ram, 0));
            final Config config = ConfigFactory.parseString("osvj.devices = [ {type = blk, path = \"" + image
                + "\", read-only = true}, {type = net, address = \"unix:" + sock + "\"}, {type = rng} ]")
                .withFallback(ConfigFactory.load()).resolve();
            final VirtioSubsystem s = new VirtioSubsystem();
            final Boot b = boot(s, config, services);
            final VirtioDevices devices = services.require(VirtioDevices.class);
            assertEquals(3, devices.all().size());
            final BlockDevice vblk0 = devices.block("vblk0").orElseThrow();
            final MemorySegment buf = MemorySegment.ofArray(new byte[512]);
            assertEquals(0, vblk0.read(512, buf, 0, 512));
            assertEquals(42, buf.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            assertEquals(32, devices.entropy().orElseThrow().read(MemorySegment.ofArray(new byte[32]), 0, 32));
            assertEquals("eth0", devices.net("eth0").orElseThrow().name());
            final String listing = lsdev(b);
            assertTrue(listing.contains("vblk0    virtio-blk  in-process"), listing);
            assertTrue(listing.contains("eth0     virtio-net  in-process, stream unix:"), listing);
            assertTrue(listing.contains("rng0     virtio-rng"), listing);
            assertTrue(listing.contains("DRIVER_OK"), listing);
            assertTrue(listing.contains("RO"), listing);
            assertTrue(listing.contains("MRG_RXBUF"), listing);
            assertTrue(listing.contains("vq0 size 256"), listing);
            assertTrue(listing.contains("EVENT_IDX"), listing);
            assertTrue(b.notes().stream().anyMatch(n -> n.startsWith("virtio: vblk0 virtio-blk")), b.notes().toString());
            // the boot message names the net device's identity; its counters are lsdev's
            final String netNote = b.notes().stream().filter(n -> n.startsWith("virtio: eth0 virtio-net")).findFirst()
                .orElseThrow();
            assertTrue(netNote.matches(".*: mac [0-9a-f:]{17}, mtu 1500, link up, rx \\d+ x \\d+ B, [a-z0-9+ ]+"), netNote);
            assertFalse(netNote.contains("rx_err="), netNote);
            assertTrue(listing.contains("rx_err="), listing);
            s.stop(b);
        }
    }
}
