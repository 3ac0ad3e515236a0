package dev.osvj.api;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.kernel.KernelContext;
import dev.osvj.sched.KThread;
import dev.osvj.sched.Scheduler;
import dev.osvj.sched.ThreadAttr;
import dev.osvj.sched.ThreadState;

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
     * mmap(2) with a descriptor: a file of the VFS mapped through its page cache (shared mappings see
     * and make the file's bytes, {@code msync} writes them back; private mappings copy on write), or
     * anonymous memory with {@code MAP_ANONYMOUS} ({@code fd} ignored). Unmap, protect and sync through
     * {@link #memory()}. Flags and protections are {@code dev.osvj.mmu.Mman}'s.
     *
     * @return the mapping's address, or {@code -errno}: EINVAL (offset not page aligned, length 0,
     *     flags), EBADF, EACCES (not open for reading; shared writable without write access), ENODEV
     *     (not a regular file), ENOMEM, ENOSYS (no MMU, or a file mapping without a VFS).
     */
    public long mmap(final long addr, final long length, final int prot, final int flags, final int fd,
        final long offset) {
        try {
            if ((flags & dev.osvj.mmu.Mman.MAP_ANONYMOUS) != 0) {
                return memory().mmap(addr, length, prot, flags);
            }
            return files().mmap(memory(), addr, length, prot, flags, fd, offset);
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
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

    // ---------------------------------------------------------------------------------------------
    // Application threads (pthread_create/join/detach, sched_yield, nanosleep)

    /**
     * pthread_create(3) without the start: an application thread of this kernel, a kernel thread on
     * the vCPUs under the scheduler's fair policy, flagged as application code (whatever {@code attr}
     * says; the MMU's lazy TLB flush relies on the flag). Name, pinned vCPU, priority, real-time
     * priority and detached state come from {@code attr}. Start it with {@link #threadStart}.
     *
     * <p>The body runs as a kernel thread: blocking must go through the kernel's primitives (its
     * mutexes, condvars, semaphores, sleeps, sockets); a blocking JDK call holds the vCPU's carrier
     * and is reported as a blocked carrier. An exception that escapes the body ends the thread and
     * is logged; {@link #threadJoin} still returns 0 (see {@link KThread#failure()}).
     *
     * @throws ErrnoException ENOSYS without a scheduler, EAGAIN when the scheduler is not running
     *     (not started or stopping), EINVAL for a pinned vCPU that does not exist.
     */
    public KThread threadCreate(final ThreadAttr attr, final Runnable body) throws ErrnoException {
        final Scheduler sched = subsystem(Scheduler.class);
        if (!sched.isRunning()) {
            throw new ErrnoException(Errno.EAGAIN, "scheduler not running");
        }
        if (attr.pinnedCpu() >= sched.cpuCount()) {
            throw new ErrnoException(Errno.EINVAL, "no vCPU " + attr.pinnedCpu());
        }
        return sched.newThread(attr.asApplication(), body);
    }

    /**
     * Create and start an application thread with default attributes named {@code name}.
     *
     * @throws ErrnoException as {@link #threadCreate}.
     */
    public KThread threadSpawn(final String name, final Runnable body) throws ErrnoException {
        final KThread t = threadCreate(ThreadAttr.named(name), body);
        t.start();
        return t;
    }

    /** Start a thread made by {@link #threadCreate}: 0, {@code -EINVAL} when already started. */
    public int threadStart(final KThread thread) {
        if (thread.state() != ThreadState.UNSTARTED) {
            return Errno.EINVAL.negative();
        }
        try {
            thread.start();
            return 0;
        } catch (final IllegalStateException e) {
            return Errno.EINVAL.negative(); // lost a race with another start
        }
    }

    /**
     * pthread_join(3): wait until {@code thread} ends; from a kernel thread it blocks that thread
     * (the vCPU runs others), from a host thread it parks.
     *
     * @return 0, {@code -EDEADLK} when joining itself, {@code -EINVAL} when detached.
     */
    public int threadJoin(final KThread thread) {
        final int check = joinable(thread);
        if (check != 0) {
            return check;
        }
        thread.join();
        return 0;
    }

    /**
     * pthread_timedjoin_np(3) with a relative timeout on the kernel clock (host clock from a host
     * thread).
     *
     * @return 0, {@code -ETIMEDOUT}, {@code -EDEADLK}, {@code -EINVAL}.
     */
    public int threadJoin(final KThread thread, final long timeoutNanos) {
        final int check = joinable(thread);
        if (check != 0) {
            return check;
        }
        return thread.join(timeoutNanos) ? 0 : Errno.ETIMEDOUT.negative();
    }

    private static int joinable(final KThread thread) {
        if (thread == KThread.current()) {
            return Errno.EDEADLK.negative();
        }
        if (thread.isDetached()) {
            return Errno.EINVAL.negative();
        }
        return 0;
    }

    /** pthread_detach(3): 0, {@code -EINVAL} when already detached. */
    public int threadDetach(final KThread thread) {
        if (thread.isDetached()) {
            return Errno.EINVAL.negative();
        }
        thread.detach();
        return 0;
    }

    /** pthread_self(3): the calling kernel thread, or null on a host thread outside the vCPUs. */
    public KThread threadSelf() {
        return KThread.current();
    }

    /** sched_yield(2): let the next runnable thread of this vCPU run; 0 (also outside the vCPUs). */
    public int schedYield() {
        if (KThread.current() != null) {
            KThread.yield();
        } else {
            Thread.yield();
        }
        return 0;
    }

    /**
     * nanosleep(2) on the kernel clock (a host sleep outside the vCPUs).
     *
     * @return 0, {@code -EINVAL} for a negative time, {@code -EINTR} when a host thread was interrupted.
     */
    public int nanosleep(final long nanos) {
        if (nanos < 0) {
            return Errno.EINVAL.negative();
        }
        try {
            KThread.sleep(nanos);
            return 0;
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            return Errno.EINTR.negative();
        }
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
