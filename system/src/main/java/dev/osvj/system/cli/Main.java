package dev.osvj.system.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.ServiceLoader;

/**
 * {@code osvj}: the command line. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration
 * error.
 */
@Command(name = "osvj", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class,
    description = "An OSv-style unikernel for the JVM.",
    subcommands = {RunCommand.class, MkImageCommand.class, VersionCommand.class, BenchCommand.class, CommandLine.HelpCommand.class},
    footer = {"", "Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.",
        "bin/osvj test runs the whole test suite (the launcher handles it)."})
public final class Main implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(final String[] args) {
        System.exit(execute(args));
    }

    public static int execute(final String... args) {
        final CommandLine cli = new CommandLine(new Main());
        // Subcommands of other modules on the class path (bin/osvj puts the fleet module there for
        // deploy, fleet and node); added before the handlers below so that they apply to them too.
        for (final ContributedCommand c : ServiceLoader.load(ContributedCommand.class)) {
            cli.addSubcommand(c);
        }
        cli.setExitCodeExceptionMapper(e -> EXIT_FAILURE);
        cli.setParameterExceptionHandler((e, a) -> {
            final CommandLine c = e.getCommandLine();
            c.getErr().println("osvj: " + e.getMessage());
            c.usage(c.getErr());
            return EXIT_USAGE;
        });
        return cli.execute(args);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (run, version, bench, help)");
    }
}
