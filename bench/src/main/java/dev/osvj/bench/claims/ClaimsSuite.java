package dev.osvj.bench.claims;

import dev.osvj.api.Syscalls;
import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchSuite;
import dev.osvj.bench.Tools;
import dev.osvj.bench.apps.MemcachedBench;
import dev.osvj.bench.net.NetBenchSuite;
import dev.osvj.bench.report.SuiteResult;
import dev.osvj.bench.sched.ContextSwitchProbe;
import dev.osvj.bench.sched.LockHolderPreemption;
import dev.osvj.bench.vfs.VfsBenchSuite;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * {@code bin/osvj bench claims}: the seed's claims about OSv, each as an A/B on the same osvj code in
 * the same run, and the OSv paper's table side by side with osvj's ratios.
 *
 * <ul>
 *   <li><b>Net channels</b> vs the layered receive path: the net suite's request/response over an
 *       in-memory wire, both stacks switched by {@code withNetChannels}
 *       ({@code net_channels.rr_vs_layered}, transactions per second, higher is better).</li>
 *   <li><b>Lock-holder preemption</b>: a spinlock vs the lock-free mutex under a simulated hypervisor
 *       ({@link LockHolderPreemption}, the sched suite's experiment and its headline workload: per vCPU one
 *       updater of a shared counter and nothing else; a 4-vCPU guest on 2 simulated pCPUs with a neighbour
 *       taking 10% against a 2-vCPU guest that has them to itself; {@code lhp.spinlock_loss} and
 *       {@code lhp.mutex_loss}: the counter's updates/s each loses, lower is better, the sched suite's
 *       metrics of the same names and meaning; {@code lhp.*_excess_loss}: the loss beyond the neighbour's
 *       measured share; {@code lhp.mutex_vs_spinlock_kept}: the share of its no-steal update rate the
 *       mutex keeps over the share the spinlock keeps, higher is better).</li>
 *   <li><b>Tickless</b> vs a periodic tick at 100 and 1000 Hz ({@link TickClaim}): wakeups per second
 *       and CPU use of an idle kernel, and how late a 1 ms sleep wakes up
 *       ({@code tick.idle_wakeups.*}, {@code tick.idle_cpu.*}, {@code tick.wakeup_late_p50.*}: tickless
 *       over periodic, lower is better; the {@code tick.sleep_lateness} distribution).</li>
 *   <li><b>System calls as method calls</b>: {@link Syscalls} calls into a booted kernel vs the host's
 *       {@code getpid} and {@code clock_gettime} through FFM, measured with JMH in this JVM
 *       ({@code syscall.getpid_vs_host}, {@code syscall.clock_gettime_vs_host}: osvj ns over host ns,
 *       lower is better), and file operations vs tmpfs from the vfs suite
 *       ({@code syscall.file_ops_vs_tmpfs}, {@code syscall.file_read_vs_tmpfs}, higher is better).</li>
 *   <li><b>The OSv paper's table</b>: context switch colocated and apart (the sched suite's
 *       misc-ctxsw against its C program), TCP request/response and stream (osvj's loopback vs Linux
 *       loopback with the same Java client and server), memcached ({@link MemcachedBench}: osvj's
 *       built-in server with the client over the kernel's loopback vs Debian's memcached with the same
 *       client over the host's loopback). {@code paper.*.ratio_vs_linux}, each with the paper's numbers
 *       as {@code paper_osv}, {@code paper_linux}, {@code paper_ratio} and what is compared.</li>
 * </ul>
 *
 * A claim that cannot run (a missing tool, a failure) still reports its metrics, with no value and the
 * reason in the detail, and the suite fails at the end naming what went wrong.
 */
public final class ClaimsSuite implements BenchSuite {
    /** Every metric this suite reports, in order (the smoke test checks them all). */
    public static final List<String> METRICS = List.of(
        "net_channels.rr_vs_layered",
        "lhp.spinlock_loss", "lhp.mutex_loss", "lhp.spinlock_excess_loss", "lhp.mutex_excess_loss",
        "lhp.mutex_vs_spinlock_kept",
        "tick.idle_wakeups.tickless_vs_100hz", "tick.idle_cpu.tickless_vs_100hz", "tick.wakeup_late_p50.tickless_vs_100hz",
        "tick.idle_wakeups.tickless_vs_1000hz", "tick.idle_cpu.tickless_vs_1000hz", "tick.wakeup_late_p50.tickless_vs_1000hz",
        "syscall.getpid_vs_host", "syscall.clock_gettime_vs_host",
        "syscall.file_ops_vs_tmpfs", "syscall.file_read_vs_tmpfs",
        "paper.switch_colocated.ratio_vs_linux", "paper.switch_apart.ratio_vs_linux",
        "paper.tcp_rr.ratio_vs_linux", "paper.tcp_stream.ratio_vs_linux", "paper.memcached.ratio_vs_linux");

    private static final AtomicInteger KERNELS = new AtomicInteger();

    /**
     * How long each part runs.
     *
     * @param lhpWindowMs       lock-holder preemption: a quarter of it per (setting, lock) pair, in two interleaved windows.
     * @param tickSettleMs      wait after boot before the idle window.
     * @param tickWindowMs      idle window per tick mode.
     * @param tickSleeps        1 ms sleeps timed per tick mode.
     * @param jmhIterations     JMH warm-up and measurement iterations per benchmark.
     * @param jmhIterationMs    length of one JMH iteration.
     * @param ctxswRounds       ping-pong round trips, colocated (apart: a quarter).
     * @param ctxswRepeats      best-of repeats of the context switch.
     * @param memcachedNanos    memcached run per server.
     * @param memcachedConns    memcached client connections.
     */
    record Sizes(long lhpWindowMs, long tickSettleMs, long tickWindowMs, int tickSleeps, int jmhIterations,
                 long jmhIterationMs, long ctxswRounds, int ctxswRepeats, long memcachedNanos, int memcachedConns) {
        static Sizes of(final boolean quick) {
            return quick
                ? new Sizes(1_500, 500, 2_000, 200, 3, 400, 200_000, 3, TimeUnit.SECONDS.toNanos(3), 4)
                : new Sizes(6_000, 1_000, 10_000, 1_000, 5, 1_000, 1_000_000, 7, TimeUnit.SECONDS.toNanos(15), 4);
        }
    }

    private final Sizes fixed;

    public ClaimsSuite() {
        this(null);
    }

    /** With fixed sizes (tests run a tiny configuration); null chooses by {@code --quick}. */
    ClaimsSuite(final Sizes sizes) {
        this.fixed = sizes;
    }

    @Override
    public String name() {
        return "claims";
    }

    @Override
    public String description() {
        return "the seed's claims as A/B runs: net channels, lock-holder preemption, tickless, syscalls as calls, "
            + "the OSv paper's table";
    }

    @Override
    public void run(final BenchContext bench) throws Exception {
        final Sizes sizes = fixed != null ? fixed : Sizes.of(bench.quick());
        final Map<String, String> failures = new LinkedHashMap<>();
        final Map<String, Double> found = new HashMap<>();
        final BenchContext out = new BenchContext() {
            @Override
            public boolean quick() {
                return bench.quick();
            }

            @Override
            public Path workDir() {
                return bench.workDir();
            }

            @Override
            public void progress(final String message) {
                bench.progress(message);
            }

            @Override
            public void metric(final String name, final double value, final String unit, final String better,
                final Map<String, Object> detail) {
                found.put(name, value);
                bench.metric(name, value, unit, better, detail);
            }

            @Override
            public void latency(final String name, final String series, final org.HdrHistogram.Histogram nanos) {
                bench.latency(name, series, nanos);
            }
        };

        final CapturingContext net = new CapturingContext(bench, "net");
        claim("net channels and TCP (the net suite)", failures, bench, () -> {
            NetBenchSuite.inProcessOnly().run(net);
            final SuiteResult.Metric ch = net.require("rr.channels_vs_traditional");
            out.metric("net_channels.rr_vs_layered", ch.value(), "ratio", "higher", ch.detail());
        });

        claim("lock-holder preemption", failures, bench, () -> lockHolder(out, sizes));

        final Map<String, Double> syscallNs = new LinkedHashMap<>();
        claim("tickless vs periodic tick, syscalls", failures, bench, () -> tick(out, sizes, syscallNs));
        if (!syscallNs.isEmpty()) {
            out.metric("syscall.getpid_vs_host", syscallNs.get("osvjGetpid") / syscallNs.get("hostGetpid"), "ratio", "lower",
                detail("null_call_ns", syscallNs.get("osvjGetpid"), "host_getpid_ns", syscallNs.get("hostGetpid"),
                    "compared", "Syscalls.getpid() of a booted kernel vs getpid(2) through FFM, JMH average time"));
            out.metric("syscall.clock_gettime_vs_host", syscallNs.get("osvjClockGettime") / syscallNs.get("hostClockGettime"),
                "ratio", "lower", detail("osvj_ns", syscallNs.get("osvjClockGettime"), "host_ns",
                    syscallNs.get("hostClockGettime"), "compared",
                    "Syscalls.clockGettime(CLOCK_MONOTONIC) vs clock_gettime(2) (vDSO) through FFM, JMH average time"));
        }

        claim("file operations vs tmpfs (the vfs suite)", failures, bench, () -> {
            final CapturingContext vfs = new CapturingContext(bench, "vfs");
            new VfsBenchSuite().run(vfs);
            final SuiteResult.Metric ops = vfs.require("ops.ratio_vs_tmpfs");
            out.metric("syscall.file_ops_vs_tmpfs", ops.value(), "ratio", "higher", ops.detail());
            final SuiteResult.Metric read = vfs.require("read.ratio_vs_tmpfs");
            out.metric("syscall.file_read_vs_tmpfs", read.value(), "ratio", "higher", read.detail());
        });

        claim("the paper: context switch", failures, bench, () -> contextSwitch(out, sizes));
        claim("the paper: TCP", failures, bench, () -> {
            final SuiteResult.Metric rr = net.require("rr.loopback_vs_linux_loopback");
            out.metric("paper.tcp_rr.ratio_vs_linux", rr.value(), "ratio", "higher", paper(rr.detail(), 74_862, 45_976,
                "tps", "osvj's TCP over its loopback vs Linux loopback, the same Java echo client/server (64-byte "
                    + "messages); paper: netperf TCP_RR, OSv vs Linux guest (UP)"));
            final SuiteResult.Metric stream = net.require("stream.loopback_vs_linux_loopback");
            out.metric("paper.tcp_stream.ratio_vs_linux", stream.value(), "ratio", "higher", paper(stream.detail(), 55_466,
                44_546, "Mbit/s", "one bulk TCP stream over osvj's loopback vs Linux loopback, the same Java code; "
                    + "paper: netperf TCP_STREAM, OSv vs Linux guest (UP)"));
        });
        claim("the paper: memcached", failures, bench, () -> memcached(out, sizes));

        for (final String name : METRICS) {
            if (!found.containsKey(name)) {
                bench.metric(name, Double.NaN, "ratio", better(name),
                    detail("error", failures.isEmpty() ? "not measured" : String.join("; ", failures.values())));
            }
        }
        if (!failures.isEmpty()) {
            throw new IllegalStateException("claims that failed: " + failures);
        }
    }

    private static String better(final String metric) {
        return metric.endsWith("_loss") || metric.startsWith("tick.")
            || metric.startsWith("syscall.getpid") || metric.startsWith("syscall.clock") || metric.startsWith("paper.switch")
            ? "lower" : "higher";
    }

    @FunctionalInterface
    private interface Claim {
        void run() throws Exception;
    }

    private static void claim(final String what, final Map<String, String> failures, final BenchContext bench,
        final Claim claim) {
        bench.progress(what);
        try {
            claim.run();
        } catch (final Exception | LinkageError | AssertionError e) {
            failures.put(what, e.toString());
            bench.progress(what + " failed: " + e);
        }
    }

    // ----- lock-holder preemption ------------------------------------------------------------------

    private static void lockHolder(final BenchContext out, final Sizes sizes) throws Exception {
        final ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "osvj-bench-claims-lhp");
        try {
            // The sched suite's experiment and headline: the counter-only workload (the updaters of the
            // shared counter and nothing else), a 4-vCPU guest on 2 simulated pCPUs with a neighbour
            // taking 10%, against a 2-vCPU guest that has the pCPUs to itself; all settings interleaved.
            // lhp.spinlock_loss and lhp.mutex_loss are the sched suite's metrics of the same names.
            final int rounds = 2;
            final long w = Math.max(100, sizes.lhpWindowMs() / (4 * rounds));
            out.progress("lhp: spinlock and mutex, native and under the simulated hypervisor (counter workload)");
            final LockHolderPreemption.Workload counter = LockHolderPreemption.Workload.COUNTER;
            final LockHolderPreemption.Report r = LockHolderPreemption.measure(system, EnumSet.of(counter),
                Math.min(250, w), w, rounds, 42, out::progress);
            final LockHolderPreemption.Setting main = LockHolderPreemption.Setting.OVERCOMMIT_STEAL;
            final LockHolderPreemption.Setting nat = LockHolderPreemption.Setting.NATIVE;
            final LockHolderPreemption.Kind spin = LockHolderPreemption.Kind.SPINLOCK;
            final LockHolderPreemption.Kind mutex = LockHolderPreemption.Kind.MUTEX;
            final double spinLoss = r.updatesLoss(counter, spin, main);
            final double mutexLoss = r.updatesLoss(counter, mutex, main);
            final String workload = LockHolderPreemption.workload();
            out.metric("lhp.spinlock_loss", spinLoss, "ratio", "lower",
                detail("native_updates_per_s", r.of(counter, spin, nat).updatesPerSecond(),
                    "steal_updates_per_s", r.of(counter, spin, main).updatesPerSecond(), "setting", main.label,
                    "workload", counter.label, "workloads", workload));
            out.metric("lhp.mutex_loss", mutexLoss, "ratio", "lower",
                detail("native_updates_per_s", r.of(counter, mutex, nat).updatesPerSecond(),
                    "steal_updates_per_s", r.of(counter, mutex, main).updatesPerSecond(), "setting", main.label,
                    "workload", counter.label, "workloads", workload));
            out.metric("lhp.spinlock_excess_loss", r.excessLoss(counter, spin, main), "ratio", "lower",
                detail("loss", spinLoss, "neighbour_pcpu_share", r.of(counter, spin, main).neighbourPcpuShare(),
                    "workload", counter.label));
            out.metric("lhp.mutex_excess_loss", r.excessLoss(counter, mutex, main), "ratio", "lower",
                detail("loss", mutexLoss, "neighbour_pcpu_share", r.of(counter, mutex, main).neighbourPcpuShare(),
                    "workload", counter.label));
            out.metric("lhp.mutex_vs_spinlock_kept", (1 - mutexLoss) / (1 - spinLoss), "ratio", "higher",
                detail("mutex_kept", 1 - mutexLoss, "spinlock_kept", 1 - spinLoss, "mutex_steal_updates_per_s",
                    r.of(counter, mutex, main).updatesPerSecond(), "spinlock_steal_updates_per_s",
                    r.of(counter, spin, main).updatesPerSecond(), "workload", counter.label));
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    // ----- tickless, and the syscall JMH run on the tickless kernel -------------------------------

    private static void tick(final BenchContext out, final Sizes sizes, final Map<String, Double> syscallNs)
        throws Exception {
        final Map<String, TickClaim.Result> r = new LinkedHashMap<>();
        for (final String mode : List.of("tickless", "100", "1000")) {
            out.progress("tick " + mode + ": idle kernel for " + sizes.tickWindowMs() + " ms, then " + sizes.tickSleeps()
                + " sleeps of 1 ms");
            r.put(mode, TickClaim.measure("osvj-claims-tick-" + mode + "-" + KERNELS.incrementAndGet(), mode,
                sizes.tickSettleMs(), sizes.tickWindowMs(), sizes.tickSleeps(),
                "tickless".equals(mode) ? k -> syscallNs.putAll(syscalls(out, k, sizes)) : null));
        }
        final TickClaim.Result t = r.get("tickless");
        for (final String hz : List.of("100", "1000")) {
            final TickClaim.Result p = r.get(hz);
            final String label = "hz" + hz;
            out.metric("tick.idle_wakeups.tickless_vs_" + hz + "hz", t.wakeupsPerSecond() / p.wakeupsPerSecond(), "ratio",
                "lower", detail("tickless_wakeups_per_s", t.wakeupsPerSecond(), label + "_wakeups_per_s", p.wakeupsPerSecond(),
                    "tickless_timer_irqs_per_s", t.timerInterruptsPerSecond(), label + "_timer_irqs_per_s",
                    p.timerInterruptsPerSecond(), "tickless_ipis_per_s", t.ipisPerSecond(), label + "_ipis_per_s",
                    p.ipisPerSecond(), "tickless_actor_tasks_per_s", t.tasksPerSecond(), label + "_actor_tasks_per_s",
                    p.tasksPerSecond()));
            out.metric("tick.idle_cpu.tickless_vs_" + hz + "hz", t.kernelCpuPercent() / p.kernelCpuPercent(), "ratio",
                "lower", detail("tickless_cpu_pct", t.kernelCpuPercent(), label + "_cpu_pct", p.kernelCpuPercent(),
                    "tickless_process_cpu_pct_of_one", t.processCpuPercent(), label + "_process_cpu_pct_of_one",
                    p.processCpuPercent()));
            final double tl = t.latenessNanos().getValueAtPercentile(50) / 1000.0;
            final double pl = p.latenessNanos().getValueAtPercentile(50) / 1000.0;
            out.metric("tick.wakeup_late_p50.tickless_vs_" + hz + "hz", tl / pl, "ratio", "lower",
                detail("tickless_p50_us", tl, label + "_p50_us", pl,
                    "tickless_p99_us", t.latenessNanos().getValueAtPercentile(99) / 1000.0,
                    label + "_p99_us", p.latenessNanos().getValueAtPercentile(99) / 1000.0, "sleep_requested_us", 1000));
        }
        for (final TickClaim.Result m : r.values()) {
            out.latency("tick.sleep_lateness", "tickless".equals(m.mode()) ? "tickless" : m.mode() + " Hz", m.latenessNanos());
        }
    }

    /** JMH, in this JVM, on the booted tickless kernel: benchmark method name to ns per call. */
    private static Map<String, Double> syscalls(final BenchContext out, final IdleKernel kernel, final Sizes sizes)
        throws Exception {
        out.progress("syscalls: JMH, kernel API calls vs host calls through FFM");
        SyscallBenchmarks.syscalls = Syscalls.of(kernel.kernel);
        try {
            final TimeValue iteration = TimeValue.milliseconds(sizes.jmhIterationMs());
            final List<RunResult> results = new ArrayList<>(new Runner(new OptionsBuilder()
                .include(Pattern.quote(SyscallBenchmarks.class.getName()) + "\\..*")
                .forks(0)
                .threads(1)
                .mode(Mode.AverageTime)
                .timeUnit(TimeUnit.NANOSECONDS)
                .warmupIterations(sizes.jmhIterations())
                .warmupTime(iteration)
                .measurementIterations(sizes.jmhIterations())
                .measurementTime(iteration)
                .verbosity(VerboseMode.SILENT)
                .shouldFailOnError(true)
                .build()).run());
            final Map<String, Double> ns = new LinkedHashMap<>();
            for (final RunResult r : results) {
                final String benchmark = r.getParams().getBenchmark();
                ns.put(benchmark.substring(benchmark.lastIndexOf('.') + 1), r.getPrimaryResult().getScore());
            }
            for (final String b : List.of("osvjGetpid", "hostGetpid", "osvjClockGettime", "hostClockGettime")) {
                if (!ns.containsKey(b)) {
                    throw new IllegalStateException("JMH did not run " + b + " (results: " + ns.keySet() + ")");
                }
            }
            return ns;
        } finally {
            SyscallBenchmarks.syscalls = null;
        }
    }

    // ----- the paper's table -----------------------------------------------------------------------

    private static void contextSwitch(final BenchContext out, final Sizes sizes) throws Exception {
        final long colo = sizes.ctxswRounds();
        final long apart = Math.max(1, colo / 4);
        final int repeats = sizes.ctxswRepeats();
        double linuxColo = Double.NaN;
        double linuxApart = Double.NaN;
        String reason = null;
        if (Tools.find("gcc").isPresent() && Tools.find("taskset").isPresent()) {
            out.progress("context switch: Linux (C with pthreads, built with gcc)");
            final Path exe = ContextSwitchProbe.buildLinuxBaseline(out.workDir());
            linuxColo = ContextSwitchProbe.linuxNs(exe, false, Math.max(1, colo / 4), repeats);
            linuxApart = ContextSwitchProbe.linuxNs(exe, true, Math.max(1, apart / 4), repeats);
        } else {
            reason = "gcc or taskset missing: no Linux baseline";
        }
        out.progress("context switch: osvj kernel threads, colocated and apart");
        final double osvjColo = ContextSwitchProbe.osvjNs(false, colo, repeats);
        final double osvjApart = ContextSwitchProbe.osvjNs(true, apart, repeats);
        final Map<String, Object> c = paper(detail("osvj_ns", osvjColo, "linux_ns", linuxColo), 328, 905, "ns",
            "two kernel threads ping-pong through the mutex and condvar on one vCPU vs the same loop in C with "
                + "pthreads on one host CPU (OSv's misc-ctxsw)");
        final Map<String, Object> a = paper(detail("osvj_ns", osvjApart, "linux_ns", linuxApart), 1_402, 13_148, "ns",
            "the same, threads on two vCPUs vs two host CPUs");
        if (reason != null) {
            c.put("reason", reason);
            a.put("reason", reason);
        }
        out.metric("paper.switch_colocated.ratio_vs_linux", osvjColo / linuxColo, "ratio", "lower", c);
        out.metric("paper.switch_apart.ratio_vs_linux", osvjApart / linuxApart, "ratio", "lower", a);
    }

    private static void memcached(final BenchContext out, final Sizes sizes) throws Exception {
        final String compared = "osvj's built-in memcached with the Java client on the kernel's sockets over the "
            + "kernel's loopback vs Debian's memcached with the same client on JDK sockets over the host's loopback; "
            + sizes.memcachedConns() + " connections, 90/10 get/set of 100-byte values, TCP. Paper: memaslap over "
            + "40 GbE, UDP, concurrency 120, 1 vCPU";
        if (Tools.find("memcached").isEmpty()) {
            out.metric("paper.memcached.ratio_vs_linux", Double.NaN, "ratio", "higher",
                paper(detail("reason", "memcached is not installed (Debian: apt-get install memcached)"), 127_275, 104_394,
                    "tps", compared));
            return;
        }
        final MemcachedBench.Result linux;
        out.progress("memcached: Debian's memcached over the host's loopback");
        try (MemcachedBench.Target t = MemcachedBench.startNative(2)) {
            linux = MemcachedBench.run(t, sizes.memcachedConns(), sizes.memcachedNanos());
        }
        final MemcachedBench.Result osvj;
        out.progress("memcached: osvj's built-in server over the kernel's loopback");
        try (MemcachedBench.Target t = MemcachedBench.bootOsvj("osvj-claims-memcached-" + KERNELS.incrementAndGet(), 2)) {
            osvj = MemcachedBench.run(t, sizes.memcachedConns(), sizes.memcachedNanos());
        }
        out.metric("paper.memcached.ratio_vs_linux", osvj.opsPerSecond() / linux.opsPerSecond(), "ratio", "higher",
            paper(detail("osvj_ops_per_s", osvj.opsPerSecond(), "linux_ops_per_s", linux.opsPerSecond(),
                "osvj_p99_us", osvj.p99Us(), "linux_p99_us", linux.p99Us()), 127_275, 104_394, "tps", compared));
        out.latency("paper.memcached.latency", "osvj", osvj.latencyNanos());
        out.latency("paper.memcached.latency", "linux", linux.latencyNanos());
    }

    /** {@code d} plus the paper's figures for one row of its table. */
    private static Map<String, Object> paper(final Map<String, Object> d, final double osv, final double linux,
        final String unit, final String compared) {
        final Map<String, Object> m = new LinkedHashMap<>(d);
        m.put("paper_osv", osv);
        m.put("paper_linux", linux);
        m.put("paper_ratio", osv / linux);
        m.put("paper_unit", unit);
        m.put("compared", compared);
        return m;
    }

    static Map<String, Object> detail(final Object... kv) {
        final Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String)kv[i], kv[i + 1]);
        }
        return m;
    }
}
