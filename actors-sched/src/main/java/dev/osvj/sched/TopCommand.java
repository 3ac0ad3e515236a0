package dev.osvj.sched;

import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.console.Terminal;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code top [-n FRAMES] [-d MILLIS]}: every {@code MILLIS} (default 1000) one frame with each vCPU's
 * state, load, busy share, switches, wakeups, IPIs, migrations and timer interrupts per second, and
 * the busiest threads of the interval. Interactive: runs until {@code q} or Enter; otherwise prints
 * {@code FRAMES} frames (default 1).
 */
final class TopCommand implements ConsoleCommand {
    private static final int BUSIEST = 10;

    private final Scheduler scheduler;

    TopCommand(final Scheduler scheduler) {
        this.scheduler = scheduler;
    }

    @Override
    public String name() {
        return "top";
    }

    @Override
    public String synopsis() {
        return "top [-n FRAMES] [-d MILLIS]: per-vCPU load and rates and the busiest threads, refreshing; q or Enter quits";
    }

    @Override
    public int run(final List<String> args, final Terminal terminal) throws Exception {
        int frames = terminal.interactive() ? Integer.MAX_VALUE : 1;
        long delayMillis = 1000;
        for (int i = 0; i < args.size(); i++) {
            final String a = args.get(i);
            if (("-n".equals(a) || "-d".equals(a)) && i + 1 < args.size()) {
                final long v;
                try {
                    v = Long.parseLong(args.get(++i));
                } catch (final NumberFormatException e) {
                    terminal.out().println("top: " + a + " needs a number");
                    return 2;
                }
                if (v < 1) {
                    terminal.out().println("top: " + a + " must be at least 1");
                    return 2;
                }
                if ("-n".equals(a)) {
                    frames = (int)Math.min(Integer.MAX_VALUE, v);
                } else {
                    delayMillis = v;
                }
            } else {
                terminal.out().println("usage: " + synopsis());
                return 2;
            }
        }
        Sample before = Sample.take(scheduler);
        for (int f = 0; f < frames; f++) {
            if (terminal.interactive()) {
                final String line = terminal.pollLine(delayMillis);
                if (line != null && (line.isEmpty() || line.trim().equalsIgnoreCase("q"))) {
                    return 0;
                }
            } else {
                KThread.sleep(delayMillis * 1_000_000L);
            }
            final Sample after = Sample.take(scheduler);
            print(before, after, terminal.out());
            before = after;
        }
        return 0;
    }

    /** Counters at one instant. */
    record Sample(long hostNanos, List<CpuStats> cpus, Map<Long, long[]> threads, Map<Long, KThread> byId) {
        static Sample take(final Scheduler s) {
            final Map<Long, long[]> threads = new HashMap<>();
            final Map<Long, KThread> byId = new HashMap<>();
            for (final KThread t : s.threads()) {
                threads.put(t.id(), new long[] {t.cpuTimeNanos(), t.switches()});
                byId.put(t.id(), t);
            }
            return new Sample(s.clock().monotonicNanos(), s.cpuStats(), threads, byId);
        }
    }

    static void print(final Sample a, final Sample b, final PrintStream out) {
        final double seconds = Math.max(1e-9, (b.hostNanos - a.hostNanos) / 1e9);
        out.printf("%-4s %-10s %4s %6s %10s %10s %8s %8s %9s %9s %8s%n", "vCPU", "STATE", "LOAD", "BUSY%",
            "SWITCH/s", "WAKEUP/s", "IPI/s", "MIGR/s", "TIMER/s", "TWAKE/s", "BOOST/s");
        for (int i = 0; i < b.cpus.size(); i++) {
            final CpuStats x = a.cpus.get(i);
            final CpuStats y = b.cpus.get(i);
            out.printf("%-4d %-10s %4d %6.1f %10.0f %10.0f %8.0f %8.0f %9.0f %9.0f %8.0f%n", y.cpu(), y.state(),
                y.load(),
                100.0 * (y.busyNanos() - x.busyNanos()) / 1e9 / seconds,
                (y.switches() - x.switches()) / seconds, (y.wakeups() - x.wakeups()) / seconds,
                (y.ipisReceived() - x.ipisReceived()) / seconds,
                (y.migrationsIn() - x.migrationsIn()) / seconds,
                (y.timerInterrupts() - x.timerInterrupts()) / seconds,
                (y.timerWakeups() - x.timerWakeups()) / seconds,
                (y.lockBoosts() - x.lockBoosts()) / seconds);
        }
        final List<long[]> rows = new ArrayList<>();
        for (final Map.Entry<Long, long[]> e : b.threads.entrySet()) {
            final long[] prev = a.threads.getOrDefault(e.getKey(), new long[2]);
            rows.add(new long[] {e.getKey(), e.getValue()[0] - prev[0], e.getValue()[1] - prev[1]});
        }
        rows.sort((p, q) -> Long.compare(q[1], p[1]));
        out.printf("%6s %-24s %3s %-10s %6s %10s%n", "TID", "NAME", "CPU", "STATE", "CPU%", "SWITCH/s");
        for (int i = 0; i < Math.min(BUSIEST, rows.size()); i++) {
            final long[] r = rows.get(i);
            final KThread t = b.byId.get(r[0]);
            out.printf("%6d %-24s %3d %-10s %6.1f %10.0f%n", r[0], PsCommand.clip(t.name(), 24), t.cpuId(),
                t.state().label(), 100.0 * r[1] / 1e9 / seconds, r[2] / seconds);
        }
        out.println();
    }
}
