package dev.osvj.system.glue;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import dev.osvj.vfs.Dirent;
import dev.osvj.vfs.Posix;
import dev.osvj.vfs.Stat;
import dev.osvj.vfs.StatFs;
import dev.osvj.vfs.Vfs;
import dev.osvj.vfs.virtiofs.VirtioFs;
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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A whole kernel in this JVM with a host folder behind a virtio-fs device, mounted by the VFS as
 * {@code virtiofs} at /host through the fs glue: files read, directories list, links inside the folder
 * resolve, writes are EROFS, and {@code ..} or link escapes find nothing of the host.
 */
class VirtioFsKernelTest {
    @TempDir
    static Path dir;

    private static Kernel kernel;
    private static Vfs vfs;
    private static final ByteArrayOutputStream CONSOLE = new ByteArrayOutputStream();

    @BeforeAll
    static void boot() throws Exception {
        final Path shared = Files.createDirectories(dir.resolve("shared"));
        Files.writeString(dir.resolve("secret"), "host secret\n");
        Files.writeString(shared.resolve("hello.txt"), "hello through virtio-fs\n");
        Files.createDirectories(shared.resolve("etc/conf.d"));
        Files.writeString(shared.resolve("etc/app.conf"), "x = 1\n");
        Files.createSymbolicLink(shared.resolve("etc/motd"), Path.of("../hello.txt"));
        Files.createSymbolicLink(shared.resolve("escape"), Path.of("../secret"));
        Files.createSymbolicLink(shared.resolve("absolute"), dir.resolve("secret"));
        final byte[] big = new byte[300_000];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte)(i * 13 + i / 4096);
        }
        Files.write(shared.resolve("big.bin"), big);
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        kernel = Kernel.boot(KernelConfigLoader.load(null, List.of(
                "osvj.name=virtiofs",
                "osvj.devices=[{type = fs, tag = host0, path = \"" + shared + "\"}]",
                "osvj.mounts=${osvj.mounts}[{type = virtiofs, source = host0, path = \"/host\", options = \"\"}]"),
                new Properties(), subsystems, tracepoints),
            subsystems, tracepoints, new PrintStream(CONSOLE, true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        vfs = kernel.services().require(Vfs.class);
    }

    @AfterAll
    static void powerOff() throws Exception {
        kernel.powerOff(0);
        kernel.awaitPoweredOff(Duration.ofSeconds(30));
    }

    private static String read(final String path) throws Exception {
        return new String(vfs.readFile(path), StandardCharsets.UTF_8);
    }

    @Test
    void shouldReadFilesOfTheHostFolder() throws Exception {
        assertEquals("hello through virtio-fs\n", read("/host/hello.txt"));
        assertEquals("x = 1\n", read("/host/etc/app.conf"));
        assertArrayEquals(Files.readAllBytes(dir.resolve("shared/big.bin")), vfs.readFile("/host/big.bin"));
        final Stat st = new Stat();
        assertEquals(0, vfs.stat("/host/big.bin", st));
        assertEquals(300_000, st.size);
        assertTrue(st.isRegular());
        assertTrue(read("/proc/mounts").contains("host0 /host virtiofs"), read("/proc/mounts"));
        final String boot = CONSOLE.toString(StandardCharsets.UTF_8);
        assertTrue(boot.contains("virtio-fs"), boot);
    }

    @Test
    void shouldListADirectory() throws Exception {
        final List<String> names = vfs.list("/host/etc").stream().map(Dirent::name).toList();
        assertEquals(List.of("app.conf", "conf.d", "motd"), names);
        final List<String> top = vfs.list("/host").stream().map(Dirent::name).sorted().toList();
        assertTrue(top.containsAll(List.of("absolute", "big.bin", "escape", "etc", "hello.txt")), top.toString());
    }

    @Test
    void shouldFollowALinkThatStaysInside() throws Exception {
        assertEquals("hello through virtio-fs\n", read("/host/etc/motd"));
        final byte[] buf = new byte[64];
        final int n = vfs.readlink("/host/etc/motd", buf);
        assertEquals("../hello.txt", new String(buf, 0, n, StandardCharsets.UTF_8));
        final Stat st = new Stat();
        assertEquals(0, vfs.lstat("/host/etc/motd", st));
        assertTrue(st.isSymlink());
    }

    @Test
    void shouldAnswerErofsToWrites() throws Exception {
        assertEquals(Errno.EROFS.negative(), vfs.open("/host/new.txt", Posix.O_CREAT | Posix.O_WRONLY, 0644));
        assertEquals(Errno.EROFS.negative(), vfs.open("/host/hello.txt", Posix.O_WRONLY));
        assertEquals(Errno.EROFS.negative(), vfs.mkdir("/host/newdir", 0755));
        assertEquals(Errno.EROFS.negative(), vfs.unlink("/host/hello.txt"));
        assertEquals(Errno.EROFS.negative(), vfs.rename("/host/hello.txt", "/host/moved.txt"));
        assertEquals(Errno.EROFS.negative(), vfs.symlink("x", "/host/link"));
        assertEquals(Errno.EROFS.negative(), vfs.truncate("/host/hello.txt", 0));
        assertEquals("hello through virtio-fs\n", Files.readString(dir.resolve("shared/hello.txt")));
        assertTrue(!Files.exists(dir.resolve("shared/new.txt")));
    }

    @Test
    void shouldFindNothingOfTheHostThroughEscapes() throws Exception {
        for (final String escape : List.of("/host/../secret", "/host/../../secret", "/host/etc/../../secret",
            "/host/escape", "/host/absolute")) {
            assertEquals(Errno.ENOENT, assertThrows(ErrnoException.class, () -> vfs.readFile(escape)).errno(), escape);
        }
        final Stat st = new Stat();
        assertEquals(Errno.ENOENT.negative(), vfs.stat("/host/escape", st));
        assertEquals(0, vfs.lstat("/host/escape", st)); // the link itself is there, as text
    }

    @Test
    void shouldSeeFilesTheHostCreatesAndRemoves() throws Exception {
        final Stat st = new Stat();
        assertEquals(Errno.ENOENT.negative(), vfs.stat("/host/later.txt", st));
        Files.writeString(dir.resolve("shared/later.txt"), "later\n");
        assertEquals("later\n", read("/host/later.txt"));
        Files.delete(dir.resolve("shared/later.txt"));
        assertEquals(Errno.ENOENT.negative(), vfs.stat("/host/later.txt", st));
    }

    @Test
    void shouldAnswerStatfsAsFuse() {
        final StatFs out = new StatFs();
        assertEquals(0, vfs.statfs("/host", out));
        assertEquals(VirtioFs.FUSE_SUPER_MAGIC, out.type);
        assertEquals(4096, out.bsize);
        assertTrue(out.blocks > 0 && out.bfree <= out.blocks, out.toString());
    }
}
