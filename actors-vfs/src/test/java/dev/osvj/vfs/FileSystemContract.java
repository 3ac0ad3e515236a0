package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;

import static dev.osvj.vfs.Posix.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The POSIX contract every filesystem implementation runs (STYLE habit 10): each subclass mounts its
 * filesystem at {@value #M} holding {@link ContractTree}; the read side runs for all, the write side
 * for writable filesystems, and read-only ones must answer EROFS to every write instead.
 */
abstract class FileSystemContract {
    static final String M = "/m";

    protected Vfs vfs;

    /** A VFS with the filesystem under test mounted at {@link #M}, holding the contract tree. */
    abstract Vfs mountWithTree() throws Exception;

    abstract boolean writable();

    @BeforeEach
    void setUp() throws Exception {
        vfs = mountWithTree();
    }

    private static Errno err(final long r) {
        return Errno.fromResult(r);
    }

    // ------------------------------------------------------------------ read side

    @Test
    void shouldReadFilesWholeAndInPieces() throws ErrnoException {
        assertArrayEquals(ContractTree.HELLO, vfs.readFile(M + "/hello.txt"));
        assertArrayEquals(new byte[0], vfs.readFile(M + "/empty"));
        assertArrayEquals(ContractTree.BIG, vfs.readFile(M + "/big.bin"));
        assertArrayEquals(ContractTree.DEEP, vfs.readFile(M + "/dir/sub/deep.txt"));
        final int fd = vfs.open(M + "/big.bin", O_RDONLY);
        final byte[] buf = new byte[5000];
        for (final long at : new long[]{0, 4090, 8191, 100_000, ContractTree.BIG.length - 100}) {
            final long n = vfs.pread(fd, buf, 0, buf.length, at);
            assertEquals(Math.min(buf.length, ContractTree.BIG.length - at), n);
            assertArrayEquals(java.util.Arrays.copyOfRange(ContractTree.BIG, (int)at, (int)(at + n)),
                java.util.Arrays.copyOf(buf, (int)n));
        }
        assertEquals(0, vfs.pread(fd, buf, 0, 10, ContractTree.BIG.length));
        assertEquals(ContractTree.BIG.length, vfs.lseek(fd, 0, SEEK_END));
        assertEquals(0, vfs.lseek(fd, 0, SEEK_DATA));
        assertEquals(Errno.ENXIO, err(vfs.lseek(fd, ContractTree.BIG.length, SEEK_DATA)));
        vfs.close(fd);
    }

    @Test
    void shouldStatEveryKindOfEntry() throws ErrnoException {
        final Stat f = vfs.stat(M + "/hello.txt");
        assertTrue(f.isRegular());
        assertEquals(ContractTree.HELLO.length, f.size);
        assertEquals(1, f.nlink);
        assertEquals(vfs.stat(M).dev, f.dev);
        assertTrue(vfs.stat(M + "/dir").isDirectory());
        assertTrue(vfs.stat(M + "/dir").nlink >= 3, "dir has a subdirectory");
        final Stat l = vfs.lstat(M + "/dir/link");
        assertTrue(l.isSymlink());
        assertEquals("../hello.txt".length(), l.size);
        assertEquals(f.ino, vfs.stat(M + "/dir/link").ino);
        assertEquals(f.ino, vfs.stat(M + "/dir/abs").ino);
        assertEquals(Errno.ENOENT, err(vfs.stat(M + "/nothere", new Stat())));
        assertEquals(Errno.ENOTDIR, err(vfs.stat(M + "/hello.txt/x", new Stat())));
        assertEquals(Errno.ENOTDIR, err(vfs.stat(M + "/hello.txt/", new Stat())));
        assertTrue(vfs.stat(M + "/dir/sub/../sub/").isDirectory());
        assertEquals(Errno.ENOTDIR, err(vfs.stat(M + "/dir/link/../dir", new Stat())), "a symlink to a file is no directory");
    }

    @Test
    void shouldListDirectoriesWithDotsFirst() throws ErrnoException {
        final int fd = vfs.open(M + "/dir", O_RDONLY | O_DIRECTORY);
        final List<Dirent> all = new ArrayList<>();
        while (vfs.getdents(fd, all, 5) > 0) {
            // small batches
        }
        vfs.close(fd);
        assertEquals(".", all.get(0).name());
        assertEquals("..", all.get(1).name());
        final Set<String> names = new TreeSet<>();
        all.subList(2, all.size()).forEach(d -> names.add(d.name()));
        assertEquals(2 + 40 + 3, all.size());
        assertTrue(names.containsAll(List.of("sub", "link", "abs", "f0", "f39")));
        for (final Dirent d : all) {
            if ("sub".equals(d.name())) {
                assertEquals(DT_DIR, d.type());
            } else if ("link".equals(d.name())) {
                assertEquals(DT_LNK, d.type());
            } else if ("f3".equals(d.name())) {
                assertEquals(DT_REG, d.type());
                assertEquals(vfs.stat(M + "/dir/f3").ino, d.ino());
            }
        }
        assertEquals(0, vfs.list(M + "/emptydir").size());
        assertEquals(vfs.stat("/").ino, listWithDots(M).get(1).ino(), ".. of the mount root is /");
    }

    private List<Dirent> listWithDots(final String path) {
        final int fd = vfs.open(path, O_RDONLY | O_DIRECTORY);
        final List<Dirent> all = new ArrayList<>();
        vfs.getdents(fd, all, 100);
        vfs.close(fd);
        return all;
    }

    @Test
    void shouldResolveSymlinks() throws ErrnoException {
        assertEquals("../hello.txt", vfs.readlink(M + "/dir/link"));
        assertEquals(M + "/hello.txt", vfs.readlink(M + "/dir/abs"));
        assertArrayEquals(ContractTree.HELLO, vfs.readFile(M + "/dir/link"));
        assertArrayEquals(ContractTree.HELLO, vfs.readFile(M + "/dir/abs"));
        assertEquals(Errno.EINVAL, err(vfs.readlink(M + "/hello.txt", new byte[10])));
        assertEquals(Errno.ELOOP, err(vfs.open(M + "/dir/link", O_RDONLY | O_NOFOLLOW)));
        assertEquals(Errno.ENOTDIR, err(vfs.open(M + "/dir/link/", O_RDONLY)));
    }

    @Test
    void shouldServeConcurrentReadersTheSameBytes() throws Exception {
        final ConcurrentLinkedQueue<String> bad = new ConcurrentLinkedQueue<>();
        final List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 20; i++) {
                    try {
                        if (!java.util.Arrays.equals(ContractTree.BIG, vfs.readFile(M + "/big.bin"))) {
                            bad.add("content differs");
                        }
                    } catch (final ErrnoException e) {
                        bad.add(e.toString());
                    }
                }
            }));
        }
        for (final Thread t : threads) {
            t.join(120_000);
            assertFalse(t.isAlive());
        }
        assertTrue(bad.isEmpty(), bad.toString());
    }

    @Test
    void shouldHandPagesForMmap() throws ErrnoException {
        final Vnode vp = vfs.mountOf(M + "/big.bin").root().ops().lookup(vfs.mountOf(M).root(), "big.bin");
        final ByteBuffer page = vp.ops().cache(vp, 4096 * 3);
        assertEquals(4096, page.remaining());
        final byte[] got = new byte[4096];
        page.get(got);
        assertArrayEquals(java.util.Arrays.copyOfRange(ContractTree.BIG, 4096 * 3, 4096 * 4), got);
        final long lastPage = ContractTree.BIG.length / 4096 * 4096L;
        final ByteBuffer tail = vp.ops().cache(vp, lastPage);
        tail.get(got);
        assertEquals(0, got[got.length - 1], "past the end of file reads as zero");
    }

    @Test
    void shouldReportStatfs() {
        final StatFs st = new StatFs();
        assertEquals(0, vfs.statfs(M + "/dir", st));
        assertEquals(NAME_MAX, st.namelen);
        assertTrue(st.bsize > 0);
        assertEquals(writable() ? 0 : 1, st.flags);
    }

    // ------------------------------------------------------------------ write side

    @Test
    void shouldCreateWriteRenameAndRemoveOrAnswerErofs() throws ErrnoException {
        final byte[] data = "new content".getBytes(StandardCharsets.US_ASCII);
        if (!writable()) {
            assertEquals(Errno.EROFS, err(vfs.open(M + "/new", O_CREAT | O_WRONLY, 0644)));
            assertEquals(Errno.EROFS, err(vfs.open(M + "/hello.txt", O_WRONLY)));
            assertEquals(Errno.EROFS, err(vfs.open(M + "/hello.txt", O_RDONLY | O_TRUNC)));
            assertEquals(Errno.EROFS, err(vfs.mkdir(M + "/newdir", 0755)));
            assertEquals(Errno.EROFS, err(vfs.unlink(M + "/hello.txt")));
            assertEquals(Errno.EROFS, err(vfs.rmdir(M + "/emptydir")));
            assertEquals(Errno.EROFS, err(vfs.rename(M + "/hello.txt", M + "/x")));
            assertEquals(Errno.EROFS, err(vfs.symlink("x", M + "/l")));
            assertEquals(Errno.EROFS, err(vfs.link(M + "/hello.txt", M + "/l")));
            assertEquals(Errno.EROFS, err(vfs.truncate(M + "/hello.txt", 0)));
            assertEquals(Errno.EROFS, err(vfs.chmod(M + "/hello.txt", 0644)));
            assertEquals(Errno.EROFS, err(vfs.access(M + "/hello.txt", W_OK)));
            assertEquals(0, vfs.access(M + "/hello.txt", R_OK));
            assertArrayEquals(ContractTree.HELLO, vfs.readFile(M + "/hello.txt"));
            return;
        }
        vfs.writeFile(M + "/new", data);
        assertArrayEquals(data, vfs.readFile(M + "/new"));
        TestVfs.check(vfs.rename(M + "/new", M + "/dir/sub/moved"));
        assertArrayEquals(data, vfs.readFile(M + "/dir/sub/moved"));
        TestVfs.check(vfs.truncate(M + "/dir/sub/moved", 3));
        assertEquals("new", new String(vfs.readFile(M + "/dir/sub/moved"), StandardCharsets.US_ASCII));
        TestVfs.check(vfs.link(M + "/dir/sub/moved", M + "/hard"));
        assertEquals(2, vfs.stat(M + "/hard").nlink);
        TestVfs.check(vfs.unlink(M + "/dir/sub/moved"));
        assertEquals(1, vfs.stat(M + "/hard").nlink);
        TestVfs.check(vfs.mkdir(M + "/newdir", 0755));
        TestVfs.check(vfs.rmdir(M + "/newdir"));
        TestVfs.check(vfs.symlink("hard", M + "/sl"));
        assertEquals("new", new String(vfs.readFile(M + "/sl"), StandardCharsets.US_ASCII));
        final int fd = vfs.open(M + "/big.bin", O_RDWR);
        TestVfs.check(vfs.pwrite(fd, new byte[]{1, 2, 3}, 0, 3, 200_000));
        final byte[] three = new byte[3];
        vfs.pread(fd, three, 0, 3, 200_000);
        assertArrayEquals(new byte[]{1, 2, 3}, three);
        vfs.close(fd);
    }
}
