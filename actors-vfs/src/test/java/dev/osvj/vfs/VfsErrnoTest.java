package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.osvj.vfs.Posix.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Errno cases of the VFS that the host oracle cannot express: mounts, limits, read-only, getdents, cwd. */
class VfsErrnoTest {
    private static Errno err(final long r) {
        return Errno.fromResult(r);
    }

    @Test
    void shouldRefuseDescriptorsPastTheLimitWithEmfile() {
        final Vfs vfs = TestVfs.ramfsRoot(8, 64);
        TestVfs.check(vfs.open("/f", O_CREAT | O_RDWR, 0644));
        final List<Integer> fds = new ArrayList<>();
        for (int i = 1; i < 8; i++) {
            final int fd = vfs.open("/f", O_RDONLY);
            assertTrue(fd >= 0, "fd " + i);
            fds.add(fd);
        }
        assertEquals(Errno.EMFILE, err(vfs.open("/f", O_RDONLY)));
        assertEquals(Errno.EMFILE, err(vfs.open("/nothere", O_RDONLY)));
        assertEquals(Errno.EMFILE, err(vfs.dup(0)));
        assertEquals(Errno.EMFILE, err(vfs.pipe(new int[2])));
        assertEquals(Errno.EINVAL, err(vfs.fcntl(0, F_DUPFD, 8)));
        assertEquals(Errno.EBADF, err(vfs.dup2(0, 8)));
        vfs.close(fds.get(2));
        assertEquals(3, vfs.open("/f", O_RDONLY), "lowest free descriptor is reused");
        vfs.close(fds.get(0));
        vfs.close(fds.get(1));
        final int[] p = new int[2];
        TestVfs.check(vfs.pipe(p));
        assertEquals(1, p[0]);
        assertEquals(2, p[1]);
    }

    @Test
    void shouldAnswerErofsOnReadOnlyMount() throws ErrnoException {
        final Vfs vfs = TestVfs.ramfsRoot();
        TestVfs.check(vfs.mkdir("/ro", 0755));
        TestVfs.check(vfs.mkdir("/ro2", 0755));
        vfs.writeFile("/ro/existing", "x".getBytes(StandardCharsets.US_ASCII));
        TestVfs.check(vfs.mount("ramfs", "none", "/ro2", Map.of("ro", "")));
        assertEquals(Errno.EROFS, err(vfs.open("/ro2/f", O_CREAT | O_WRONLY, 0644)));
        assertEquals(Errno.EROFS, err(vfs.mkdir("/ro2/d", 0755)));
        assertEquals(Errno.EEXIST, err(vfs.mkdir("/ro2", 0755)), "EEXIST wins over EROFS");
        assertEquals(Errno.EROFS, err(vfs.symlink("x", "/ro2/l")));
        assertEquals(Errno.EROFS, err(vfs.open("/ro2", O_RDONLY | O_DIRECTORY) >= 0 ? vfs.access("/ro2", W_OK) : -1));
        assertEquals(0, vfs.access("/ro2", R_OK));
        assertEquals(Errno.EROFS, err(vfs.chmod("/ro2", 0700)));
        assertEquals(Errno.EROFS, err(vfs.utimensat(AT_FDCWD, "/ro2", 0, UTIME_NOW, 0, UTIME_NOW, 0)));
        assertEquals(Errno.EROFS, err(vfs.rmdir("/ro2/x")));
        assertEquals(Errno.ENOENT, err(vfs.unlink("/ro2/x")));
        final StatFs sfs = new StatFs();
        TestVfs.check(vfs.statfs("/ro2", sfs));
        assertEquals(1, sfs.flags);
    }

    @Test
    void shouldKeepMountTableRules() throws ErrnoException {
        final Vfs vfs = TestVfs.ramfsRoot();
        TestVfs.check(vfs.mkdir("/mnt", 0755));
        vfs.writeFile("/mnt/hidden", new byte[]{1});
        vfs.writeFile("/file", new byte[]{1});
        assertEquals(Errno.ENODEV, err(vfs.mount("nosuchfs", "none", "/mnt", Map.of())));
        assertEquals(Errno.ENOTDIR, err(vfs.mount("ramfs", "none", "/file", Map.of())));
        assertEquals(Errno.ENOENT, err(vfs.mount("ramfs", "none", "/nothere", Map.of())));
        TestVfs.check(vfs.mount("ramfs", "none", "/mnt", Map.of()));
        assertEquals(Errno.EBUSY, err(vfs.mount("ramfs", "none", "/mnt", Map.of())));
        assertEquals(Errno.ENOENT, err(vfs.stat("/mnt/hidden", new Stat())), "the mount covers the directory");
        vfs.writeFile("/mnt/new", new byte[]{2});
        assertEquals(Errno.EXDEV, err(vfs.rename("/mnt/new", "/new")));
        assertEquals(Errno.EXDEV, err(vfs.link("/mnt/new", "/new")));
        assertEquals(Errno.EBUSY, err(vfs.rmdir("/mnt")));
        assertEquals(Errno.EBUSY, err(vfs.rename("/mnt", "/mnt2")));
        assertEquals("/mnt", vfs.mounts().get(1).path());
        // Busy: an open file, then a working directory, then a mount below.
        final int fd = vfs.open("/mnt/new", O_RDONLY);
        assertEquals(Errno.EBUSY, err(vfs.umount("/mnt")));
        vfs.close(fd);
        TestVfs.check(vfs.chdir("/mnt"));
        assertEquals(Errno.EBUSY, err(vfs.umount("/mnt")));
        assertEquals("/mnt", vfs.getcwd());
        TestVfs.check(vfs.chdir(".."));
        assertEquals("/", vfs.getcwd());
        TestVfs.check(vfs.mkdir("/mnt/sub", 0755));
        TestVfs.check(vfs.mount("ramfs", "none", "/mnt/sub", Map.of()));
        assertEquals(Errno.EBUSY, err(vfs.umount("/mnt")));
        assertEquals(Errno.EINVAL, err(vfs.umount("/mnt/new")));
        assertEquals(Errno.EBUSY, err(vfs.umount("/")));
        TestVfs.check(vfs.umount("/mnt/sub"));
        TestVfs.check(vfs.umount("/mnt"));
        assertEquals(1, vfs.readFile("/mnt/hidden")[0], "uncovered again");
        assertEquals(1, vfs.mounts().size());
    }

    @Test
    void shouldCrossMountsWithDotDot() throws ErrnoException {
        final Vfs vfs = TestVfs.ramfsRoot();
        TestVfs.check(vfs.mkdir("/a", 0755));
        TestVfs.check(vfs.mkdir("/a/m", 0755));
        TestVfs.check(vfs.mount("ramfs", "none", "/a/m", Map.of()));
        TestVfs.check(vfs.mkdir("/a/m/d", 0755));
        vfs.writeFile("/a/top", new byte[]{7});
        assertEquals(7, vfs.readFile("/a/m/d/../../top")[0]);
        assertEquals(7, vfs.readFile("/a/m/../top")[0]);
        TestVfs.check(vfs.chdir("/a/m/d"));
        assertEquals("/a/m/d", vfs.getcwd());
        assertEquals(7, vfs.readFile("../../top")[0]);
        assertEquals(7, vfs.readFile("/../../a/top")[0], ".. at the root stays at the root");
        final List<Dirent> entries = new ArrayList<>();
        final int fd = vfs.open("/a/m", O_RDONLY | O_DIRECTORY);
        vfs.getdents(fd, entries, 10);
        vfs.close(fd);
        final Stat a = vfs.stat("/a");
        assertEquals(a.ino, entries.get(1).ino(), ".. of a mount root is the covered directory's parent");
    }

    @Test
    void shouldListDotAndDotDotFirst() throws ErrnoException {
        final Vfs vfs = TestVfs.ramfsRoot();
        TestVfs.check(vfs.mkdir("/d", 0755));
        final int fd = vfs.open("/d", O_RDONLY | O_DIRECTORY);
        final List<Dirent> out = new ArrayList<>();
        assertEquals(2, vfs.getdents(fd, out, 100));
        assertEquals(".", out.get(0).name());
        assertEquals("..", out.get(1).name());
        assertEquals(0, vfs.getdents(fd, out, 100));
        for (int i = 0; i < 50; i++) {
            vfs.writeFile("/d/f" + i, new byte[0]);
        }
        TestVfs.check(vfs.lseek(fd, 0, SEEK_SET));
        out.clear();
        while (vfs.getdents(fd, out, 7) > 0) {
            // small batches: cookies must continue exactly
        }
        assertEquals(52, out.size());
        assertEquals(".", out.get(0).name());
        assertEquals("..", out.get(1).name());
        assertEquals(50, out.stream().map(Dirent::name).filter(n -> n.startsWith("f")).distinct().count());
        assertEquals(DT_REG, out.get(2).type());
        assertEquals(Errno.ENOTDIR, err(vfs.getdents(vfs.open("/d/f1", O_RDONLY), out, 10)));
        assertEquals(Errno.EBADF, err(vfs.getdents(999, out, 10)));
        vfs.close(fd);
        // A removed directory lists nothing.
        final int gone = vfs.open("/d", O_RDONLY | O_DIRECTORY);
        for (int i = 0; i < 50; i++) {
            TestVfs.check(vfs.unlink("/d/f" + i));
        }
        TestVfs.check(vfs.rmdir("/d"));
        out.clear();
        assertEquals(0, vfs.getdents(gone, out, 10));
    }

    @Test
    void shouldKeepUnlinkedOpenFileReadable() throws ErrnoException {
        final Vfs vfs = TestVfs.ramfsRoot();
        vfs.writeFile("/f", "data".getBytes(StandardCharsets.US_ASCII));
        final int fd = vfs.open("/f", O_RDWR);
        TestVfs.check(vfs.unlink("/f"));
        final Stat st = new Stat();
        TestVfs.check(vfs.fstat(fd, st));
        assertEquals(0, st.nlink);
        final byte[] buf = new byte[4];
        assertEquals(4, vfs.pread(fd, buf, 0, 4, 0));
        assertArrayEquals("data".getBytes(StandardCharsets.US_ASCII), buf);
        assertEquals(Errno.ENOENT, err(vfs.link("/proc/self/fd/x", "/g")));
        vfs.close(fd);
    }

    @Test
    void shouldHandleVectorsAndIovMax() {
        final Vfs vfs = TestVfs.ramfsRoot();
        final int fd = vfs.open("/f", O_CREAT | O_RDWR, 0644);
        final ByteBuffer[] out = {ByteBuffer.wrap("ab".getBytes(StandardCharsets.US_ASCII)), ByteBuffer.allocate(0),
            ByteBuffer.wrap("cde".getBytes(StandardCharsets.US_ASCII))};
        assertEquals(5, vfs.writev(fd, out));
        TestVfs.check(vfs.lseek(fd, 0, SEEK_SET));
        final ByteBuffer a = ByteBuffer.allocate(1);
        final ByteBuffer b = ByteBuffer.allocate(10);
        assertEquals(5, vfs.readv(fd, new ByteBuffer[]{a, b}));
        assertEquals("a", new String(a.array(), StandardCharsets.US_ASCII));
        assertEquals("bcde", new String(b.array(), 0, 4, StandardCharsets.US_ASCII));
        assertEquals(Errno.EINVAL, err(vfs.readv(fd, new ByteBuffer[IOV_MAX + 1])));
        assertEquals(Errno.EINVAL, err(vfs.writev(fd, new ByteBuffer[IOV_MAX + 1])));
        final ByteBuffer[] many = new ByteBuffer[IOV_MAX];
        for (int i = 0; i < many.length; i++) {
            many[i] = ByteBuffer.wrap(new byte[]{(byte)i});
        }
        assertEquals(IOV_MAX, vfs.writev(fd, many));
    }

    @Test
    void shouldRejectOverlongSymlinkTargetAndGetcwdOfRemovedDirectory() {
        final Vfs vfs = TestVfs.ramfsRoot();
        assertEquals(Errno.ENAMETOOLONG, err(vfs.symlink("x".repeat(PATH_MAX), "/l")));
        TestVfs.check(vfs.symlink("x".repeat(PATH_MAX - 1), "/l"));
        assertEquals(Errno.ENOENT, err(vfs.symlink("", "/l2")));
        TestVfs.check(vfs.mkdir("/gone", 0755));
        TestVfs.check(vfs.chdir("/gone"));
        TestVfs.check(vfs.rmdir("/gone"));
        final ErrnoException e = assertThrows(ErrnoException.class, vfs::getcwd);
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals(Errno.ENOENT, err(vfs.open("new", O_CREAT | O_WRONLY, 0644)), "no creation in a removed directory");
        TestVfs.check(vfs.chdir("/"));
    }

    @Test
    void shouldBlockPipeReaderUntilWriterAndReportEpipe() throws Exception {
        final Vfs vfs = TestVfs.ramfsRoot();
        final int[] p = new int[2];
        TestVfs.check(vfs.pipe(p));
        final byte[] got = new byte[3];
        final Thread reader = Thread.ofPlatform().start(() -> vfs.read(p[0], got, 0, 3));
        TestVfs.check(vfs.write(p[1], "xyz".getBytes(StandardCharsets.US_ASCII), 0, 3));
        reader.join(60_000);
        assertEquals("xyz", new String(got, StandardCharsets.US_ASCII));
        // A writer blocked on a full pipe is released by the reader.
        final byte[] big = new byte[Pipe.CAPACITY * 2];
        final long[] written = new long[1];
        final Thread writer = Thread.ofPlatform().start(() -> written[0] = vfs.write(p[1], big, 0, big.length));
        long total = 0;
        final byte[] buf = new byte[8192];
        while (total < big.length) {
            total += TestVfs.check(vfs.read(p[0], buf, 0, buf.length));
        }
        writer.join(60_000);
        assertEquals(big.length, written[0]);
        TestVfs.check(vfs.close(p[0]));
        assertEquals(Errno.EPIPE, err(vfs.write(p[1], big, 0, 1)));
        final Stat st = new Stat();
        TestVfs.check(vfs.fstat(p[1], st));
        assertEquals(S_IFIFO, st.mode & S_IFMT);
    }
}
