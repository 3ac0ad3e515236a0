package dev.osvj.bench.claims;

import dev.osvj.bench.BenchKernel;
import dev.osvj.bench.NetNamespace;
import dev.osvj.bench.apps.MemcachedBench;
import dev.osvj.net.stack.NetCounters;
import dev.osvj.net.stack.NetStack;
import dev.osvj.sched.CpuStats;
import dev.osvj.sched.Scheduler;
import dev.osvj.virtio.VirtioDevices;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The guest's request path, counted: a kernel with the built-in memcached under the apps suite's load
 * ({@link MemcachedBench#run}: closed-loop connections, 90% get / 10% set, 100-byte values), once over
 * the kernel's own loopback (client on the kernel's socket API) or over a {@code tap} device in a network
 * namespace (client on JDK sockets inside it: Linux's TCP), and the kernel's own counters per request
 * over the measured interval: vCPU wakeups, halts and IPIs, dispatcher tasks (actor mailbox runs),
 * virtio interrupts handled, net-channel consumer wakeups and flow-actor drains, TCP segments in and out
 * and pure ACKs sent, and bytes allocated and CPU time used by the whole JVM (client included).
 *
 * <p>Not a suite: a probe for A/B comparisons of the hand-offs per request, run by hand
 * ({@code java ... dev.osvj.bench.claims.GuestPathProbe c4|tap SECONDS [CONNECTIONS [CONFIG_LINE...]]});
 * it prints one line of {@code key=value} pairs.
 */
public final class GuestPathProbe {
    private static final int PORT = 11211;
    private static final int LOOPBACK = 0x7F000001;

    private GuestPathProbe() {
    }

    public static void main(final String[] args) throws Exception {
        final String mode = args.length > 0 ? args[0] : "c4";
        final long seconds = args.length > 1 ? Long.parseLong(args[1]) : 5;
        final int connections = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        final List<String> overrides = new ArrayList<>(List.of("osvj.app.name=memcached",
            "osvj.app.args=[\"-p\", \"" + PORT + "\", \"-m\", \"64\", \"-t\", \"2\", \"-c\", \"1024\"]"));
        for (int i = 3; i < args.length; i++) {
            overrides.add(args[i]); // extra configuration lines, e.g. osvj.sched.idle-spin = 50us
        }
        NetNamespace netns = null;
        try {
            if (mode.equals("tap")) {
                netns = NetNamespace.create();
                overrides.addAll(BenchKernel.tapNetwork(netns.name(), "osvjgtap1", "10.97.1.2", 1500));
            }
            try (BenchKernel kernel = BenchKernel.boot("osvj-guest-probe", overrides, true)) {
                final MemcachedBench.Target target;
                if (netns != null) {
                    netns.linkUp("osvjgtap1", "10.97.1.1/24", 1500);
                    final NetNamespace ns = netns;
                    target = hostTarget(() -> ns.connect(new InetSocketAddress("10.97.1.2", PORT), 10_000));
                } else {
                    target = MemcachedBench.kernelSockets(kernel.sockets(), LOOPBACK, PORT, "kernel loopback");
                }
                MemcachedBench.run(target, connections, 2_000_000_000L); // warm-up
                final Map<String, Long> before = counters(kernel);
                final MemcachedBench.Result r;
                try {
                    r = MemcachedBench.run(target, connections, seconds * 1_000_000_000L);
                } catch (final Exception e) {
                    dump(kernel);
                    throw e;
                }
                final Map<String, Long> after = counters(kernel);
                final long ops = r.latencyNanos().getTotalCount();
                final StringBuilder line = new StringBuilder();
                line.append(String.format("mode=%s ops_per_s=%.0f p50_us=%.1f p99_us=%.1f ops=%d", mode,
                    r.opsPerSecond(), r.p50Us(), r.p99Us(), ops));
                for (final Map.Entry<String, Long> e : after.entrySet()) {
                    final double per = (e.getValue() - before.getOrDefault(e.getKey(), 0L)) / (double)Math.max(1, ops);
                    line.append(String.format(" %s=%.3f", e.getKey(), per));
                }
                System.out.println(line);
                target.close();
            }
        } finally {
            if (netns != null) {
                netns.close();
            }
        }
        System.exit(0);
    }

    /** After a failed run: the kernel's connections, devices and counters, to see where a request stuck. */
    private static void dump(final BenchKernel kernel) {
        final NetStack stack = kernel.kernel().services().require(NetStack.class);
        stack.connectionDebug().forEach(l -> System.out.println("conn " + l));
        kernel.kernel().services().find(VirtioDevices.class).map(VirtioDevices::all).orElse(List.of()).forEach(e -> {
            System.out.println("dev " + e.name() + " irqs=" + e.interruptsHandled().get() + " " + e.driver().describe());
            if (e.transport() instanceof dev.osvj.virtio.VirtioDevice d) {
                System.out.println("dev " + e.name() + " device " + d.deviceCounters());
                for (final dev.osvj.virtio.ring.VirtqueueDevice q : d.queues()) {
                    if (q != null) {
                        System.out.println("dev " + e.name() + " queue " + q.index() + " " + q.counters());
                    }
                }
            }
        });
        stack.counters().snapshot().forEach((k, v) -> System.out.println("counter " + k + "=" + v));
        Thread.getAllStackTraces().forEach((t, trace) -> {
            System.out.println("thread " + t.getName() + " " + t.getState());
            for (int i = 0; i < Math.min(12, trace.length); i++) {
                System.out.println("thread     at " + trace[i]);
            }
        });
    }

    /** The kernel's counters now (totals since boot). */
    private static Map<String, Long> counters(final BenchKernel kernel) {
        final Map<String, Long> m = new LinkedHashMap<>();
        final Scheduler s = kernel.kernel().services().require(Scheduler.class);
        long wakeups = 0;
        long ipisSent = 0;
        long ipisReceived = 0;
        long halts = 0;
        long switches = 0;
        long tasks = 0;
        for (final CpuStats c : s.cpuStats()) {
            wakeups += c.wakeups();
            ipisSent += c.ipisSent();
            ipisReceived += c.ipisReceived();
            halts += c.halts();
            switches += c.switches();
            tasks += c.tasksRun();
        }
        m.put("vcpu_wakeups", wakeups);
        m.put("ipis_sent", ipisSent);
        m.put("ipis_received", ipisReceived);
        m.put("halts", halts);
        m.put("switches", switches);
        m.put("mailbox_runs", tasks);
        long irqs = 0;
        for (final VirtioDevices.Entry e : kernel.kernel().services().find(VirtioDevices.class)
            .map(VirtioDevices::all).orElse(List.of())) {
            irqs += e.interruptsHandled().get();
        }
        m.put("virtio_irqs", irqs);
        final NetCounters n = kernel.kernel().services().require(NetStack.class).counters();
        for (final NetCounters.Counter c : NetCounters.Counter.values()) {
            switch (c) {
                case TCP_IN, TCP_OUT, TCP_CHANNEL_WAKEUPS, TCP_CHANNEL_ACTOR_DRAINS, RX_FRAMES, TX_FRAMES ->
                    m.put(c.name().toLowerCase(), n.get(c));
                default -> {
                    if (c.name().equals("TCP_ACK_ONLY_OUT") || c.name().equals("TCP_LOOPBACK_TO_CHANNEL")) {
                        m.put(c.name().toLowerCase(), n.get(c));
                    }
                }
            }
        }
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            m.put("cpu_ns", os.getProcessCpuTime());
        }
        final java.lang.management.ThreadMXBean t = ManagementFactory.getThreadMXBean();
        if (t instanceof com.sun.management.ThreadMXBean sun) {
            m.put("alloc_bytes", sun.getTotalThreadAllocatedBytes());
        }
        return m;
    }

    /** Opens one host socket. */
    private interface Opener {
        Socket open() throws IOException;
    }

    private static MemcachedBench.Target hostTarget(final Opener opener) {
        return new MemcachedBench.Target() {
            @Override
            public MemcachedBench.Conn open() throws IOException {
                return new MemcachedBench.HostConn(opener.open());
            }

            @Override
            public String describe() {
                return "tap";
            }

            @Override
            public void close() {
            }
        };
    }
}
