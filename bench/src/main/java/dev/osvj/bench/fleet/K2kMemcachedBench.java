package dev.osvj.bench.fleet;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchKernel;
import dev.osvj.bench.MetricGuard;
import dev.osvj.bench.Tools;
import dev.osvj.bench.apps.MemcachedBench;
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
 * {@code memcached.k2k_vs_linux}: the OSv paper's memcached comparison on one host, kernel to kernel.
 *
 * <ul>
 *   <li><b>osvj</b>: two kernel instances in this JVM, each with a virtio-net device on one
 *       {@code aeron:ipc} virtual switch ({@link SwitchHost}, {@link VSwitch}): the server instance
 *       runs osvj's built-in memcached, the client instance runs {@link MemcachedBench}'s Java load
 *       client on its own socket API. Every request crosses client stack, virtio, switch port,
 *       switch, switch port, virtio, server stack, and back.</li>
 *   <li><b>linux</b>: the same Java load client on JDK sockets over Linux's loopback, to Debian's
 *       {@code memcached} (the server code differs: osvj's memcached runs only on the kernel's socket
 *       API; Debian's C server is the paper's Linux side).</li>
 * </ul>
 *
 * For context the detail also has the same client and server in <em>one</em> kernel over its loopback
 * ({@code one_kernel_*}: what the switch path adds), and the two kernels with every frame through
 * the switch thread ({@code switch_thread_*}: the same switch without cut-through, the A/B of the
 * ports forwarding on their device threads), and with cut-through but every frame through the
 * destination's downlink, polled by its device thread ({@code downlinks_*}: the A/B of the switch
 * receiving straight into the destination guest's queue, {@code VirtioNetDevice.offerRx}; the
 * detail's {@code switch_frames_received_direct} counts those frames in the main run). The workload is {@link MemcachedBench#run}'s (90/10 get/set of 100-byte values, closed loop,
 * {@value #CONNECTIONS} connections); the metric is osvj's requests per second over Linux's (higher is
 * better; issue 10's target is 1.25), with the p99 ratio ({@code memcached.k2k_p99_vs_linux}, lower
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

    private K2kMemcachedBench() {
    }

    /** Measure and report {@code memcached.k2k_vs_linux} and {@code memcached.k2k_p99_vs_linux}. */
    public static void run(final BenchContext bench) {
        if (Tools.find("memcached").isEmpty()) {
            MetricGuard.unavailable(bench, "memcached is not installed (Debian: apt-get install memcached): no Linux side",
                "memcached.k2k_vs_linux", "memcached.k2k_p99_vs_linux");
            return;
        }
        MetricGuard.run(bench, () -> measure(bench), "memcached.k2k_vs_linux", "memcached.k2k_p99_vs_linux");
    }

    private static void measure(final BenchContext bench) throws Exception {
        final long ns = (bench.quick() ? 3 : 15) * 1_000_000_000L;
        bench.progress("memcached k2k: Debian memcached over Linux loopback, " + CONNECTIONS + " connections");
        final MemcachedBench.Result linux;
        try (MemcachedBench.Target t = MemcachedBench.startNative(WORKERS)) {
            linux = MemcachedBench.run(t, CONNECTIONS, ns);
        }
        final int n = RUNS.incrementAndGet();
        bench.progress("memcached k2k: client and server in one kernel over its loopback (context), " + CONNECTIONS
            + " connections");
        final MemcachedBench.Result oneKernel;
        try (MemcachedBench.Target t = MemcachedBench.bootOsvj("k2k-one-" + n, WORKERS)) {
            oneKernel = MemcachedBench.run(t, CONNECTIONS, ns);
        }
        bench.progress("memcached k2k: two kernels on an aeron:ipc switch, " + CONNECTIONS + " connections");
        final List<PortStats> ports = new java.util.ArrayList<>();
        final long[] direct = new long[1];
        final MemcachedBench.Result osvj = switched(n, "k2k-bench-" + n, HostMode.DEFAULT, ns, ports, direct);
        bench.progress("memcached k2k: two kernels on an aeron:ipc switch, every frame through the switch thread (A/B context), "
            + CONNECTIONS + " connections");
        final MemcachedBench.Result switchThread = switched(n, "k2k-thread-" + n, HostMode.SWITCH_THREAD, ns, new java.util.ArrayList<>(),
            new long[1]);
        bench.progress("memcached k2k: two kernels on an aeron:ipc switch, cut-through but every frame through the "
            + "destination's downlink (A/B context: without direct receive), " + CONNECTIONS + " connections");
        final MemcachedBench.Result downlinks = switched(n, "k2k-downlink-" + n, HostMode.CUT_THROUGH_DOWNLINKS, ns,
            new java.util.ArrayList<>(), new long[1]);
        final double ratio = osvj.opsPerSecond() / linux.opsPerSecond();
        final double p99Ratio = osvj.p99Us() / linux.p99Us();
        final Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("osvj_req_per_s", osvj.opsPerSecond());
        detail.put("linux_req_per_s", linux.opsPerSecond());
        detail.put("osvj_p50_us", osvj.p50Us());
        detail.put("linux_p50_us", linux.p50Us());
        detail.put("osvj_p99_us", osvj.p99Us());
        detail.put("linux_p99_us", linux.p99Us());
        detail.put("p99_ratio", p99Ratio);
        detail.put("one_kernel_req_per_s", oneKernel.opsPerSecond());
        detail.put("one_kernel_p99_us", oneKernel.p99Us());
        detail.put("switch_thread_req_per_s", switchThread.opsPerSecond());
        detail.put("switch_thread_p99_us", switchThread.p99Us());
        detail.put("downlinks_req_per_s", downlinks.opsPerSecond());
        detail.put("downlinks_p99_us", downlinks.p99Us());
        detail.put("connections", CONNECTIONS);
        detail.put("target", "requests/s ratio >= 1.25, p99 ratio <= 0.6 (issue 10)");
        long dropped = 0;
        long frames = 0;
        for (final PortStats p : ports) {
            frames += p.rxFrames();
            for (final Drop d : Drop.values()) {
                dropped += p.drops(d);
            }
        }
        detail.put("switch_frames", frames);
        detail.put("switch_drops", dropped);
        detail.put("switch_frames_received_direct", direct[0]);
        detail.put("compared", "osvj memcached and the Java client in two kernel instances of one JVM joined by the "
            + "aeron:ipc vswitch, vs the same Java client on JDK sockets over Linux loopback to Debian's memcached "
            + "(osvj's memcached runs only on the kernel's socket API)");
        bench.metric("memcached.k2k_vs_linux", ratio, "ratio", "higher", detail);
        bench.metric("memcached.k2k_p99_vs_linux", p99Ratio, "ratio", "lower",
            Map.of("osvj_p99_us", osvj.p99Us(), "linux_p99_us", linux.p99Us()));
        bench.latency("memcached.k2k.latency", "osvj", osvj.latencyNanos());
        bench.latency("memcached.k2k.latency", "linux", linux.latencyNanos());
    }

    /**
     * The osvj side: server and client kernels on a fresh switch {@code switchName}, forwarding as
     * {@code mode} says. The ports' counters go to {@code ports}, the frames the switch wrote straight
     * into a guest's receive queue ({@link VSwitch#receivedDirect}) to {@code direct[0]}.
     */
    private static MemcachedBench.Result switched(final int n, final String switchName, final HostMode mode,
        final long ns, final List<PortStats> ports, final long[] direct) throws Exception {
        final String tag = switchName.substring(0, switchName.lastIndexOf('-'));
        final boolean cutThrough = mode != HostMode.SWITCH_THREAD;
        try (SwitchHost host = SwitchHost.start(SwitchHost.Options.defaults().withCutThrough(cutThrough)
            .withDirectReceive(mode == HostMode.DEFAULT))) {
            final VSwitch fabric = host.startSwitch(SwitchSpec.of(switchName));
            try (BenchKernel server = BenchKernel.boot(tag + "-server-" + n, List.of(
                     "osvj.app.name=memcached",
                     "osvj.app.args=[\"-p\", \"" + PORT + "\", \"-m\", \"64\", \"-t\", \"" + WORKERS + "\", \"-c\", \"1024\"]",
                     device(switchName), interfaces(SERVER_IP)), true);
                 BenchKernel client = BenchKernel.boot(tag + "-client-" + n, List.of(device(switchName), interfaces(CLIENT_IP)),
                     false);
                 MemcachedBench.Target target = MemcachedBench.kernelSockets(client.sockets(), Addresses.parseIpv4(SERVER_IP), PORT,
                     "osvj memcached in kernel " + tag + "-server-" + n + ", Java client in kernel " + tag + "-client-" + n
                         + ", joined by the aeron:ipc switch " + switchName + " (" + mode + ")")) {
                final MemcachedBench.Result r = MemcachedBench.run(target, CONNECTIONS, ns);
                ports.addAll(fabric.ports());
                direct[0] = fabric.receivedDirect();
                return r;
            }
        }
    }

    /** How the switch host of an osvj side forwards (the default, and the two A/B contexts). */
    private enum HostMode {
        /** Cut-through on the sender's thread, straight into the destination's receive queue. */
        DEFAULT,
        /** Cut-through, then the destination's downlink, polled by its device thread (session 3's default). */
        CUT_THROUGH_DOWNLINKS,
        /** Every frame through the uplinks, the switch thread and the downlinks. */
        SWITCH_THREAD
    }

    private static String device(final String switchName) {
        return "osvj.devices=[{type=net, backend=vswitch, switch=\"" + switchName + "\"}]";
    }

    private static String interfaces(final String ip) {
        return "osvj.net.interfaces=[{name=lo, backend=loopback, address=\"127.0.0.1\", netmask=\"255.0.0.0\", mtu=65536},"
            + "{name=eth0, backend=virtio, address=\"" + ip + "\", netmask=\"255.255.255.0\"}]";
    }
}
