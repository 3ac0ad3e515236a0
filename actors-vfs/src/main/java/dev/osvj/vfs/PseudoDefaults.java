package dev.osvj.vfs;

import dev.osvj.kernel.KernelClock;
import dev.osvj.vfs.pseudo.ProcFs;
import dev.osvj.vfs.pseudo.SysFs;

import java.lang.management.ManagementFactory;
import java.util.Locale;
import java.util.Map;

/**
 * The content the VFS gives /proc and /sys before other subsystems register their own: what the VFS
 * itself knows (mounts, its counters), the configuration (CPUs, memory size), the clock (uptime), and,
 * where only another subsystem knows the truth, a labelled stand-in from the JVM (the heap for free
 * memory, the host's load average) that the owning subsystem replaces by registering the same path.
 */
final class PseudoDefaults {
    private PseudoDefaults() {
    }

    /**
     * @param cpus        {@code osvj.cpus} (or the host's processors when unset)
     * @param memoryBytes {@code osvj.memory} (or the JVM's maximum heap when unset)
     */
    static void install(final Vfs vfs, final ProcFs proc, final SysFs sys, final String kernelName, final int cpus,
        final long memoryBytes, final KernelClock clock, final long bootNanos) {
        proc.file("mounts", () -> mounts(vfs));
        proc.file("self/mounts", () -> mounts(vfs));
        proc.file("uptime", () -> {
            final double up = (clock.monotonicNanos() - bootNanos) / 1e9;
            return String.format(Locale.ROOT, "%.2f %.2f%n", up, 0.0);
        });
        proc.file("cpuinfo", () -> {
            final StringBuilder sb = new StringBuilder();
            for (int i = 0; i < cpus; i++) {
                sb.append("processor\t: ").append(i).append('\n')
                    .append("vendor_id\t: osvj\n")
                    .append("model name\t: osvj vCPU (").append(System.getProperty("os.arch")).append(")\n")
                    .append("cpu cores\t: ").append(cpus).append("\n\n");
            }
            return sb.toString();
        });
        proc.file("loadavg", () -> {
            final double l = Math.max(0, ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
            return String.format(Locale.ROOT, "%.2f %.2f %.2f 1/%d 1%n", l, l, l, Thread.activeCount());
        });
        proc.file("meminfo", () -> meminfo(memoryBytes, ""));
        proc.file("self/status", () -> "Name:\t" + kernelName + "\nState:\tR (running)\nPid:\t2\nPPid:\t0\nThreads:\t"
            + Thread.activeCount() + "\nVmSize:\t" + memoryBytes / 1024 + " kB\n");
        proc.file("self/stat", () -> {
            // Linux's 52 fields: pid (comm) state ppid ... num_threads(20) ... starttime(22) vsize(23) rss(24).
            final StringBuilder sb = new StringBuilder("2 (").append(kernelName).append(") R 0");
            for (int f = 5; f <= 52; f++) {
                sb.append(' ').append(switch (f) {
                    case 20 -> Thread.activeCount();
                    case 23 -> memoryBytes;
                    default -> 0;
                });
            }
            return sb.append('\n').toString();
        });
        proc.file("self/maps", () -> "");
        proc.symlink("self/exe", "/" + kernelName);
        proc.file("net/dev", () -> "Inter-|   Receive                                                |  Transmit\n"
            + " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n");
        proc.file("net/tcp", () -> "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
        proc.file("sys/kernel/hostname", () -> kernelName + "\n");

        sys.file("devices/system/cpu/online", () -> (cpus == 1 ? "0" : "0-" + (cpus - 1)) + "\n");
        sys.file("devices/system/cpu/possible", () -> (cpus == 1 ? "0" : "0-" + (cpus - 1)) + "\n");
        sys.file("devices/system/node/node0/meminfo", () -> meminfo(memoryBytes, "Node 0 "));
        sys.file("devices/system/node/node0/cpumap", () -> String.format("%x%n", cpus >= 64 ? -1L : (1L << cpus) - 1));
        sys.file("devices/system/node/node0/distance", () -> "10\n");
        for (final String counter : vfs.counters().keySet()) {
            sys.file("osvj/vfs/" + counter, () -> vfs.counters().get(counter) + "\n");
        }
    }

    static String mounts(final Vfs vfs) {
        final StringBuilder sb = new StringBuilder();
        for (final Mount m : vfs.mounts()) {
            sb.append(m.source()).append(' ').append(m.path()).append(' ').append(m.type()).append(' ')
                .append(m.optionString()).append(" 0 0\n");
        }
        return sb.toString();
    }

    /**
     * Fallback meminfo: total from the configuration, free from the JVM heap; replaced by the mmu's
     * numbers when the system module's proc glue boots.
     */
    private static String meminfo(final long memoryBytes, final String prefix) {
        final Runtime rt = Runtime.getRuntime();
        final long used = rt.totalMemory() - rt.freeMemory();
        final long free = Math.max(0, memoryBytes - used);
        final Map<String, Long> kb = new java.util.LinkedHashMap<>();
        kb.put("MemTotal", memoryBytes / 1024);
        kb.put("MemFree", free / 1024);
        kb.put("MemAvailable", free / 1024);
        final StringBuilder sb = new StringBuilder();
        kb.forEach((k, v) -> sb.append(String.format(Locale.ROOT, "%s%-16s%10d kB%n", prefix, k + ":", v)));
        return sb.toString();
    }
}
