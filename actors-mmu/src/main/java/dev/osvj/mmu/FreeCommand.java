package dev.osvj.mmu;

import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.console.Terminal;

import java.io.PrintStream;
import java.util.List;

/** Console {@code free [-b|-k|-m|-g|-h]}: memory use in procps' layout (KiB by default). */
final class FreeCommand implements ConsoleCommand {
    private final MemoryStats stats;

    FreeCommand(final MemoryStats stats) {
        this.stats = stats;
    }

    @Override
    public String name() {
        return "free";
    }

    @Override
    public String synopsis() {
        return "free [-b|-k|-m|-g|-h]  show guest memory use";
    }

    @Override
    public int run(final List<String> args, final Terminal terminal) {
        final PrintStream out = terminal.out();
        long unit = 1024;
        boolean human = false;
        for (final String a : args) {
            switch (a) {
                case "-b" -> unit = 1;
                case "-k" -> unit = 1024;
                case "-m" -> unit = 1024 * 1024;
                case "-g" -> unit = 1024 * 1024 * 1024;
                case "-h" -> human = true;
                default -> {
                    out.println("free: invalid option " + a);
                    out.println("usage: " + synopsis());
                    return 1;
                }
            }
        }
        final long total = stats.totalBytes();
        final long free = stats.freeBytes();
        final long cache = stats.availableBytes() - free;
        final long used = total - free - cache;
        out.printf("%15s %11s %11s %11s %11s %11s%n", "total", "used", "free", "shared", "buff/cache", "available");
        out.printf("Mem: %10s %11s %11s %11s %11s %11s%n", show(total, unit, human), show(used, unit, human),
            show(free, unit, human), show(0, unit, human), show(cache, unit, human),
            show(stats.availableBytes(), unit, human));
        out.printf("Swap: %9s %11s %11s%n", show(0, unit, human), show(0, unit, human), show(0, unit, human));
        return 0;
    }

    static String show(final long bytes, final long unit, final boolean human) {
        if (!human) {
            return Long.toString(bytes / unit);
        }
        final String[] suffix = {"B", "Ki", "Mi", "Gi", "Ti"};
        double v = bytes;
        int i = 0;
        while (v >= 1024 && i < suffix.length - 1) {
            v /= 1024;
            i++;
        }
        return i == 0 ? bytes + "B" : String.format(v >= 10 ? "%.0f%s" : "%.1f%s", v, suffix[i]);
    }
}
