package dev.osvj.mmu.vm;

import dev.osvj.mmu.VcpuTopology;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.IntConsumer;

/**
 * The MMU's {@link VcpuTopology} until the scheduler provides one: threads declare the vCPU they run
 * on with {@link #bind}, and whether they are application code. A bound application thread counts as
 * "running application code" on its vCPU for as long as it stays bound (conservative: more IPIs, never
 * fewer). An unbound thread is a kernel thread on vCPU {@code threadId % cpus}.
 *
 * <p>Several threads may be bound to one vCPU at once; everything the MMU keeps per vCPU is safe for
 * that (TLB entries are immutable, malloc's per-vCPU caches take a per-vCPU lock).
 */
public final class ThreadCpuBinding implements VcpuTopology {
    private static final int KERNEL = 0;
    private static final int APPLICATION = 1;

    private final int cpus;
    /** {cpu, KERNEL|APPLICATION} of the current thread, or null when unbound. */
    private final ThreadLocal<int[]> binding = new ThreadLocal<>();
    private final AtomicIntegerArray applicationThreads;
    private volatile IntConsumer switchInHook = cpu -> { };

    public ThreadCpuBinding(final int cpus) {
        if (cpus < 1) {
            throw new IllegalArgumentException("cpus " + cpus);
        }
        this.cpus = cpus;
        this.applicationThreads = new AtomicIntegerArray(cpus);
    }

    /**
     * Bind the calling thread to {@code cpu}. For an application thread this is a switch-in: the
     * vCPU's state is published first, then the hook (lazy TLB flush) runs.
     */
    public void bind(final int cpu, final boolean application) {
        if (cpu < 0 || cpu >= cpus) {
            throw new IllegalArgumentException("cpu " + cpu + " of " + cpus);
        }
        unbind();
        binding.set(new int[] {cpu, application ? APPLICATION : KERNEL});
        if (application) {
            applicationThreads.incrementAndGet(cpu);
            switchInHook.accept(cpu);
        }
    }

    /** Unbind the calling thread (a switch-out when it was an application thread). */
    public void unbind() {
        final int[] b = binding.get();
        if (b != null) {
            binding.remove();
            if (b[1] == APPLICATION) {
                applicationThreads.decrementAndGet(b[0]);
            }
        }
    }

    @Override
    public int cpus() {
        return cpus;
    }

    @Override
    public int currentCpu() {
        final int[] b = binding.get();
        return b != null ? b[0] : (int)(Thread.currentThread().threadId() % cpus);
    }

    @Override
    public boolean isApplicationThread() {
        final int[] b = binding.get();
        return b != null && b[1] == APPLICATION;
    }

    @Override
    public boolean runningApplication(final int cpu) {
        return applicationThreads.get(cpu) > 0;
    }

    @Override
    public void onApplicationSwitchIn(final IntConsumer hook) {
        this.switchInHook = hook;
    }
}
