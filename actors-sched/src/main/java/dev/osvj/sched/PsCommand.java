package dev.osvj.sched;

import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.console.Terminal;

import java.io.PrintStream;
import java.util.List;

/** {@code ps}: every kernel thread with its state, vCPU, priority, CPU time and switch counts. */
final class PsCommand implements ConsoleCommand {
    private final Scheduler scheduler;

    PsCommand(final Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    @Override
    public String name() {
        return "ps";
    }

    @Override
    public String synopsis() {
        return "ps: list kernel threads (id, name, vCPU, state, priority, CPU time, switches, migrations)";
    }

    @Override
    public int run(final List<String> args, final Terminal terminal) {
        print(scheduler, terminal.out());
        return 0;
    }

    static void print(final Scheduler scheduler, final PrintStream out) {
        out.printf("%6s %-24s %3s %-12s %8s %12s %10s %6s%n", "TID", "NAME", "CPU", "STATE", "PRIO", "CPU-TIME", "SWITCHES",
            "MIGR");
        for (final KThread t : scheduler.threads()) {
            out.printf("%6d %-24s %3d %-12s %8s %12s %10d %6d%n", t.id(), clip(t.name(), 24), t.cpuId(),
                t.state().label(), priority(t), seconds(t.cpuTimeNanos()), t.switches(), t.migrations());
        }
    }

    static String priority(final KThread t) {
        if (t.realtimePriority() > 0) {
            return "rt" + t.realtimePriority();
        }
        return Double.isInfinite(t.priority()) ? "idle" : String.format("%.2f", t.priority());
    }

    static String seconds(final long nanos) {
        return String.format("%.3fs", nanos / 1e9);
    }

    static String clip(final String s, final int width) {
        return s.length() <= width ? s : s.substring(0, width - 1) + "~";
    }
}
