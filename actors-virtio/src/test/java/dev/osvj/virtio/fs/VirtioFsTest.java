package dev.osvj.virtio.fs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.virtio.DeviceAgent;
import dev.osvj.virtio.DeviceType;
import dev.osvj.virtio.GuestMemory;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The virtio-fs device and driver over a split virtqueue in guest memory, the device on its backend
 * thread serving a temporary host folder: each opcode, the refusals of escapes, EROFS for writes and
 * errno answers (never exceptions) for malformed requests.
 */
class VirtioFsTest {
    @TempDir
    Path tmp;

    private Path shared;
    private PhysicalMemory ram;
    private VirtioFsDevice device;
    private AgentRunner runner;
    private VirtioFsDriver fs;

    @BeforeEach
    void start() throws Exception {
        shared = Files.createDirectories(tmp.resolve("shared"));
        Files.writeString(tmp.resolve("secret"), "outside\n");
        Files.writeString(shared.resolve("hello.txt"), "hello virtio-fs\n");
        Files.createDirectories(shared.resolve("dir/sub"));
        Files.writeString(shared.resolve("dir/a"), "a");
        Files.writeString(shared.resolve("dir/b"), "bb");
        Files.createSymbolicLink(shared.resolve("inside"), Path.of("hello.txt"));
        Files.createSymbolicLink(shared.resolve("escape"), Path.of("../secret"));
        Files.createSymbolicLink(shared.resolve("escapedir"), tmp);
        final byte[] big = new byte[100_000];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte)(i * 31 + 7);
        }
        Files.write(shared.resolve("big.bin"), big);
        ram = PhysicalMemory.allocate(8L << 20);
        device = new VirtioFsDevice(ram.segment(), "host0", shared, 256);
        final DeviceAgent agent = new DeviceAgent("virtiofs-test");
        agent.add(device);
        runner = DeviceAgent.start(agent, new BackoffIdleStrategy(10, 10, 1000, 1_000_000));
        fs = new VirtioFsDriver("vfs0", device, new GuestMemory(ram, new PageAllocator(ram, 0)), 64);
    }

    @AfterEach
    void stop() {
        fs.close();
        runner.close();
        device.close();
        ram.close();
    }

    private static void assertErrno(final Errno expected, final org.junit.jupiter.api.function.Executable call) {
        assertEquals(expected, assertThrows(ErrnoException.class, call).errno());
    }

    @Test
    void shouldPublishTheTagAndTwoQueues() {
        assertEquals(DeviceType.FS, device.type());
        assertEquals(26, device.type().id());
        assertEquals("host0", fs.tag());
        assertEquals(1, device.readConfig(Fuse.CONFIG_NUM_REQUEST_QUEUES, 4));
        assertEquals('h' | 'o' << 8 | 's' << 16 | 't' << 24, device.readConfig(Fuse.CONFIG_TAG, 4));
        assertEquals(2, device.queueCount());
    }

    @Test
    void shouldLookUpGetattrOpenReadAndRelease() throws Exception {
        final VirtioFsDriver.Entry e = fs.lookup(Fuse.ROOT_ID, "hello.txt");
        assertEquals(16, e.attr().size());
        assertEquals(0100000, e.attr().mode() & 0170000);
        assertEquals(Files.getAttribute(shared.resolve("hello.txt"), "unix:ino"), e.attr().ino());
        assertEquals(e.nodeid(), fs.lookup(Fuse.ROOT_ID, "hello.txt").nodeid()); // one node per path
        final VirtioFsDriver.Attr a = fs.getattr(e.nodeid());
        assertEquals(16, a.size());
        assertEquals(Files.getLastModifiedTime(shared.resolve("hello.txt")).toMillis(), a.mtimeNs() / 1_000_000);
        final long fh = fs.open(e.nodeid(), false);
        assertTrue(fh >= 0, "fh " + fh);
        final byte[] buf = new byte[64];
        assertEquals(16, fs.read(e.nodeid(), fh, 0, MemorySegment.ofArray(buf), 0, 64));
        assertEquals("hello virtio-fs\n", new String(buf, 0, 16, StandardCharsets.UTF_8));
        assertEquals(9, fs.read(e.nodeid(), fh, 7, MemorySegment.ofArray(buf), 0, 64));
        assertEquals(0, fs.read(e.nodeid(), fh, 100, MemorySegment.ofArray(buf), 0, 64));
        assertEquals(0, fs.release(e.nodeid(), fh, false));
        assertEquals(Errno.EBADF.negative(), fs.release(e.nodeid(), fh, false));
        assertEquals(Errno.EBADF.negative(), fs.read(e.nodeid(), fh, 0, MemorySegment.ofArray(buf), 0, 64));
        assertEquals(0, device.handleCount());
    }

    @Test
    void shouldReadALargeFileInSeveralRequests() throws Exception {
        final VirtioFsDriver.Entry e = fs.lookup(Fuse.ROOT_ID, "big.bin");
        final long fh = fs.open(e.nodeid(), false);
        final byte[] buf = new byte[120_000];
        assertEquals(100_000, fs.read(e.nodeid(), fh, 0, MemorySegment.ofArray(buf), 0, buf.length));
        final byte[] expected = Files.readAllBytes(shared.resolve("big.bin"));
        assertArrayEquals(expected, java.util.Arrays.copyOf(buf, 100_000));
        fs.release(e.nodeid(), fh, false);
    }

    @Test
    void shouldListADirectoryInNameOrderAcrossCalls() throws Exception {
        final long dir = fs.lookup(Fuse.ROOT_ID, "dir").nodeid();
        final long fh = fs.open(dir, true);
        final List<String> names = new ArrayList<>();
        final List<Integer> types = new ArrayList<>();
        // take one entry per call to exercise the offsets
        long off = 0;
        while (true) {
            final int[] taken = {0};
            final long next = fs.readdir(dir, fh, off, (ino, n, type, name) -> {
                if (taken[0]++ > 0) {
                    return false;
                }
                names.add(name);
                types.add(type);
                return true;
            });
            assertTrue(next >= 0);
            if (next == off) {
                break;
            }
            off = next;
        }
        assertEquals(List.of("a", "b", "sub"), names);
        assertEquals(List.of(8, 8, 4), types); // DT_REG, DT_REG, DT_DIR
        assertEquals(0, fs.release(dir, fh, true));
        assertEquals(Errno.ENOTDIR.negative(), fs.open(fs.lookup(Fuse.ROOT_ID, "hello.txt").nodeid(), true));
        assertEquals(Errno.EISDIR.negative(), fs.open(dir, false));
    }

    @Test
    void shouldReadLinksAsTextAndNeverFollowThem() throws Exception {
        final VirtioFsDriver.Entry inside = fs.lookup(Fuse.ROOT_ID, "inside");
        assertEquals(0120000, inside.attr().mode() & 0170000);
        assertEquals("hello.txt", fs.readlink(inside.nodeid()));
        final VirtioFsDriver.Entry escape = fs.lookup(Fuse.ROOT_ID, "escape");
        assertEquals("../secret", fs.readlink(escape.nodeid()));
        assertEquals(Errno.ELOOP.negative(), fs.open(escape.nodeid(), false));
        // a link to a directory outside is not a directory to look into
        final long escapeDir = fs.lookup(Fuse.ROOT_ID, "escapedir").nodeid();
        assertErrno(Errno.ENOTDIR, () -> fs.lookup(escapeDir, "secret"));
        assertEquals(Errno.ENOTDIR.negative(), fs.open(escapeDir, true));
        assertErrno(Errno.EINVAL, () -> fs.readlink(fs.lookup(Fuse.ROOT_ID, "hello.txt").nodeid()));
    }

    @Test
    void shouldRefuseDotDotAndOddNames() throws Exception {
        assertErrno(Errno.EACCES, () -> fs.lookup(Fuse.ROOT_ID, ".."));
        assertErrno(Errno.EACCES, () -> fs.lookup(Fuse.ROOT_ID, "."));
        assertErrno(Errno.EACCES, () -> fs.lookup(Fuse.ROOT_ID, "../secret"));
        assertErrno(Errno.EACCES, () -> fs.lookup(Fuse.ROOT_ID, "dir/../../secret"));
        final long dir = fs.lookup(Fuse.ROOT_ID, "dir").nodeid();
        assertErrno(Errno.EACCES, () -> fs.lookup(dir, ".."));
        assertErrno(Errno.ENOENT, () -> fs.lookup(Fuse.ROOT_ID, "missing"));
        assertErrno(Errno.ENOENT, () -> fs.lookup(987_654, "a"));
        assertErrno(Errno.ENOENT, () -> fs.getattr(987_654));
    }

    @Test
    void shouldRefuseADirectoryReplacedByAnOutsideLinkAfterItsLookup() throws Exception {
        final long dir = fs.lookup(Fuse.ROOT_ID, "dir").nodeid();
        final long sub = fs.lookup(dir, "sub").nodeid();
        // the host swaps dir for a link to the folder above the shared one
        Files.move(shared.resolve("dir"), tmp.resolve("moved"));
        Files.createSymbolicLink(shared.resolve("dir"), tmp);
        assertErrno(Errno.ENOTDIR, () -> fs.lookup(dir, "secret"));
        assertErrno(Errno.EACCES, () -> fs.getattr(sub));
    }

    @Test
    void shouldAnswerStatfsAndForgetNodes() throws Exception {
        final VirtioFsDriver.Statfs st = fs.statfs();
        assertEquals(4096, st.bsize());
        assertEquals(255, st.namelen());
        final java.nio.file.FileStore store = Files.getFileStore(shared);
        assertEquals(store.getTotalSpace() / 4096, st.blocks());
        assertTrue(st.bfree() <= st.blocks() && st.bavail() <= st.blocks(), st.toString());
        final int before = device.nodeCount();
        final long a = fs.lookup(Fuse.ROOT_ID, "hello.txt").nodeid();
        fs.lookup(Fuse.ROOT_ID, "hello.txt");
        assertEquals(before + 1, device.nodeCount());
        fs.forget(a, 1);
        fs.getattr(a); // FORGET goes through hiprio: a later request sees the node until its last lookup
        fs.forget(a, 1);
        // FORGET has no reply: the used ring answers once the device has handled it
        assertEquals(before, device.nodeCount());
        assertErrno(Errno.ENOENT, () -> fs.getattr(a));
    }

    private byte[] request(final int len, final int opcode, final long nodeid, final byte[] args) {
        final byte[] b = new byte[Fuse.IN_HEADER + args.length];
        Fuse.putInHeader(MemorySegment.ofArray(b), 0, len, opcode, 77, nodeid);
        System.arraycopy(args, 0, b, Fuse.IN_HEADER, args.length);
        return b;
    }

    private int error(final byte[] reply) {
        return Fuse.u32(MemorySegment.ofArray(reply), 4);
    }

    @Test
    void shouldAnswerErofsToEveryWritingOpcode() throws Exception {
        fs.statfs(); // session started
        for (final int op : new int[] {Fuse.SETATTR, Fuse.SYMLINK, Fuse.MKNOD, Fuse.MKDIR, Fuse.UNLINK, Fuse.RMDIR,
            Fuse.RENAME, Fuse.LINK, Fuse.WRITE, Fuse.SETXATTR, Fuse.REMOVEXATTR, Fuse.CREATE, Fuse.FALLOCATE,
            Fuse.RENAME2}) {
            final byte[] reply = new byte[64];
            final byte[] args = new byte[64];
            assertEquals(Fuse.OUT_HEADER, fs.raw(request(Fuse.IN_HEADER + 64, op, Fuse.ROOT_ID, args), 64, reply));
            assertEquals(Errno.EROFS.negative(), error(reply), Fuse.opcodeName(op));
            assertEquals(77, Fuse.u64(MemorySegment.ofArray(reply), 8));
        }
        final byte[] openWrite = new byte[Fuse.OPEN_IN];
        openWrite[0] = 2; // O_RDWR
        final long node = fs.lookup(Fuse.ROOT_ID, "hello.txt").nodeid();
        final byte[] reply = new byte[64];
        fs.raw(request(Fuse.IN_HEADER + Fuse.OPEN_IN, Fuse.OPEN, node, openWrite), 64, reply);
        assertEquals(Errno.EROFS.negative(), error(reply));
        assertEquals("hello virtio-fs\n", Files.readString(shared.resolve("hello.txt")));
    }

    @Test
    void shouldAnswerAnErrnoToMalformedRequests() throws Exception {
        fs.statfs();
        final byte[] reply = new byte[64];
        // shorter than a fuse_in_header
        assertEquals(Fuse.OUT_HEADER, fs.raw(new byte[20], 64, reply));
        assertEquals(Errno.EINVAL.negative(), error(reply));
        // len disagrees with the bytes sent
        assertEquals(Fuse.OUT_HEADER, fs.raw(request(999, Fuse.GETATTR, Fuse.ROOT_ID, new byte[16]), 64, reply));
        assertEquals(Errno.EINVAL.negative(), error(reply));
        // READ arguments cut short
        assertEquals(Fuse.OUT_HEADER, fs.raw(request(Fuse.IN_HEADER + 8, Fuse.READ, Fuse.ROOT_ID, new byte[8]), 64, reply));
        assertEquals(Errno.EINVAL.negative(), error(reply));
        // a LOOKUP name without its NUL, and an empty one
        assertEquals(Fuse.OUT_HEADER, fs.raw(request(Fuse.IN_HEADER, Fuse.LOOKUP, Fuse.ROOT_ID, new byte[0]), 64, reply));
        assertEquals(Errno.EINVAL.negative(), error(reply));
        // unknown opcode
        fs.raw(request(Fuse.IN_HEADER, 4242, Fuse.ROOT_ID, new byte[0]), 64, reply);
        assertEquals(Errno.ENOSYS.negative(), error(reply));
        // no room for the reply header: returned unused
        assertEquals(0, fs.raw(request(Fuse.IN_HEADER, Fuse.STATFS, Fuse.ROOT_ID, new byte[0]), 0, reply));
        assertEquals(0, fs.raw(request(Fuse.IN_HEADER, Fuse.STATFS, Fuse.ROOT_ID, new byte[0]), 8, reply));
        assertTrue(device.deviceCounters().contains("malformed=3"), device.deviceCounters());
        // and the device still serves
        assertEquals(16, fs.getattr(fs.lookup(Fuse.ROOT_ID, "hello.txt").nodeid()).size());
    }
}
