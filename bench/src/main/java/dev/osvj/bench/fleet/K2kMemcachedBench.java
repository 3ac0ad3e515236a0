package dev.osvj.bench.fleet;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchKernel;
import dev.osvj.bench.ClosedLoop;
import dev.osvj.bench.MetricGuard;
import dev.osvj.bench.Tools;
import dev.osvj.bench.apps.MemcachedBench;
import dev.osvj.bench.census.ThreadCensus;
import dev.osvj.net.wire.Addresses;
import dev.osvj.vswitch.Drop;
import dev.osvj.vswitch.PortStats;
import dev.osvj.vswitch.SwitchHost;
import dev.osvj.vswitch.SwitchSpec;
import dev.osvj.vswitch.VSwitch;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code memcached.k2k_vs_linux}: the OSv paper's memcached comparison on one host, kernel to kernel, as
 * issue 10 defines it: the same Java load client and the same memcached server code, once in two kernel
 * instances joined by the {@code aeron:ipc} switch, once on host JVM sockets over Linux's loopback.
 *
 * <ul>
 *   <li><b>osvj</b> (numerator): two kernel instances in this JVM, each with a virtio-net device on one
 *       {@code aeron:ipc} virtual switch ({@link SwitchHost}, {@link VSwitch}): the server instance
 *       runs osvj's built-in memcached ({@code MemcachedApplication}: its engines and item store on the
 *       kernel's sockets and epoll, kernel threads), the client instance runs {@link MemcachedBench}'s
 *       Java load client as its application: one kernel thread per connection ({@link ClosedLoop#kernelThreads}),
 *       whose blocking sends and receives are function calls into the kernel's socket API that switch
 *       kernel threads; until session 7 the client ran on host platform threads calling that API from
 *       outside, each wait a host park ({@link #CLIENT} {@code host} still measures that). Each instance
 *       has {@link #DEFAULT_CPUS} vCPU ({@link #CPUS}). Every request crosses client stack, virtio, switch
 *       port, switch, switch port, virtio, server stack, and back.</li>
 *   <li><b>linux</b> (denominator): the same load client on JDK sockets over Linux's loopback to
 *       {@link HostMemcached}, the host twin of the same server: the same text-protocol engine and item
 *       store (in a booted kernel's guest memory, through its malloc), driven by a JDK NIO selector loop
 *       per worker as {@code MemcachedApplication}'s workers are by the kernel's epoll, platform
 *       threads, {@value #WORKERS} workers on both sides. So the ratio compares the kernels, network
 *       paths and sockets, not two memcached implementations.</li>
 * </ul>
 *
 * For context the detail also has: Debian's C {@code memcached} with the same client over the same
 * loopback ({@code debian_*}; the denominator until session 5, the paper's Linux server; absent when it
 * is not installed), the same client and server in <em>one</em> kernel over its loopback
 * ({@code one_kernel_*}: what the switch path adds), and five A/B runs of the two kernels: transmit
 * with the other {@link SwitchHost.Options#inlineTransmit} setting than the host's default, which the main
 * run uses: inline on every kicking thread ({@code inline_*}, {@code ALL}) while the default is {@code OFF},
 * or on the devices' backend threads ({@code off_*}) if the default becomes {@code ALL}), on host kicking
 * threads only ({@code host_inline_*}:
 * {@code HOST_THREADS}),
 * every frame through the switch thread ({@code switch_thread_*}: without cut-through), without the
 * directed yield ({@code no_yield_*}: {@code osvj.vswitch.directed-yield = off}, every wakeup of a parked
 * vCPU a host wake-up of its carrier, the default until session 10), and
 * cut-through but every frame through the destination's downlink, polled by its device thread
 * ({@code downlinks_*}: without the switch receiving straight into the destination guest's queue,
 * {@code VirtioNetDevice.offerRx}; {@code switch_frames_received_direct} counts those frames in the
 * main run). {@code per_request.*} and {@code inline_per_request.*} (or {@code off_per_request.*}) are the two kernels' virtio-net
 * counters per request: {@code kicks} (a kick not served inline wakes a device's backend thread
 * unless it is awake), {@code inline_kicks} (served on the guest's kicking thread: the hand-off the
 * switch path no longer has), {@code rx_interrupts} (receive interrupts; the vswitch devices run them
 * inline on the forwarding thread, device key {@code interrupts = auto}), and the vCPUs' halts, IPIs,
 * switches and mailbox runs; and where each request's CPU time and waits went, by thread kind
 * ({@link ThreadCensus}: {@code per_request.cpu_us.KIND}, {@code per_request.waits.KIND},
 * {@code sleeps.process}, {@code cores_busy}, also for the twin, {@code linux_per_request.*}, and the
 * one-kernel run, {@code one_kernel_per_request.*}), with the switch's {@code switch_lock_waits} (a
 * device thread waited for the forwarding lock), {@code switch_locked_cycles} (duty cycles of the switch
 * thread that took the forwarding lock: they had something to forward or change),
 * {@code inline_sends_lock_busy} (an inline send found it held by another thread and handed its frame to
 * the holder), {@code inline_sends_handed_off} (frames handed to the holder: those, re-entered sends, and
 * the frames that followed them) and {@code inline_sends_to_uplink} (an inline send went through the
 * switch thread: the hand-off ring was full; until session 8 every send that found the lock held).
 * {@code per_request.run.cpu_us.*} is the CPU per request over exactly the measured load (MemcachedBench's own snapshots). A/B system properties: {@link #CPUS}, {@link #CLIENT}, {@link #CONF}, {@link #CONTEXT}, {@link #MODE},
 * {@link #INTERRUPTS}, {@link #DEFER}.
 * The workload is {@link MemcachedBench#run}'s (90/10 get/set of 100-byte values, closed loop,
 * {@value #CONNECTIONS} connections); the metric is osvj's requests per second over the twin's (higher
 * is better; issue 10's target is 1.25), with the p99 ratio ({@code memcached.k2k_p99_vs_linux}, lower
 * is better; target 0.6) and the absolute numbers and switch counters in the detail.
 */
public final class K2kMemcachedBench {
    /** Closed-loop connections, as the apps suite's load point. */
    static final int CONNECTIONS = 4;
    /** memcached worker threads on both sides ({@code -t}). */
    static final int WORKERS = 2;
    private static final int PORT = 11211;
    private static final String CLIENT_IP = "10.77.0.1";
    private static final String SERVER_IP = "10.77.0.2";
    private static final AtomicInteger RUNS = new AtomicInteger();
    /**
     * System property: vCPUs of each of the two switched kernels ({@code osvj.cpus}); default {@value #DEFAULT_CPUS}:
     * two one-vCPU instances fill this 2-core host, as two VMs sized to it would (with two each, four vCPUs share two
     * cores and every vCPU halts about once per request). The one-kernel context has as many: its client and
     * server threads share them, so no request needs a cross-vCPU wake-up there.
     */
    public static final String CPUS = "bench.fleet.k2k.cpus";
    /** vCPUs of each switched kernel unless {@link #CPUS} says otherwise. */
    static final int DEFAULT_CPUS = 1;
    /**
     * System property: {@code false} skips the A/B context runs (inline, switch thread, downlinks),
     * leaving the baselines and the main switched run, for quick A/B runs of one change. Default true.
     */
    public static final String CONTEXT = "bench.fleet.k2k.context";
    /**
     * System property: the switched kernels' devices' {@code interrupts} key ({@code auto}, the default:
     * inline on the switch's threads; {@code actor}: through the interrupt actor, the A/B baseline).
     */
    public static final String INTERRUPTS = "bench.fleet.k2k.interrupts";
    /**
     * System property: {@code false} runs the inline receive interrupts of the switch's device and switch
     * threads under its forwarding lock ({@link SwitchHost.Options#deferInterrupts}, the A/B baseline);
     * default true.
     */
    public static final String DEFER = "bench.fleet.k2k.defer";
    /**
     * System property: where the load client's threads run in the client kernel: {@code kernel} (default: kernel
     * threads, the client is the kernel's application) or {@code host} (host platform threads calling the kernel's
     * socket API from outside; sessions 3-7 measured this way).
     */
    public static final String CLIENT = "bench.fleet.k2k.client";
    /**
     * System property: more configuration of both switched kernels, HOCON lines separated by {@code ;}
     * (for A/B runs, e.g. {@code osvj.sched.idle-spin=20us}); default none.
     */
    public static final String CONF = "bench.fleet.k2k.conf";
    /** System property: the main run's {@link HostMode} (A/B runs): DEFAULT (the default), INLINE, OFF, HOST_INLINE, CUT_THROUGH_DOWNLINKS or SWITCH_THREAD. */
    public static final String MODE = "bench.fleet.k2k.mode";

    private K2kMemcachedBench() {
    }

    /** Measure and report {@code memcached.k2k_vs_linux} and {@code memcached.k2k_p99_vs_linux}. */
    public static void run(final BenchContext bench) {
        MetricGuard.run(bench, () -> measure(bench), "memcached.k2k_vs_linux", "memcached.k2k_p99_vs_linux");
    }

    private static void measure(final BenchContext bench) throws Exception {
        final long ns = (bench.quick() ? 3 : 15) * 1_000_000_000L;
        bench.progress("memcached k2k: osvj's memcached code on host JDK sockets (HostMemcached) over Linux loopback, "
            + CONNECTIONS + " connections");
        final MemcachedBench.Result linux;
        final Map<String, Double> linuxThreads;
        try (MemcachedBench.Target t = HostTwin.start("k2k-host-twin-" + RUNS.get(), WORKERS)) {
            final ThreadCensus.Window census = census(ns);
            linux = MemcachedBench.run(t, CONNECTIONS, ns);
            linuxThreads = new java.util.TreeMap<>(census.perRequest(linux.opsPerSecond()));
            linuxThreads.putAll(runCpu(linux));
        }
        MemcachedBench.Result debian = null;
        if (Tools.find("memcached").isPresent()) {
            bench.progress("memcached k2k: Debian memcached over Linux loopback (context), " + CONNECTIONS + " connections");
            try (MemcachedBench.Target t = MemcachedBench.startNative(WORKERS)) {
                debian = MemcachedBench.run(t, CONNECTIONS, ns);
            }
        }
        final int n = RUNS.incrementAndGet();
        bench.progress("memcached k2k: client and server in one kernel over its loopback (context), " + CONNECTIONS
            + " connections");
        final MemcachedBench.Result oneKernel;
        final Map<String, Double> oneKernelThreads;
        try (MemcachedBench.Target t = kernelClient()
            ? MemcachedBench.bootOsvjWithKernelClient("k2k-one-" + n, WORKERS, List.of("osvj.cpus=" + cpus()))
            : MemcachedBench.bootOsvj("k2k-one-" + n, WORKERS)) {
            final ThreadCensus.Window census = census(ns);
            oneKernel = MemcachedBench.run(t, CONNECTIONS, ns);
            oneKernelThreads = census.perRequest(oneKernel.opsPerSecond());
        }
        bench.progress("memcached k2k: two kernels on an aeron:ipc switch, warm-up (not recorded: the first run of the "
            + "switch path pays its JIT compilation, which biased whichever mode ran first)");
        switched(n, "k2k-warmup-" + n, HostMode.DEFAULT, ns / 3);
        bench.progress("memcached k2k: two kernels on an aeron:ipc switch, " + CONNECTIONS + " connections");
        final SwitchRun main = switched(n, "k2k-bench-" + n, HostMode.valueOf(System.getProperty(MODE, "DEFAULT")), ns);
        final MemcachedBench.Result osvj = main.result();
        final boolean context = Boolean.parseBoolean(System.getProperty(CONTEXT, "true"));
        // the context run is the other inline-transmit setting than the host's default (the main run)
        final boolean inlineByDefault = SwitchHost.Options.defaults().inlineTransmit() == SwitchHost.InlineTransmit.ALL;
        final String alt = inlineByDefault ? "off_" : "inline_";
        SwitchRun other = null;
        SwitchRun hostInline = null;
        SwitchRun noYield = null;
        MemcachedBench.Result switchThread = null;
        MemcachedBench.Result downlinks = null;
        if (context) {
            bench.progress("memcached k2k: two kernels on an aeron:ipc switch, " + (inlineByDefault
                ? "transmit on the devices' backend threads, not inline" : "transmit inline on the guests' kicking threads")
                + " (A/B context), " + CONNECTIONS + " connections");
            other = switched(n, "k2k-" + (inlineByDefault ? "off-" : "inline-") + n, inlineByDefault ? HostMode.OFF : HostMode.INLINE, ns);
            bench.progress("memcached k2k: two kernels on an aeron:ipc switch, transmit inline on host kicking threads only "
                + "(A/B context), " + CONNECTIONS + " connections");
            hostInline = switched(n, "k2k-hostinline-" + n, HostMode.HOST_INLINE, ns);
            bench.progress("memcached k2k: two kernels on an aeron:ipc switch, without directed yield (A/B context: "
                + "osvj.vswitch.directed-yield = off, vcpu-park's wait), " + CONNECTIONS + " connections");
            noYield = switched(n, "k2k-noyield-" + n, HostMode.DEFAULT, ns, "osvj.vswitch.directed-yield=off");
            bench.progress("memcached k2k: two kernels on an aeron:ipc switch, every frame through the switch thread (A/B "
                + "context), " + CONNECTIONS + " connections");
            switchThread = switched(n, "k2k-thread-" + n, HostMode.SWITCH_THREAD, ns).result();
            bench.progress("memcached k2k: two kernels on an aeron:ipc switch, cut-through but every frame through the "
                + "destination's downlink (A/B context: without direct receive), " + CONNECTIONS + " connections");
            downlinks = switched(n, "k2k-downlink-" + n, HostMode.CUT_THROUGH_DOWNLINKS, ns).result();
        }
        final double ratio = osvj.opsPerSecond() / linux.opsPerSecond();
        final double p99Ratio = osvj.p99Us() / linux.p99Us();
        final Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("osvj_req_per_s", osvj.opsPerSecond());
        detail.put("linux_req_per_s", linux.opsPerSecond());
        detail.put("osvj_p50_us", osvj.p50Us());
        detail.put("linux_p50_us", linux.p50Us());
        detail.put("osvj_p99_us", osvj.p99Us());
        detail.put("linux_p99_us", linux.p99Us());
        for (final double pct : new double[] {90, 95, 99.9}) {
            final String key = pct == 99.9 ? "p999" : "p" + (int)pct;
            detail.put("osvj_" + key + "_us", osvj.latencyNanos().getValueAtPercentile(pct) / 1000.0);
            detail.put("linux_" + key + "_us", linux.latencyNanos().getValueAtPercentile(pct) / 1000.0);
        }
        detail.put("p99_ratio", p99Ratio);
        detail.put("one_kernel_req_per_s", oneKernel.opsPerSecond());
        detail.put("one_kernel_p99_us", oneKernel.p99Us());
        main.perRequest().forEach((k, v) -> detail.put("per_request." + k, v));
        linuxThreads.forEach((k, v) -> detail.put("linux_per_request." + k, v));
        oneKernelThreads.forEach((k, v) -> detail.put("one_kernel_per_request." + k, v));
        if (context) {
            detail.put("switch_thread_req_per_s", switchThread.opsPerSecond());
            detail.put("switch_thread_p99_us", switchThread.p99Us());
            detail.put(alt + "req_per_s", other.result().opsPerSecond());
            detail.put(alt + "p50_us", other.result().p50Us());
            detail.put(alt + "p99_us", other.result().p99Us());
            other.perRequest().forEach((k, v) -> detail.put(alt + "per_request." + k, v));
            detail.put("host_inline_req_per_s", hostInline.result().opsPerSecond());
            detail.put("host_inline_p99_us", hostInline.result().p99Us());
            hostInline.perRequest().forEach((k, v) -> detail.put("host_inline_per_request." + k, v));
            detail.put("no_yield_req_per_s", noYield.result().opsPerSecond());
            detail.put("no_yield_p50_us", noYield.result().p50Us());
            detail.put("no_yield_p99_us", noYield.result().p99Us());
            noYield.perRequest().forEach((k, v) -> detail.put("no_yield_per_request." + k, v));
            detail.put("downlinks_req_per_s", downlinks.opsPerSecond());
            detail.put("downlinks_p99_us", downlinks.p99Us());
        }
        if (debian != null) {
            detail.put("debian_req_per_s", debian.opsPerSecond());
            detail.put("debian_p50_us", debian.p50Us());
            detail.put("debian_p99_us", debian.p99Us());
            detail.put("osvj_vs_debian", osvj.opsPerSecond() / debian.opsPerSecond());
        }
        detail.put("connections", CONNECTIONS);
        detail.put("vcpus_per_kernel", cpus());
        detail.put("client_threads", kernelClient() ? "kernel" : "host");
        detail.put("target", "requests/s ratio >= 1.25, p99 ratio <= 0.6 (issue 10)");
        long dropped = 0;
        long frames = 0;
        for (final PortStats p : main.ports()) {
            frames += p.rxFrames();
            for (final Drop d : Drop.values()) {
                dropped += p.drops(d);
            }
        }
        detail.put("switch_frames", frames);
        detail.put("switch_drops", dropped);
        detail.put("switch_frames_received_direct", main.direct());
        detail.put("compared", "osvj memcached and the Java client in two kernel instances of one JVM joined by the "
            + "aeron:ipc vswitch, vs the same Java client on JDK sockets over Linux loopback to the same memcached code "
            + "(HostMemcached: osvj's engines and item store on a JDK NIO selector loop per worker); Debian's C "
            + "memcached in debian_* for context");
        bench.metric("memcached.k2k_vs_linux", ratio, "ratio", "higher", detail);
        bench.metric("memcached.k2k_p99_vs_linux", p99Ratio, "ratio", "lower",
            Map.of("osvj_p99_us", osvj.p99Us(), "linux_p99_us", linux.p99Us()));
        bench.latency("memcached.k2k.latency", "osvj", osvj.latencyNanos());
        bench.latency("memcached.k2k.latency", "linux", linux.latencyNanos());
    }

    /**
     * One osvj run: the load's result, the switch's port counters, the frames it received straight into
     * a guest's queue ({@link VSwitch#receivedDirect}), and the two kernels' virtio-net counters per
     * request ({@link #deviceCounters}).
     */
    private record SwitchRun(MemcachedBench.Result result, List<PortStats> ports, long direct,
        Map<String, Double> perRequest) {
    }

    /**
     * The osvj side: server and client kernels on a fresh switch {@code switchName}, forwarding as
     * {@code mode} says.
     */
    private static SwitchRun switched(final int n, final String switchName, final HostMode mode, final long ns)
        throws Exception {
        return switched(n, switchName, mode, ns, "");
    }

    /** As above, with more configuration lines for both kernels ({@code extra}, after {@link #CONF}'s). */
    private static SwitchRun switched(final int n, final String switchName, final HostMode mode, final long ns,
                                      final String extra) throws Exception {
        final String tag = switchName.substring(0, switchName.lastIndexOf('-'));
        final boolean cutThrough = mode != HostMode.SWITCH_THREAD;
        try (SwitchHost host = SwitchHost.start(SwitchHost.Options.defaults().withCutThrough(cutThrough)
            .withDeferInterrupts(Boolean.parseBoolean(System.getProperty(DEFER, "true")))
            .withDirectReceive(mode != HostMode.CUT_THROUGH_DOWNLINKS)
            .withInlineTransmit(switch (mode) {
                case DEFAULT -> SwitchHost.Options.defaults().inlineTransmit();
                case INLINE -> SwitchHost.InlineTransmit.ALL;
                case HOST_INLINE -> SwitchHost.InlineTransmit.HOST_THREADS;
                default -> SwitchHost.InlineTransmit.OFF;
            }))) {
            final VSwitch fabric = host.startSwitch(SwitchSpec.of(switchName));
            try (BenchKernel server = BenchKernel.boot(tag + "-server-" + n, List.of(
                     "osvj.app.name=memcached",
                     "osvj.app.args=[\"-p\", \"" + PORT + "\", \"-m\", \"64\", \"-t\", \"" + WORKERS + "\", \"-c\", \"1024\"]",
                     device(switchName) + "\n" + extra, interfaces(SERVER_IP)), true);
                 BenchKernel client = BenchKernel.boot(tag + "-client-" + n, List.of(device(switchName) + "\n" + extra,
                     interfaces(CLIENT_IP)),
                     false);
                 MemcachedBench.Target target = clientTarget(client, "osvj memcached in kernel " + tag + "-server-" + n
                     + ", Java client in kernel " + tag + "-client-" + n + ", joined by the aeron:ipc switch " + switchName
                     + " (" + mode + ")")) {
                final Map<String, Long> before = deviceCounters(server, client);
                final long busyBefore = fabric.cutBusy();
                final long handedBefore = fabric.handedOff();
                final long lockBusyBefore = fabric.lockBusy();
                final long lockWaitsBefore = fabric.lockWaits();
                final long lockedCyclesBefore = fabric.lockedDutyCycles();
                final ThreadCensus.Window census = census(ns);
                final MemcachedBench.Result r;
                try {
                    r = MemcachedBench.run(target, CONNECTIONS, ns);
                } catch (final Exception | Error e) {
                    System.err.println("k2k " + switchName + " (" + mode + ") failed: " + e + "\n" + diagnostics(fabric, server, client));
                    throw e;
                }
                final Map<String, Long> after = deviceCounters(server, client);
                final double requests = requests(r, ns);
                final Map<String, Double> perRequest = new java.util.TreeMap<>();
                after.forEach((k, v) -> perRequest.put(k, requests > 0
                    ? Math.round((v - before.getOrDefault(k, 0L)) / requests * 1000) / 1000.0 : 0.0));
                perRequest.put("switch_lock_waits", requests > 0
                    ? Math.round((fabric.lockWaits() - lockWaitsBefore) / requests * 1000) / 1000.0 : 0.0);
                perRequest.put("switch_locked_cycles", requests > 0
                    ? Math.round((fabric.lockedDutyCycles() - lockedCyclesBefore) / requests * 1000) / 1000.0 : 0.0);
                perRequest.put("inline_sends_handed_off", requests > 0
                    ? Math.round((fabric.handedOff() - handedBefore) / requests * 1000) / 1000.0 : 0.0);
                perRequest.put("inline_sends_lock_busy", requests > 0
                    ? Math.round((fabric.lockBusy() - lockBusyBefore) / requests * 1000) / 1000.0 : 0.0);
                perRequest.put("inline_sends_to_uplink", requests > 0
                    ? Math.round((fabric.cutBusy() - busyBefore) / requests * 1000) / 1000.0 : 0.0);
                perRequest.putAll(census.perRequest(r.opsPerSecond()));
                perRequest.putAll(runCpu(r));
                return new SwitchRun(r, List.copyOf(fabric.ports()), fabric.receivedDirect(), perRequest);
            }
        }
    }

    /**
     * The CPU per request {@link MemcachedBench#run} measured over exactly its measured load ({@code run.cpu_us.jvm}
     * and {@code run.cpu_us.thread.NAME}, thread names with digits folded; the load's client threads, which end
     * with the run, are in {@code unlisted(clients)}): unlike the census window, which is timed from the run's
     * start, it cannot miss the load when a loaded machine delays the run's preload.
     */
    private static Map<String, Double> runCpu(final MemcachedBench.Result r) {
        final Map<String, Double> m = new java.util.TreeMap<>();
        r.perOp().forEach((k, v) -> {
            if (k.startsWith("cpu_us.")) {
                m.put("run." + k, v);
            }
        });
        return m;
    }

    /**
     * A thread census over the middle of a {@link MemcachedBench#run} of {@code ns} (it preloads its
     * keys, warms up for a tenth of ns, then measures for ns): from 0.4 ns to 1.0 ns after the start,
     * while the load's client threads are alive.
     */
    private static ThreadCensus.Window census(final long ns) {
        return new ThreadCensus.Window(ns * 4 / 10, ns);
    }

    /** Requests of a {@link MemcachedBench#run} of {@code ns}: it measures for ns after a tenth of it as warm-up. */
    private static double requests(final MemcachedBench.Result r, final long ns) {
        return r.opsPerSecond() * ns * 1.1 / 1e9;
    }

    /**
     * Both kernels' virtio-net counters, summed: {@code kicks} (notifications the devices received: each
     * one not served inline is a wake-up of a device's backend thread, unless it was awake already),
     * {@code inline_kicks} (served on the guest's kicking thread), {@code device_rx_offered} (frames the
     * switch wrote straight into a guest's receive queue), {@code device_rx} (every frame received, so
     * {@code device_rx - device_rx_offered} came through a downlink and a device's backend thread),
     * {@code device_rx_busy} (direct receives that found the device's
     * receive lock held and took the downlink), {@code rx_interrupts} (receive-queue
     * interrupts to the drivers: run inline on the raising host thread for vswitch devices, else a
     * hand-off to the interrupt actor on a vCPU); and both schedulers' vCPU counters ({@link
     * dev.osvj.sched.CpuStats}): {@code vcpu_halts} (halts, each one ended by a cross-core wake-up or a
     * timer), {@code vcpu_halt_waits} (idle waits in a halt wait instead, such as {@code osvj.vswitch.vcpu-park}'s:
     * each one a sleep and a wake-up too, not among the halts), {@code vcpu_lent_runs} (with
     * {@code osvj.vswitch.directed-yield}: runs of a vCPU on another vCPU's idle carrier, no wake-up),
     * {@code vcpu_deferred_wakeups} (wakeups of parked vCPUs left for the waker's carrier to run) and
     * {@code vcpu_deferrals_expired} (of those, the ones that woke the parked carrier after all),
     * {@code vcpu_lent_given_back} (lent runs that left work for the vCPU's own carrier) and
     * {@code vcpu_carrier_wakeups} (host wake-ups of carriers parked in the directed-yield wait),
     * {@code vcpu_ipis} (wake-up messages to halted
     * vCPUs), {@code vcpu_switches} and
     * {@code vcpu_mailbox_runs} (actor mailbox runs on the vCPUs: interrupt actors, among others).
     */
    private static final java.util.regex.Pattern DEVICE_COUNTER = java.util.regex.Pattern.compile("([a-z_]+)=(\\d+)");

    private static Map<String, Long> deviceCounters(final BenchKernel... kernels) {
        final Map<String, Long> m = new java.util.TreeMap<>();
        for (final BenchKernel k : kernels) {
            final var devices = k.kernel().services().find(dev.osvj.virtio.VirtioDevices.class);
            if (devices.isEmpty()) {
                continue;
            }
            for (final dev.osvj.virtio.VirtioDevices.Entry e : devices.get().all()) {
                if (e.transport() instanceof dev.osvj.virtio.net.VirtioNetDevice d) {
                    m.merge("kicks", d.kicksReceived(), Long::sum);
                    m.merge("inline_kicks", d.inlineKicks(), Long::sum);
                    final java.util.regex.Matcher c = DEVICE_COUNTER.matcher(d.deviceCounters());
                    while (c.find()) {
                        if (c.group(1).equals("rx") || c.group(1).equals("rx_busy") || c.group(1).equals("rx_offered")) {
                            m.merge("device_" + c.group(1), Long.parseLong(c.group(2)), Long::sum);
                        }
                    }
                    final dev.osvj.virtio.ring.QueueCounters rx = d.queueCounters(0);
                    if (rx != null) {
                        m.merge("rx_interrupts", rx.get(dev.osvj.virtio.ring.QueueCounters.NOTIFICATIONS), Long::sum);
                    }
                }
            }
            k.kernel().services().find(dev.osvj.sched.Scheduler.class).ifPresent(s -> {
                m.merge("vcpu_halt_waits", s.haltWaits(), Long::sum);
                final dev.osvj.sched.DirectedYield.Stats y = s.directedYields();
                m.merge("vcpu_lent_runs", y.lentRuns(), Long::sum);
                m.merge("vcpu_deferred_wakeups", y.deferredWakeups(), Long::sum);
                m.merge("vcpu_deferrals_expired", y.expired(), Long::sum);
                m.merge("vcpu_lent_given_back", y.givenBack(), Long::sum);
                m.merge("vcpu_carrier_wakeups", y.carrierWakeups(), Long::sum);
                for (final dev.osvj.sched.CpuStats c : s.cpuStats()) {
                    m.merge("vcpu_halts", c.halts(), Long::sum);
                    m.merge("vcpu_ipis", c.ipisReceived(), Long::sum);
                    m.merge("vcpu_switches", c.switches(), Long::sum);
                    m.merge("vcpu_mailbox_runs", c.tasksRun(), Long::sum);
                }
            });
        }
        return m;
    }

    /**
     * A stalled run's state, for its failure report: the switch's ports, each kernel's virtio-net
     * device and driver (queues, interrupt line) and TCP connections.
     */
    private static String diagnostics(final VSwitch fabric, final BenchKernel... kernels) {
        final StringBuilder b = new StringBuilder();
        b.append("switch ").append(fabric.name()).append(" direct=").append(fabric.receivedDirect()).append('\n');
        for (final PortStats p : fabric.ports()) {
            b.append("  port ").append(p).append('\n');
        }
        for (final BenchKernel k : kernels) {
            b.append("kernel ").append(k.kernel().name()).append('\n');
            k.kernel().services().find(dev.osvj.virtio.VirtioDevices.class).ifPresent(devices -> {
                for (final dev.osvj.virtio.VirtioDevices.Entry e : devices.all()) {
                    if (e.transport() instanceof dev.osvj.virtio.net.VirtioNetDevice d) {
                        b.append("  device ").append(d.deviceCounters()).append(" status ").append(d.status())
                            .append(" rxq ").append(d.queueCounters(0)).append(" txq ").append(d.queueCounters(1))
                            .append(" transport ").append(d.frameTransport().describe()).append('\n');
                        b.append("  driver ").append(e.driver().describe()).append('\n');
                    }
                }
            });
            k.kernel().services().find(dev.osvj.sched.Scheduler.class)
                .ifPresent(sc -> {
                    sc.cpuStats().forEach(c -> b.append("  cpu ").append(c).append('\n'));
                    for (final dev.osvj.sched.KThread t : sc.threads()) {
                        b.append("  thread ").append(t.name()).append(' ').append(t.state()).append('\n');
                        if (t.name().startsWith("dispatcher/") || t.state() != dev.osvj.sched.ThreadState.WAITING) {
                            final StackTraceElement[] st = t.stackTrace();
                            for (int i = 0; i < Math.min(st.length, 25); i++) {
                                b.append("      at ").append(st[i]).append('\n');
                            }
                        }
                    }
                    if (sc.blockedCarrierReports() > 0) {
                        b.append("  blocked carrier: ").append(sc.lastBlockedCarrierReport()).append('\n');
                    }
                });
            k.kernel().services().find(dev.osvj.net.stack.NetStack.class)
                .ifPresent(st -> st.connectionDebug().forEach(c -> b.append("  tcp ").append(c).append('\n')));
        }
        return b.toString();
    }

    /** How the switch host of an osvj side forwards (the default, and the A/B contexts). */
    private enum HostMode {
        /**
         * The host's defaults ({@link SwitchHost.Options#defaults()}): cut-through straight into the destination's
         * receive queue, inline transmit as the default says (off).
         */
        DEFAULT,
        /** Cut-through and direct receive, every kick inline ({@link SwitchHost.InlineTransmit#ALL}, whatever the default). */
        INLINE,
        /** Cut-through on the device threads, no inline transmit (whatever the default). */
        OFF,
        /** As {@link #OFF} but transmit kicks on host threads (the load client's) forward inline. */
        HOST_INLINE,
        /** Cut-through on the device threads, then the destination's downlink, polled by its device thread (session 3's default). */
        CUT_THROUGH_DOWNLINKS,
        /** Every frame through the uplinks, the switch thread and the downlinks. */
        SWITCH_THREAD
    }

    /**
     * The load client's target in the client kernel: on that kernel's threads ({@link #CLIENT} {@code kernel}, the
     * default: the client is the kernel's application) or on host platform threads calling its socket API
     * ({@code host}).
     */
    private static MemcachedBench.Target clientTarget(final BenchKernel client, final String description) throws Exception {
        final String where = System.getProperty(CLIENT, "kernel");
        final int server = Addresses.parseIpv4(SERVER_IP);
        return switch (where) {
            case "kernel" -> MemcachedBench.kernelSockets(client.sockets(), server, PORT, description + ", client on kernel threads",
                client.kernel().services().find(dev.osvj.sched.Scheduler.class).orElseThrow());
            case "host" -> MemcachedBench.kernelSockets(client.sockets(), server, PORT, description + ", client on host threads");
            default -> throw new IllegalArgumentException(CLIENT + " must be kernel or host, not " + where);
        };
    }

    /** {@link #CPUS}. */
    private static int cpus() {
        return Integer.parseInt(System.getProperty(CPUS, Integer.toString(DEFAULT_CPUS)));
    }

    /** {@link #CLIENT} is {@code kernel}. */
    private static boolean kernelClient() {
        return !"host".equals(System.getProperty(CLIENT, "kernel"));
    }

    private static String device(final String switchName) {
        final String interrupts = System.getProperty(INTERRUPTS, "auto");
        return "osvj.devices=[{type=net, backend=vswitch, switch=\"" + switchName + "\", interrupts=" + interrupts + "}]"
            + "\nosvj.cpus=" + cpus()
            + "\n" + System.getProperty(CONF, "").replace(';', '\n');
    }

    private static String interfaces(final String ip) {
        return "osvj.net.interfaces=[{name=lo, backend=loopback, address=\"127.0.0.1\", netmask=\"255.0.0.0\", mtu=65536},"
            + "{name=eth0, backend=virtio, address=\"" + ip + "\", netmask=\"255.255.255.0\"}]";
    }
}
