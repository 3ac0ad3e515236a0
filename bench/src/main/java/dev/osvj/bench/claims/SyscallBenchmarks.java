package dev.osvj.bench.claims;

import dev.osvj.api.Syscalls;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * JMH benchmarks of "system calls as method calls": a call into a booted osvj kernel through
 * {@link Syscalls} against the same call made to the host Linux kernel through the FFM API (a real
 * {@code syscall} instruction for {@code getpid}; {@code clock_gettime} goes through the vDSO on Linux,
 * so it is the fair comparison for a call that reads a clock). Run in-process ({@code forks = 0}) by the
 * claims suite, which boots the kernel and sets {@link #syscalls} first.
 */
@State(Scope.Benchmark)
public class SyscallBenchmarks {
    /** The booted kernel's system calls; set by the claims suite before JMH starts. */
    static volatile Syscalls syscalls;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle GETPID = LINKER.downcallHandle(LINKER.defaultLookup().find("getpid").orElseThrow(),
        FunctionDescriptor.of(ValueLayout.JAVA_INT));
    private static final MethodHandle CLOCK_GETTIME = LINKER.downcallHandle(
        LINKER.defaultLookup().find("clock_gettime").orElseThrow(),
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final int CLOCK_MONOTONIC = 1;

    private Syscalls sys;
    private Arena arena;
    private MemorySegment timespec;

    @Setup
    public void setup() {
        sys = syscalls;
        if (sys == null) {
            throw new IllegalStateException("SyscallBenchmarks.syscalls is not set: run it from the claims suite");
        }
        arena = Arena.ofConfined();
        timespec = arena.allocate(16, 8);
    }

    @TearDown
    public void tearDown() {
        arena.close();
    }

    /** The null system call of osvj: getpid through the kernel API. */
    @Benchmark
    public int osvjGetpid() {
        return sys.getpid();
    }

    /** getpid(2) of the host kernel through FFM. */
    @Benchmark
    public int hostGetpid() throws Throwable {
        return (int)GETPID.invokeExact();
    }

    /** clock_gettime(CLOCK_MONOTONIC) through the kernel API. */
    @Benchmark
    public long osvjClockGettime() {
        return sys.clockGettime(Syscalls.CLOCK_MONOTONIC);
    }

    /** clock_gettime(CLOCK_MONOTONIC) of the host (vDSO) through FFM. */
    @Benchmark
    public long hostClockGettime() throws Throwable {
        final int r = (int)CLOCK_GETTIME.invokeExact(CLOCK_MONOTONIC, timespec);
        return r + timespec.get(ValueLayout.JAVA_LONG, 0) * 1_000_000_000L + timespec.get(ValueLayout.JAVA_LONG, 8);
    }
}
