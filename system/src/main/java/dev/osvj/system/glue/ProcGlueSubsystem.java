package dev.osvj.system.glue;

import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.mmu.MemoryStats;
import dev.osvj.mmu.vm.AddressSpace;
import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.sched.CpuStats;
import dev.osvj.sched.Scheduler;
import dev.osvj.vfs.pseudo.ProcFs;
import dev.osvj.vfs.pseudo.SysFs;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Feeds {@code /proc} with the numbers of the subsystems that own them ("/proc populated"): the VFS
 * publishes {@link ProcFs} with labelled stand-ins, and this subsystem, booting after the VFS and the
 * network stack, replaces them through {@link ProcFs#file} with generators over the live services:
 *
 * <ul>
 *   <li>{@code /proc/meminfo} (and {@code /sys/devices/system/node/node0/meminfo}) from the mmu's
 *       {@link MemoryStats#meminfo()};</li>
 *   <li>{@code /proc/net/dev} from the stack's interfaces, {@code /proc/net/tcp} and
 *       {@code /proc/net/udp} from its sockets ({@link Sockets#list()}), in Linux's formats (addresses
 *       as the little-endian hex of the IPv4 address, ports big-endian hex, states as Linux's
 *       {@code TCP_*} numbers);</li>
 *   <li>{@code /proc/stat} and {@code /proc/cpuinfo} from the scheduler's vCPUs
 *       ({@link Scheduler#cpuStats()}): per-vCPU busy time as user time and the rest of the uptime as
 *       idle, in USER_HZ (100 per second) ticks; context switches; interrupts (timer and IPIs);</li>
 *   <li>{@code /proc/loadavg} from the vCPUs' runnable threads, sampled every 5 s by a timer actor of
 *       this subsystem ({@link LoadAverage}: Linux's fixed-point 1/5/15-minute averages);</li>
 *   <li>{@code /proc/self/maps} from the mmu's VMAs ({@link AddressSpace#maps()}) in Linux's format
 *       (address range, permissions, offset, device, inode; file mappings show no path name).</li>
 * </ul>
 *
 * Each file is computed on every read (racy snapshots of counters, as Linux's seq files). A service
 * that is missing (a kernel assembled without it) leaves the VFS's stand-in in place. Declares no keys.
 */
public final class ProcGlueSubsystem implements Subsystem {
    /** After {@link Order#NET} (the last service it reads), before the application. */
    static final int ORDER = 550;
    /** Linux's USER_HZ: the unit of /proc/stat's times. */
    static final long USER_HZ = 100;

    @Override
    public String name() {
        return "procglue";
    }

    @Override
    public int order() {
        return ORDER;
    }

    @Override
    public String phase() {
        return "/proc populated";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        // no keys
    }

    @Override
    public void boot(final BootContext context) {
        final ProcFs proc = context.services().find(ProcFs.class).orElse(null);
        if (proc == null) {
            return;
        }
        context.services().find(MemoryStats.class).ifPresent(stats -> {
            proc.file("meminfo", stats::meminfo);
            context.services().find(SysFs.class).ifPresent(sys ->
                sys.file("devices/system/node/node0/meminfo", () -> prefixLines("Node 0 ", stats.meminfo())));
        });
        context.services().find(NetStack.class).ifPresent(stack -> {
            proc.file("net/dev", () -> netDev(stack.interfaces()));
            proc.file("net/tcp", () -> sockets(stack.sockets().list(), "tcp"));
            proc.file("net/udp", () -> sockets(stack.sockets().list(), "udp"));
        });
        context.services().find(Scheduler.class).ifPresent(sched -> {
            final KernelClock clock = context.clock();
            final long boot = context.bootStartNanos();
            proc.file("stat", () -> stat(sched.cpuStats(), clock.monotonicNanos() - boot,
                clock.realtimeNanos() / 1_000_000_000L - (clock.monotonicNanos() - boot) / 1_000_000_000L,
                sched.threads().size()));
            proc.file("cpuinfo", () -> cpuinfo(sched.cpuCount(), sched.arch()));
            final LoadAverage load = new LoadAverage();
            context.actorContext().spawn(loadSampler(load, () -> runnable(sched.cpuStats())), "loadavg");
            proc.file("loadavg", () -> load.format(runnable(sched.cpuStats()), sched.threads().size(), 2));
        });
        context.services().find(AddressSpace.class).ifPresent(space -> proc.file("self/maps", () -> maps(space.maps())));
    }

    /** The sampling tick of {@link #loadSampler}. */
    enum SampleLoad {
        INSTANCE
    }

    /** An actor that folds {@code runnable} into {@code load} every {@link LoadAverage#SAMPLE_SECONDS} seconds. */
    static Behavior<SampleLoad> loadSampler(final LoadAverage load, final java.util.function.LongSupplier runnable) {
        return Behaviors.withTimers(timers -> {
            timers.startTimerAtFixedRate(SampleLoad.INSTANCE, Duration.ofSeconds(LoadAverage.SAMPLE_SECONDS));
            return Behaviors.receiveMessage(tick -> {
                load.sample(runnable.getAsLong());
                return Behaviors.same();
            });
        });
    }

    static long runnable(final List<CpuStats> cpus) {
        long n = 0;
        for (final CpuStats c : cpus) {
            n += c.load();
        }
        return n;
    }

    private static final Pattern VMA = Pattern.compile("([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][sp]) (anon|file@(\\d+))");

    /**
     * Linux's {@code /proc/self/maps} from the mmu's VMA lines ({@code start-end rwxp anon|file@OFFSET}):
     * {@code start-end perms offset 00:00 inode}, addresses in hex without leading zeros beyond eight
     * digits, the offset as eight hex digits.
     */
    static String maps(final List<String> vmas) {
        final StringBuilder sb = new StringBuilder();
        for (final String line : vmas) {
            final Matcher m = VMA.matcher(line);
            if (!m.matches()) {
                continue;
            }
            final long start = Long.parseUnsignedLong(m.group(1), 16);
            final long end = Long.parseUnsignedLong(m.group(2), 16);
            final long offset = m.group(5) == null ? 0 : Long.parseLong(m.group(5));
            sb.append(String.format(Locale.ROOT, "%08x-%08x %s %08x 00:00 0%n", start, end, m.group(3), offset));
        }
        return sb.toString();
    }

    static String prefixLines(final String prefix, final String text) {
        final StringBuilder sb = new StringBuilder();
        text.lines().forEach(l -> sb.append(prefix).append(l).append('\n'));
        return sb.toString();
    }

    /** Linux's {@code /proc/net/dev}: two header lines, one line per interface. */
    static String netDev(final List<NetInterface> interfaces) {
        final StringBuilder sb = new StringBuilder()
            .append("Inter-|   Receive                                                |  Transmit\n")
            .append(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n");
        for (final NetInterface i : interfaces) {
            sb.append(String.format(Locale.ROOT, "%6s:%8d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d%n",
                i.name(), i.rxBytes(), i.rxPackets(), 0, i.rxDropped(), 0, 0, 0, 0,
                i.txBytes(), i.txPackets(), 0, i.txDropped(), 0, 0, 0, 0));
        }
        return sb.toString();
    }

    /** Linux's {@code /proc/net/tcp} or {@code /proc/net/udp} for the sockets of {@code protocol}. */
    static String sockets(final List<Sockets.SocketInfo> all, final String protocol) {
        final StringBuilder sb = new StringBuilder(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n");
        int sl = 0;
        for (final Sockets.SocketInfo s : all) {
            if (!protocol.equals(s.protocol())) {
                continue;
            }
            final int st = "udp".equals(protocol) ? (s.remotePort() != 0 ? 1 : 7) : tcpState(s.state());
            sb.append(String.format(Locale.ROOT, "%4d: %08X:%04X %08X:%04X %02X %08X:%08X 00:00000000 00000000 %5d %8d %d%n",
                sl++, Integer.reverseBytes(s.localIp()), s.localPort(), Integer.reverseBytes(s.remoteIp()), s.remotePort(),
                st, s.sendQueue(), s.recvQueue(), 0, 0, 0));
        }
        return sb.toString();
    }

    /** Linux's {@code TCP_*} state numbers (include/net/tcp_states.h) from the netstat names. */
    static int tcpState(final String netstatName) {
        return switch (netstatName) {
            case "ESTABLISHED" -> 0x01;
            case "SYN_SENT" -> 0x02;
            case "SYN_RECV" -> 0x03;
            case "FIN_WAIT1" -> 0x04;
            case "FIN_WAIT2" -> 0x05;
            case "TIME_WAIT" -> 0x06;
            case "CLOSE" -> 0x07;
            case "CLOSE_WAIT" -> 0x08;
            case "LAST_ACK" -> 0x09;
            case "LISTEN" -> 0x0A;
            case "CLOSING" -> 0x0B;
            default -> 0x07;
        };
    }

    /**
     * Linux's {@code /proc/stat}: the {@code cpu} total and one {@code cpuN} line (user nice system idle
     * iowait irq softirq steal guest guest_nice, USER_HZ ticks), {@code intr} (total only), {@code ctxt},
     * {@code btime}, {@code processes} (kernel threads alive: osvj does not count creations),
     * {@code procs_running} (the vCPUs' runnable threads), {@code procs_blocked} (always 0).
     */
    static String stat(final List<CpuStats> cpus, final long uptimeNanos, final long bootEpochSeconds, final int threads) {
        final long uptimeTicks = Math.max(0, uptimeNanos) / (1_000_000_000L / USER_HZ);
        long user = 0;
        long idle = 0;
        long intr = 0;
        long ctxt = 0;
        long running = 0;
        final StringBuilder lines = new StringBuilder();
        for (final CpuStats c : cpus) {
            final long u = c.busyNanos() / (1_000_000_000L / USER_HZ);
            final long i = Math.max(0, uptimeTicks - u);
            user += u;
            idle += i;
            intr += c.timerInterrupts() + c.ipisReceived();
            ctxt += c.switches();
            running += c.load();
            lines.append(cpuLine("cpu" + c.cpu(), u, i));
        }
        return cpuLine("cpu ", user, idle) + lines
            + "intr " + intr + "\n"
            + "ctxt " + ctxt + "\n"
            + "btime " + bootEpochSeconds + "\n"
            + "processes " + threads + "\n"
            + "procs_running " + running + "\n"
            + "procs_blocked 0\n";
    }

    private static String cpuLine(final String name, final long user, final long idle) {
        return name + " " + user + " 0 0 " + idle + " 0 0 0 0 0 0\n";
    }

    /** {@code /proc/cpuinfo}: one block per vCPU; {@code arch} is the scheduler's thread layer. */
    static String cpuinfo(final int cpus, final String arch) {
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cpus; i++) {
            sb.append("processor\t: ").append(i).append('\n')
                .append("vendor_id\t: osvj\n")
                .append("model name\t: osvj vCPU (").append(System.getProperty("os.arch")).append(", ").append(arch)
                .append(" threads)\n")
                .append("physical id\t: 0\n")
                .append("core id\t\t: ").append(i).append('\n')
                .append("cpu cores\t: ").append(cpus).append("\n\n");
        }
        return sb.toString();
    }
}
