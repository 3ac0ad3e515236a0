package dev.osvj.system.glue;

import dev.osvj.mmu.VcpuTopology;
import dev.osvj.sched.KThread;
import dev.osvj.sched.Scheduler;

import java.util.function.IntConsumer;

/**
 * The MMU's {@link VcpuTopology} backed by the scheduler: the vCPU of the calling kernel thread, the
 * scheduler's per-vCPU "running an application thread" flag, and its switch-in hook.
 *
 * <ul>
 *   <li>{@link #currentCpu()}: the caller's vCPU ({@link Scheduler#currentCpu()}); a host thread outside
 *       the vCPUs (tests, boot code, the launcher) gets {@code threadId % cpus}, as with the MMU's own
 *       {@code ThreadCpuBinding}: the MMU's per-vCPU structures are safe for that (per-vCPU caches are
 *       locked, TLB entries immutable). Stable within one MMU call: a kernel thread only changes vCPU
 *       when it blocks or reaches a preemption point;</li>
 *   <li>{@link #isApplicationThread()}: a kernel thread created with
 *       {@link dev.osvj.sched.ThreadAttr#asApplication()}; host threads count as kernel code, so their
 *       shootdowns reach every vCPU (never fewer IPIs than needed);</li>
 *   <li>{@link #runningApplication(int)} and {@link #onApplicationSwitchIn}: the scheduler's
 *       {@link Scheduler#runningApplication} (volatile) and {@link Scheduler#onApplicationSwitchIn}, which
 *       a vCPU runs after publishing the flag and before the application thread runs.</li>
 * </ul>
 */
public final class SchedulerVcpuTopology implements VcpuTopology {
    private final Scheduler scheduler;
    private final int cpus;

    public SchedulerVcpuTopology(final Scheduler scheduler) {
        this.scheduler = scheduler;
        this.cpus = scheduler.cpuCount();
    }

    @Override
    public int cpus() {
        return cpus;
    }

    @Override
    public int currentCpu() {
        final int cpu = scheduler.currentCpu();
        return cpu >= 0 ? cpu : (int)(Thread.currentThread().threadId() % cpus);
    }

    @Override
    public boolean isApplicationThread() {
        final KThread t = KThread.current();
        return t != null && t.isApplication() && t.scheduler() == scheduler;
    }

    @Override
    public boolean runningApplication(final int cpu) {
        return scheduler.runningApplication(cpu);
    }

    @Override
    public void onApplicationSwitchIn(final IntConsumer hook) {
        scheduler.onApplicationSwitchIn(hook);
    }
}
