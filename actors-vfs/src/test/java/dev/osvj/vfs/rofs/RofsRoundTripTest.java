package dev.osvj.vfs.rofs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.kernel.KernelClock;
import dev.osvj.vfs.Dirent;
import dev.osvj.vfs.Stat;
import dev.osvj.vfs.Vfs;
import dev.osvj.vfs.blk.BlockDevice;
import dev.osvj.vfs.blk.MappedFileBlockDevice;
import dev.osvj.vfs.blk.MemoryBlockDevice;
import dev.osvj.vfs.ramfs.RamFs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Build an image from a generated tree, mount it, compare every byte, name and link. */
class RofsRoundTripTest {
    @TempDir
    Path dir;

    private static Vfs mount(final BlockDevice dev) {
        final Vfs vfs = new Vfs(64, 1024, KernelClock.SYSTEM);
        vfs.registerFileSystem(new RamFs());
        vfs.registerFileSystem(new RofsFs(s -> "/dev/vblk0".equals(s) ? dev : null, 256 * 1024));
        assertEquals(0, vfs.mount("ramfs", "none", "/", Map.of()));
        assertEquals(0, vfs.mkdir("/img", 0755));
        final int r = vfs.mount("rofs", "/dev/vblk0", "/img", Map.of());
        assertEquals(0, r, "mount: " + Errno.fromResult(r));
        return vfs;
    }

    /** A random tree: nested directories, files of many sizes (empty, sub-block, block-exact, multi-MiB), symlinks. */
    private static void generate(final Path root, final long seed) throws Exception {
        final Random rnd = new Random(seed);
        final int[] sizes = {0, 1, 511, 512, 513, 4095, 4096, 4097, 65536, 100_000, 3 * 1024 * 1024 + 17};
        Path cur = root;
        for (int d = 0; d < 12; d++) {
            final Path sub = Files.createDirectories(cur.resolve("dir" + d + (d % 3 == 0 ? "-ünï" : "")));
            for (int f = 0; f < 6; f++) {
                final byte[] data = new byte[sizes[rnd.nextInt(sizes.length)]];
                rnd.nextBytes(data);
                Files.write(sub.resolve("file" + f + ".bin"), data);
            }
            Files.createSymbolicLink(sub.resolve("up"), Path.of(".."));
            Files.createSymbolicLink(sub.resolve("dangling"), Path.of("no/such/" + "x".repeat(rnd.nextInt(200))));
            cur = rnd.nextBoolean() ? sub : root;
        }
        Files.write(root.resolve("big"), new byte[5 * 1024 * 1024]);
        Files.createDirectories(root.resolve("empty-dir"));
        Files.createSymbolicLink(root.resolve("abs-link"), Path.of("/img/big"));
    }

    /** Every path below {@code root} mapped to a description that must be equal on both sides. */
    private static Map<String, String> hostView(final Path root) throws Exception {
        final Map<String, String> view = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (final Path p : walk.toList()) {
                final String rel = "/" + root.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    view.put(rel, "link " + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    view.put(rel, "dir");
                } else {
                    view.put(rel, "file " + Files.size(p));
                }
            }
        }
        view.put("/", view.remove("/"));
        return view;
    }

    private static void vfsView(final Vfs vfs, final String base, final String rel, final Map<String, String> out)
        throws ErrnoException {
        final String path = base + rel;
        final Stat st = vfs.lstat(path);
        if (st.isSymlink()) {
            out.put(rel.isEmpty() ? "/" : rel, "link " + vfs.readlink(path));
        } else if (st.isDirectory()) {
            out.put(rel.isEmpty() ? "/" : rel, "dir");
            for (final Dirent d : vfs.list(path)) {
                vfsView(vfs, base, rel + "/" + d.name(), out);
            }
        } else {
            out.put(rel, "file " + st.size);
        }
    }

    @Test
    void shouldRoundTripAGeneratedTreeByteForByte() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src"));
        generate(src, 11);
        final Path image = dir.resolve("out/app.img");
        final MkImage.Summary s = MkImage.build(src, image, (d, t) -> {
        });
        assertEquals(Files.size(image), s.imageBytes());
        assertEquals(0, s.imageBytes() % 512);
        try (MappedFileBlockDevice dev = MappedFileBlockDevice.open("vblk0", image, true)) {
            final Vfs vfs = mount(dev);
            final Map<String, String> host = hostView(src);
            final Map<String, String> osvj = new TreeMap<>();
            vfsView(vfs, "/img", "", osvj);
            assertEquals(host, osvj);
            for (final Map.Entry<String, String> e : host.entrySet()) {
                if (e.getValue().startsWith("file")) {
                    assertArrayEquals(Files.readAllBytes(src.resolve(e.getKey().substring(1))), vfs.readFile("/img" + e.getKey()),
                        e.getKey());
                }
            }
            assertEquals(s.files(), host.values().stream().filter(v -> v.startsWith("file")).count());
            assertEquals(s.symlinks(), host.values().stream().filter(v -> v.startsWith("link")).count());
            assertEquals(s.directories() + 1, host.values().stream().filter(v -> v.equals("dir")).count());
            assertEquals(5 * 1024 * 1024, vfs.readFile("/img/abs-link").length, "absolute link into the image");
            assertTrue(vfs.stat("/img/dir0-ünï/up").isDirectory());
        }
    }

    @Test
    void shouldProduceTheSameImageForTheSameTree() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src"));
        generate(src, 5);
        MkImage.build(src, dir.resolve("a.img"), (d, t) -> {
        });
        MkImage.build(src, dir.resolve("b.img"), (d, t) -> {
        });
        assertArrayEquals(Files.readAllBytes(dir.resolve("a.img")), Files.readAllBytes(dir.resolve("b.img")));
    }

    @Test
    void shouldRefuseSpecialFilesWithAClearMessageAndNoImage() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src"));
        Files.write(src.resolve("ok"), new byte[]{1});
        final Path sock = src.resolve("control.sock");
        try (ServerSocketChannel ch = ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(sock));
            final ByteArrayOutputStream out = new ByteArrayOutputStream();
            final ByteArrayOutputStream err = new ByteArrayOutputStream();
            final Path image = dir.resolve("x.img");
            final int code = MkImage.run(new String[]{src.toString(), image.toString()}, new PrintStream(out),
                new PrintStream(err), false);
            assertEquals(1, code);
            final String msg = err.toString(StandardCharsets.UTF_8);
            assertTrue(msg.contains("refusing " + sock) && msg.contains("socket") && msg.contains("only regular files"), msg);
            assertFalse(Files.exists(image), "no partial image");
            assertEquals("", out.toString(StandardCharsets.UTF_8));
        }
        Files.deleteIfExists(sock);
        final Path fifo = src.resolve("pipe");
        final Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        if (mkfifo.waitFor() == 0) {
            final MkImage.MkImageException e = assertThrows(MkImage.MkImageException.class,
                () -> MkImage.build(src, dir.resolve("y.img"), (d, t) -> {
                }));
            assertTrue(e.getMessage().contains("FIFO"), e.getMessage());
        }
    }

    @Test
    void shouldPrintAProgressBarOnATerminalAndASummaryLine() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src"));
        Files.write(src.resolve("a"), new byte[3 * 1024 * 1024]);
        Files.createDirectories(src.resolve("d"));
        Files.createSymbolicLink(src.resolve("l"), Path.of("a"));
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final Path image = dir.resolve("p.img");
        assertEquals(0, MkImage.run(new String[]{src.toString(), image.toString()}, new PrintStream(out), new PrintStream(err), true));
        final String bar = err.toString(StandardCharsets.UTF_8);
        assertTrue(bar.contains("\rmkimage [") && bar.contains("100%"), bar);
        assertEquals("mkimage: wrote " + image + ": 1 files, 1 directories, 1 symlinks, 3145728 bytes of data; image "
            + Files.size(image) + " bytes (" + Files.size(image) / 512 + " blocks)\n", out.toString(StandardCharsets.UTF_8));
        final ByteArrayOutputStream quiet = new ByteArrayOutputStream();
        assertEquals(0, MkImage.run(new String[]{src.toString(), image.toString()}, new PrintStream(out), new PrintStream(quiet), false));
        assertEquals("", quiet.toString(StandardCharsets.UTF_8), "no bar when not on a terminal");
        assertEquals(2, MkImage.run(new String[]{"only-one"}, new PrintStream(out), new PrintStream(quiet), false));
        assertEquals(1, MkImage.run(new String[]{dir.resolve("nothere").toString(), image.toString()}, new PrintStream(out),
            new PrintStream(quiet), false));
    }

    @Test
    void shouldRefuseCorruptImagesAtMount() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src"));
        generate(src, 3);
        final Path image = dir.resolve("c.img");
        MkImage.build(src, image, (d, t) -> {
        });
        final byte[] good = Files.readAllBytes(image);
        final Vfs vfs = new Vfs(16, 16, KernelClock.SYSTEM);
        final byte[][] holder = new byte[1][];
        vfs.registerFileSystem(new RamFs());
        vfs.registerFileSystem(new RofsFs(s -> new MemoryBlockDevice("vblk0", holder[0], true), 4096));
        vfs.mount("ramfs", "none", "/", Map.of());
        vfs.mkdir("/m", 0755);
        // Bad magic, then an inode count far past the structure area, then a truncated device.
        holder[0] = good.clone();
        holder[0][0] = 0;
        assertEquals(Errno.EINVAL, Errno.fromResult(vfs.mount("rofs", "x", "/m", Map.of())));
        holder[0] = good.clone();
        ByteBuffer.wrap(holder[0]).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(56, 1L << 40);
        assertEquals(Errno.EINVAL, Errno.fromResult(vfs.mount("rofs", "x", "/m", Map.of())));
        holder[0] = java.util.Arrays.copyOf(good, 1024);
        assertEquals(Errno.EINVAL, Errno.fromResult(vfs.mount("rofs", "x", "/m", Map.of())));
        holder[0] = good.clone();
        assertEquals(0, vfs.mount("rofs", "x", "/m", Map.of()));
    }
}
