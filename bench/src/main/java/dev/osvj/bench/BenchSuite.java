package dev.osvj.bench;

/**
 * One benchmark suite of {@code bin/osvj bench SUITE} (contract: shared BENCH.md). A suite measures
 * osvj and its baselines in the same run and reports ratios as metrics. Suites are found with
 * {@link java.util.ServiceLoader}: list the class in
 * {@code bench/src/main/resources/META-INF/services/dev.osvj.bench.BenchSuite}.
 */
public interface BenchSuite {
    /** The SUITE word: sched, mmu, virtio, net, vfs, apps, claims. */
    String name();

    /** One line: what the suite measures. */
    String description();

    /**
     * Run every benchmark of the suite, reporting each metric through {@code bench.metric(...)} and
     * progress through {@code bench.progress(...)}. {@code bench.quick()} asks for the same metrics with
     * fewer iterations (whole suite under 2 minutes on 2 cores).
     */
    void run(BenchContext bench) throws Exception;
}
