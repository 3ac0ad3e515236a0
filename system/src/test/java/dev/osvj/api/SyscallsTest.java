package dev.osvj.api;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyscallsTest {
    /** A clock the test moves by hand. */
    private static final class HandClock implements KernelClock {
        volatile long mono = 1_000_000_000L;
        volatile long real = 1_800_000_000_000_000_000L;

        @Override
        public long monotonicNanos() {
            return mono;
        }

        @Override
        public long realtimeNanos() {
            return real;
        }
    }

    private static final HandClock CLOCK = new HandClock();
    private static Kernel kernel;

    @BeforeAll
    static void boot() throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        kernel = Kernel.boot(KernelConfigLoader.load(null, List.of("osvj.name=syscalls"), new Properties(), subsystems, tracepoints),
            subsystems, tracepoints, new PrintStream(new ByteArrayOutputStream()), CLOCK);
    }

    @AfterAll
    static void powerOff() throws Exception {
        kernel.powerOff(0);
        kernel.awaitPoweredOff(Duration.ofSeconds(30));
    }

    @Test
    void shouldReadTheKernelClocks() {
        final Syscalls sys = Syscalls.of(kernel);
        CLOCK.mono = 5_000_000_000L;
        assertEquals(5_000_000_000L, sys.clockGettime(Syscalls.CLOCK_MONOTONIC));
        assertEquals(1_800_000_000_000_000_000L, sys.clockGettime(Syscalls.CLOCK_REALTIME));
        assertEquals(4_000_000_000L, sys.clockGettime(Syscalls.CLOCK_BOOTTIME));
        assertTrue(sys.clockGettime(Syscalls.CLOCK_PROCESS_CPUTIME_ID) > 0);
    }

    @Test
    void shouldReturnMinusEinvalForAnUnknownClock() {
        final long r = Syscalls.of(kernel).clockGettime(42);
        assertEquals(-22, r);
        assertEquals(Errno.EINVAL, Errno.fromResult(r));
    }

    @Test
    void shouldBeProcessTwoLikeOsv() {
        assertEquals(2, Syscalls.of(kernel).getpid());
        assertEquals("syscalls", Syscalls.of(kernel).uname().nodename());
    }

    @Test
    void shouldFailWithEnosysForASubsystemTheKernelDoesNotHave() {
        final ErrnoException e = assertThrows(ErrnoException.class, () -> Syscalls.of(kernel).subsystem(Runnable.class));
        assertEquals(Errno.ENOSYS, e.errno());
        assertEquals("Runnable: ENOSYS (Function not implemented)", e.getMessage());
    }

    @Test
    void shouldReachTheVfsAndTheMmuAsPlainMethodCalls() throws Exception {
        final Syscalls sys = Syscalls.of(kernel);
        final dev.osvj.vfs.Vfs vfs = sys.files();
        final int fd = vfs.open("/tmp/syscall", dev.osvj.vfs.Posix.O_CREAT | dev.osvj.vfs.Posix.O_RDWR, 0644);
        assertTrue(fd >= 0, "fd " + fd);
        assertEquals(5, vfs.write(fd, "hello".getBytes(), 0, 5));
        assertEquals(0, vfs.close(fd));
        assertEquals(Errno.EBADF, Errno.fromResult(vfs.close(fd)));
        assertEquals(Errno.ENOENT, Errno.fromResult(vfs.open("/nope/x", dev.osvj.vfs.Posix.O_RDONLY)));
        final long p = sys.malloc().malloc(100);
        assertTrue(p != 0);
        sys.malloc().free(p);
    }
}
