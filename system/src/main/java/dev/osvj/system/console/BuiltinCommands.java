package dev.osvj.system.console;

import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.console.ConsoleCommands;
import dev.osvj.kernel.console.Terminal;
import dev.osvj.system.BuildInfo;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.function.BiFunction;

/** The kernel core's console commands: help, echo, uptime, date, version, dmesg, poweroff. */
public final class BuiltinCommands {
    private static final DateTimeFormatter DATE =
        DateTimeFormatter.ofPattern("EEE MMM d HH:mm:ss zzz yyyy", Locale.ROOT);
    private static final DateTimeFormatter CLOCK = DateTimeFormatter.ofPattern("HH:mm:ss", Locale.ROOT);

    private BuiltinCommands() {
    }

    public static void register(final KernelContext kernel) {
        final ConsoleCommands commands = kernel.commands();
        commands.register(command("help", "help [COMMAND]: list the commands, or describe one", (args, t) -> {
            if (!args.isEmpty()) {
                final ConsoleCommand c = commands.find(args.get(0));
                if (c == null) {
                    t.out().println("help: no such command: " + args.get(0));
                    return 1;
                }
                t.out().println(c.synopsis());
                return 0;
            }
            for (final ConsoleCommand c : commands.all()) {
                t.out().printf("  %-10s %s%n", c.name(), c.synopsis());
            }
            return 0;
        }));
        commands.register(command("echo", "echo [WORD]...: print the words", (args, t) -> {
            t.out().println(String.join(" ", args));
            return 0;
        }));
        commands.register(command("uptime", "uptime: time since boot", (args, t) -> {
            final long nanos = kernel.clock().monotonicNanos() - kernel.bootStartNanos();
            t.out().println(CLOCK.format(now(kernel).atZone(ZoneId.systemDefault())) + " up " + formatUptime(nanos)
                + ", " + kernel.config().getInt("osvj.cpus") + " vCPUs");
            return 0;
        }));
        commands.register(command("date", "date: the current date and time", (args, t) -> {
            t.out().println(DATE.format(now(kernel).atZone(ZoneId.systemDefault())));
            return 0;
        }));
        commands.register(command("version", "version: osvj, Java and Pekko versions", (args, t) -> {
            t.out().println(BuildInfo.describe());
            return 0;
        }));
        commands.register(command("dmesg", "dmesg: print the kernel log", (args, t) -> {
            kernel.log().printTo(t.out());
            return 0;
        }));
        commands.register(command("poweroff", "poweroff: stop every subsystem in reverse boot order and exit", (args, t) -> {
            t.out().println("Powering off.");
            kernel.powerOff(0);
            return 0;
        }));
    }

    private static Instant now(final KernelContext kernel) {
        final long ns = kernel.clock().realtimeNanos();
        return Instant.ofEpochSecond(Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L));
    }

    /** {@code 2 days, 3:04:05.678} style: days only when there are any. */
    static String formatUptime(final long nanos) {
        final long ms = nanos / 1_000_000;
        final long days = ms / 86_400_000;
        final long h = ms / 3_600_000 % 24;
        final long m = ms / 60_000 % 60;
        final double s = ms % 60_000 / 1000.0;
        final String hms = String.format(Locale.ROOT, "%d:%02d:%06.3f", h, m, s);
        return days > 0 ? days + (days == 1 ? " day, " : " days, ") + hms : hms;
    }

    /** A command from a name, a synopsis and a function. */
    public static ConsoleCommand command(final String name, final String synopsis,
        final BiFunction<List<String>, Terminal, Integer> body) {
        return new ConsoleCommand() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public String synopsis() {
                return synopsis;
            }

            @Override
            public int run(final List<String> args, final Terminal terminal) {
                return body.apply(args, terminal);
            }
        };
    }
}
