package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.KernelClock;
import dev.osvj.mmu.PageFault;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.mmu.vm.AddressSpace;
import dev.osvj.mmu.vm.ThreadCpuBinding;
import dev.osvj.mmu.vm.Tlb;
import dev.osvj.mmu.vm.TlbShootdown;
import dev.osvj.vfs.ramfs.RamFs;
import dev.osvj.vfs.rofs.MkImage;
import dev.osvj.vfs.rofs.RofsFs;
import dev.osvj.vfs.blk.MappedFileBlockDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import static dev.osvj.mmu.Mman.MAP_ANONYMOUS;
import static dev.osvj.mmu.Mman.MAP_PRIVATE;
import static dev.osvj.mmu.Mman.MAP_SHARED;
import static dev.osvj.mmu.Mman.MS_SYNC;
import static dev.osvj.mmu.Mman.PROT_READ;
import static dev.osvj.mmu.Mman.PROT_WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * mmap of files through the VFS's page cache ({@link Vfs#mmap}, {@link Vfs#mapFile}) on a real
 * address space: ramfs and rofs, shared and private, msync, coherence with read/write/truncate, the
 * errno cases (modelled on OSv's tst-mmap-file).
 */
class FileMmapTest {
    private static final int PAGE = 4096;
    private static final int RW = PROT_READ | PROT_WRITE;

    @TempDir
    Path dir;

    private PhysicalMemory memory;
    private PageAllocator frames;
    private ThreadCpuBinding cpus;
    private AddressSpace as;
    private Vfs vfs;

    @BeforeEach
    void setUp() {
        memory = PhysicalMemory.allocate(16L << 20);
        frames = new PageAllocator(memory, 0);
        cpus = new ThreadCpuBinding(1);
        cpus.bind(0, true);
        final TlbShootdown shootdown = new TlbShootdown(new Tlb[] {new Tlb(0, 64)}, cpus, 10_000_000_000L);
        as = new AddressSpace(memory, frames, shootdown, false);
        vfs = TestVfs.ramfsRoot();
        vfs.attachMemory(memory, frames);
    }

    @AfterEach
    void tearDown() {
        cpus.unbind();
        as.close();
        memory.close();
    }

    private static long ok(final long r) {
        assertTrue(r >= 0, () -> "failed: " + Errno.fromResult(r));
        return r;
    }

    private int fileWith(final String path, final byte[] data) {
        final int fd = (int)ok(vfs.open(path, Posix.O_RDWR | Posix.O_CREAT | Posix.O_TRUNC, 0644));
        assertEquals(data.length, vfs.write(fd, data, 0, data.length));
        return fd;
    }

    private static byte[] pattern(final int n, final long seed) {
        final byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private byte[] readAt(final int fd, final long at, final int n) {
        final byte[] b = new byte[n];
        assertEquals(n, vfs.pread(fd, b, 0, n, at));
        return b;
    }

    private byte[] mem(final long va, final int n) {
        final byte[] b = new byte[n];
        as.read(va, b, 0, n);
        return b;
    }

    @Test
    void shouldReadTheFileThroughAMapping() {
        final byte[] data = pattern(3 * PAGE + 100, 1);
        final int fd = fileWith("/f", data);
        final long va = ok(vfs.mmap(as, 0, data.length, PROT_READ, MAP_SHARED, fd, 0));
        assertArrayEquals(data, mem(va, data.length));
        // The rest of the last page reads as zeros.
        assertArrayEquals(new byte[PAGE - 100], mem(va + data.length, PAGE - 100));
        // A mapping at an offset.
        final long va2 = ok(vfs.mmap(as, 0, PAGE, PROT_READ, MAP_PRIVATE, fd, 2 * PAGE));
        assertArrayEquals(Arrays.copyOfRange(data, 2 * PAGE, 3 * PAGE), mem(va2, PAGE));
        // Past the end of the file: SIGBUS.
        final long va3 = ok(vfs.mmap(as, 0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 3 * PAGE));
        final PageFault fault = assertThrows(PageFault.class, () -> as.getByte(va3 + PAGE));
        assertEquals(PageFault.Signal.SIGBUS, fault.signal());
        assertEquals(0, as.munmap(va, data.length));
        assertEquals(0, as.munmap(va2, PAGE));
        assertEquals(0, as.munmap(va3, 2 * PAGE));
    }

    @Test
    void shouldShowWritesThroughASharedMappingToRead() throws Exception {
        final byte[] data = pattern(2 * PAGE, 2);
        final int fd = fileWith("/shared", data);
        final long va = ok(vfs.mmap(as, 0, 2 * PAGE, RW, MAP_SHARED, fd, 0));
        final byte[] hello = "written through the mapping".getBytes(StandardCharsets.US_ASCII);
        as.write(va + PAGE + 10, hello, 0, hello.length);
        // Before any msync: read(2) sees the mapping's bytes (one page cache, as on Linux).
        assertArrayEquals(hello, readAt(fd, PAGE + 10, hello.length));
        // write(2) is seen through the mapping.
        final byte[] other = "written with pwrite".getBytes(StandardCharsets.US_ASCII);
        assertEquals(other.length, vfs.pwrite(fd, other, 0, other.length, 100));
        assertArrayEquals(other, mem(va + 100, other.length));
        // A second shared mapping of the same file sees the first one's writes.
        final long va2 = ok(vfs.mmap(as, 0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0));
        assertArrayEquals(hello, mem(va2 + PAGE + 10, hello.length));
        // After munmap the bytes are in the file itself (a new descriptor, no frames left).
        assertEquals(0, as.munmap(va, 2 * PAGE));
        assertEquals(0, as.munmap(va2, 2 * PAGE));
        assertEquals(0, vfs.mappedFrames("/shared"), "frames are released with the last reference");
        final byte[] expect = data.clone();
        System.arraycopy(hello, 0, expect, PAGE + 10, hello.length);
        System.arraycopy(other, 0, expect, 100, other.length);
        assertArrayEquals(expect, vfs.readFile("/shared"));
        assertEquals(0, vfs.close(fd));
    }

    @Test
    void shouldKeepPrivateMappingWritesPrivate() throws Exception {
        final byte[] data = pattern(PAGE, 3);
        final int fd = fileWith("/private", data);
        final long va = ok(vfs.mmap(as, 0, PAGE, RW, MAP_PRIVATE, fd, 0));
        assertEquals(data[5], as.getByte(va + 5));
        as.putByte(va + 5, (byte)(data[5] ^ 0x55));
        assertEquals((byte)(data[5] ^ 0x55), as.getByte(va + 5));
        assertArrayEquals(data, readAt(fd, 0, PAGE), "the file does not see a private write");
        assertEquals(0, as.msync(va, PAGE, MS_SYNC));
        assertEquals(0, as.munmap(va, PAGE));
        assertArrayEquals(data, vfs.readFile("/private"), "nor after msync and munmap");
        // A private mapping of a read-only descriptor may still be written (copy on write).
        final int ro = (int)ok(vfs.open("/private", Posix.O_RDONLY));
        final long va2 = ok(vfs.mmap(as, 0, PAGE, RW, MAP_PRIVATE, ro, 0));
        as.putByte(va2, (byte)1);
        assertEquals(0, as.munmap(va2, PAGE));
        assertArrayEquals(data, vfs.readFile("/private"));
    }

    @Test
    void shouldWriteBackOnMsync() throws Exception {
        final byte[] data = pattern(PAGE, 4);
        final int fd = fileWith("/sync", data);
        final long va = ok(vfs.mmap(as, 0, PAGE, RW, MAP_SHARED, fd, 0));
        as.putLong(va + 8, 0x1122334455667788L);
        assertEquals(0, as.msync(va, PAGE, MS_SYNC));
        // The filesystem's own copy changed: read it past the VFS's page cache overlay.
        final Vnode vp = vnodeOf("/sync");
        final java.nio.ByteBuffer raw = java.nio.ByteBuffer.allocate(16);
        assertEquals(16, vp.ops().read(vp, 0, raw, 0));
        assertEquals(0x1122334455667788L, raw.order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(8));
        assertEquals(1, vfs.mappedFrames("/sync"), "the mapping still holds its page");
        assertEquals(0, as.munmap(va, PAGE));
        assertEquals(0, vfs.mappedFrames("/sync"));
    }

    @Test
    void shouldKeepMappingsCoherentWithTruncate() {
        final byte[] data = pattern(2 * PAGE, 5);
        final int fd = fileWith("/trunc", data);
        final long va = ok(vfs.mmap(as, 0, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0));
        assertEquals(data[PAGE + 200], as.getByte(va + PAGE + 200));
        assertEquals(0, vfs.ftruncate(fd, PAGE + 100));
        assertEquals(0, as.getByte(va + PAGE + 200), "bytes cut off by truncate read as zero");
        assertEquals(data[PAGE + 50], as.getByte(va + PAGE + 50));
        assertEquals(0, vfs.ftruncate(fd, 2 * PAGE));
        assertArrayEquals(new byte[PAGE - 100], readAt(fd, PAGE + 100, PAGE - 100), "growing again shows zeros");
        assertEquals(0, as.munmap(va, 2 * PAGE));
    }

    @Test
    void shouldMapARofsFileFromTheImage() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src"));
        final byte[] data = pattern(5 * PAGE + 7, 6);
        Files.write(src.resolve("lib.so"), data);
        final Path image = dir.resolve("app.img");
        MkImage.build(src, image, (d, t) -> {
        });
        try (MappedFileBlockDevice dev = MappedFileBlockDevice.open("vblk0", image, true)) {
            vfs.registerFileSystem(new RofsFs(s -> "/dev/vblk0".equals(s) ? dev : null, 1 << 20));
            ok(vfs.mkdir("/img", 0755));
            ok(vfs.mount("rofs", "/dev/vblk0", "/img", Map.of()));
            final int fd = (int)ok(vfs.open("/img/lib.so", Posix.O_RDONLY));
            final long va = ok(vfs.mmap(as, 0, data.length, PROT_READ, MAP_PRIVATE, fd, 0));
            assertArrayEquals(data, mem(va, data.length));
            // Private and writable: copy on write, the image is untouched.
            final long va2 = ok(vfs.mmap(as, 0, PAGE, RW, MAP_PRIVATE, fd, PAGE));
            as.putByte(va2, (byte)(data[PAGE] + 1));
            assertEquals((byte)(data[PAGE] + 1), as.getByte(va2));
            assertEquals(data[PAGE], as.getByte(va + PAGE));
            assertArrayEquals(data, vfs.readFile("/img/lib.so"));
            // Shared and writable needs write access, which a read-only filesystem never gives.
            assertEquals(-Errno.EACCES.number(), vfs.mmap(as, 0, PAGE, RW, MAP_SHARED, fd, 0));
            assertEquals(0, as.munmap(va, data.length));
            assertEquals(0, as.munmap(va2, PAGE));
            assertEquals(0, vfs.close(fd));
        }
    }

    @Test
    void shouldAnswerTheErrnoCases() {
        final int fd = fileWith("/e", pattern(PAGE, 7));
        final int wronly = (int)ok(vfs.open("/e", Posix.O_WRONLY));
        final int rdonly = (int)ok(vfs.open("/e", Posix.O_RDONLY));
        final int[] pipe = new int[2];
        ok(vfs.pipe(pipe));
        ok(vfs.mkdir("/d", 0755));
        final int dirfd = (int)ok(vfs.open("/d", Posix.O_RDONLY | Posix.O_DIRECTORY));
        assertEquals(-Errno.EBADF.number(), vfs.mmap(as, 0, PAGE, PROT_READ, MAP_SHARED, 99, 0));
        assertEquals(-Errno.EINVAL.number(), vfs.mmap(as, 0, PAGE, PROT_READ, MAP_SHARED, fd, 100));
        assertEquals(-Errno.EACCES.number(), vfs.mmap(as, 0, PAGE, PROT_READ, MAP_SHARED, wronly, 0));
        assertEquals(-Errno.EACCES.number(), vfs.mmap(as, 0, PAGE, RW, MAP_SHARED, rdonly, 0));
        assertEquals(-Errno.ENODEV.number(), vfs.mmap(as, 0, PAGE, PROT_READ, MAP_SHARED, pipe[0], 0));
        assertEquals(-Errno.ENODEV.number(), vfs.mmap(as, 0, PAGE, PROT_READ, MAP_SHARED, dirfd, 0));
        assertEquals(-Errno.EINVAL.number(), vfs.mmap(as, 0, 0, PROT_READ, MAP_SHARED, fd, 0));
        // MAP_ANONYMOUS ignores the descriptor.
        final long anon = ok(vfs.mmap(as, 0, PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        assertEquals(0, as.getLong(anon));
        // Without guest memory attached, files cannot be mapped.
        final Vfs bare = TestVfs.ramfsRoot();
        final int bfd = (int)ok(bare.open("/x", Posix.O_RDWR | Posix.O_CREAT, 0644));
        assertEquals(-Errno.ENODEV.number(), bare.mmap(as, 0, PAGE, PROT_READ, MAP_SHARED, bfd, 0));
    }

    @Test
    void shouldKeepAnUnlinkedClosedFileAliveWhileMapped() throws Exception {
        final byte[] data = pattern(2 * PAGE, 8);
        final int fd = fileWith("/gone", data);
        final long va = ok(vfs.mmap(as, 0, 2 * PAGE, RW, MAP_SHARED, fd, 0));
        assertEquals(data[0], as.getByte(va));
        ok(vfs.unlink("/gone"));
        ok(vfs.close(fd));
        // The second page was never touched: it is still read from the file's data.
        assertArrayEquals(Arrays.copyOfRange(data, PAGE, 2 * PAGE), mem(va + PAGE, PAGE));
        as.putByte(va + PAGE, (byte)7);
        assertEquals(7, as.getByte(va + PAGE));
        assertEquals(0, as.munmap(va, 2 * PAGE));
    }

    private Vnode vnodeOf(final String path) throws Exception {
        final int fd = (int)ok(vfs.open(path, Posix.O_RDONLY));
        try {
            return vfs.vnodeOf(fd);
        } finally {
            vfs.close(fd);
        }
    }
}
