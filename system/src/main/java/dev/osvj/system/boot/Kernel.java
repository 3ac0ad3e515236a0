package dev.osvj.system.boot;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Services;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.console.ConsoleCommands;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.kernel.pcap.PcapWriter;
import dev.osvj.kernel.trace.TraceSession;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.sched.dispatch.VcpuDispatcher;
import dev.osvj.system.console.BuiltinCommands;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One kernel instance: a Pekko {@code ActorSystem} whose guardian boots the subsystems. Prints the
 * boot chart on the console as phases finish, then "Booted up in N ms".
 *
 * <pre>{@code
 * Kernel k = Kernel.boot(config, subsystems, tracepoints, console, KernelClock.SYSTEM); // throws BootException
 * ...
 * k.powerOff(0);                  // orderly: stop hooks in reverse boot order
 * int exit = k.awaitPoweredOff(); // the code given to powerOff
 * }</pre>
 */
public final class Kernel implements KernelContext {
    /** Largest frame recorded whole in a pcap: 64 KiB covers every frame of a 65535-byte MTU. */
    static final int PCAP_SNAP_LENGTH = 65_535;

    private final String name;
    private final Config config;
    private final KernelLog log;
    private final ConsoleCommands commands = new ConsoleCommands();
    private final Tracepoints tracepoints;
    private final KernelClock clock;
    private final Services services = new Services();
    private final long bootStartNanos;
    private final PrintStream console;
    private final boolean chart;

    private final CompletableFuture<Long> booted = new CompletableFuture<>();
    private final CompletableFuture<Integer> poweredOff = new CompletableFuture<>();
    private final AtomicBoolean powerOffRequested = new AtomicBoolean();
    private volatile int exitCode;
    private long lastChartNanos;
    private TraceSession trace;
    private PcapWriter pcap;
    private ActorSystem<KernelGuardian.Command> system;
    /** The ActorSystem created ahead, or null: {@link #start} creates one. */
    private KernelStandby standby;

    private Kernel(final Config config, final Tracepoints tracepoints, final PrintStream console, final KernelClock clock) {
        this.config = config;
        this.name = config.getString("osvj.name");
        this.tracepoints = tracepoints;
        this.clock = clock;
        this.console = console;
        this.chart = config.getBoolean("osvj.boot.chart");
        this.bootStartNanos = clock.monotonicNanos();
        this.lastChartNanos = bootStartNanos;
        this.log = new KernelLog(name, config.getInt("osvj.dmesg.lines"), clock::monotonicNanos).register();
        BuiltinCommands.register(this);
    }

    /**
     * Boot a kernel instance and wait until every subsystem has booted.
     *
     * @param config a validated configuration (see {@code KernelConfigLoader}).
     * @throws BootException naming the phase that failed; the kernel has stopped by then.
     */
    public static Kernel boot(final Config config, final List<Subsystem> subsystems, final Tracepoints tracepoints,
        final PrintStream console, final KernelClock clock) throws BootException, InterruptedException {
        final Kernel kernel = new Kernel(config, tracepoints, console, clock);
        kernel.start(subsystems);
        return kernel;
    }

    /**
     * Boot a kernel instance in an ActorSystem created ahead ({@link KernelStandby}); otherwise as
     * {@link #boot(Config, List, Tracepoints, PrintStream, KernelClock)}. The boot chart's first line
     * ("actor system started") then measures only the hand-over.
     *
     * @param standby a standby named {@code osvj.name}, not used before; on a failed boot it is
     *                terminated with the kernel.
     * @throws IllegalArgumentException when the standby's name is not the configuration's {@code osvj.name}.
     */
    public static Kernel boot(final KernelStandby standby, final Config config, final List<Subsystem> subsystems,
        final Tracepoints tracepoints, final PrintStream console, final KernelClock clock)
        throws BootException, InterruptedException {
        if (!standby.name().equals(config.getString("osvj.name"))) {
            throw new IllegalArgumentException("kernel standby " + standby.name() + " cannot boot kernel "
                + config.getString("osvj.name") + ": the ActorSystem's name is the kernel's");
        }
        final Kernel kernel = new Kernel(config, tracepoints, console, clock);
        kernel.standby = standby;
        kernel.start(subsystems);
        return kernel;
    }

    private void start(final List<Subsystem> subsystems) throws BootException, InterruptedException {
        final String patterns = config.getString("osvj.trace.enable");
        trace = TraceSession.start(name, tracepoints.select(patterns), Path.of(config.getString("osvj.trace.file")));
        if (trace != null) {
            log.append("INFO", "trace", "recording " + trace.enabled().size() + " tracepoint(s) to " + trace.file());
        }
        final String pcapFile = config.getString("osvj.net.pcap");
        if (!pcapFile.isEmpty()) {
            try {
                pcap = new PcapWriter(Path.of(pcapFile), PCAP_SNAP_LENGTH);
            } catch (final java.io.IOException e) {
                throw new BootException("kernel", "pcap", e);
            }
            services.provide(PcapWriter.class, pcap);
            log.append("INFO", "net", "capturing frames to " + pcapFile);
        }
        // Every mailbox of the kernel runs on its vCPUs (the boot CPU before and after them): the
        // kernel dispatcher's overrides go in front of the configuration.
        final Behavior<KernelGuardian.Command> guardian = KernelGuardian.create(this, subsystems, this::onEvent,
            this::onNote, config.getDuration("osvj.shutdown.timeout"));
        system = standby != null
            ? standby.adopt(guardian)
            : ActorSystem.create(guardian, name, VcpuDispatcher.pekkoConfig().withFallback(config));
        system.getWhenTerminated().whenComplete((done, error) -> onTerminated());
        try {
            final long end = booted.get();
            console.printf(Locale.ROOT, "Booted up in %.2f ms%n", (end - bootStartNanos) / 1e6);
            log.append("INFO", "kernel", String.format(Locale.ROOT, "Booted up in %.2f ms", (end - bootStartNanos) / 1e6));
        } catch (final ExecutionException e) {
            // The guardian has stopped the booted subsystems; wait for the actor system to go.
            awaitPoweredOff(Duration.ofSeconds(30));
            throw (BootException)e.getCause();
        }
    }

    private void onEvent(final KernelEvent event) {
        switch (event) {
            case KernelEvent.GuardianStarted g -> chartLine("actor system started", g.nanos());
            case KernelEvent.PhaseBooted p -> chartLine(p.phase(), p.endNanos());
            case KernelEvent.BootFailed f -> {
                final BootException e = new BootException(f.subsystem(), f.phase(), f.cause());
                log.append("ERROR", f.subsystem(), e.getMessage());
                exitCode = 1;
                booted.completeExceptionally(e);
            }
            case KernelEvent.Booted b -> booted.complete(b.endNanos());
            case KernelEvent.SubsystemStopped s -> {
                if (s.error() != null) {
                    log.append("WARN", s.subsystem(), "stop hook failed: " + BootException.describe(s.error()));
                    console.println(s.subsystem() + ": stop hook failed: " + BootException.describe(s.error()));
                } else {
                    log.append("INFO", s.subsystem(), "stopped");
                }
            }
            case KernelEvent.Halted h -> log.append("INFO", "kernel", "halted");
        }
    }

    /** One boot chart line, OSv's format: {@code  SMP launched: 80.11ms, (+0.36ms)}. */
    private void chartLine(final String phase, final long endNanos) {
        if (chart) {
            console.printf(Locale.ROOT, " %s: %.2fms, (+%.2fms)%n", phase,
                (endNanos - bootStartNanos) / 1e6, (endNanos - lastChartNanos) / 1e6);
        }
        lastChartNanos = endNanos;
    }

    private void onNote(final String message) {
        console.println(message);
    }

    private void onTerminated() {
        try {
            if (trace != null) {
                trace.close();
            }
        } catch (final Exception e) {
            console.println("trace: could not write " + trace.file() + ": " + e.getMessage());
        } finally {
            closePcap();
            log.unregister();
            if (!booted.isDone()) { // after a boot, no exception (two stack traces) at every poweroff
                booted.completeExceptionally(new BootException("kernel", "boot",
                    new IllegalStateException("the kernel stopped before the boot finished")));
            }
            poweredOff.complete(exitCode);
        }
    }

    private void closePcap() {
        if (pcap != null) {
            try {
                pcap.close();
                log.append("INFO", "net", "pcap: " + pcap.frames() + " frames written");
            } catch (final java.io.IOException e) {
                console.println("pcap: " + e.getMessage());
            }
        }
    }

    @Override
    public void powerOff(final int code) {
        if (powerOffRequested.compareAndSet(false, true)) {
            exitCode = code;
            system.tell(KernelGuardian.Shutdown.INSTANCE);
        }
    }

    /** Wait until the kernel has stopped; returns the exit code given to {@link #powerOff}. */
    public int awaitPoweredOff() throws InterruptedException {
        try {
            return poweredOff.get();
        } catch (final ExecutionException e) {
            throw new IllegalStateException(e);
        }
    }

    /** As {@link #awaitPoweredOff()} with a limit; returns -1 when the kernel did not stop in time. */
    public int awaitPoweredOff(final Duration timeout) throws InterruptedException {
        try {
            return poweredOff.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (final ExecutionException e) {
            throw new IllegalStateException(e);
        } catch (final TimeoutException e) {
            return -1;
        }
    }

    /** True once {@link #powerOff} was called. */
    public boolean powerOffRequested() {
        return powerOffRequested.get();
    }

    public boolean isPoweredOff() {
        return poweredOff.isDone();
    }

    /** Trace recording of this instance, or null when no tracepoint is enabled. */
    public TraceSession trace() {
        return trace;
    }

    /** The actor system (for tests and the management API). */
    public ActorSystem<?> actorSystem() {
        return system;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Config config() {
        return config;
    }

    @Override
    public KernelLog log() {
        return log;
    }

    @Override
    public ConsoleCommands commands() {
        return commands;
    }

    @Override
    public Tracepoints tracepoints() {
        return tracepoints;
    }

    @Override
    public KernelClock clock() {
        return clock;
    }

    @Override
    public Services services() {
        return services;
    }

    @Override
    public long bootStartNanos() {
        return bootStartNanos;
    }
}
