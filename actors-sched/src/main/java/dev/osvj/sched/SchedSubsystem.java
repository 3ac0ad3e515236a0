package dev.osvj.sched;

import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.sched.arch.ContextSwitch;
import dev.osvj.sched.dispatch.VcpuDispatcher;

import java.time.Duration;

/**
 * The scheduler subsystem ("SMP launched"): its boot phase creates the {@link Scheduler}, starts one
 * vCPU actor per {@code osvj.cpus} on its own carrier thread, publishes the scheduler as a service,
 * moves the kernel dispatcher from the boot CPU onto the vCPUs, and registers {@code ps} and
 * {@code top}. {@link #stop} stops the vCPUs (dispatcher tasks fall back to the boot CPU).
 */
public final class SchedSubsystem implements Subsystem {
    /** OSv's max_cpus: the CPU bitmask is one 64-bit word. */
    public static final int MAX_CPUS = 64;
    /** How long {@link #stop} waits for the vCPUs. */
    static final Duration STOP_TIMEOUT = Duration.ofSeconds(3);

    private volatile Scheduler scheduler;

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
        spec.oneOf("osvj.sched.arch", "continuation", "platform");
        spec.rule("osvj.sched.tick", (c, p, shown, out) -> {
            final ConfigValue v = c.getValue(p);
            final String s = String.valueOf(v.unwrapped());
            final boolean ok = (v.valueType() == ConfigValueType.STRING || v.valueType() == ConfigValueType.NUMBER)
                && ("tickless".equals(s) || "100".equals(s) || "1000".equals(s));
            if (!ok) {
                out.add(new ConfigProblem(shown, "expected one of tickless, 100, 1000, got " + ConfigSpec.show(v)));
            }
        });
        spec.duration("osvj.sched.idle-spin", Duration.ZERO, Duration.ofMillis(10));
        spec.oneOf("osvj.sched.idle-spin-mode", "fixed", "adaptive");
        spec.duration("osvj.sched.blocked-carrier-threshold", Duration.ofMillis(1), Duration.ofHours(1));
        spec.duration("osvj.sched.balance-interval", Duration.ofMillis(1), Duration.ofHours(1));
        spec.duration("osvj.sched.mailbox-interval", Duration.ofNanos(100_000), Duration.ofSeconds(1));
        spec.bool("osvj.sched.wake-affine");
    }

    @Override
    public void declareTracepoints(final Tracepoints tracepoints) {
        tracepoints.declare(SchedEvents.Switch.class);
        tracepoints.declare(SchedEvents.Migrate.class);
        tracepoints.declare(SchedEvents.BlockedCarrier.class);
    }

    @Override
    public void boot(final BootContext context) {
        final SchedConfig config = SchedConfig.from(context.config());
        context.note(config.cpus() + " CPUs detected");
        final Scheduler s = Scheduler.create(context.name(), config, context.clock(), context.log());
        s.setWakeAffine(context.config().getBoolean("osvj.sched.wake-affine"));
        VcpuDispatcher.attach(s);
        s.start(context.actorContext());
        scheduler = s;
        context.services().provide(Scheduler.class, s);
        context.commands().register(new PsCommand(s));
        context.commands().register(new TopCommand(s));
        context.note(config.cpus() + " vCPUs up: " + config.arch() + " contexts, "
            + (config.tickHz() == 0 ? "tickless" : config.tickHz() + " Hz tick"));
        if ("continuation".equals(config.arch()) && !ContextSwitch.kernelThreadsHaveOwnIdentity()) {
            context.log().append("WARN", "sched", "kernel threads run as their carrier to the JDK (no "
                + "--add-opens java.base/java.lang=ALL-UNNAMED): JDK locks and ThreadLocals are only safe "
                + "in pinned kernel threads");
        }
    }

    @Override
    public void stop(final KernelContext context) {
        final Scheduler s = scheduler;
        if (s != null) {
            s.stop(STOP_TIMEOUT);
        }
    }
}
