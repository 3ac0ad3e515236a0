package dev.osvj.mmu.phys;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The idle page zeroer on a host thread, for an MMU used without the scheduler (benchmarks, tests):
 * the thread stands for an idle vCPU. It fills the allocator's zero pool with
 * {@link PageAllocator#zeroIdle} and parks while the pool is more than half full; allocations wake it
 * (see {@link PageAllocator#setZeroerWakeup}). In a booted kernel the MMU runs the same loop as an
 * idle-priority kernel thread instead, so it only takes a vCPU nothing else wants.
 *
 * <p>{@link #cpuNanos()} is the thread's CPU time: the cost of the zeroing moved off the fault path.
 */
public final class PlatformZeroer implements AutoCloseable {
    /** Frames per {@link PageAllocator#zeroIdle} call (a 64 KiB block is zeroed at a time inside). */
    private static final int STEP = 64;

    private final PageAllocator frames;
    private final Thread thread;
    private volatile boolean stopped;

    /** Starts the thread (daemon) at once. */
    public PlatformZeroer(final PageAllocator frames, final String name) {
        this.frames = frames;
        this.thread = new Thread(this::loop, name);
        thread.setDaemon(true);
        frames.setZeroerWakeup(() -> LockSupport.unpark(thread));
        thread.start();
    }

    private void loop() {
        while (!stopped) {
            if (frames.zeroIdle(STEP) == 0 && frames.zeroerMayBlock() && !stopped) {
                LockSupport.park(this);
            }
        }
    }

    /** CPU time the zeroer thread has used so far, in nanoseconds (-1 when the JVM cannot tell). */
    public long cpuNanos() {
        final var mx = java.lang.management.ManagementFactory.getThreadMXBean();
        return mx.isThreadCpuTimeSupported() ? mx.getThreadCpuTime(thread.threadId()) : -1;
    }

    /** Stop and join the thread (the pool keeps its frames; they stay free memory). */
    @Override
    public void close() throws InterruptedException {
        stopped = true;
        frames.kickZeroer();
        thread.join(TimeUnit.SECONDS.toMillis(30));
        frames.setZeroerWakeup(null);
    }
}
