package dev.osvj.bench.report;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The machine a run measured on, as BENCH.md's {@code machine} object plus context the report shows:
 * the CPU model and the load average when the run started (the machines osvj is benchmarked on are
 * shared; a load above the CPU count means other work competed with the run).
 *
 * @param cpus        available processors of the JVM.
 * @param java        {@code Runtime.version()}.
 * @param os          os.name and os.version.
 * @param cpuModel    the first "model name" of /proc/cpuinfo, or empty.
 * @param loadAverage the 1-minute load average at the start of the run, or a negative value when unknown.
 */
public record Machine(int cpus, String java, String os, String cpuModel, double loadAverage) {
    /** This machine, now. */
    public static Machine current() {
        return new Machine(Runtime.getRuntime().availableProcessors(), Runtime.version().toString(),
            System.getProperty("os.name") + " " + System.getProperty("os.version"), readCpuModel(),
            ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }

    /** One line for a report: "2 CPUs (model), Java 25..., Linux 6.x, load 3.5". */
    public String describe() {
        final StringBuilder sb = new StringBuilder();
        sb.append(cpus).append(cpus == 1 ? " CPU" : " CPUs");
        if (!cpuModel.isEmpty()) {
            sb.append(" (").append(cpuModel).append(')');
        }
        sb.append(", Java ").append(java).append(", ").append(os);
        if (loadAverage >= 0) {
            sb.append(String.format(Locale.ROOT, ", load average %.2f at the start", loadAverage));
        }
        return sb.toString();
    }

    private static String readCpuModel() {
        try {
            for (final String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (final IOException | RuntimeException e) {
            // not Linux: no model
        }
        return "";
    }
}
