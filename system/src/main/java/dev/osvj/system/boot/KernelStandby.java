package dev.osvj.system.boot;

import com.typesafe.config.Config;
import dev.osvj.sched.dispatch.VcpuDispatcher;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A kernel instance's ActorSystem created ahead of its boot: the system (dispatchers on the kernel's
 * boot CPU, Pekko's scheduler, extensions) is up and its guardian waits; {@link Kernel#boot(KernelStandby,
 * Config, java.util.List, dev.osvj.kernel.trace.Tracepoints, java.io.PrintStream, dev.osvj.kernel.KernelClock)}
 * hands it the kernel guardian, so the boot itself no longer pays for creating an ActorSystem (most of
 * a warm boot's time). A fleet keeps one per service for the name its next replica will have, like a
 * pre-started VMM.
 *
 * <p>Invariants: the standby's name is the future kernel's {@code osvj.name} (the vCPU dispatcher is
 * keyed by the ActorSystem's name); its Pekko settings are those of the configuration given to
 * {@link #prepare} (the boot's own {@code pekko.*} keys are not read again); it is used at most once.
 * An unused standby must be {@link #close closed}.
 */
public final class KernelStandby implements AutoCloseable {
    private final String name;
    private final ActorSystem<KernelGuardian.Command> system;
    private final AtomicBoolean taken = new AtomicBoolean();

    private KernelStandby(final String name, final ActorSystem<KernelGuardian.Command> system) {
        this.name = name;
        this.system = system;
    }

    /**
     * Create the ActorSystem of the kernel {@code name} with the Pekko settings of {@code config} (a
     * kernel configuration, resolved), its guardian waiting for the boot.
     */
    public static KernelStandby prepare(final String name, final Config config) {
        return new KernelStandby(name, ActorSystem.create(KernelGuardian.standby(), name,
            VcpuDispatcher.pekkoConfig().withFallback(config)));
    }

    public String name() {
        return name;
    }

    /** Hand the waiting guardian its behaviour; returns the system. Once only. */
    ActorSystem<KernelGuardian.Command> adopt(final Behavior<KernelGuardian.Command> guardian) {
        if (!taken.compareAndSet(false, true)) {
            throw new IllegalStateException("kernel standby " + name + " was already used");
        }
        system.tell(new KernelGuardian.Adopt(guardian));
        return system;
    }

    /** Terminate the ActorSystem if no kernel booted in it (a used standby belongs to its kernel). */
    @Override
    public void close() {
        if (taken.compareAndSet(false, true)) {
            system.terminate();
        }
    }
}
