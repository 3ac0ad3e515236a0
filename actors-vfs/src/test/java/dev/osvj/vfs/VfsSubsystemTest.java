package dev.osvj.vfs;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.Errno;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.console.OutputRedirect;
import dev.osvj.kernel.testing.StandaloneKernel;
import dev.osvj.sched.SchedSubsystem;
import dev.osvj.vfs.blk.BlockDevice;
import dev.osvj.vfs.blk.BlockDeviceProvider;
import dev.osvj.vfs.blk.MemoryBlockDevice;
import dev.osvj.vfs.pseudo.DevFs;
import dev.osvj.vfs.pseudo.ProcFs;
import dev.osvj.vfs.pseudo.SysFs;
import dev.osvj.vfs.rofs.MkImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VfsSubsystemTest {
    @TempDir
    Path dir;

    /** A standalone kernel over a config; the VFS boots on the test thread (it spawns no actors). */
    private static StandaloneKernel kernel(final Config config) {
        return new StandaloneKernel("test", config);
    }

    private static ConfigSpec spec() {
        final ConfigSpec spec = new ConfigSpec("osvj");
        new SchedSubsystem().declareConfig(spec);
        new dev.osvj.mmu.MmuSubsystem().declareConfig(spec);
        new VfsSubsystem().declareConfig(spec);
        return spec;
    }

    private static Config config(final String overrides) {
        ConfigFactory.invalidateCaches();
        return ConfigFactory.parseString(overrides).withFallback(ConfigFactory.defaultReference()).resolve();
    }

    @Test
    void shouldDeclareExactlyTheKeysOfReferenceConf() {
        final List<ConfigProblem> problems = spec().validate(config(""));
        assertEquals(List.of(), problems);
        final List<ConfigProblem> typo = spec().validate(config("osvj.vfs.max-fd = 3"));
        assertTrue(typo.toString().contains("did you mean osvj.vfs.max-fds"), typo.toString());
        final List<ConfigProblem> badMount = spec().validate(config("osvj.mounts = [{type = zfs, source = x, path = \"rel\", options = \"\"}]"));
        assertEquals(2, badMount.size(), badMount.toString());
    }

    @Test
    void shouldBeFoundByTheServiceLoader() {
        boolean found = false;
        for (final Subsystem s : ServiceLoader.load(Subsystem.class)) {
            if (s instanceof VfsSubsystem v) {
                found = true;
                assertEquals(Subsystem.Order.VFS, v.order());
                assertEquals("VFS initialized", v.phase());
                assertEquals("vfs", v.name());
            }
        }
        assertTrue(found);
    }

    @Test
    void shouldMountTheDefaultsPublishServicesAndRunCommands() throws Exception {
        final StandaloneKernel ctx = kernel(config(""));
        final VfsSubsystem sub = new VfsSubsystem();
        sub.declareTracepoints(ctx.tracepoints());
        assertTrue(ctx.tracepoints().names().contains("osvj.vfs.Mount"));
        ctx.boot(sub);
        final Vfs vfs = ctx.services().require(Vfs.class);
        ctx.services().require(DevFs.class);
        ctx.services().require(SysFs.class);
        final ProcFs proc = ctx.services().require(ProcFs.class);
        assertEquals(List.of("/", "/dev", "/proc", "/sys", "/tmp"), vfs.mounts().stream().map(Mount::path).toList());
        final String mounts = new String(vfs.readFile("/proc/mounts"), StandardCharsets.UTF_8);
        assertTrue(mounts.contains("none /proc procfs rw 0 0"), mounts);
        assertEquals("0-1\n", new String(vfs.readFile("/sys/devices/system/cpu/online"), StandardCharsets.UTF_8));
        assertTrue(new String(vfs.readFile("/proc/meminfo"), StandardCharsets.UTF_8).startsWith("MemTotal:"));
        assertEquals(4, vfs.readFile("/proc/cpuinfo").length > 0 ? 4 : 0);
        // Another subsystem replaces an entry through the provider interface.
        proc.file("meminfo", () -> "MemTotal: 42 kB\n");
        assertEquals("MemTotal: 42 kB\n", new String(vfs.readFile("/proc/meminfo"), StandardCharsets.UTF_8));
        proc.file("net/dev", () -> "eth0\n");
        assertEquals("eth0\n", new String(vfs.readFile("/proc/net/dev"), StandardCharsets.UTF_8));
        // devfs
        final int z = vfs.open("/dev/zero", Posix.O_RDONLY);
        final byte[] buf = {1, 2, 3};
        assertEquals(3, vfs.read(z, buf, 0, 3));
        assertEquals(0, buf[0] | buf[1] | buf[2]);
        final int nul = vfs.open("/dev/null", Posix.O_RDWR);
        assertEquals(3, vfs.write(nul, buf, 0, 3));
        assertEquals(0, vfs.read(nul, buf, 0, 3));
        final int rnd = vfs.open("/dev/urandom", Posix.O_RDONLY);
        assertEquals(64, vfs.read(rnd, new byte[64], 0, 64));
        assertTrue(vfs.stat("/dev/console").mode == (Posix.S_IFCHR | 0600));
        // console commands
        // the shell's > and >> go through the VFS's OutputRedirect service
        final OutputRedirect redirect = ctx.services().require(OutputRedirect.class);
        assertEquals(12, redirect.write("/tmp/greeting", "hello world\n".getBytes(StandardCharsets.UTF_8), false));
        assertEquals(6, redirect.write("/tmp/greeting", "again\n".getBytes(StandardCharsets.UTF_8), true));
        assertTrue(redirect.write("/proc/greeting", new byte[1], false) < 0, "procfs takes no new files");
        assertEquals("0:hello world\nagain\n", ctx.run("cat /tmp/greeting"));
        assertEquals("0:", ctx.run("mkdir -p /tmp/a/b/c"));
        assertEquals("0:", ctx.run("cp /tmp/greeting /tmp/a/b"));
        assertEquals("0:", ctx.run("mv /tmp/a/b/greeting /tmp/a/moved"));
        assertEquals("0:b\nmoved\n", ctx.run("ls /tmp/a"));
        assertTrue(ctx.run("ls -l /tmp/a").matches("(?s)0:drwxr-xr-x .* b\n-rw-r--r-- .* 18 .* moved\n"), ctx.run("ls -l /tmp/a"));
        assertTrue(ctx.run("stat /tmp/a/moved").contains("regular file"));
        assertEquals("1:rm: cannot remove '/tmp/a': Is a directory\n", ctx.run("rm /tmp/a"));
        assertEquals("0:", ctx.run("rm -r /tmp/a"));
        assertEquals("1:ls: cannot access '/tmp/a': No such file or directory\n", ctx.run("ls /tmp/a"));
        assertTrue(ctx.run("df").contains("/tmp"));
        assertTrue(ctx.run("mount").contains("none on /proc type procfs (rw)"));
        assertEquals("1:mount: /tmp: Device or resource busy\n", ctx.run("mount -t ramfs none /tmp"));
        assertEquals("0:", ctx.run("mkdir /tmp/m"));
        assertEquals("0:", ctx.run("mount -t ramfs -o size=1M none /tmp/m"));
        assertTrue(ctx.run("df /tmp/m").contains("1024"), ctx.run("df /tmp/m"));
        assertEquals("0:", ctx.run("umount /tmp/m"));
        assertEquals("1:umount: /: Device or resource busy\n", ctx.run("umount /"));
        assertTrue(ctx.notes().contains("VFS: mounted procfs at /proc"), ctx.notes().toString());
        sub.stop(ctx);
    }

    /** A rofs image of {@code files} (relative path to content; a path ending in "/" is a directory). */
    private Path image(final String name, final Map<String, String> files) throws Exception {
        final Path src = Files.createDirectories(dir.resolve(name));
        for (final Map.Entry<String, String> f : files.entrySet()) {
            if (f.getKey().endsWith("/")) {
                Files.createDirectories(src.resolve(f.getKey()));
            } else {
                Files.createDirectories(src.resolve(f.getKey()).getParent());
                Files.writeString(src.resolve(f.getKey()), f.getValue());
            }
        }
        final Path img = dir.resolve(name + ".img");
        MkImage.build(src, img, (d, t) -> {
        });
        return img;
    }

    /** A kernel with {@code img} as the disk /dev/vblk0, mounted at {@code path} ("/" first, others last). */
    private static StandaloneKernel kernelWithDisk(final Path img, final String path) {
        final String entry = "[{type = rofs, source = \"/dev/vblk0\", path = \"" + path + "\", options = \"\"}]";
        return kernel(config("osvj.vfs.disks = [{file = \"" + img + "\", read-only = true}]\n"
            + "osvj.mounts = " + ("/".equals(path) ? entry + " ${osvj.mounts}" : "${osvj.mounts} " + entry)));
    }

    @Test
    void shouldMountARofsDiskFromTheConfiguration() throws Exception {
        final StandaloneKernel ctx = kernelWithDisk(image("app", Map.of("main.txt", "from the image")), "/app");
        final VfsSubsystem sub = new VfsSubsystem();
        ctx.boot(sub);
        final Vfs vfs = ctx.services().require(Vfs.class);
        assertEquals("from the image", new String(vfs.readFile("/app/main.txt"), StandardCharsets.UTF_8));
        assertEquals(Posix.S_IFBLK, vfs.stat("/dev/vblk0").mode & Posix.S_IFMT);
        sub.stop(ctx);
    }

    @Test
    void shouldMountARofsImageOfAProvidedDeviceAndNumberTheDisksAfterIt() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("prov"));
        Files.writeString(src.resolve("hello.txt"), "through the provider");
        final Path img = dir.resolve("prov.img");
        MkImage.build(src, img, (d, t) -> {
        });
        final Path disk = dir.resolve("disk.img");
        Files.write(disk, new byte[4096]);
        final StandaloneKernel ctx = kernel(config("osvj.vfs.disks = [{file = \"" + disk + "\", read-only = true}]\n"
            + "osvj.mounts = ${osvj.mounts} [{type = rofs, source = \"/dev/vblk0\", path = \"/app\", options = \"\"}]"));
        final BlockDevice provided = new MemoryBlockDevice("vblk0", Files.readAllBytes(img), true);
        ctx.services().provide(BlockDeviceProvider.class, () -> List.of(provided));
        final VfsSubsystem sub = new VfsSubsystem();
        ctx.boot(sub);
        final Vfs vfs = ctx.services().require(Vfs.class);
        assertEquals("through the provider", new String(vfs.readFile("/app/hello.txt"), StandardCharsets.UTF_8));
        final Stat st = new Stat();
        assertEquals(0, vfs.stat("/dev/vblk1", st));
        assertEquals(4096, st.size, "the disk image takes the first free name");
        assertEquals(0, vfs.stat("/dev/vblk0", st));
        assertEquals(provided.size(), st.size);
        sub.stop(ctx);
    }

    @Test
    void shouldBootWithARofsRootAndRamfsOnTmpAsOsvDoes() throws Exception {
        final StandaloneKernel ctx = kernelWithDisk(image("root", Map.of("dev/", "", "proc/", "", "sys/", "", "tmp/", "",
            "etc/hostname", "from the root image\n")), "/");
        final VfsSubsystem sub = new VfsSubsystem();
        ctx.boot(sub);
        final Vfs vfs = ctx.services().require(Vfs.class);
        assertEquals("from the root image\n", new String(vfs.readFile("/etc/hostname"), StandardCharsets.UTF_8));
        assertEquals("rofs", vfs.mountOf("/").type());
        assertEquals("rofs", vfs.mountOf("/etc/..").type());
        assertEquals("/", vfs.getcwd());
        assertEquals(-Errno.EROFS.number(), vfs.open("/etc/new", Posix.O_CREAT | Posix.O_WRONLY, 0644));
        // /tmp is a ramfs on the image's directory; /proc and /dev work.
        vfs.writeFile("/tmp/scratch", new byte[] {1, 2, 3});
        assertEquals(3, vfs.stat("/tmp/scratch").size);
        assertEquals("ramfs", vfs.mountOf("/tmp").type());
        assertEquals("/tmp", vfs.mountOf("/tmp/..//tmp/.").path());
        final String mounts = new String(vfs.readFile("/proc/mounts"), StandardCharsets.UTF_8);
        assertTrue(mounts.startsWith("/dev/vblk0 / rofs ro 0 0\n"), mounts);
        assertEquals(List.of("/", "/dev", "/proc", "/sys", "/tmp"), vfs.mounts().stream().map(Mount::path).toList());
        assertEquals(0, vfs.chdir("/tmp"));
        assertEquals("/tmp", vfs.getcwd());
        assertEquals(0, vfs.chdir("/"));
        assertEquals(-Errno.EBUSY.number(), vfs.umount("/"));
        sub.stop(ctx);
    }

    @Test
    void shouldSayWhatAReadOnlyRootLacks() throws Exception {
        final StandaloneKernel ctx = kernelWithDisk(image("bare", Map.of("only-a-file", "x")), "/");
        final IllegalStateException e = assertThrows(IllegalStateException.class, () -> ctx.boot(new VfsSubsystem()));
        assertEquals("VFS: cannot create mount point /dev: EROFS (Read-only file system) (a read-only root must contain "
            + "its mount points: add the directory to the image)", e.getMessage());
    }

    @Test
    void shouldRefuseToPivotOverOpenFiles() {
        final Vfs vfs = TestVfs.ramfsRoot();
        final int fd = vfs.open("/held", Posix.O_CREAT | Posix.O_RDWR, 0644);
        assertTrue(fd >= 0);
        assertEquals(-Errno.EBUSY.number(), vfs.mount("ramfs", "none", "/", Map.of()));
        assertEquals(0, vfs.close(fd));
        assertEquals(0, vfs.mount("ramfs", "none", "/", Map.of()));
        assertEquals(-Errno.ENOENT.number(), vfs.open("/held", Posix.O_RDONLY), "the old root is hidden");
        assertEquals(List.of("/"), vfs.mounts().stream().map(Mount::path).toList(), "the old root is detached");
    }

    @Test
    void shouldRefuseTwoProvidedDevicesWithOneName() {
        final StandaloneKernel ctx = kernel(config(""));
        ctx.services().provide(BlockDeviceProvider.class, () -> List.of(
            new MemoryBlockDevice("vblk0", new byte[512], true), new MemoryBlockDevice("vblk0", new byte[512], true)));
        final IllegalStateException e = assertThrows(IllegalStateException.class, () -> ctx.boot(new VfsSubsystem()));
        assertEquals("VFS: two block devices are named vblk0", e.getMessage());
    }

    @Test
    void shouldFailTheBootClearlyWhenAMountFails() {
        final StandaloneKernel ctx = kernel(config("osvj.mounts = [{type = rofs, source = \"/dev/vblk7\", path = \"/app\", options = \"\"}]"));
        final IllegalStateException e = assertThrows(IllegalStateException.class, () -> ctx.boot(new VfsSubsystem()));
        assertEquals("VFS: mounting rofs /dev/vblk7 at /app failed: ENXIO (No such device or address)", e.getMessage());
    }
}
