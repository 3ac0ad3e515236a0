package dev.osvj.fleet;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The fleet table (instance, node, state, address, boot, uptime). On a terminal {@link #redraw} repaints
 * it in place (ANSI: cursor home, clear); otherwise {@link #changes} prints one plain line per instance
 * whose state changed since the last call, so a log file gets events, not repaints.
 */
final class FleetTable {
    private final Map<String, InstanceState> last = new HashMap<>();

    static String format(final String title, final List<InstanceStatus> rows) {
        final StringBuilder b = new StringBuilder();
        b.append(title).append('\n');
        b.append(String.format(Locale.ROOT, "%-24s %-12s %-9s %-15s %10s %10s %8s  %s%n", "INSTANCE", "NODE", "STATE", "ADDRESS",
            "BOOT", "UPTIME", "RESTARTS", "DETAIL"));
        for (final InstanceStatus r : rows) {
            b.append(String.format(Locale.ROOT, "%-24s %-12s %-9s %-15s %10s %10s %8d  %s%n", r.name(), r.node(), r.state(),
                r.address(), Double.isNaN(r.bootMillis()) ? "-" : String.format(Locale.ROOT, "%.1fms", r.bootMillis()),
                uptime(r.uptimeMillis()), r.restarts(), r.detail()));
        }
        return b.toString();
    }

    static String uptime(final long ms) {
        final long s = ms / 1000;
        return s < 60 ? s + "s" : s < 3600 ? s / 60 + "m" + s % 60 + "s" : s / 3600 + "h" + s / 60 % 60 + "m";
    }

    void redraw(final PrintStream out, final String title, final List<InstanceStatus> rows) {
        out.print("\033[H\033[2J");
        out.print(format(title, rows));
        out.flush();
    }

    /** Remember {@code rows} as seen (their states are not reported again). */
    void seed(final List<InstanceStatus> rows) {
        rows.forEach(r -> last.put(r.name(), r.state()));
    }

    void changes(final PrintStream out, final List<InstanceStatus> rows) {
        for (final InstanceStatus r : rows) {
            if (last.put(r.name(), r.state()) != r.state()) {
                out.println(r.name() + " " + r.state().name().toLowerCase(Locale.ROOT)
                    + (r.detail().isEmpty() ? "" : ": " + r.detail()));
            }
        }
        last.keySet().retainAll(rows.stream().map(InstanceStatus::name).toList());
    }
}
