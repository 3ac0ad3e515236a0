package dev.osvj.vfs;

import dev.osvj.kernel.ErrnoException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** The tree every filesystem contract test starts from, built on the host (for images) or through a VFS. */
final class ContractTree {
    static final byte[] HELLO = "hello world\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    static final byte[] DEEP = "deep".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    static final byte[] BIG = big();

    private ContractTree() {
    }

    private static byte[] big() {
        final byte[] b = new byte[300 * 1024 + 123];
        new Random(7).nextBytes(b);
        return b;
    }

    /** Build the tree on the host below {@code root}; {@code mountPoint} is where the image will be mounted. */
    static void writeHost(final Path root, final String mountPoint) throws IOException {
        Files.write(root.resolve("hello.txt"), HELLO);
        Files.write(root.resolve("empty"), new byte[0]);
        Files.write(root.resolve("big.bin"), BIG);
        Files.createDirectories(root.resolve("dir/sub"));
        Files.write(root.resolve("dir/sub/deep.txt"), DEEP);
        Files.createSymbolicLink(root.resolve("dir/link"), Path.of("../hello.txt"));
        Files.createSymbolicLink(root.resolve("dir/abs"), Path.of(mountPoint + "/hello.txt"));
        Files.createDirectories(root.resolve("emptydir"));
        for (int i = 0; i < 40; i++) {
            Files.write(root.resolve("dir/f" + i), new byte[]{(byte)i});
        }
    }

    /** Build the tree through the VFS below {@code root}. */
    static void writeVfs(final Vfs vfs, final String root) throws ErrnoException {
        vfs.writeFile(root + "/hello.txt", HELLO);
        vfs.writeFile(root + "/empty", new byte[0]);
        vfs.writeFile(root + "/big.bin", BIG);
        TestVfs.check(vfs.mkdir(root + "/dir", 0755));
        TestVfs.check(vfs.mkdir(root + "/dir/sub", 0755));
        vfs.writeFile(root + "/dir/sub/deep.txt", DEEP);
        TestVfs.check(vfs.symlink("../hello.txt", root + "/dir/link"));
        TestVfs.check(vfs.symlink(root + "/hello.txt", root + "/dir/abs"));
        TestVfs.check(vfs.mkdir(root + "/emptydir", 0755));
        for (int i = 0; i < 40; i++) {
            vfs.writeFile(root + "/dir/f" + i, new byte[]{(byte)i});
        }
    }
}
