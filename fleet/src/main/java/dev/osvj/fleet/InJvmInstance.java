package dev.osvj.fleet;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.system.app.AppSubsystem;
import dev.osvj.system.boot.BootException;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.KernelStandby;
import dev.osvj.system.boot.Subsystems;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * An instance inside the fleet's JVM: a {@link Kernel} with its own ActorSystem (so its own vCPU
 * dispatcher, its own guardian and supervisors), its own subsystem objects (fresh from the service
 * loader: they hold per-kernel state), its own guest memory and devices.
 *
 * <p>With a {@link KernelStandby} (the fleet's ActorSystem created ahead for this name) the boot skips
 * the ActorSystem's creation; {@code bootMillis} is measured from {@link #start} either way.
 *
 * <h2>Isolation</h2>
 * Nothing is shared with the other instances but the JVM: a boot phase that fails stops only this
 * kernel (its guardian stops the booted subsystems), an application that throws at start powers off
 * only this kernel, and a subsystem actor that crashes is handled by this kernel's supervisors. The
 * state follows the kernel: its ActorSystem terminating without a stop request makes it FAILED
 * (non-zero exit) or STOPPED (exit 0). What the JVM cannot isolate: an instance that exhausts the heap
 * or calls {@code System.exit} (use {@code mode = process} for untrusted applications).
 */
final class InJvmInstance extends AbstractInstance {
    private final Config config;
    private final ConsoleTail console = new ConsoleTail(200);
    /**
     * The ActorSystem being created ahead for this instance, or null (the boot creates one). The boot
     * waits for it if it is not ready yet; that wait counts in the boot time.
     */
    private final CompletableFuture<KernelStandby> pendingStandby;
    private volatile KernelStandby standby;
    private volatile Kernel kernel;

    InJvmInstance(final String name, final String service, final String node, final String address, final Config config,
        final CompletableFuture<KernelStandby> standby) {
        super(name, service, node, address);
        this.pendingStandby = standby;
        this.config = config;
    }

    @Override
    public void start() throws InterruptedException {
        try {
            boot();
        } catch (final RuntimeException | LinkageError e) {
            // A kernel bug or a broken class path fails this instance, not the fleet.
            fail("boot: " + e);
        } finally {
            if (kernel == null && standby != null) {
                standby.close(); // not adopted: nothing else will terminate it
            }
        }
    }

    private void boot() throws InterruptedException {
        final long t0 = System.nanoTime();
        if (pendingStandby != null) {
            try {
                standby = pendingStandby.join();
            } catch (final RuntimeException e) {
                standby = null; // could not be created: boot cold
            }
        }
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        // No validation here: the fleet validated this service's kernel configuration at load
        // (FleetConfig.parse, the same spec), and an instance's differs from it only in the keys the
        // fleet writes itself (its name and its address on the network).
        final Kernel k;
        try {
            final PrintStream out = new PrintStream(console, true, StandardCharsets.UTF_8);
            k = standby != null
                ? Kernel.boot(standby, config, subsystems, tracepoints, out, KernelClock.SYSTEM)
                : Kernel.boot(config, subsystems, tracepoints, out, KernelClock.SYSTEM);
        } catch (final BootException e) {
            fail(e.getMessage());
            return;
        } catch (final RuntimeException e) {
            fail("boot: " + e);
            return;
        }
        kernel = k;
        booted((System.nanoTime() - t0) / 1e6);
        k.actorSystem().getWhenTerminated().whenComplete((done, error) -> onTerminated(k));
        final AppSubsystem.AppLauncher app = k.services().require(AppSubsystem.AppLauncher.class);
        try {
            app.start(k);
        } catch (final Exception | LinkageError e) {
            fail("application " + app.application().name() + " failed to start: " + e);
            k.powerOff(1);
            return;
        }
        running();
    }

    private void onTerminated(final Kernel k) {
        int code;
        try {
            code = k.awaitPoweredOff(Duration.ofSeconds(1));
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            code = -1;
        }
        ended(code, "powered off with code " + code);
    }

    @Override
    void powerOff() throws InterruptedException {
        final Kernel k = kernel;
        if (k != null) {
            k.powerOff(0);
            if (k.awaitPoweredOff(Duration.ofSeconds(60)) < 0) {
                fail("did not power off within 60 s");
            }
        }
    }

    /** The kernel, once booted (tests, the console commands of the fleet). */
    Kernel kernel() {
        return kernel;
    }

    /** True when this instance booted in an ActorSystem created ahead. */
    boolean bootedFromStandby() {
        return standby != null && kernel != null;
    }

    /** The last console lines. */
    List<String> consoleLines() {
        return console.lines();
    }
}
