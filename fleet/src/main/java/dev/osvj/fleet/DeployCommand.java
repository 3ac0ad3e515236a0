package dev.osvj.fleet;

import dev.osvj.kernel.config.ConfigException;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.cli.ContributedCommand;
import dev.osvj.system.cli.Signals;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code osvj deploy FLEET_CONF}: validate the fleet (exit 2 with every problem, nothing booted), bind
 * the control endpoint (exit 1 if the port is taken), boot every service's replicas printing each
 * instance's boot time and address, then keep the table live until {@code osvj fleet stop}, SIGTERM or
 * SIGINT, which stop every instance in order (exit 0).
 */
@Command(name = "deploy", mixinStandardHelpOptions = true,
    description = "Boot a fleet (conf/fleet-*.conf) and keep a live table; control it with 'osvj fleet'.")
public final class DeployCommand implements ContributedCommand {
    @Parameters(index = "0", paramLabel = "FLEET_CONF", description = "Fleet configuration (HOCON, osvj.fleet.*).")
    Path conf;

    @Option(names = "--port", paramLabel = "PORT", description = "Control port on 127.0.0.1 (overrides osvj.fleet.control.port; 0 = any).")
    Integer port;

    @Option(names = "--refresh", paramLabel = "MS", defaultValue = "1000", description = "Table refresh period in ms (default 1000).")
    long refreshMs;

    @Override
    public Integer call() throws Exception {
        final PrintStream out = System.out;
        final FleetConfig fleet = loadOrReport(conf);
        if (fleet == null) {
            return 2;
        }
        final CountDownLatch stop = new CountDownLatch(1);
        final FleetManager manager = new FleetManager(fleet, "local", r -> out.println(bootLine(r)));
        final ControlServer control;
        try {
            control = ControlServer.start(port != null ? port : fleet.controlPort(), manager, stop::countDown);
        } catch (final IOException e) {
            System.err.println("osvj: cannot serve the control endpoint on 127.0.0.1:"
                + (port != null ? port : fleet.controlPort()) + ": " + e.getMessage());
            return 1;
        }
        Signals.onTermination(stop::countDown);
        out.println("fleet " + fleet.name() + ": control on 127.0.0.1:" + control.port()
            + " (osvj fleet status|scale SERVICE N|stop --port " + control.port() + ")");
        try {
            manager.deploy();
            final boolean tty = System.console() != null && !"dumb".equals(System.getenv("TERM"));
            final FleetTable table = new FleetTable();
            final String title = "fleet " + fleet.name() + " (control 127.0.0.1:" + control.port() + ")";
            out.print(FleetTable.format(title, manager.status()));
            table.seed(manager.status());
            while (!stop.await(refreshMs, TimeUnit.MILLISECONDS)) {
                if (tty) {
                    table.redraw(out, title, manager.status());
                } else {
                    table.changes(out, manager.status());
                }
            }
            out.println("fleet " + fleet.name() + ": stopping");
        } finally {
            control.close();
            manager.stopAll();
        }
        out.println("fleet " + fleet.name() + ": stopped");
        return 0;
    }

    /** The fleet file, or null after printing every problem on stderr (the caller exits 2). */
    static FleetConfig loadOrReport(final Path conf) {
        try {
            return FleetConfig.load(conf, Subsystems.discover());
        } catch (final ConfigException e) {
            System.err.println("osvj: invalid fleet configuration (" + conf + "):");
            for (final ConfigProblem p : e.problems()) {
                System.err.println("  " + p);
            }
            return null;
        }
    }

    static String bootLine(final InstanceStatus r) {
        return r.state() == InstanceState.FAILED
            ? String.format(Locale.ROOT, "%-24s FAILED: %s", r.name(), r.detail())
            : String.format(Locale.ROOT, "%-24s booted in %7.2f ms  address %s", r.name(), r.bootMillis(), r.address());
    }
}
