package dev.osvj.bench.sched;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchSuite;
import dev.osvj.kernel.KernelClock;
import dev.osvj.sched.CondVar;
import dev.osvj.sched.KThread;
import dev.osvj.sched.Mutex;
import dev.osvj.sched.SchedConfig;
import dev.osvj.sched.Scheduler;
import dev.osvj.sched.ThreadAttr;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code bin/osvj bench sched}: the scheduler against its baselines, measured in the same run.
 *
 * <ul>
 *   <li><b>Context switch</b> (OSv's misc-ctxsw): two threads ping-pong through a mutex and a condvar,
 *       colocated (one CPU) and apart (two CPUs). osvj: kernel threads on one vCPU / pinned to two
 *       vCPUs. Linux: the same loop in C with pthreads, built with gcc in the bench work dir and run
 *       under {@code taskset}. Also the platform-thread arch of osvj, Java platform threads
 *       (ReentrantLock + Condition) and JDK virtual threads ping-ponging with park/unpark on one
 *       carrier (a child JVM with {@code -Djdk.virtualThreadScheduler.parallelism=1}). Best of several
 *       runs each, nanoseconds per switch (a round trip is two switches).</li>
 *   <li><b>Fairness</b>: CPU-bound kernel threads (2 equal, 4 equal, priorities 1 and 2) on one vCPU on
 *       the host clock; the largest relative error of an accounted share against its fair share.</li>
 *   <li><b>Lock-holder preemption</b> ({@link LockHolderPreemption}): a guest whose vCPUs each run one
 *       thread updating a shared counter under a spinlock or under the mutex and one application
 *       thread, under a simulated hypervisor (2 pCPUs, FIFO, 1-10 ms slices, halted vCPUs give their
 *       pCPU back, a neighbour taking 10% in 1-10 ms bursts). {@code lhp.*_loss}: the drop in work done
 *       by a 4-vCPU guest on the 2 pCPUs with the neighbour against a 2-vCPU guest that has them to
 *       itself; {@code lhp.*_cpu_waste}: the same comparison per millisecond of host CPU the carriers
 *       used; the other settings (2 vCPUs with the neighbour, 4 without) in the details and
 *       {@code lhp.dedicated_steal.spinlock_vs_mutex_loss}; {@code lhp.mutex_handoff_dead_us}: the
 *       mutex's time from a release to the next contended acquisition. Only this part runs with
 *       {@code -Dosvj.bench.sched.only=lhp}.</li>
 * </ul>
 */
public final class SchedBenchSuite implements BenchSuite {
    private static final AtomicInteger KERNELS = new AtomicInteger();
    /**
     * System property: {@code lhp} runs only the lock-holder-preemption part
     * ({@code bin/osvj -Dosvj.bench.sched.only=lhp bench sched --quick}); unset runs everything.
     */
    static final String ONLY_PROPERTY = "osvj.bench.sched.only";

    @Override
    public String name() {
        return "sched";
    }

    @Override
    public String description() {
        return "context switch (colocated/apart) vs Linux C, platform and virtual threads; fairness; lock-holder preemption";
    }

    @Override
    public void run(final BenchContext bench) throws Exception {
        if ("lhp".equals(System.getProperty(ONLY_PROPERTY))) {
            final ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "osvj-bench-sched");
            try {
                lockHolderPreemption(bench, system);
            } finally {
                system.terminate();
                system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
            return;
        }
        final boolean quick = bench.quick();
        final long coloRounds = quick ? 200_000 : 1_000_000;
        final long apartRounds = quick ? 50_000 : 300_000;
        final int repeats = quick ? 3 : 7;

        bench.progress("building the C baseline with gcc");
        final Path ctxsw = buildBaseline(bench.workDir());
        final double linuxColo = Double.parseDouble(exec(List.of("taskset", "-c", "0", ctxsw.toString(), "colocated",
            Long.toString(coloRounds / 4), Integer.toString(repeats))));
        final int hostCpus = Runtime.getRuntime().availableProcessors();
        final double linuxApart = Double.parseDouble(exec(List.of("taskset", "-c", hostCpus >= 2 ? "0,1" : "0",
            ctxsw.toString(), "apart", Long.toString(apartRounds / 4), Integer.toString(repeats))));
        bench.progress(String.format("linux: colocated %.0f ns, apart %.0f ns", linuxColo, linuxApart));

        bench.progress("virtual threads on one carrier (child JVM)");
        final double virtualThreads = Double.parseDouble(exec(List.of(javaExecutable(),
            "-Djdk.virtualThreadScheduler.parallelism=1", "-Djdk.virtualThreadScheduler.maxPoolSize=1",
            "-cp", System.getProperty("java.class.path"), VirtualThreadPingPong.class.getName(),
            Long.toString(coloRounds), Integer.toString(repeats))));
        bench.progress("java platform threads");
        final double javaPlatform = javaPlatformPingPong(apartRounds / 2, repeats);

        final ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "osvj-bench-sched");
        try {
            bench.progress("osvj colocated / apart (continuations)");
            final double osvjColo = pingPong(system, "continuation", false, coloRounds, repeats);
            final double osvjApart = pingPong(system, "continuation", true, apartRounds, repeats);
            bench.progress("osvj colocated (platform-thread arch)");
            final double osvjPlatform = pingPong(system, "platform", false, apartRounds / 4, repeats);
            bench.progress(String.format("osvj: colocated %.0f ns, apart %.0f ns, platform arch %.0f ns", osvjColo, osvjApart,
                osvjPlatform));

            final Map<String, Object> coloDetail = detail("osvj_ns", osvjColo, "linux_ns", linuxColo,
                "virtual_threads_ns", virtualThreads, "java_platform_threads_ns", javaPlatform,
                "osvj_platform_arch_ns", osvjPlatform, "osv_paper_ratio", 328.0 / 905.0);
            bench.metric("switch.colocated.ratio_vs_linux", osvjColo / linuxColo, "ratio", "lower", coloDetail);
            bench.metric("switch.apart.ratio_vs_linux", osvjApart / linuxApart, "ratio", "lower",
                detail("osvj_ns", osvjApart, "linux_ns", linuxApart, "osv_paper_ratio", 1402.0 / 13148.0));
            bench.metric("switch.colocated.ratio_vs_virtual_threads", osvjColo / virtualThreads, "ratio", "lower",
                detail("osvj_ns", osvjColo, "virtual_threads_ns", virtualThreads));
            bench.metric("switch.colocated.platform_arch_ratio", osvjPlatform / osvjColo, "ratio", "higher",
                detail("platform_arch_ns", osvjPlatform, "continuation_arch_ns", osvjColo));

            bench.progress("fairness on the host clock");
            final long windowMs = quick ? 1_500 : 5_000;
            final double e2 = fairness(system, windowMs, 1, 1);
            final double e4 = fairness(system, windowMs, 1, 1, 1, 1);
            final double e12 = fairness(system, windowMs, 1, 2);
            bench.metric("fairness.max_share_error", Math.max(e2, Math.max(e4, e12)), "ratio", "lower",
                detail("two_equal", e2, "four_equal", e4, "priorities_1_2", e12, "window_ms", windowMs));

            lockHolderPreemption(bench, system);
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }


    /**
     * The lock-holder-preemption metrics ({@link LockHolderPreemption}): per lock, the loss of the
     * overcommitted guest with the neighbour's 10% against the native guest, that loss beyond the
     * neighbour's share, their ratio, and the other settings in the details.
     */
    private static void lockHolderPreemption(final BenchContext bench, final ActorSystem<?> system)
        throws InterruptedException {
        bench.progress("lock-holder preemption under a simulated hypervisor");
        final boolean quick = bench.quick();
        // Eight (setting, lock) pairs and the real-time probe per round, interleaved ABBA; each window on a
        // fresh guest after a warm-up: 3 rounds of 0.5 s (quick) or 6 of 1.5 s per pair.
        final LockHolderPreemption.Report r = LockHolderPreemption.measure(system, quick ? 250 : 400,
            quick ? 500 : 1_500, quick ? 3 : 6, 42, bench::progress);
        report(bench, r);
    }

    /** Write the {@code lhp.*} metrics of {@code r}. */
    private static void report(final BenchContext bench, final LockHolderPreemption.Report r) {
        final LockHolderPreemption.Kind spin = LockHolderPreemption.Kind.SPINLOCK;
        final LockHolderPreemption.Kind mutex = LockHolderPreemption.Kind.MUTEX;
        final LockHolderPreemption.Setting main = LockHolderPreemption.Setting.OVERCOMMIT_STEAL;
        for (final LockHolderPreemption.Kind k : LockHolderPreemption.Kind.values()) {
            final StringBuilder line = new StringBuilder("lhp " + k.name().toLowerCase() + ":");
            for (final LockHolderPreemption.Setting s : LockHolderPreemption.Setting.values()) {
                final LockHolderPreemption.Totals t = r.of(k, s);
                line.append(String.format(" %s %.3gM chunks/s %.3gk upd/s share %.2f steal %.2f loss %.3f"
                    + " (%.0f chunks/cpu-ms, waste %.3f);", s.label, t.chunksPerSecond() / 1e6,
                    t.updatesPerSecond() / 1e3, t.guestPcpuShare(), t.vcpuSteal(), r.loss(k, s),
                    t.chunksPerCarrierCpuMs(), r.waste(k, s)));
            }
            bench.progress(line.toString());
        }
        final double spinLoss = r.loss(spin, main);
        final double mutexLoss = r.loss(mutex, main);
        for (final LockHolderPreemption.Kind k : LockHolderPreemption.Kind.values()) {
            final String name = k == spin ? "spinlock" : "mutex";
            final Map<String, Object> d = new LinkedHashMap<>();
            d.put("setting", main.label);
            d.putAll(r.of(k, LockHolderPreemption.Setting.NATIVE).detail("native_"));
            d.putAll(r.of(k, main).detail("steal_"));
            for (final LockHolderPreemption.Setting s : LockHolderPreemption.Setting.values()) {
                if (s != LockHolderPreemption.Setting.NATIVE) {
                    d.put("loss_" + s.label, r.loss(k, s));
                    d.put("cpu_waste_" + s.label, r.waste(k, s));
                    d.put("updates_loss_" + s.label, r.updatesLoss(k, s));
                }
            }
            d.put("chunk_ns", r.chunkNanos());
            d.put("workload", LockHolderPreemption.workload());
            bench.metric("lhp." + name + "_loss", r.loss(k, main), "ratio", "lower", d);
            bench.metric("lhp." + name + "_excess_loss", r.excessLoss(k, main), "ratio", "lower",
                detail("loss", r.loss(k, main), "neighbour_pcpu_share", r.of(k, main).neighbourPcpuShare(),
                    "setting", main.label));
            // Work per host-CPU-ms of the carriers against native: what the guest wasted of the CPU it
            // got, which the host's other load does not move (the losses above it does).
            bench.metric("lhp." + name + "_cpu_waste", r.waste(k, main), "ratio", "lower",
                detail("native_chunks_per_carrier_cpu_ms", r.of(k, LockHolderPreemption.Setting.NATIVE)
                    .chunksPerCarrierCpuMs(), "steal_chunks_per_carrier_cpu_ms", r.of(k, main).chunksPerCarrierCpuMs(),
                    "setting", main.label));
        }
        final Map<String, Object> vs = detail("target", 5.0, "setting", main.label, "spinlock_loss", spinLoss,
            "mutex_loss", mutexLoss);
        for (final LockHolderPreemption.Setting s : LockHolderPreemption.Setting.values()) {
            if (s != LockHolderPreemption.Setting.NATIVE && s != main) {
                vs.put("ratio_" + s.label, ratio(r.loss(spin, s), r.loss(mutex, s)));
            }
        }
        if (!(mutexLoss > 0)) {
            vs.put("reason", "the mutex lost nothing (mutex_loss " + mutexLoss + ")");
        }
        bench.metric("lhp.spinlock_vs_mutex_loss", ratio(spinLoss, mutexLoss), "ratio", "higher", vs);
        // The literal setting (one pCPU per vCPU, the neighbour's 10%): bounded below 2.
        final LockHolderPreemption.Setting ded = LockHolderPreemption.Setting.DEDICATED_STEAL;
        bench.metric("lhp.dedicated_steal.spinlock_vs_mutex_loss", ratio(r.loss(spin, ded), r.loss(mutex, ded)),
            "ratio", "higher", detail("spinlock_loss", r.loss(spin, ded), "mutex_loss", r.loss(mutex, ded),
                "bound", "below 2 for any number of vCPUs with dedicated pCPUs (see LockHolderPreemption)"));
        // The mutex's hand-off: time from a release to the next contended acquisition, native guest.
        final LockHolderPreemption.Totals mn = r.of(mutex, LockHolderPreemption.Setting.NATIVE);
        final LockHolderPreemption.Totals sn = r.of(spin, LockHolderPreemption.Setting.NATIVE);
        bench.metric("lhp.mutex_handoff_dead_us", mn.meanDeadMicros(), "us", "lower",
            detail("contended_share", mn.contendedShare(), "dead_share_of_time", mn.deadShare(), "updates_per_s",
                mn.updatesPerSecond(), "spinlock_dead_us", sn.meanDeadMicros(), "spinlock_updates_per_s",
                sn.updatesPerSecond(), "setting", LockHolderPreemption.Setting.NATIVE.label,
                "realtime_updaters_dead_us", r.mutexRealtimeUpdaters().meanDeadMicros(),
                "realtime_updaters_updates_per_s", r.mutexRealtimeUpdaters().updatesPerSecond(),
                "realtime_updaters_chunks_per_s", r.mutexRealtimeUpdaters().chunksPerSecond(),
                "chunks_per_s", mn.chunksPerSecond()));
    }

    /** {@code a / b}, NaN (written as null) when {@code b} is not positive. */
    private static double ratio(final double a, final double b) {
        return b > 0 ? a / b : Double.NaN;
    }

    // ---------------------------------------------------------------------------------------------

    private static Scheduler startScheduler(final ActorSystem<?> system, final SchedConfig config) {
        final Scheduler s = Scheduler.create("bench-" + KERNELS.incrementAndGet(), config, KernelClock.SYSTEM, null);
        s.start((behavior, name, props) -> system.systemActorOf(behavior, s.name() + "-" + name, props));
        return s;
    }

    /** misc-ctxsw on kernel threads: ns per switch, best of {@code repeats}. */
    static double pingPong(final ActorSystem<?> system, final String arch, final boolean apart, final long rounds,
        final int repeats) {
        final Scheduler s = startScheduler(system, SchedConfig.defaults(apart ? 2 : 1).withArch(arch));
        try {
            double best = Double.MAX_VALUE;
            for (int r = 0; r < repeats; r++) {
                final Mutex mutex = new Mutex();
                final CondVar cv = new CondVar();
                final int[] turn = {0};
                final KThread[] ts = new KThread[2];
                for (int me = 0; me < 2; me++) {
                    final int self = me;
                    ts[me] = s.newThread(ThreadAttr.named("ping" + me).pinnedTo(apart ? me : 0), () -> {
                        for (long i = 0; i < rounds; i++) {
                            mutex.lock();
                            while (turn[0] != self) {
                                cv.await(mutex);
                            }
                            turn[0] = 1 - self;
                            cv.wakeOne();
                            mutex.unlock();
                        }
                    });
                }
                final long t0 = System.nanoTime();
                ts[0].start();
                ts[1].start();
                join(ts[0]);
                join(ts[1]);
                best = Math.min(best, (System.nanoTime() - t0) / (2.0 * rounds));
            }
            return best;
        } finally {
            s.stop(Duration.ofSeconds(10));
        }
    }

    static double javaPlatformPingPong(final long rounds, final int repeats) throws InterruptedException {
        double best = Double.MAX_VALUE;
        for (int r = 0; r < repeats; r++) {
            final ReentrantLock lock = new ReentrantLock();
            final Condition cv = lock.newCondition();
            final int[] turn = {0};
            final Thread[] ts = new Thread[2];
            for (int me = 0; me < 2; me++) {
                final int self = me;
                ts[me] = new Thread(() -> {
                    for (long i = 0; i < rounds; i++) {
                        lock.lock();
                        try {
                            while (turn[0] != self) {
                                cv.awaitUninterruptibly();
                            }
                            turn[0] = 1 - self;
                            cv.signal();
                        } finally {
                            lock.unlock();
                        }
                    }
                });
            }
            final long t0 = System.nanoTime();
            ts[0].start();
            ts[1].start();
            ts[0].join();
            ts[1].join();
            best = Math.min(best, (System.nanoTime() - t0) / (2.0 * rounds));
        }
        return best;
    }

    /** CPU-bound threads on one vCPU: the largest relative error of a share against 1/p. */
    static double fairness(final ActorSystem<?> system, final long windowMs, final double... priorities)
        throws InterruptedException {
        final Scheduler s = startScheduler(system, SchedConfig.defaults(1));
        final AtomicBoolean stop = new AtomicBoolean();
        try {
            final List<KThread> hogs = new ArrayList<>();
            for (int i = 0; i < priorities.length; i++) {
                hogs.add(s.newThread(ThreadAttr.named("hog" + i).withPriority(priorities[i]), () -> {
                    long x = 88172645463325252L;
                    while (!stop.get()) {
                        final long until = System.nanoTime() + 5_000;
                        while (System.nanoTime() < until) {
                            x ^= x << 13;
                            x ^= x >>> 7;
                            x ^= x << 17;
                        }
                        if (x == 42) {
                            System.out.print("");
                        }
                        KThread.preemptionPoint();
                    }
                }));
            }
            join(s.spawn(ThreadAttr.named("starter").pinnedTo(0), () -> hogs.forEach(KThread::start)));
            Thread.sleep(300); // let tau-scale transients settle
            final long[] before = hogs.stream().mapToLong(KThread::cpuTimeNanos).toArray();
            Thread.sleep(windowMs);
            final long[] after = hogs.stream().mapToLong(KThread::cpuTimeNanos).toArray();
            stop.set(true);
            hogs.forEach(SchedBenchSuite::join);
            double total = 0;
            double weights = 0;
            for (int i = 0; i < priorities.length; i++) {
                total += after[i] - before[i];
                weights += 1 / priorities[i];
            }
            double worst = 0;
            for (int i = 0; i < priorities.length; i++) {
                final double share = (after[i] - before[i]) / total;
                final double fair = (1 / priorities[i]) / weights;
                worst = Math.max(worst, Math.abs(share - fair) / fair);
            }
            return worst;
        } finally {
            stop.set(true);
            s.stop(Duration.ofSeconds(10));
        }
    }

    // ---------------------------------------------------------------------------------------------

    private static void join(final KThread t) {
        if (!t.join(TimeUnit.SECONDS.toNanos(120))) {
            throw new IllegalStateException("kernel thread did not finish: " + t);
        }
        if (t.failure() != null) {
            throw new IllegalStateException("kernel thread failed: " + t, t.failure());
        }
    }

    private static Map<String, Object> detail(final Object... kv) {
        final Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String)kv[i], kv[i + 1]);
        }
        return m;
    }

    static Path buildBaseline(final Path workDir) throws Exception {
        final Path src = workDir.resolve("sched-ctxsw.c");
        Files.writeString(src, CtxswSource.C);
        final Path exe = workDir.resolve("sched-ctxsw");
        exec(List.of("gcc", "-O2", "-pthread", "-o", exe.toString(), src.toString()));
        return exe;
    }

    static String exec(final List<String> command) throws Exception {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
        }
        final String[] lines = out.split("\n");
        return lines[lines.length - 1].trim();
    }

    private static String javaExecutable() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}
