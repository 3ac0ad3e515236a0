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
 *   <li><b>Lock-holder preemption</b> ({@link LockHolderPreemption}): two vCPUs, each with one kernel
 *       thread updating a shared counter under a spinlock or under the mutex and one application
 *       thread with private work, while a simulated hypervisor replays one seeded pause schedule (10%
 *       steal, pauses of 1-10 ms, paused carriers spin); same work per critical section in both cases;
 *       loss is the drop in work done by all four threads against the same lock without steal, and
 *       the excess loss the part of it beyond the stolen capacity (what lock-holder preemption costs).
 *       With two vCPUs the spinlock's loss can be at most about twice the mutex's (see
 *       {@link LockHolderPreemption}).</li>
 * </ul>
 */
public final class SchedBenchSuite implements BenchSuite {
    private static final AtomicInteger KERNELS = new AtomicInteger();

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

            bench.progress("lock-holder preemption under a simulated hypervisor");
            // Per lock kind, alternating windows with and without steal (ABBA), 2 s (quick) or 6 s
            // of each; one pause schedule for every steal window of both kinds.
            final int lhpRounds = quick ? 4 : 6;
            final long lhpWindowMs = quick ? 500 : 1_000;
            final LockHolderPreemption.PauseSchedule pauses = LockHolderPreemption.PauseSchedule.generate(42,
                LockHolderPreemption.CPUS, TimeUnit.MILLISECONDS.toNanos(lhpWindowMs));
            final double steal = pauses.stealFraction(LockHolderPreemption.CPUS,
                TimeUnit.MILLISECONDS.toNanos(lhpWindowMs));
            final LockHolderPreemption.Result spin = LockHolderPreemption.measure(system,
                LockHolderPreemption.Kind.SPINLOCK, pauses, lhpWindowMs, lhpRounds);
            final LockHolderPreemption.Result mutex = LockHolderPreemption.measure(system,
                LockHolderPreemption.Kind.MUTEX, pauses, lhpWindowMs, lhpRounds);
            final double spinBase = spin.opsPerSecondNoSteal();
            final double spinSteal = spin.opsPerSecondSteal();
            final double mutexBase = mutex.opsPerSecondNoSteal();
            final double mutexSteal = mutex.opsPerSecondSteal();
            final double spinLoss = spin.loss();
            final double mutexLoss = mutex.loss();
            bench.progress(String.format("lhp: steal %.3f; spinlock %.0f -> %.0f chunks/s, mutex %.0f -> %.0f chunks/s",
                steal, spinBase, spinSteal, mutexBase, mutexSteal));
            final String workload = LockHolderPreemption.workload();
            bench.metric("lhp.spinlock_loss", spinLoss, "ratio", "lower",
                detail("ops_per_s_no_steal", spinBase, "ops_per_s_steal", spinSteal, "updates_per_s_no_steal",
                    spin.updatesPerSecondNoSteal(), "updates_per_s_steal", spin.updatesPerSecondSteal(),
                    "steal_fraction", steal, "workload", workload));
            bench.metric("lhp.mutex_loss", mutexLoss, "ratio", "lower",
                detail("ops_per_s_no_steal", mutexBase, "ops_per_s_steal", mutexSteal, "updates_per_s_no_steal",
                    mutex.updatesPerSecondNoSteal(), "updates_per_s_steal", mutex.updatesPerSecondSteal(),
                    "steal_fraction", steal, "workload", workload));
            bench.metric("lhp.spinlock_excess_loss", spin.excessLoss(), "ratio", "lower",
                detail("loss", spinLoss, "steal_fraction", steal));
            bench.metric("lhp.mutex_excess_loss", mutex.excessLoss(), "ratio", "lower",
                detail("loss", mutexLoss, "steal_fraction", steal));
            // Finite whenever the steal costs the mutex anything (it takes ~10% of the capacity, and
            // the paused carriers spin); a non-positive mutex loss would be a broken run, written as null.
            final Map<String, Object> vs = detail("target", 5.0, "steal_fraction", steal, "bound_with_2_vcpus", 2.0,
                "spinlock_excess_loss", spin.excessLoss(), "mutex_excess_loss", mutex.excessLoss());
            if (!(mutexLoss > 0)) {
                vs.put("reason", "the mutex lost nothing to steal (mutex_loss " + mutexLoss + ")");
            }
            bench.metric("lhp.spinlock_vs_mutex_loss", mutexLoss > 0 ? spinLoss / mutexLoss : Double.NaN,
                "ratio", "higher", vs);
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
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
