package dev.osvj.mmu;

/**
 * The MMU's view of the vCPUs: which one the calling thread runs on, and whether a vCPU is running
 * application code right now. The TLB shootdown (OSv's {@code flush_tlb_all}) and malloc's per-vCPU
 * caches depend on it. The scheduler provides the real implementation; until it is plugged in, the
 * MMU uses {@link dev.osvj.mmu.vm.ThreadCpuBinding}, where threads declare their vCPU.
 *
 * <p>Contract for an implementation:
 * <ul>
 *   <li>{@link #currentCpu()} is cheap (it is on every TLB lookup and every malloc) and stable while
 *       the caller is inside one MMU call (the thread is not migrated mid-call: migration is
 *       disabled or only happens at preemption points, and the MMU has none);</li>
 *   <li>{@link #runningApplication(int)} is a volatile read of state the scheduler updates before it
 *       switches an application thread in; right after that update, and before the thread runs, the
 *       scheduler calls the switch-in hook it was given ({@link #onApplicationSwitchIn}) so a lazily
 *       flushed TLB is flushed (OSv's {@code lazy_flush_tlb} at context switch).</li>
 * </ul>
 */
public interface VcpuTopology {
    /** Number of vCPUs ({@code osvj.cpus}). */
    int cpus();

    /** The vCPU the calling thread runs on, {@code 0 <= cpu < cpus()}. */
    int currentCpu();

    /** True when the calling thread is application code (kernel threads shoot down all vCPUs). */
    boolean isApplicationThread();

    /** True when {@code cpu} is running an application thread now. */
    boolean runningApplication(int cpu);

    /**
     * Install the hook to run when an application thread is switched in on a vCPU (argument: the
     * vCPU), before that thread runs. One hook; a second call replaces it.
     */
    void onApplicationSwitchIn(java.util.function.IntConsumer hook);
}
