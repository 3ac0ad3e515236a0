package dev.osvj.bench.fleet;

import com.typesafe.config.ConfigFactory;
import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchSuite;
import dev.osvj.bench.census.ThreadCensus;
import dev.osvj.fleet.FleetConfig;
import dev.osvj.fleet.FleetManager;
import dev.osvj.fleet.InstanceState;
import dev.osvj.fleet.InstanceStatus;
import dev.osvj.system.boot.Subsystems;
import org.HdrHistogram.Histogram;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bin/osvj bench fleet}: how fast a new kernel instance boots in a warm JVM (OSv on Firecracker:
 * about 5 ms per boot), through the fleet manager's own boot path (configuration, fresh subsystems,
 * own ActorSystem, every boot phase, the application started).
 *
 * <ul>
 *   <li>{@code fleet.boot_p50_ms}: median boot of one new instance (1 vCPU, 16 MiB, echo), each
 *       booted alone and stopped before the next, in the ActorSystem the fleet created ahead for it
 *       (standby, the fleet's default); the detail has p90/p99, the same for cold boots (the boot
 *       creates the ActorSystem) and the boot chart's per-phase medians (where the time goes), and the
 *       heap each boot allocates ({@code alloc_per_boot_*_kib}: every thread's allocation while the
 *       caller scales the service to one, configuration, boot and application start, less that of
 *       the fleet's standby thread, which meanwhile creates the next replica's ActorSystem), the heap a
 *       whole sample allocates ({@code alloc_per_sample_kib}: a cold boot, a standby boot, both stops,
 *       the standby ActorSystems created for them), the GCs per 100 samples (what the p90 pays) and
 *       the standby ActorSystems created per sample ({@code standbys_per_sample}: 1, the next boot's).</li>
 *   <li>{@code fleet.boots_per_s}: instances booted per second when a service is scaled from 0 to a
 *       batch at once (sequential boots, stops not counted).</li>
 *   <li>Baselines in the same run (detail): creating a bare Pekko ActorSystem, and spawning a guardian
 *       in a shared one (the floor of the two isolation designs).</li>
 *   <li>{@code memcached.k2k_vs_linux}: the vswitch module's kernel-to-kernel memcached run
 *       ({@link K2kMemcachedBench}).</li>
 * </ul>
 */
public final class FleetBenchSuite implements BenchSuite {
    /**
     * System property naming the parts to run, comma-separated: {@code boot} (the boot metrics),
     * {@code k2k} (the memcached comparison); default both ({@code -Dbench.fleet.parts=boot}).
     */
    public static final String PARTS = "bench.fleet.parts";
    private static final Pattern CHART = Pattern.compile("^ (.+): (\\d+\\.\\d+)ms, \\(\\+(\\d+\\.\\d+)ms\\)$");

    @Override
    public String name() {
        return "fleet";
    }

    @Override
    public String description() {
        return "boot time of a new kernel instance in a warm JVM, boots per second; kernel-to-kernel memcached";
    }

    @Override
    public void run(final BenchContext bench) throws Exception {
        final java.util.Set<String> parts = java.util.Set.of(System.getProperty(PARTS, "boot,k2k").split(","));
        if (parts.contains("boot")) {
            boots(bench);
        }
        if (parts.contains("k2k")) {
            K2kMemcachedBench.run(bench);
        }
    }

    private static void boots(final BenchContext bench) throws Exception {
        final int warmup = bench.quick() ? 10 : 30;
        final int samples = bench.quick() ? 30 : 150;
        final int batch = 10;
        final int batches = bench.quick() ? 2 : 6;
        final FleetConfig fleet = FleetConfig.parse(ConfigFactory.parseString(
            "osvj.fleet.services = [ { name = bench, app = echo, cpus = 1, memory = 16M, replicas = 0 },"
                + " { name = cold, app = echo, cpus = 1, memory = 16M, replicas = 0, standby = false } ]").resolve(),
            Subsystems.discover());
        final FleetManager m = new FleetManager(fleet, "local", r -> { });
        try {
            bench.progress("fleet: warming up with " + warmup + " boots");
            for (int i = 0; i < warmup; i++) {
                bootOne(m, "bench");
                m.scale("bench", 0);
                bootOne(m, "cold");
                m.scale("cold", 0);
            }
            bench.progress("fleet: " + samples + " single boots");
            final Histogram boots = new Histogram(3);
            final Histogram coldBoots = new Histogram(3);
            final Map<String, double[]> phases = new LinkedHashMap<>();
            final double[] bootAlloc = new double[samples];
            final long[] standbyThreads = threadsNamed("fleet-standby");
            final long sampleAlloc0 = Allocation.total();
            final long gcs0 = gcCount();
            final int standbys0 = m.standbyCounts()[0];
            for (int i = 0; i < samples; i++) {
                final InstanceStatus cold = bootOne(m, "cold");
                coldBoots.recordValue(Math.max(1, (long)(cold.bootMillis() * 1e6)));
                m.scale("cold", 0);
                final long total0 = Allocation.total();
                final long standby0 = Allocation.byThreads(standbyThreads);
                final InstanceStatus r = bootOne(m, "bench");
                bootAlloc[i] = (Allocation.total() - total0) - (Allocation.byThreads(standbyThreads) - standby0);
                boots.recordValue(Math.max(1, (long)(r.bootMillis() * 1e6)));
                for (final String line : m.console("bench-0")) {
                    final Matcher c = CHART.matcher(line);
                    if (c.matches()) {
                        phases.computeIfAbsent(c.group(1), p -> new double[samples])[i] = Double.parseDouble(c.group(3));
                    }
                }
                m.scale("bench", 0);
            }
            final double sampleAlloc = (double)(Allocation.total() - sampleAlloc0) / samples;
            final long gcs = gcCount() - gcs0;
            final double standbysPerSample = (double)(m.standbyCounts()[0] - standbys0) / samples;
            bench.progress("fleet: " + batches + " batches of " + batch + " boots");
            long bootNanos = 0;
            int booted = 0;
            for (int b = 0; b < batches; b++) {
                final long t0 = System.nanoTime();
                m.scale("bench", batch);
                bootNanos += System.nanoTime() - t0;
                booted += (int)m.status().stream().filter(r -> r.state() == InstanceState.RUNNING).count();
                m.scale("bench", 0);
            }
            final Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("p90_ms", boots.getValueAtPercentile(90) / 1e6);
            detail.put("p99_ms", boots.getValueAtPercentile(99) / 1e6);
            detail.put("samples", samples);
            detail.put("cold_boot_p50_ms", coldBoots.getValueAtPercentile(50) / 1e6);
            detail.put("cold_boot_p90_ms", coldBoots.getValueAtPercentile(90) / 1e6);
            phases.forEach((p, v) -> detail.put("phase_p50_ms." + p, median(v)));
            detail.put("alloc_per_boot_p50_kib", Math.round(median(bootAlloc) / 1024));
            detail.put("alloc_per_boot_p90_kib", Math.round(percentile(bootAlloc, 0.9) / 1024));
            detail.put("alloc_per_sample_kib", Math.round(sampleAlloc / 1024));
            detail.put("gcs_per_100_samples", 100.0 * gcs / samples);
            detail.put("standbys_per_sample", standbysPerSample);
            final double[] baselines = baselines(bench.quick() ? 10 : 30);
            detail.put("actor_system_create_p50_ms", baselines[0]);
            detail.put("shared_system_guardian_spawn_p50_ms", baselines[1]);
            detail.put("design", "own ActorSystem per instance (the vCPU dispatcher is keyed by the ActorSystem's name),"
                + " created ahead for the next replica (standby); cold = created by the boot");
            bench.latency("fleet.boot", "standby", boots);
            bench.latency("fleet.boot", "cold", coldBoots);
            bench.metric("fleet.boot_p50_ms", boots.getValueAtPercentile(50) / 1e6, "ms", "lower", detail);
            bench.metric("fleet.boots_per_s", booted / (bootNanos / 1e9), "boots/s", "higher",
                Map.of("boots", booted, "batch", batch, "boot_seconds", bootNanos / 1e9));
        } finally {
            m.stopAll();
        }
    }

    private static InstanceStatus bootOne(final FleetManager m, final String service) throws InterruptedException {
        m.scale(service, 1);
        final InstanceStatus r = m.status().stream().filter(x -> x.service().equals(service)).findFirst().orElseThrow();
        if (r.state() != InstanceState.RUNNING) {
            throw new IllegalStateException("bench instance did not boot: " + r);
        }
        return r;
    }

    /** [bare ActorSystem creation p50 ms, guardian spawn in a shared ActorSystem p50 ms]. */
    private static double[] baselines(final int n) throws Exception {
        final var config = ConfigFactory.parseString("pekko.loglevel = OFF, pekko.stdout-loglevel = OFF, "
            + "pekko.jvm-shutdown-hooks = off, pekko.coordinated-shutdown.run-by-jvm-shutdown-hook = off")
            .withFallback(ConfigFactory.load());
        final double[] create = new double[n];
        for (int i = 0; i < n; i++) {
            final long t0 = System.nanoTime();
            final ActorSystem<Void> s = ActorSystem.create(Behaviors.empty(), "fleet-bench-" + i, config);
            create[i] = (System.nanoTime() - t0) / 1e6;
            s.terminate();
            s.getWhenTerminated().toCompletableFuture().get();
        }
        final double[] spawn = new double[n];
        final ActorSystem<Void> shared = ActorSystem.create(Behaviors.empty(), "fleet-bench-shared", config);
        try {
            for (int i = 0; i < n; i++) {
                final long t0 = System.nanoTime();
                shared.systemActorOf(Behaviors.<Object>receiveMessage(msg -> Behaviors.same()), "guardian-" + i, Props.empty());
                spawn[i] = (System.nanoTime() - t0) / 1e6;
            }
        } finally {
            shared.terminate();
            shared.getWhenTerminated().toCompletableFuture().get();
        }
        return new double[] {median(create), median(spawn)};
    }

    private static double median(final double[] v) {
        return percentile(v, 0.5);
    }

    private static double percentile(final double[] v, final double p) {
        final double[] s = v.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, (int)(s.length * p))];
    }

    /** The ids of the live threads named {@code name} (the fleet's standby maker: one per manager). */
    private static long[] threadsNamed(final String name) {
        return ThreadCensus.liveThreads().stream().filter(t -> t.getName().equals(name))
            .mapToLong(Thread::threadId).toArray();
    }

    /** Garbage collections so far, every collector. */
    private static long gcCount() {
        long n = 0;
        for (final GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            n += Math.max(0, gc.getCollectionCount());
        }
        return n;
    }

    /** Heap allocation counters of the JVM's threads (HotSpot's per-thread TLAB accounting). */
    private static final class Allocation {
        private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();

        /** Bytes allocated on the heap by every thread since the JVM started, ended threads included. */
        static long total() {
            return THREADS.getTotalThreadAllocatedBytes();
        }

        /** Bytes allocated by the live threads {@code ids} since they started (ended ones count 0). */
        static long byThreads(final long[] ids) {
            long n = 0;
            for (final long b : THREADS.getThreadAllocatedBytes(ids)) {
                n += Math.max(0, b);
            }
            return n;
        }
    }
}
