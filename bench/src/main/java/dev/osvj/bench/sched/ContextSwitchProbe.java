package dev.osvj.bench.sched;

import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The sched suite's context-switch measurement (OSv's misc-ctxsw) for other suites, so that the
 * {@code claims} suite's side-by-side with the OSv paper measures exactly what {@code bench sched} does:
 * the same kernel-thread ping-pong through the lock-free mutex and condvar, and the same C program with
 * pthreads as the Linux baseline. Nanoseconds per switch, best of {@code repeats}.
 */
public final class ContextSwitchProbe {
    private ContextSwitchProbe() {
    }

    /** Build the C baseline with gcc into {@code workDir}; returns the executable. */
    public static Path buildLinuxBaseline(final Path workDir) throws Exception {
        return SchedBenchSuite.buildBaseline(workDir);
    }

    /**
     * The Linux baseline: both threads on the first allowed CPU (colocated) or on the first two (apart),
     * as {@code bench sched} runs it under {@code taskset}.
     */
    public static double linuxNs(final Path baseline, final boolean apart, final long rounds, final int repeats)
        throws Exception {
        final int hostCpus = Runtime.getRuntime().availableProcessors();
        final String cpus = apart && hostCpus >= 2 ? "0,1" : "0";
        return Double.parseDouble(SchedBenchSuite.exec(List.of("taskset", "-c", cpus, baseline.toString(),
            apart ? "apart" : "colocated", Long.toString(rounds), Integer.toString(repeats))));
    }

    /** osvj: kernel threads on one vCPU (colocated) or pinned to two vCPUs (apart), continuation arch. */
    public static double osvjNs(final boolean apart, final long rounds, final int repeats) throws Exception {
        final ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "osvj-bench-ctxsw");
        try {
            return SchedBenchSuite.pingPong(system, "continuation", apart, rounds, repeats);
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
