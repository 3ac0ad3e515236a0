package dev.osvj.system.cli;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigException;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.system.BuildInfo;
import dev.osvj.system.app.AppSubsystem;
import dev.osvj.system.boot.BootException;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import dev.osvj.system.console.ConsoleShell;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code osvj run [CONF] [--set key=value]... [--trace PATTERN] [--pcap FILE]}: boot a kernel instance
 * from a configuration, print the boot chart, start the application and the console, and run until
 * {@code poweroff}, SIGTERM or SIGINT (exit 0), a failed boot phase (exit 1) or a bad configuration
 * (exit 2, nothing started).
 */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = "Boot a kernel instance and run its application with the console on stdin/stdout.")
final class RunCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "CONF",
        description = "Configuration file (HOCON); default conf/default.conf of the osvj installation.")
    Path conf;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
        description = "Override one configuration key (repeatable), e.g. --set osvj.cpus=4.")
    List<String> sets = new ArrayList<>();

    @Option(names = "--trace", paramLabel = "PATTERN",
        description = "Record the tracepoints matching PATTERN (comma-separated globs, e.g. 'boot.*') as JFR events.")
    String trace;

    @Option(names = "--pcap", paramLabel = "FILE",
        description = "Write every frame the network interfaces send and receive to a pcap file.")
    Path pcap;

    @Override
    public Integer call() throws Exception {
        // Initialise logging on this thread before the actor system logs from several at once.
        org.slf4j.LoggerFactory.getLogger(RunCommand.class);
        final PrintStream out = System.out;
        final PrintStream err = System.err;
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));

        final Path confFile = conf != null ? conf : defaultConf();
        final List<String> overrides = new ArrayList<>(sets);
        if (trace != null) {
            overrides.add("osvj.trace.enable=" + quote(trace));
        }
        if (pcap != null) {
            overrides.add("osvj.net.pcap=" + quote(pcap.toString()));
        }
        final Config config;
        try {
            config = KernelConfigLoader.load(confFile, overrides, System.getProperties(), subsystems, tracepoints);
        } catch (final ConfigException e) {
            err.println("osvj: invalid configuration (" + confFile + "):");
            for (final ConfigProblem p : e.problems()) {
                err.println("  " + p);
            }
            return Main.EXIT_USAGE;
        }

        out.println("osvj v" + BuildInfo.version());
        final Kernel kernel;
        try {
            kernel = Kernel.boot(config, subsystems, tracepoints, out, KernelClock.SYSTEM);
        } catch (final BootException e) {
            err.println("osvj: " + e.getMessage());
            return Main.EXIT_FAILURE;
        }
        Signals.onTermination(() -> kernel.powerOff(Main.EXIT_OK));

        final AppSubsystem.AppLauncher app = kernel.services().require(AppSubsystem.AppLauncher.class);
        out.println("Cmdline: " + app.cmdline());
        try {
            app.start(kernel);
        } catch (final Exception e) {
            err.println("osvj: application " + app.application().name() + " failed to start: " + e.getMessage());
            kernel.log().append("ERROR", "app", "start failed: " + e);
            kernel.powerOff(Main.EXIT_FAILURE);
        }

        ConsoleShell shell = null;
        if (config.getBoolean("osvj.console.enabled")) {
            shell = new ConsoleShell(kernel, System.in, out, System.console() != null, kernel::powerOffRequested);
            shell.start();
        }
        final int exit = kernel.awaitPoweredOff();
        if (shell != null) {
            shell.stop();
        }
        out.flush();
        return exit;
    }

    /** conf/default.conf under the installation ({@code -Dosvj.home}, set by bin/osvj) or the working directory. */
    static Path defaultConf() {
        final String home = System.getProperty("osvj.home");
        return (home != null ? Path.of(home) : Path.of("")).resolve("conf").resolve("default.conf");
    }

    private static String quote(final String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
