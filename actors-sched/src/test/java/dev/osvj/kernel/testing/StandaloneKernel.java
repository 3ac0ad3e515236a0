package dev.osvj.kernel.testing;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.ForwardingKernelContext;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Services;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.console.ConsoleCommands;
import dev.osvj.kernel.console.Terminal;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.kernel.trace.Tracepoints;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A kernel context for running one or a few subsystems outside a full kernel (test fixture, shared by
 * every module through actors-sched's test jar).
 *
 * <p>It holds what the system module's kernel would hold for the instance: the configuration (given,
 * or {@code reference.conf} with overrides), a dmesg ring ({@link #log()}), the console command table,
 * the service registry, the tracepoint registry and the host clock ({@link KernelClock#SYSTEM}). Boot
 * notes are captured in {@link #notes()} (in order) and, as in the real kernel, appended to dmesg at
 * {@code INFO} under the subsystem's name. {@link #powerOff(int)} only records the exit code.
 *
 * <p>A subsystem boots either on the calling thread ({@link #boot(Subsystem)}, for subsystems that
 * spawn no actors: {@code actorContext()} throws), on a fresh supervisor actor of an
 * {@link ActorTestKit} ({@link #bootOnActor(ActorTestKit, Subsystem)}), or from a test's own
 * supervisor behaviour through {@link #bootContext(Subsystem, ActorContext)}.
 *
 * <p>Thread-safety: the registries are thread-safe, notes are a copy-on-write list, so a boot on an
 * actor thread and assertions on the test thread may share one instance.
 */
public final class StandaloneKernel implements KernelContext {
    /** How long {@link #bootOnActor} waits for the boot to finish. */
    private static final long BOOT_TIMEOUT_SECONDS = 30;
    /** dmesg ring capacity, in lines. */
    private static final int LOG_LINES = 256;

    private final String name;
    private final Config config;
    private final KernelClock clock = KernelClock.SYSTEM;
    private final KernelLog log;
    private final ConsoleCommands commands = new ConsoleCommands();
    private final Tracepoints tracepoints = new Tracepoints();
    private final Services services = new Services();
    private final List<String> notes = new CopyOnWriteArrayList<>();
    private final AtomicInteger powerOffCode = new AtomicInteger(-1);
    private final long bootStartNanos;

    /** An instance called {@code name} configured by {@code reference.conf} (plus application.conf, -D). */
    public StandaloneKernel(final String name) {
        this(name, ConfigFactory.load());
    }

    /** An instance called {@code name} with exactly {@code config} (resolved). */
    public StandaloneKernel(final String name, final Config config) {
        this.name = name;
        this.config = config;
        this.log = new KernelLog(name, LOG_LINES, clock::monotonicNanos);
        this.bootStartNanos = clock.monotonicNanos();
    }

    /** HOCON {@code overrides} over the loaded reference configuration, resolved. */
    public static Config config(final String overrides) {
        return ConfigFactory.parseString(overrides).withFallback(ConfigFactory.load()).resolve();
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

    /** Records {@code exitCode} (see {@link #powerOffCode()}); nothing shuts down. */
    @Override
    public void powerOff(final int exitCode) {
        powerOffCode.set(exitCode);
    }

    /** The exit code of the last {@link #powerOff(int)}, or -1 if none was asked for. */
    public int powerOffCode() {
        return powerOffCode.get();
    }

    /** The boot notes of every subsystem booted here, oldest first (a live, thread-safe view). */
    public List<String> notes() {
        return notes;
    }

    /**
     * The boot context {@code subsystem} sees when booted by a supervisor whose actor context is
     * {@code actorContext}; {@code null} for a subsystem that spawns no actors (then
     * {@code actorContext()} throws {@link UnsupportedOperationException}).
     */
    public BootContext bootContext(final Subsystem subsystem, final ActorContext<?> actorContext) {
        return new Boot(subsystem.name(), actorContext);
    }

    /** Boot {@code subsystem} on the calling thread, without an actor context; its exception propagates. */
    public void boot(final Subsystem subsystem) throws Exception {
        subsystem.boot(bootContext(subsystem, null));
    }

    /**
     * Boot {@code subsystem} on a new (empty) supervisor actor spawned in {@code kit} and wait for it
     * (30 s at most).
     *
     * @throws ExecutionException if the boot threw; the boot's exception is its cause
     */
    public void bootOnActor(final ActorTestKit kit, final Subsystem subsystem) throws Exception {
        final CompletableFuture<Void> booted = new CompletableFuture<>();
        kit.spawn(Behaviors.<Void>setup(ctx -> {
            try {
                subsystem.boot(bootContext(subsystem, ctx));
                booted.complete(null);
            } catch (final Exception e) {
                booted.completeExceptionally(e);
            }
            return Behaviors.empty();
        }));
        booted.get(BOOT_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    /** What a console command printed and returned. */
    public record CommandResult(int status, String output) {
    }

    /**
     * Run the registered console command {@code name} with {@code args} on a non-interactive terminal
     * and capture its output (UTF-8).
     */
    public CommandResult execute(final String name, final List<String> args) throws Exception {
        final ConsoleCommand command = commands.find(name);
        if (command == null) {
            throw new IllegalArgumentException("no console command " + name);
        }
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        final int status = command.run(args, new Terminal() {
            @Override
            public PrintStream out() {
                return out;
            }

            @Override
            public boolean interactive() {
                return false;
            }

            @Override
            public String pollLine(final long timeoutMs) {
                return null;
            }
        });
        return new CommandResult(status, bytes.toString(StandardCharsets.UTF_8));
    }

    /** {@link #execute} for {@code name} and {@code args}. */
    public CommandResult execute(final String name, final String... args) throws Exception {
        return execute(name, List.of(args));
    }

    /**
     * Run a command line (words split on single spaces, no quoting) and return the transcript
     * {@code "<status>:<output>"}, e.g. {@code "0:b\nmoved\n"}.
     */
    public String run(final String line) throws Exception {
        final List<String> words = Arrays.asList(line.split(" "));
        final CommandResult result = execute(words.get(0), words.subList(1, words.size()));
        return result.status() + ":" + result.output();
    }

    /** The kernel context plus one subsystem's supervisor and note sink. */
    private final class Boot extends ForwardingKernelContext implements BootContext {
        private final String source;
        private final ActorContext<?> actorContext;

        Boot(final String source, final ActorContext<?> actorContext) {
            super(StandaloneKernel.this);
            this.source = source;
            this.actorContext = actorContext;
        }

        @Override
        public ActorContext<?> actorContext() {
            if (actorContext == null) {
                throw new UnsupportedOperationException(source + " was booted without a supervisor actor");
            }
            return actorContext;
        }

        @Override
        public void note(final String message) {
            log().append("INFO", source, message);
            notes.add(message);
        }
    }
}
