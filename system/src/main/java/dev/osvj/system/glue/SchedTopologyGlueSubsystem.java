package dev.osvj.system.glue;

import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.mmu.VcpuTopology;
import dev.osvj.sched.Scheduler;

/**
 * Gives the MMU the scheduler's view of the vCPUs ("vCPU topology bound"): boots after the scheduler
 * and before the MMU, and publishes a {@link SchedulerVcpuTopology} as the {@link VcpuTopology}
 * service, which the MMU then uses instead of its {@code ThreadCpuBinding} for the TLB shootdown's
 * lazy-flush rule and malloc's per-vCPU caches.
 *
 * <p>A glue subsystem because actors-mmu must not depend on the scheduler's internals (and the
 * scheduler knows nothing of the MMU); only the module that assembles the kernel knows both. Without a
 * scheduler service nothing is published. Declares no keys.
 */
public final class SchedTopologyGlueSubsystem implements Subsystem {
    /** Between {@link Order#SCHED} and {@link Order#MMU}. */
    static final int ORDER = 150;

    @Override
    public String name() {
        return "schedglue";
    }

    @Override
    public int order() {
        return ORDER;
    }

    @Override
    public String phase() {
        return "vCPU topology bound";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        // no keys
    }

    @Override
    public void boot(final BootContext context) {
        context.services().find(Scheduler.class).ifPresent(sched ->
            context.services().provide(VcpuTopology.class, new SchedulerVcpuTopology(sched)));
    }
}
