package dev.osvj.api;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.mmu.Mman;
import dev.osvj.mmu.vm.AddressSpace;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import dev.osvj.vfs.Posix;
import dev.osvj.vfs.Vfs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Syscalls#mmap} of a file on a booted kernel: the VFS's page cache in the mmu's guest memory. */
class SyscallsMmapTest {
    private static Kernel kernel;

    @BeforeAll
    static void boot() throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        kernel = Kernel.boot(KernelConfigLoader.load(null, List.of("osvj.name=mmap"), new Properties(), subsystems, tracepoints),
            subsystems, tracepoints, new PrintStream(new ByteArrayOutputStream()), KernelClock.SYSTEM);
    }

    @AfterAll
    static void powerOff() throws Exception {
        kernel.powerOff(0);
        kernel.awaitPoweredOff(Duration.ofSeconds(30));
    }

    @Test
    void shouldMapAFileSharedAndPrivate() throws Exception {
        final Syscalls sys = Syscalls.of(kernel);
        final Vfs files = sys.files();
        final AddressSpace memory = sys.memory();
        final byte[] data = "hello from a mapped file".getBytes(StandardCharsets.US_ASCII);
        final int fd = (int)Errno.check(files.open("/tmp/mapped", Posix.O_RDWR | Posix.O_CREAT, 0644));
        assertEquals(data.length, files.write(fd, data, 0, data.length));

        final long shared = Errno.check(sys.mmap(0, 4096, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_SHARED, fd, 0));
        final byte[] seen = new byte[data.length];
        memory.read(shared, seen, 0, seen.length);
        assertArrayEquals(data, seen);
        memory.putByte(shared, (byte)'H');
        assertEquals(0, memory.msync(shared, 4096, Mman.MS_SYNC));
        final byte[] back = new byte[1];
        assertEquals(1, files.pread(fd, back, 0, 1, 0));
        assertEquals('H', back[0]);

        final long priv = Errno.check(sys.mmap(0, 4096, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE, fd, 0));
        memory.putByte(priv + 1, (byte)'E');
        assertEquals(1, files.pread(fd, back, 0, 1, 1));
        assertEquals('e', back[0], "a private write stays private");
        assertEquals(0, memory.munmap(shared, 4096));
        assertEquals(0, memory.munmap(priv, 4096));

        assertEquals(-Errno.EBADF.number(), sys.mmap(0, 4096, Mman.PROT_READ, Mman.MAP_SHARED, 1000, 0));
        final long anon = sys.mmap(0, 4096, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS, -1, 0);
        assertTrue(anon > 0);
        assertEquals(0, memory.munmap(anon, 4096));
        assertEquals(0, files.close(fd));
    }
}
