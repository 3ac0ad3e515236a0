package dev.osvj.sched;

import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigSpec;

/** The scheduler subsystem: brings up the vCPUs ("SMP launched"). */
public final class SchedSubsystem implements Subsystem {
    /** OSv's max_cpus: the CPU bitmask is one 64-bit word. */
    public static final int MAX_CPUS = 64;

    @Override
    public String name() {
        return "sched";
    }

    @Override
    public int order() {
        return Order.SCHED;
    }

    @Override
    public String phase() {
        return "SMP launched";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        spec.integer("osvj.cpus", 1, MAX_CPUS);
    }

    @Override
    public void boot(final BootContext context) {
        final int cpus = context.config().getInt("osvj.cpus");
        context.note(cpus + " CPUs detected");
    }
}
