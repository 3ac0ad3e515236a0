package dev.osvj.api;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.kernel.KernelContext;

/**
 * The system-call surface of one kernel instance (see the package documentation for conventions).
 * Thread-safe; cheap to keep: one per application.
 */
public final class Syscalls {
    /** OSv's process id: one application, one process ({@code OSV_PID}). */
    public static final int PID = 2;

    /** clock ids, Linux values. */
    public static final int CLOCK_REALTIME = 0;
    public static final int CLOCK_MONOTONIC = 1;
    public static final int CLOCK_PROCESS_CPUTIME_ID = 2;
    public static final int CLOCK_BOOTTIME = 7;

    private final KernelContext kernel;

    private Syscalls(final KernelContext kernel) {
        this.kernel = kernel;
    }

    public static Syscalls of(final KernelContext kernel) {
        return new Syscalls(kernel);
    }

    /** getpid(2): always {@link #PID}. */
    public int getpid() {
        return PID;
    }

    /**
     * clock_gettime(2) in nanoseconds.
     *
     * @return nanoseconds of the clock, or {@code -EINVAL} for an unknown clock id.
     */
    public long clockGettime(final int clockId) {
        return switch (clockId) {
            case CLOCK_REALTIME -> kernel.clock().realtimeNanos();
            case CLOCK_MONOTONIC -> kernel.clock().monotonicNanos();
            case CLOCK_BOOTTIME -> kernel.clock().monotonicNanos() - kernel.bootStartNanos();
            case CLOCK_PROCESS_CPUTIME_ID -> processCpuNanos();
            default -> Errno.EINVAL.negative();
        };
    }

    /** uname(2). */
    public Utsname uname() {
        return new Utsname("osvj", kernel.name(), dev.osvj.system.BuildInfo.version(), "#1 " + kernel.config().getInt("osvj.cpus") + " vCPUs",
            System.getProperty("os.arch"));
    }

    /** struct utsname. */
    public record Utsname(String sysname, String nodename, String release, String version, String machine) {
    }

    /**
     * File calls: the VFS (open, read, write, stat, mkdir, rename, getdents, pipe...; {@code -errno}
     * results, constants in {@code dev.osvj.vfs.Posix}).
     *
     * @throws ErrnoException ENOSYS when this kernel has no VFS.
     */
    public dev.osvj.vfs.Vfs files() throws ErrnoException {
        return subsystem(dev.osvj.vfs.Vfs.class);
    }

    /**
     * Memory calls: the one address space (mmap, munmap, mprotect, madvise, msync, mincore, and
     * get/put at virtual addresses; constants in {@code dev.osvj.mmu.Mman}).
     *
     * @throws ErrnoException ENOSYS when this kernel has no MMU.
     */
    public dev.osvj.mmu.vm.AddressSpace memory() throws ErrnoException {
        return subsystem(dev.osvj.mmu.vm.AddressSpace.class);
    }

    /**
     * The kernel's malloc, shared by kernel and application (malloc, calloc, realloc, free,
     * posix_memalign).
     *
     * @throws ErrnoException ENOSYS when this kernel has no MMU.
     */
    public dev.osvj.mmu.malloc.Malloc malloc() throws ErrnoException {
        return subsystem(dev.osvj.mmu.malloc.Malloc.class);
    }

    /**
     * A subsystem's published API (the VFS's file calls, the scheduler's thread calls...).
     *
     * @throws ErrnoException ENOSYS when this kernel instance has no such subsystem.
     */
    public <T> T subsystem(final Class<T> api) throws ErrnoException {
        return kernel.services().find(api).orElseThrow(() -> new ErrnoException(Errno.ENOSYS, api.getSimpleName()));
    }

    private static long processCpuNanos() {
        final java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean hotspot) {
            return hotspot.getProcessCpuTime();
        }
        return Errno.ENOSYS.negative();
    }
}
