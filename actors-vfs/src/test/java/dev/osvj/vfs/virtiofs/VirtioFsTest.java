package dev.osvj.vfs.virtiofs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.kernel.KernelClock;
import dev.osvj.vfs.Dirent;
import dev.osvj.vfs.Posix;
import dev.osvj.vfs.StatFs;
import dev.osvj.vfs.Vfs;
import dev.osvj.vfs.ramfs.RamFs;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The virtiofs filesystem over an in-memory {@link FuseClient} that counts lookups, opens and
 * releases: FUSE references and handles are given back exactly, listings continue by offset, and
 * writes are EROFS before the client is asked.
 */
class VirtioFsTest {
    /** A server of a fixed tree: node 1 is the root, 2 "a.txt", 3 "d", 4 "d/x", 5 "d/y", 6 "d/z", 7 "ln". */
    static final class FakeServer implements FuseClient {
        final Map<Long, String> names = Map.of(2L, "a.txt", 3L, "d", 4L, "x", 5L, "y", 6L, "z", 7L, "ln");
        final Map<Long, Long> parents = Map.of(2L, 1L, 3L, 1L, 4L, 3L, 5L, 3L, 6L, 3L, 7L, 1L);
        final Map<Long, Long> lookups = new HashMap<>();
        int opens;
        int releases;
        int dirOpens;
        int dirReleases;
        int readdirCalls;

        @Override
        public String tag() {
            return "t0";
        }

        private int mode(final long id) {
            return id == 1 || id == 3 ? Posix.S_IFDIR | 0755 : id == 7 ? Posix.S_IFLNK | 0777 : Posix.S_IFREG | 0644;
        }

        private Attr attr(final long id) {
            return new Attr(100 + id, id == 2 ? 5 : 1, 1, 0, 0, 0, mode(id), 1, 0, 0);
        }

        @Override
        public synchronized Entry lookup(final long parent, final String name) throws ErrnoException {
            for (final Map.Entry<Long, String> e : names.entrySet()) {
                if (e.getValue().equals(name) && parents.get(e.getKey()) == parent) {
                    lookups.merge(e.getKey(), 1L, Long::sum);
                    return new Entry(e.getKey(), attr(e.getKey()));
                }
            }
            throw new ErrnoException(Errno.ENOENT);
        }

        @Override
        public Attr getattr(final long nodeid) throws ErrnoException {
            if (nodeid != 1 && !names.containsKey(nodeid)) {
                throw new ErrnoException(Errno.ENOENT);
            }
            return attr(nodeid);
        }

        @Override
        public synchronized long open(final long nodeid, final boolean dir) {
            if (dir) {
                dirOpens++;
            } else {
                opens++;
            }
            return 40 + nodeid;
        }

        @Override
        public synchronized int release(final long nodeid, final long fh, final boolean dir) {
            if (dir) {
                dirReleases++;
            } else {
                releases++;
            }
            return fh == 40 + nodeid ? 0 : Errno.EBADF.negative();
        }

        @Override
        public long read(final long nodeid, final long fh, final long offset, final ByteBuffer dst) {
            final byte[] data = "hello".getBytes(StandardCharsets.UTF_8);
            if (fh != 40 + nodeid) {
                return Errno.EBADF.negative();
            }
            final int n = (int)Math.max(0, Math.min(dst.remaining(), data.length - offset));
            dst.put(data, (int)offset, n);
            return n;
        }

        @Override
        public synchronized long readdir(final long nodeid, final long fh, final long offset, final DirentConsumer sink) {
            readdirCalls++;
            final TreeMap<String, Long> children = new TreeMap<>();
            parents.forEach((child, parent) -> {
                if (parent == nodeid) {
                    children.put(names.get(child), child);
                }
            });
            final List<Map.Entry<String, Long>> list = new ArrayList<>(children.entrySet());
            long next = offset;
            // two entries per reply, to make the filesystem continue
            for (int i = (int)offset; i < list.size() && i < offset + 2; i++) {
                final long id = list.get(i).getValue();
                if (!sink.accept(100 + id, i + 1, (mode(id) & Posix.S_IFMT) >> 12, list.get(i).getKey())) {
                    break;
                }
                next = i + 1;
            }
            return next;
        }

        @Override
        public String readlink(final long nodeid) {
            return "a.txt";
        }

        @Override
        public int statfs(final StatFs out) {
            out.bsize = 4096;
            out.blocks = 10;
            return 0;
        }

        @Override
        public synchronized void forget(final long nodeid, final long nlookup) {
            lookups.merge(nodeid, -nlookup, Long::sum);
        }

        synchronized long outstanding() {
            return lookups.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    private FakeServer server;
    private Vfs vfs;

    @BeforeEach
    void mount() {
        server = new FakeServer();
        vfs = new Vfs(64, 1024, KernelClock.SYSTEM);
        vfs.registerFileSystem(new RamFs());
        vfs.registerFileSystem(new VirtioFs(() -> List.of(server)));
        assertEquals(0, vfs.mount("ramfs", "none", "/", Map.of()));
        assertEquals(0, vfs.mkdir("/h", 0755));
        assertEquals(0, vfs.mount("virtiofs", "t0", "/h", Map.of()));
    }

    @Test
    void shouldRefuseAnUnknownTag() {
        assertEquals(0, vfs.mkdir("/other", 0755));
        assertEquals(Errno.ENXIO.negative(), vfs.mount("virtiofs", "nope", "/other", Map.of()));
    }

    @Test
    void shouldShareOneHandleAmongOpensAndReleaseItAtTheLastClose() throws Exception {
        final int a = vfs.open("/h/a.txt", Posix.O_RDONLY);
        final int b = vfs.open("/h/a.txt", Posix.O_RDONLY);
        assertTrue(a >= 0 && b >= 0);
        assertEquals(1, server.opens);
        final byte[] buf = new byte[16];
        assertEquals(5, vfs.read(a, buf, 0, 16));
        assertEquals("hello", new String(buf, 0, 5, StandardCharsets.UTF_8));
        assertEquals(0, vfs.close(a));
        assertEquals(0, server.releases);
        assertEquals(0, vfs.close(b));
        assertEquals(1, server.releases);
        assertEquals("hello", new String(vfs.readFile("/h/ln"), StandardCharsets.UTF_8));
    }

    @Test
    void shouldListAcrossRepliesAndReleaseEachDirectoryHandle() throws Exception {
        final List<String> names = vfs.list("/h/d").stream().map(Dirent::name).toList();
        assertEquals(List.of("x", "y", "z"), names);
        assertTrue(server.readdirCalls >= 2, "calls " + server.readdirCalls);
        assertEquals(server.dirOpens, server.dirReleases);
    }

    @Test
    void shouldAnswerErofsWithoutAskingTheServer() {
        assertEquals(Errno.EROFS.negative(), vfs.open("/h/a.txt", Posix.O_RDWR));
        assertEquals(Errno.EROFS.negative(), vfs.open("/h/new", Posix.O_CREAT | Posix.O_WRONLY, 0644));
        assertEquals(Errno.EROFS.negative(), vfs.chmod("/h/a.txt", 0600));
        assertEquals(0, server.opens);
    }

    @Test
    void shouldGiveEveryLookupBackByUnmount() throws Exception {
        vfs.readFile("/h/a.txt");
        vfs.readFile("/h/d/x");
        vfs.list("/h/d");
        vfs.readFile("/h/a.txt");
        assertTrue(server.outstanding() > 0);
        final StatFs st = new StatFs();
        assertEquals(0, vfs.statfs("/h", st));
        assertEquals(VirtioFs.FUSE_SUPER_MAGIC, st.type);
        assertEquals(0, vfs.umount("/h"));
        assertEquals(0, server.outstanding());
        assertEquals(server.opens, server.releases);
    }
}
