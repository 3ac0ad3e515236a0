package dev.osvj.vfs;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static dev.osvj.vfs.Posix.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The errno conformance suite, modelled on OSv's tst-fs-link, tst-rename, tst-remove, tst-symlink,
 * tst-stat, tst-openat, tst-truncate, tst-fallocate, tst-seek, tst-pipe, tst-fcntl, tst-utimensat:
 * every scenario runs on osvj (ramfs root) and on the host's Linux kernel (a tmpfs folder, through
 * FFM), and the two call logs must be identical, errno for errno. Cases the host cannot express
 * (read-only mounts, the descriptor limit, getdents order) are in {@link VfsErrnoTest}.
 */
class PosixConformanceTest {
    private static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);

    @FunctionalInterface
    interface Scenario {
        void run(Sys s, Consumer<String> note);
    }

    /** Run {@code scenario} on both systems and compare the logs. */
    private static void agree(final Scenario scenario) throws IOException {
        final Vfs vfs = TestVfs.ramfsRoot();
        vfs.umask(HostSys.umask());
        TestVfs.check(vfs.mkdir("/t", 0755));
        final Recorder osvj = new Recorder();
        scenario.run(osvj.wrap(new VfsSys(vfs, "/t")), osvj.log::add);

        final Path shm = Path.of("/dev/shm");
        final Path dir = Files.createTempDirectory(Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir")),
            "osvj-oracle");
        final Recorder host = new Recorder();
        try {
            scenario.run(host.wrap(new HostSys(dir)), host.log::add);
        } finally {
            deleteTree(dir);
        }
        assertEquals(String.join("\n", host.log), String.join("\n", osvj.log), "osvj (actual) differs from Linux (expected)");
        assertTrue(osvj.log.size() > 3, "scenario ran");
    }

    private static void deleteTree(final Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (final Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static void mkfile(final Sys s, final String path, final byte[] data) {
        final int fd = (int)s.open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        s.write(fd, data);
        s.close(fd);
    }

    private static String repeat(final char c, final int n) {
        return String.valueOf(c).repeat(n);
    }

    @Test
    void shouldAgreeOnLink() throws IOException {
        agree((s, note) -> {
            mkfile(s, "f", HELLO);
            s.link("f", "g");
            s.stat("f", new Stat());
            s.link("f", "g");
            s.link("nofile", "h");
            s.link("f", "nodir/h");
            s.link("f", "f/x");
            s.mkdir("d", 0755);
            s.link("d", "e");
            s.link("f", "d/");
            s.link("f", "h/");
            s.link("f", "d/.");
            s.unlink("g");
            s.stat("f", new Stat());
            s.symlink("f", "l");
            s.link("l", "l2");
            s.lstat("l2", new Stat());
        });
    }

    @Test
    void shouldAgreeOnRename() throws IOException {
        agree((s, note) -> {
            s.mkdir("a", 0755);
            s.mkdir("b", 0755);
            s.mkdir("c", 0755);
            mkfile(s, "c/f", HELLO);
            mkfile(s, "f", HELLO);
            s.rename("a", "b");
            s.stat("a", new Stat());
            s.stat("b", new Stat());
            s.rename("b", "c");
            s.rename("f", "c");
            s.rename("c", "c/f");
            s.rename("f/", "g");
            s.rename("f", "g/");
            s.rename("b/", "a/");
            s.rename("a", "a");
            s.rename("f", "f");
            s.rename("a", "a/x");
            s.rename("c", "c/sub");
            s.rename("nothere", "x");
            s.rename(".", "x");
            s.rename("a/.", "x");
            s.rename("f", "a/..");
            s.rename("f", "a/g");
            s.stat("a/g", new Stat());
            s.stat("f", new Stat());
            s.link("a/g", "h");
            s.rename("a/g", "h");
            s.stat("a/g", new Stat());
            s.stat("h", new Stat());
            mkfile(s, "k", "other".getBytes(StandardCharsets.US_ASCII));
            s.rename("k", "h");
            final byte[] buf = new byte[16];
            final int fd = (int)s.open("h", O_RDONLY, 0);
            s.read(fd, buf, 16);
            s.close(fd);
            s.stat("a/g", new Stat());
            s.mkdir("p", 0755);
            s.mkdir("p/q", 0755);
            s.rename("p/q", "q2");
            s.rename("q2", "p/q");
            s.rename("p", "p/q/r");
            s.rename("p/q", "p");
        });
    }

    @Test
    void shouldAgreeOnRemove() throws IOException {
        agree((s, note) -> {
            s.mkdir("d", 0755);
            mkfile(s, "d/f", HELLO);
            mkfile(s, "f", HELLO);
            s.unlink("d");
            s.rmdir("f");
            s.rmdir("d");
            s.rmdir("d/.");
            s.rmdir("d/..");
            s.unlink("nothere");
            s.rmdir("nothere");
            s.unlink("f/");
            s.unlink("d/f/");
            s.unlink("d/f/x");
            s.unlink("d/f");
            s.rmdir("d/");
            s.stat("d", new Stat());
            s.mkdir("e", 0755);
            s.unlinkat(AT_FDCWD, "e", 0);
            s.unlinkat(AT_FDCWD, "f", 0x4000);
            s.unlink("f");
            s.unlink("f");
            s.symlink("e", "le");
            s.rmdir("le");
            s.rmdir("le/");
            s.unlink("le/");
            s.unlink("le");
            s.stat("e", new Stat());
            s.unlink(".");
        });
    }

    @Test
    void shouldAgreeOnSymlinks() throws IOException {
        agree((s, note) -> {
            mkfile(s, "f", HELLO);
            s.mkdir("d", 0755);
            s.symlink("f", "l");
            s.symlink("d", "ld");
            final byte[] buf = new byte[64];
            s.readlink("l", buf);
            s.readlink("l", new byte[1]);
            s.readlink("f", buf);
            s.readlink("nothere", buf);
            s.lstat("l", new Stat());
            s.stat("l", new Stat());
            s.symlink("f", "l");
            s.symlink("x", "f");
            s.symlink("", "empty");
            s.symlink("l1", "l2");
            s.symlink("l2", "l1");
            s.open("l1", O_RDONLY, 0);
            s.stat("l1", new Stat());
            s.lstat("l1", new Stat());
            s.symlink("dangling-target", "dl");
            s.stat("dl", new Stat());
            s.open("dl", O_CREAT | O_EXCL | O_WRONLY, 0644);
            s.close((int)s.open("dl", O_CREAT | O_WRONLY, 0644));
            s.stat("dangling-target", new Stat());
            s.open("l", O_RDONLY | O_NOFOLLOW, 0);
            s.open("l", O_RDONLY | O_NOFOLLOW | O_CREAT, 0644);
            s.stat("ld/", new Stat());
            s.stat("l/", new Stat());
            s.lstat("ld/", new Stat());
            mkfile(s, "ld/inside", HELLO);
            s.stat("ld/inside", new Stat());
            s.stat("ld/../f", new Stat());
            // A chain of 40 links resolves; 41 is ELOOP.
            s.symlink("f", "c0");
            for (int i = 1; i <= 41; i++) {
                s.symlink("c" + (i - 1), "c" + i);
            }
            s.stat("c40", new Stat());
            s.stat("c41", new Stat());
            s.symlink(repeat('x', 300), "longname");
            s.stat("longname", new Stat());
        });
    }

    @Test
    void shouldAgreeOnStatAndNames() throws IOException {
        agree((s, note) -> {
            mkfile(s, "f", HELLO);
            s.mkdir("f", 0755);
            s.mkdir("d", 0755);
            s.mkdir("d", 0755);
            s.mkdir("d/", 0755);
            s.mkdir("d/.", 0755);
            s.mkdir("d/..", 0755);
            s.mkdir("x/y", 0755);
            s.mkdir("f/y", 0755);
            s.mkdir("new/", 0777);
            s.stat("new", new Stat());
            s.stat("nothere", new Stat());
            s.stat("f/x", new Stat());
            s.stat("f/", new Stat());
            s.stat("f/.", new Stat());
            s.stat("d/../f", new Stat());
            s.stat("d//..//f", new Stat());
            s.stat("./d/./", new Stat());
            s.stat(repeat('n', 255), new Stat());
            s.stat(repeat('n', 256), new Stat());
            s.mkdir(repeat('n', 256), 0755);
            s.open(repeat('n', 256), O_CREAT | O_WRONLY, 0644);
            s.stat(repeat('d', 200) + "/" + repeat('e', 200), new Stat());
            final StringBuilder deep = new StringBuilder("d");
            while (deep.length() < 4200) {
                deep.append("/.");
            }
            s.stat(deep.toString(), new Stat());
            s.stat("d/" + "./".repeat(1000), new Stat());
            s.stat("", new Stat());
        });
    }

    @Test
    void shouldAgreeOnOpenFlags() throws IOException {
        agree((s, note) -> {
            s.mkdir("d", 0755);
            final int fd = (int)s.open("f", O_CREAT | O_EXCL | O_RDWR, 0640);
            s.write(fd, HELLO);
            s.open("f", O_CREAT | O_EXCL | O_RDWR, 0640);
            s.open("d", O_CREAT | O_EXCL | O_RDWR, 0640);
            s.open("f", O_RDONLY | O_DIRECTORY, 0);
            s.open("d", O_WRONLY, 0);
            s.open("d", O_RDWR, 0);
            s.open("d", O_RDONLY | O_CREAT, 0644);
            s.open("g/", O_CREAT | O_WRONLY, 0644);
            s.open("d/", O_CREAT | O_WRONLY, 0644);
            s.open("f/", O_RDONLY, 0);
            s.open("nodir/f", O_CREAT | O_WRONLY, 0644);
            s.open("nothere", O_RDONLY, 0);
            s.open("f/x", O_CREAT | O_WRONLY, 0644);
            final byte[] buf = new byte[16];
            final int ro = (int)s.open("f", O_RDONLY, 0);
            s.write(ro, HELLO);
            s.read(ro, buf, 16);
            final int wo = (int)s.open("f", O_WRONLY | O_APPEND, 0);
            s.read(wo, buf, 16);
            s.write(wo, HELLO);
            s.fstat(wo, new Stat());
            final int dfd = (int)s.open("d", O_RDONLY | O_DIRECTORY, 0);
            s.read(dfd, buf, 16);
            s.write(dfd, buf);
            s.close(dfd);
            final int tr = (int)s.open("f", O_WRONLY | O_TRUNC, 0);
            s.fstat(tr, new Stat());
            s.stat("f", new Stat());
            s.close(tr);
            s.close(ro);
            s.close(wo);
            s.close(fd);
            s.close(fd);
            s.close(-1);
            s.close(100000);
            s.open("f", O_RDONLY | O_CREAT | O_DIRECTORY, 0644);
            s.read(12345, buf, 1);
            s.write(12345, buf);
        });
    }

    @Test
    void shouldAgreeOnAtCalls() throws IOException {
        agree((s, note) -> {
            s.mkdir("d", 0755);
            mkfile(s, "d/f", HELLO);
            mkfile(s, "g", HELLO);
            final int dfd = (int)s.open("d", O_RDONLY | O_DIRECTORY, 0);
            final int ffd = (int)s.open("g", O_RDONLY, 0);
            s.close((int)s.openat(dfd, "f", O_RDONLY, 0));
            s.openat(dfd, "nothere", O_RDONLY, 0);
            s.openat(ffd, "f", O_RDONLY, 0);
            s.openat(99999, "f", O_RDONLY, 0);
            s.close((int)s.openat(dfd, "new", O_CREAT | O_WRONLY, 0600));
            s.stat("d/new", new Stat());
            s.fstatat(dfd, "f", new Stat(), 0);
            s.fstatat(dfd, "f", new Stat(), 0x7777);
            s.fstatat(dfd, "", new Stat(), 0);
            s.fstatat(dfd, "", new Stat(), AT_EMPTY_PATH);
            s.fstatat(ffd, "x", new Stat(), 0);
            s.faccessat(dfd, "f", R_OK | W_OK, 0);
            s.faccessat(dfd, "f", X_OK, 0);
            s.faccessat(dfd, "f", 0100, 0);
            s.faccessat(dfd, "nothere", F_OK, 0);
            s.mkdirat(dfd, "sub", 0755);
            s.mkdirat(dfd, "sub", 0755);
            s.renameat(dfd, "sub", dfd, "sub2");
            s.stat("d/sub2", new Stat());
            s.unlinkat(dfd, "sub2", AT_REMOVEDIR);
            s.unlinkat(dfd, "f", AT_REMOVEDIR);
            s.unlinkat(dfd, "f", 0);
            s.unlinkat(ffd, "f", 0);
            s.close(ffd);
            s.close(dfd);
        });
    }

    @Test
    void shouldAgreeOnTruncate() throws IOException {
        agree((s, note) -> {
            mkfile(s, "f", "0123456789".getBytes(StandardCharsets.US_ASCII));
            s.mkdir("d", 0755);
            s.truncate("f", 4);
            s.stat("f", new Stat());
            s.truncate("f", 8);
            final byte[] buf = new byte[16];
            final int fd = (int)s.open("f", O_RDWR, 0);
            s.read(fd, buf, 16);
            note.accept("bytes " + java.util.Arrays.toString(java.util.Arrays.copyOf(buf, 8)));
            s.truncate("d", 0);
            s.truncate("f", -1);
            s.truncate("nothere", 0);
            s.truncate("f/", 0);
            s.ftruncate(fd, 100000);
            s.fstat(fd, new Stat());
            s.ftruncate(fd, -5);
            s.ftruncate(99999, 0);
            final int ro = (int)s.open("f", O_RDONLY, 0);
            s.ftruncate(ro, 0);
            s.ftruncate(fd, 0);
            s.pread(ro, buf, 16, 0);
            s.close(ro);
            s.close(fd);
            final int[] p = new int[2];
            s.pipe(p);
            s.ftruncate(p[1], 0);
            s.close(p[0]);
            s.close(p[1]);
        });
    }

    @Test
    void shouldAgreeOnFallocate() throws IOException {
        agree((s, note) -> {
            final int fd = (int)s.open("f", O_CREAT | O_RDWR, 0644);
            final byte[] data = new byte[3 * 4096];
            java.util.Arrays.fill(data, (byte)'x');
            s.write(fd, data);
            s.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 4096);
            s.fstat(fd, new Stat());
            final byte[] buf = new byte[4];
            s.pread(fd, buf, 4, 4096 + 100);
            note.accept("punched " + java.util.Arrays.toString(buf));
            s.pread(fd, buf, 4, 100);
            s.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 20);
            s.pread(fd, buf, 4, 8);
            note.accept("partial " + java.util.Arrays.toString(buf));
            s.fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096);
            s.fallocate(fd, 0x80, 0, 4096);
            s.fallocate(fd, 0, -1, 4096);
            s.fallocate(fd, 0, 0, 0);
            s.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20);
            s.fstat(fd, new Stat());
            s.fallocate(fd, 0, 0, 1 << 16);
            s.fstat(fd, new Stat());
            s.pread(fd, buf, 4, 20000);
            s.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 60000, 100000);
            s.fstat(fd, new Stat());
            final int ro = (int)s.open("f", O_RDONLY, 0);
            s.fallocate(ro, 0, 0, 10);
            s.close(ro);
            final int[] p = new int[2];
            s.pipe(p);
            s.fallocate(p[1], 0, 0, 10);
            s.close(p[0]);
            s.close(p[1]);
            s.fallocate(99999, 0, 0, 10);
            s.close(fd);
        });
    }

    @Test
    void shouldAgreeOnSeek() throws IOException {
        agree((s, note) -> {
            final int fd = (int)s.open("f", O_CREAT | O_RDWR, 0644);
            s.write(fd, "0123456789".getBytes(StandardCharsets.US_ASCII));
            s.lseek(fd, -1, SEEK_SET);
            s.lseek(fd, 3, SEEK_SET);
            s.lseek(fd, -5, SEEK_CUR);
            s.lseek(fd, 2, SEEK_CUR);
            s.lseek(fd, -2, SEEK_END);
            s.lseek(fd, -20, SEEK_END);
            s.lseek(fd, 100, SEEK_END);
            s.lseek(fd, 0, 7);
            s.lseek(fd, 0, SEEK_DATA);
            s.lseek(fd, 4, SEEK_HOLE);
            s.lseek(fd, 10, SEEK_DATA);
            s.lseek(fd, 10, SEEK_HOLE);
            s.lseek(fd, -1, SEEK_DATA);
            s.lseek(fd, 20, SEEK_SET);
            s.write(fd, HELLO);
            s.fstat(fd, new Stat());
            final byte[] buf = new byte[32];
            s.pread(fd, buf, 32, 8);
            note.accept("gap " + java.util.Arrays.toString(java.util.Arrays.copyOf(buf, 14)));
            s.pread(fd, buf, 4, -1);
            s.pwrite(fd, HELLO, -1);
            s.lseek(99999, 0, SEEK_SET);
            final int[] p = new int[2];
            s.pipe(p);
            s.lseek(p[0], 0, SEEK_CUR);
            s.pread(p[0], buf, 1, 0);
            s.close(p[0]);
            s.close(p[1]);
            s.close(fd);
        });
    }

    @Test
    void shouldAgreeOnPipes() throws IOException {
        agree((s, note) -> {
            final int[] p = new int[2];
            s.pipe(p);
            final byte[] buf = new byte[16];
            s.write(p[1], HELLO);
            s.read(p[0], buf, 3);
            s.read(p[0], buf, 16);
            s.read(p[1], buf, 16);
            s.write(p[0], HELLO);
            s.fstat(p[0], new Stat());
            s.fcntl(p[0], F_SETFL, O_NONBLOCK);
            s.fcntl(p[0], F_GETFL, 0);
            s.read(p[0], buf, 16);
            s.write(p[1], HELLO);
            s.close(p[1]);
            s.read(p[0], buf, 16);
            s.read(p[0], buf, 16);
            s.fsync(p[0]);
            s.close(p[0]);
            s.pipe(p);
            s.close(p[0]);
            s.write(p[1], HELLO);
            s.close(p[1]);
        });
    }

    @Test
    void shouldAgreeOnFcntlAndDup() throws IOException {
        agree((s, note) -> {
            final int fd = (int)s.open("f", O_CREAT | O_RDWR, 0644);
            s.fcntl(fd, F_GETFL, 0);
            s.fcntl(fd, F_GETFD, 0);
            s.fcntl(fd, F_SETFD, FD_CLOEXEC);
            s.fcntl(fd, F_GETFD, 0);
            s.fcntl(fd, F_SETFL, O_APPEND | O_RDONLY | O_TRUNC);
            s.fcntl(fd, F_GETFL, 0);
            s.write(fd, HELLO);
            s.lseek(fd, 0, SEEK_SET);
            s.write(fd, HELLO);
            s.fstat(fd, new Stat());
            s.fcntl(fd, F_SETFL, 0);
            s.fcntl(fd, 9999, 0);
            s.fcntl(99999, F_GETFL, 0);
            s.fcntl(fd, F_DUPFD, -1);
            final int d = (int)s.dup(fd);
            s.fcntl(d, F_GETFD, 0);
            s.lseek(fd, 2, SEEK_SET);
            s.lseek(d, 0, SEEK_CUR);
            s.close(fd);
            s.lseek(d, 0, SEEK_CUR);
            final int other = (int)s.open("g", O_CREAT | O_RDWR, 0644);
            s.dup2(d, other);
            s.lseek(other, 0, SEEK_CUR);
            s.dup2(d, d);
            s.dup2(99999, d);
            s.dup2(d, -1);
            s.dup(99999);
            final int f2 = (int)s.fcntl(d, F_DUPFD_CLOEXEC, 0);
            s.fcntl(f2, F_GETFD, 0);
            s.close(f2);
            s.close(other);
            s.close(d);
            s.stat("g", new Stat());
        });
    }

    @Test
    void shouldAgreeOnUtimensat() throws IOException {
        agree((s, note) -> {
            mkfile(s, "f", HELLO);
            s.utimensat("f", 1000, 5, 2000, 7, 0);
            final Stat st = new Stat();
            s.stat("f", st);
            note.accept("times " + st.atimeSec + "." + st.atimeNsec + " " + st.mtimeSec + "." + st.mtimeNsec);
            s.utimensat("f", 0, UTIME_OMIT, 3000, 0, 0);
            s.stat("f", st);
            note.accept("times " + st.atimeSec + "." + st.atimeNsec + " " + st.mtimeSec + "." + st.mtimeNsec);
            s.utimensat("f", 0, 1_000_000_000L, 0, 0, 0);
            s.utimensat("f", 0, -1, 0, 0, 0);
            s.utimensat("f", 0, 0, 0, 0, 0x40);
            s.utimensat("nothere", 0, 0, 0, 0, 0);
            s.utimensat("nothere", 0, UTIME_OMIT, 0, UTIME_OMIT, 0);
            s.utimensat("f", 0, UTIME_OMIT, 0, UTIME_OMIT, 0);
            s.symlink("f", "l");
            s.utimensat("l", 5, 0, 6, 0, AT_SYMLINK_NOFOLLOW);
            s.lstat("l", st);
            note.accept("link mtime " + st.mtimeSec);
            s.stat("l", st);
            note.accept("target mtime " + st.mtimeSec);
        });
    }

    @Test
    void shouldAgreeOnChmodAndAccess() throws IOException {
        agree((s, note) -> {
            mkfile(s, "f", HELLO);
            s.access("f", F_OK);
            s.access("f", R_OK | W_OK);
            s.access("f", X_OK);
            s.chmod("f", 0755);
            s.access("f", X_OK);
            s.stat("f", new Stat());
            s.chmod("f", 0);
            s.access("f", R_OK);
            s.stat("f", new Stat());
            s.chmod("f", 07777);
            s.stat("f", new Stat());
            s.chmod("nothere", 0644);
            s.access("nothere", F_OK);
            s.access("f", 8);
            s.mkdir("d", 0700);
            s.access("d", X_OK);
            s.chmod("d", 0);
            s.access("d", X_OK);
            s.stat("d", new Stat());
            s.chmod("d", 0755);
        });
    }

    @Test
    void shouldAgreeOnReadWriteOffsets() throws IOException {
        agree((s, note) -> {
            final int fd = (int)s.open("f", O_CREAT | O_RDWR, 0644);
            final byte[] big = new byte[70000];
            for (int i = 0; i < big.length; i++) {
                big[i] = (byte)('a' + i % 26);
            }
            s.write(fd, big);
            s.pwrite(fd, HELLO, 69998);
            s.fstat(fd, new Stat());
            final byte[] buf = new byte[10];
            s.pread(fd, buf, 10, 69995);
            s.pread(fd, buf, 10, 1_000_000);
            s.lseek(fd, 0, SEEK_SET);
            s.read(fd, buf, 10);
            s.read(fd, buf, 0);
            s.write(fd, new byte[0]);
            s.lseek(fd, 0, SEEK_CUR);
            s.close(fd);
        });
    }

    @Test
    void shouldAgreeOnListedCases() throws IOException {
        // The call log of a scenario also has to be the same length on both sides: a sanity check that
        // the harness compares what it should.
        final Recorder r = new Recorder();
        final Sys sys = r.wrap(new VfsSys(TestVfs.ramfsRoot(), ""));
        sys.mkdir("/a", 0755);
        sys.mkdir("/a", 0755);
        assertEquals(List.of("mkdir(\"/a\" ) = 0", "mkdir(\"/a\" ) = EEXIST"), r.log);
    }
}
