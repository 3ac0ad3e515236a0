package dev.osvj.system.glue;

import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.mmu.MemoryStats;
import dev.osvj.net.stack.Sockets;
import dev.osvj.sched.Scheduler;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import dev.osvj.vfs.Posix;
import dev.osvj.vfs.Vfs;
import dev.osvj.vfs.rofs.MkImage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A whole kernel in this JVM with a rofs image behind a virtio-blk device: the image is mounted
 * through the blk glue, and /proc shows the mmu's, the stack's and the scheduler's numbers through
 * the proc glue.
 */
class GlueKernelTest {
    @TempDir
    static Path dir;

    private static Kernel kernel;
    private static final ByteArrayOutputStream CONSOLE = new ByteArrayOutputStream();

    @BeforeAll
    static void boot() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src/etc"));
        Files.writeString(src.resolve("motd"), "hello through virtio-blk\n");
        final Path image = dir.resolve("app.img");
        MkImage.build(dir.resolve("src"), image, (d, t) -> {
        });
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        kernel = Kernel.boot(KernelConfigLoader.load(null, List.of(
                "osvj.name=glue",
                "osvj.devices=[{type = blk, path = \"" + image + "\", read-only = true}]",
                "osvj.mounts=${osvj.mounts}[{type = rofs, source = \"/dev/vblk0\", path = \"/app\", options = \"\"}]"),
                new Properties(), subsystems, tracepoints),
            subsystems, tracepoints, new PrintStream(CONSOLE, true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
    }

    @AfterAll
    static void powerOff() throws Exception {
        kernel.powerOff(0);
        kernel.awaitPoweredOff(Duration.ofSeconds(30));
    }

    private static String read(final String path) throws Exception {
        return new String(kernel.services().require(Vfs.class).readFile(path), StandardCharsets.UTF_8);
    }

    @Test
    void shouldMountTheRofsImageBehindTheVirtioBlkDevice() throws Exception {
        assertEquals("hello through virtio-blk\n", read("/app/etc/motd"));
        final Vfs vfs = kernel.services().require(Vfs.class);
        assertEquals(Posix.S_IFBLK, vfs.stat("/dev/vblk0").mode & Posix.S_IFMT);
        assertTrue(read("/proc/mounts").contains("/dev/vblk0 /app rofs"), read("/proc/mounts"));
        final String boot = CONSOLE.toString(StandardCharsets.UTF_8);
        assertTrue(boot.contains("VFS: /dev/vblk0 is virtio-blk vblk0"), boot);
    }

    @Test
    void shouldShowTheMmusMeminfo() throws Exception {
        final String meminfo = read("/proc/meminfo");
        final MemoryStats stats = kernel.services().require(MemoryStats.class);
        assertEquals(stats.meminfo().lines().findFirst().orElseThrow(), meminfo.lines().findFirst().orElseThrow());
        assertTrue(meminfo.contains("PageTables:") && meminfo.contains("Hugepagesize:"), meminfo);
        assertTrue(read("/sys/devices/system/node/node0/meminfo").startsWith("Node 0 MemTotal:"));
    }

    @Test
    void shouldShowTheStacksInterfacesAndSockets() throws Exception {
        final String dev = read("/proc/net/dev");
        final String lo = dev.lines().filter(l -> l.trim().startsWith("lo:")).findFirst().orElseThrow(() -> new AssertionError(dev));
        assertEquals(16, lo.substring(lo.indexOf(':') + 1).trim().split(" +").length, lo);

        final Sockets sockets = kernel.services().require(Sockets.class);
        final int fd = sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertTrue(fd >= 0);
        try {
            assertEquals(0, sockets.bind(fd, 0x7F00_0001, 8081));
            assertEquals(0, sockets.listen(fd, 8));
            final String tcp = read("/proc/net/tcp");
            assertTrue(tcp.startsWith("  sl  local_address rem_address   st"), tcp);
            assertTrue(tcp.contains(": 0100007F:1F91 00000000:0000 0A "), tcp);
        } finally {
            sockets.close(fd);
        }
        final String tcp = read("/proc/net/tcp");
        assertTrue(!tcp.contains("0100007F:1F91"), tcp);
        assertTrue(read("/proc/net/udp").startsWith("  sl  local_address"));
    }

    @Test
    void shouldShowTheSchedulersVcpus() throws Exception {
        final int cpus = kernel.services().require(Scheduler.class).cpuCount();
        final List<String> stat = read("/proc/stat").lines().toList();
        assertTrue(stat.get(0).matches("cpu  \\d+ 0 0 \\d+ 0 0 0 0 0 0"), stat.toString());
        for (int i = 0; i < cpus; i++) {
            assertTrue(stat.get(1 + i).matches("cpu" + i + " \\d+ 0 0 \\d+ 0 0 0 0 0 0"), stat.toString());
        }
        assertTrue(stat.get(1 + cpus).startsWith("intr "), stat.toString());
        assertTrue(stat.stream().anyMatch(l -> l.matches("ctxt \\d+")), stat.toString());
        assertTrue(stat.stream().anyMatch(l -> l.matches("btime \\d+")), stat.toString());
        final String cpuinfo = read("/proc/cpuinfo");
        assertEquals(cpus, cpuinfo.lines().filter(l -> l.startsWith("processor\t: ")).count(), cpuinfo);
    }
}
