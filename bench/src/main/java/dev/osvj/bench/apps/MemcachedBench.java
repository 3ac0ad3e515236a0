package dev.osvj.bench.apps;

import dev.osvj.bench.BenchKernel;
import dev.osvj.bench.ClosedLoop;
import dev.osvj.bench.NetNamespace;
import dev.osvj.bench.Tools;
import dev.osvj.bench.census.ThreadCensus;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.wire.Addresses;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * memcached, osvj against Linux, with one Java client for both (the apps suite and the claims suite's
 * row of the OSv paper's table).
 *
 * <p>What is compared, exactly: <b>osvj</b> is a kernel booted in this JVM with the built-in
 * memcached-compatible application ({@code osvj.app.name = memcached}); the client threads call the
 * kernel's socket API ({@link Sockets}) and reach the server over the kernel's own loopback interface,
 * so the client's TCP work runs in osvj's stack too. <b>Linux</b> is Debian's {@code memcached} process;
 * the same client logic uses JDK sockets over the host's loopback, so the client's TCP work runs in the
 * Linux kernel. Neither setup crosses a real NIC; the paper drove memcached over 40 GbE with memaslap at
 * concurrency 120 (UDP), which a 2-core machine cannot reproduce.
 *
 * <p>Two more osvj targets cross a network device: {@link #bootOsvjUser} (host JDK sockets through the
 * embedded {@code user} gateway's port forward, the default configuration's path) and
 * {@link #bootOsvjTap} (JDK sockets inside a network namespace, so Linux's TCP talks to the kernel over
 * a TAP). The client logic is the same for every target.
 *
 * <p>The workload: {@code connections} closed-loop clients, each on its own thread, 90% get and 10% set
 * of 100-byte values over a preloaded key space (memaslap's default get/set mix), text protocol. Each
 * request's latency (send to full reply) is recorded in an HdrHistogram after a warm-up of a tenth of
 * the run (the apps suite first runs an unmeasured warm-up load, {@link #WARMUP_NANOS}).
 */
public final class MemcachedBench {
    /** Value size in bytes. */
    static final int VALUE = 100;
    /**
     * The apps suite runs a load of this long (ns) before each measured run, not measured
     * ({@code -Dbench.apps.warmup-ms}, default 2000; 0: none): both servers are measured warm. Without
     * it, a quick run measured osvj while the JIT still compiled its path: the JVM's compiler threads
     * used 23-41 us of CPU per request on the 2 cores the load shares, against 0.4-1.5 us in the native
     * run (session 7).
     */
    static final long WARMUP_NANOS = Long.getLong("bench.apps.warmup-ms", 2000L) * 1_000_000L;
    /** Keys preloaded before a run. */
    static final int KEYS = 10_000;
    private static final int LOOPBACK = 0x7F000001;
    private static final int KERNEL_PORT = 11211;
    /** The tap's MTU: Ethernet's (and the virtio device's default). */
    private static final int TAP_MTU = 1500;

    private MemcachedBench() {
    }

    /**
     * One run's outcome.
     *
     * @param opsPerSecond requests completed per second over all connections.
     * @param latencyNanos request latency, nanoseconds.
     */
    public record Result(double opsPerSecond, Histogram latencyNanos, Map<String, Double> perOp) {
        Result(final double opsPerSecond, final Histogram latencyNanos) {
            this(opsPerSecond, latencyNanos, Map.of());
        }

        public double p50Us() {
            return latencyNanos.getValueAtPercentile(50) / 1000.0;
        }

        public double p99Us() {
            return latencyNanos.getValueAtPercentile(99) / 1000.0;
        }
    }

    /** One byte stream to a memcached server. */
    public interface Conn extends AutoCloseable {
        void write(byte[] b, int len) throws IOException;

        /** Up to {@code len} bytes into {@code b} at {@code off}; -1 at EOF. */
        int read(byte[] b, int off, int len) throws IOException;

        @Override
        void close() throws IOException;
    }

    /** Something the client can open connections to. */
    public interface Target extends AutoCloseable {
        Conn open() throws IOException;

        /** One line: what this target is. */
        String describe();

        /**
         * The kernel's network-device counters now (the virtio-net device's kicks, inline kicks, interrupts,
         * direct receives; the user gateway's loop wake-ups...), by name; empty for the native peer.
         */
        default Map<String, Long> counters() {
            return Map.of();
        }

        /**
         * Where the load's client threads run: host platform threads by default; a kernel's threads for a
         * client that is that kernel's application ({@link #kernelSockets(Sockets, int, int, String,
         * dev.osvj.sched.Scheduler)}).
         */
        default ClosedLoop.Launcher launcher() {
            return ClosedLoop.PLATFORM;
        }

        /** CPU time (ns) the server process outside this JVM has used so far (the native peer's); 0 for osvj. */
        default long externalCpuNanos() {
            return 0;
        }

        @Override
        void close() throws Exception;
    }

    // ----- targets -------------------------------------------------------------------------------

    /**
     * Boot a kernel with the built-in memcached ({@code -t workers}) and return it as a target reached
     * through the kernel's loopback.
     */
    public static Target bootOsvj(final String name, final int workers) throws Exception {
        final BenchKernel kernel = BenchKernel.boot(name, appOverrides(workers), true);
        final Sockets sockets = kernel.sockets();
        return reachable(kernel, () -> new OsvjConn(sockets, LOOPBACK, KERNEL_PORT),
            "osvj's built-in memcached, client on the kernel's socket API over the kernel's loopback");
    }

    /**
     * Boot a kernel with the built-in memcached ({@code -t workers}) and more configuration ({@code overrides}),
     * and return it as a target whose load client is the kernel's too: on its kernel threads, over its loopback.
     */
    public static Target bootOsvjWithKernelClient(final String name, final int workers, final List<String> overrides)
        throws Exception {
        final List<String> all = new ArrayList<>(appOverrides(workers));
        all.addAll(overrides);
        final BenchKernel kernel = BenchKernel.boot(name, all, true);
        final Sockets sockets = kernel.sockets();
        return reachable(kernel, () -> new OsvjConn(sockets, LOOPBACK, KERNEL_PORT),
            "osvj's built-in memcached, client on the kernel's threads over the kernel's loopback",
            ClosedLoop.kernelThreads(kernel.kernel().services().require(dev.osvj.sched.Scheduler.class)));
    }

    /**
     * Boot a kernel with the built-in memcached ({@code -t workers}) behind the embedded {@code user}
     * gateway, and return it as a target reached from host JDK sockets through the gateway's port
     * forward (host loopback port to guest port 11211).
     */
    public static Target bootOsvjUser(final String name, final int workers) throws Exception {
        final int hostPort = BenchKernel.freeLoopbackPort();
        final List<String> overrides = new ArrayList<>(appOverrides(workers));
        overrides.addAll(BenchKernel.userNetwork(hostPort, KERNEL_PORT));
        // -Dbench.user.vcpu-select=true|false: A/B of osvj.net.user.vcpu-select (unset: the kernel's default)
        final String vcpuSelect = System.getProperty("bench.user.vcpu-select", "");
        if (!vcpuSelect.isEmpty()) {
            overrides.add("osvj.net.user.vcpu-select=" + Boolean.parseBoolean(vcpuSelect));
        }
        final BenchKernel kernel = BenchKernel.boot(name, overrides, true);
        return reachable(kernel, () -> new HostConn(new Socket(InetAddress.getLoopbackAddress(), hostPort)),
            "osvj's built-in memcached behind the user gateway (hostfwd 127.0.0.1:" + hostPort + "), client on JDK "
                + "sockets");
    }

    /**
     * Boot a kernel with the built-in memcached ({@code -t workers}) on a {@code tap} device inside
     * {@code netns} (kernel {@code kernelIp}/24, Linux's end {@code linuxIp}/24), and return it as a
     * target reached from JDK sockets created inside the namespace, so Linux's TCP is the client's stack.
     */
    public static Target bootOsvjTap(final String name, final int workers, final NetNamespace netns, final String ifname,
        final String kernelIp, final String linuxIp) throws Exception {
        final List<String> overrides = new ArrayList<>(appOverrides(workers));
        overrides.addAll(BenchKernel.tapNetwork(netns.name(), ifname, kernelIp, TAP_MTU));
        final BenchKernel kernel = BenchKernel.boot(name, overrides, true);
        try {
            netns.linkUp(ifname, linuxIp + "/24", TAP_MTU);
        } catch (final Exception e) {
            kernel.close();
            throw e;
        }
        final InetSocketAddress at = new InetSocketAddress(kernelIp, KERNEL_PORT);
        return reachable(kernel, () -> new HostConn(netns.connect(at, 10_000)),
            "osvj's built-in memcached on a tap in namespace " + netns.name() + ", client on JDK sockets (Linux TCP)");
    }

    private static List<String> appOverrides(final int workers) {
        return List.of("osvj.app.name=memcached", "osvj.app.args=[\"-p\", \"" + KERNEL_PORT
            + "\", \"-m\", \"64\", \"-t\", \"" + workers + "\", \"-c\", \"1024\"]");
    }

    /** Opens one connection of a target. */
    private interface Opener {
        Conn open() throws IOException;
    }

    /**
     * A target, once a request through {@code opener} succeeds; powers {@code kernel} off otherwise and on
     * close ({@code null}: a kernel the caller owns).
     */
    private static Target reachable(final BenchKernel kernel, final Opener opener, final String description)
        throws Exception {
        return reachable(kernel, opener, description, ClosedLoop.PLATFORM);
    }

    /** {@link #reachable(BenchKernel, Opener, String)} whose load runs on {@code launcher}'s threads. */
    private static Target reachable(final BenchKernel kernel, final Opener opener, final String description,
        final ClosedLoop.Launcher launcher) throws Exception {
        final Target target = new Target() {
            @Override
            public Conn open() throws IOException {
                return opener.open();
            }

            @Override
            public String describe() {
                return description;
            }

            @Override
            public Map<String, Long> counters() {
                return kernel == null ? Map.of() : deviceCounters(kernel);
            }

            @Override
            public ClosedLoop.Launcher launcher() {
                return launcher;
            }

            @Override
            public void close() throws Exception {
                if (kernel != null) {
                    kernel.close();
                }
            }
        };
        try {
            awaitReachable(target);
        } catch (final Exception e) {
            target.close();
            throw e;
        }
        return target;
    }

    /**
     * A memcached server at {@code ip:port} reached through the socket API of a running kernel (for example
     * one kernel's client to another kernel's server across a switch), once a request succeeds (the
     * first connects may wait for ARP). Closing the target leaves the kernels running.
     */
    public static Target kernelSockets(final Sockets sockets, final int ip, final int port, final String description)
        throws Exception {
        return reachable(null, () -> new OsvjConn(sockets, ip, port), description);
    }

    /**
     * As {@link #kernelSockets(Sockets, int, int, String)}, but the load's client threads are kernel threads
     * of {@code scheduler}'s kernel (the kernel {@code sockets} belongs to): the load client is that kernel's
     * application, and its blocking sends and receives switch kernel threads instead of parking host threads.
     */
    public static Target kernelSockets(final Sockets sockets, final int ip, final int port, final String description,
        final dev.osvj.sched.Scheduler scheduler) throws Exception {
        return reachable(null, () -> new OsvjConn(sockets, ip, port), description, ClosedLoop.kernelThreads(scheduler));
    }

    /** Start Debian's memcached on a free host loopback port ({@code -t workers}). */
    public static Target startNative(final int workers) throws Exception {
        final Path exe = Tools.find("memcached").orElseThrow(() -> new IllegalStateException(
            "memcached is not installed (Debian: apt-get install memcached)"));
        final int port = BenchKernel.freeLoopbackPort();
        final List<String> cmd = new ArrayList<>(List.of(exe.toString(), "-l", "127.0.0.1", "-p", Integer.toString(port),
            "-U", "0", "-m", "64", "-t", Integer.toString(workers), "-c", "1024"));
        if ("root".equals(System.getProperty("user.name"))) {
            cmd.addAll(List.of("-u", "root")); // memcached refuses to run as root unless told which user
        }
        final Process process = new ProcessBuilder(cmd).redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        final Target target = new Target() {
            @Override
            public Conn open() throws IOException {
                return new HostConn(new Socket(InetAddress.getLoopbackAddress(), port));
            }

            @Override
            public String describe() {
                return "Debian's memcached, client on JDK sockets over the host's loopback";
            }

            @Override
            public long externalCpuNanos() {
                return process.toHandle().info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(0L);
            }

            @Override
            public void close() throws Exception {
                process.destroy();
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            }
        };
        try {
            awaitReachable(target);
        } catch (final Exception e) {
            target.close();
            throw new IllegalStateException("memcached did not come up on port " + port + " (exit "
                + (process.isAlive() ? "none" : process.exitValue()) + ")", e);
        }
        return target;
    }

    private static void awaitReachable(final Target target) throws Exception {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try (Conn c = target.open()) {
                final Client client = new Client(c);
                client.set("probe", new byte[VALUE]);
                return;
            } catch (final IOException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
            }
        }
    }

    // ----- the load --------------------------------------------------------------------------------

    /**
     * Two targets measured in alternating slices ({@link #interleaved}).
     *
     * @param osvj         osvj's slices merged: mean requests per second, all latencies, per-request counters
     *                     weighted by each slice's requests.
     * @param peer         the peer's (native memcached's) slices merged the same way.
     * @param sliceRatios  osvj's requests per second over the peer's, slice by slice.
     */
    public record Interleaved(Result osvj, Result peer, double[] sliceRatios) {
        /** The median of {@link #sliceRatios}: the ratio the apps suite reports. */
        public double medianRatio() {
            final double[] r = sliceRatios.clone();
            java.util.Arrays.sort(r);
            final int n = r.length;
            return n % 2 == 1 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
        }
    }

    /**
     * {@code slices} pairs of runs of {@code totalNanos / slices} each, alternating the peer and osvj (ABBA:
     * the peer first in even slices, osvj first in odd ones), after one unmeasured warm-up of each: both
     * servers stay up the whole time, so a machine whose speed drifts during the run (this suite's native
     * baseline swung from 36k to 66k requests per second between runs of one session) slows both sides of
     * a slice alike, and the median of the slice ratios is what the same conditions gave.
     */
    public static Interleaved interleaved(final Target osvj, final Target peer, final int connections,
        final long totalNanos, final int slices, final long warmupNanos) throws Exception {
        final long sliceNanos = totalNanos / slices;
        final List<Result> o = new ArrayList<>();
        final List<Result> p = new ArrayList<>();
        final double[] ratios = new double[slices];
        for (int i = 0; i < slices; i++) {
            final long warm = i == 0 ? warmupNanos : 0;
            final Result a;
            final Result b;
            if (i % 2 == 0) {
                b = run(peer, connections, sliceNanos, warm);
                a = run(osvj, connections, sliceNanos, warm);
            } else {
                a = run(osvj, connections, sliceNanos, warm);
                b = run(peer, connections, sliceNanos, warm);
            }
            o.add(a);
            p.add(b);
            ratios[i] = a.opsPerSecond() / b.opsPerSecond();
        }
        return new Interleaved(merge(o), merge(p), ratios);
    }

    /** Equal-length runs as one: mean rate, all latencies, per-request counters weighted by requests. */
    static Result merge(final List<Result> parts) {
        double ops = 0;
        final Histogram latency = parts.get(0).latencyNanos().copy();
        final Map<String, Double> weighted = new java.util.TreeMap<>();
        for (int i = 0; i < parts.size(); i++) {
            final Result r = parts.get(i);
            ops += r.opsPerSecond();
            if (i > 0) {
                latency.add(r.latencyNanos());
            }
            r.perOp().forEach((k, v) -> weighted.merge(k, v * r.opsPerSecond(), Double::sum));
        }
        final double total = ops;
        final Map<String, Double> perOp = new java.util.TreeMap<>();
        weighted.forEach((k, v) -> perOp.put(k, total > 0 ? Math.round(v / total * 1000) / 1000.0 : 0.0));
        return new Result(ops / parts.size(), latency, perOp);
    }

    /**
     * Preload {@link #KEYS} keys, then run {@code connections} closed-loop clients for {@code durationNanos}
     * (plus a tenth as warm-up, not recorded).
     */
    public static Result run(final Target target, final int connections, final long durationNanos) throws Exception {
        return run(target, connections, durationNanos, 0);
    }

    /**
     * {@link #run(Target, int, long)} after an unmeasured load of {@code warmupNanos} (0: none) on the
     * same connections count, so the server is measured warm (the apps suite: {@link #WARMUP_NANOS}).
     */
    public static Result run(final Target target, final int connections, final long durationNanos,
        final long warmupNanos) throws Exception {
        final byte[] value = new byte[VALUE];
        for (int i = 0; i < VALUE; i++) {
            value[i] = (byte)('a' + i % 26);
        }
        try (Conn c = target.open()) {
            final Client client = new Client(c);
            for (int k = 0; k < KEYS; k++) {
                client.set(key(k), value);
            }
        }
        final ClosedLoop.Factory load = index -> {
            final Client client = new Client(target.open());
            final SplittableRandom random = new SplittableRandom(index);
            return new ClosedLoop.Client() {
                @Override
                public void request() throws IOException {
                    client.op(random, value);
                }

                @Override
                public void close() throws IOException {
                    client.conn.close();
                }
            };
        };
        if (warmupNanos > 0) {
            ClosedLoop.run(load, connections, warmupNanos, target.launcher()); // not measured: the JIT compiles the path first
        }
        final Map<String, Long> before = target.counters();
        final long externalBefore = target.externalCpuNanos();
        final ThreadCensus cpuBefore = ThreadCensus.take();
        final ClosedLoop.Result r = ClosedLoop.run(load, connections, durationNanos, target.launcher());
        final Map<String, Long> after = target.counters();
        final ThreadCensus cpuAfter = ThreadCensus.take();
        final long externalAfter = target.externalCpuNanos();
        // ClosedLoop runs a tenth of the duration as warm-up before it measures: requests over both
        final double requests = r.opsPerSecond() * durationNanos * 1.1 / 1e9;
        final Map<String, Double> perOp = new java.util.TreeMap<>();
        for (final Map.Entry<String, Long> e : after.entrySet()) {
            final long delta = e.getValue() - before.getOrDefault(e.getKey(), 0L);
            if (requests > 0 && delta > 0) {
                perOp.put(e.getKey(), Math.round(delta / requests * 1000) / 1000.0);
            }
        }
        // where the CPU went (dev.osvj.bench.census.ThreadCensus: cpu_us.*, sleeps.jvm, waits.thread.*)
        ThreadCensus.perRequestByName(cpuAfter.since(cpuBefore), requests,
            externalAfter > 0 ? externalAfter - externalBefore : 0, perOp);
        return new Result(r.opsPerSecond(), r.latencyNanos(), perOp);
    }

    private static final java.util.regex.Pattern COUNTER = java.util.regex.Pattern.compile("([a-z_]+)=(\\d+)");

    /**
     * The virtio-net devices' counters (their {@code lsdev} counters and transport description, kicks,
     * receive interrupts), summed by name over the devices.
     */
    static Map<String, Long> deviceCounters(final BenchKernel kernel) {
        final Map<String, Long> m = new java.util.TreeMap<>();
        // vCPU halts and wake-up IPIs: with the loop's and the device's counters, the thread wake-ups per request
        kernel.kernel().services().find(dev.osvj.sched.Scheduler.class).ifPresent(s -> {
            for (final dev.osvj.sched.CpuStats c : s.cpuStats()) {
                m.merge("vcpu_halts", c.halts(), Long::sum);
                m.merge("vcpu_ipis", c.ipisSent(), Long::sum);
                m.merge("vcpu_switches", c.switches(), Long::sum);
            }
            m.put("vcpu_halt_waits", s.haltWaits()); // waits in the user gateway's selector (vcpu-select)
            m.put("vcpu_affine_pulls", s.affinePulls()); // sync wakeups that ran the woken thread on the waker's vCPU
        });
        kernel.kernel().services().find(dev.osvj.net.stack.NetStack.class).ifPresent(n ->
            m.put("guest_tx_lock_waits", n.counters().get(dev.osvj.net.stack.NetCounters.Counter.TX_LOCK_WAITS)));
        final var devices = kernel.kernel().services().find(dev.osvj.virtio.VirtioDevices.class);
        if (devices.isEmpty()) {
            return m;
        }
        for (final dev.osvj.virtio.VirtioDevices.Entry e : devices.get().all()) {
            if (e.transport() instanceof dev.osvj.virtio.net.VirtioNetDevice d) {
                final java.util.regex.Matcher c = COUNTER.matcher(d.deviceCounters() + " " + d.location());
                while (c.find()) {
                    m.merge(c.group(1), Long.parseLong(c.group(2)), Long::sum);
                }
                m.merge("kicks", d.kicksReceived(), Long::sum);
                final dev.osvj.virtio.ring.QueueCounters rx = d.queueCounters(0);
                if (rx != null) {
                    m.merge("rx_interrupts", rx.get(dev.osvj.virtio.ring.QueueCounters.NOTIFICATIONS), Long::sum);
                }
            }
        }
        return m;
    }

    /** "key:000000" .. "key:009999", made once: the load client formatted one per request (a sixth of its profile). */
    private static final String[] KEY_NAMES = java.util.stream.IntStream.range(0, KEYS)
        .mapToObj(k -> String.format("key:%06d", k)).toArray(String[]::new);

    static String key(final int k) {
        return KEY_NAMES[k];
    }

    /** The text-protocol client: one request at a time on one connection. */
    static final class Client {
        private final Conn conn;
        private final byte[] out = new byte[4096];
        private final byte[] in = new byte[4096];

        Client(final Conn conn) {
            this.conn = conn;
        }

        /** One request of the 90/10 mix on a random preloaded key. */
        void op(final SplittableRandom random, final byte[] value) throws IOException {
            final String key = key(random.nextInt(KEYS));
            if (random.nextInt(10) == 0) {
                set(key, value);
            } else {
                get(key);
            }
        }

        void set(final String key, final byte[] value) throws IOException {
            final byte[] head = ("set " + key + " 0 0 " + value.length + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
            System.arraycopy(head, 0, out, 0, head.length);
            System.arraycopy(value, 0, out, head.length, value.length);
            out[head.length + value.length] = '\r';
            out[head.length + value.length + 1] = '\n';
            conn.write(out, head.length + value.length + 2);
            final int n = readReply(false);
            if (!startsWith(n, "STORED\r\n")) {
                throw new IOException("set " + key + ": " + new String(in, 0, n, StandardCharsets.ISO_8859_1));
            }
        }

        void get(final String key) throws IOException {
            final byte[] req = ("get " + key + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
            conn.write(req, req.length);
            final int n = readReply(true);
            if (!startsWith(n, "VALUE ")) {
                throw new IOException("get " + key + ": " + new String(in, 0, n, StandardCharsets.ISO_8859_1));
            }
        }

        /**
         * Read one reply: a get's ends with {@code END\r\n} (the value bytes are letters, so the marker
         * cannot appear inside them), a set's is one line.
         */
        private int readReply(final boolean get) throws IOException {
            int n = 0;
            while (true) {
                final int r = conn.read(in, n, in.length - n);
                if (r < 0) {
                    throw new IOException("server closed the connection");
                }
                n += r;
                if (n >= 2 && in[n - 2] == '\r' && in[n - 1] == '\n') {
                    if (!get || endsWith(n, "END\r\n") || startsWith(n, "ERROR") || startsWith(n, "SERVER_ERROR")
                        || startsWith(n, "CLIENT_ERROR")) {
                        return n;
                    }
                }
                if (n == in.length) {
                    throw new IOException("reply too long");
                }
            }
        }

        private boolean startsWith(final int n, final String s) {
            if (n < s.length()) {
                return false;
            }
            for (int i = 0; i < s.length(); i++) {
                if (in[i] != s.charAt(i)) {
                    return false;
                }
            }
            return true;
        }

        private boolean endsWith(final int n, final String s) {
            if (n < s.length()) {
                return false;
            }
            for (int i = 0; i < s.length(); i++) {
                if (in[n - s.length() + i] != s.charAt(i)) {
                    return false;
                }
            }
            return true;
        }
    }

    /** One TCP connection of a kernel's socket API to {@code ip:port} (TCP_NODELAY, 30 s receive timeout). */
    private static final class OsvjConn implements Conn {
        private final Sockets api;
        private final int fd;

        OsvjConn(final Sockets api, final int ip, final int port) throws IOException {
            this.api = api;
            final int fd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            if (fd < 0) {
                throw new IOException("socket: errno " + -fd);
            }
            this.fd = fd;
            api.setsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1);
            api.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000);
            final int r = api.connect(fd, ip, port);
            if (r < 0) {
                api.close(fd);
                throw new IOException("connect " + Addresses.ipv4(ip) + ":" + port + ": errno " + -r);
            }
        }

        @Override
        public void write(final byte[] b, final int len) throws IOException {
            int off = 0;
            while (off < len) {
                final int n = api.send(fd, b, off, len - off, 0);
                if (n <= 0) {
                    throw new IOException("send: " + n);
                }
                off += n;
            }
        }

        @Override
        public int read(final byte[] b, final int off, final int len) throws IOException {
            final int n = api.recv(fd, b, off, len, 0);
            if (n < 0) {
                throw new IOException("recv: errno " + -n);
            }
            return n == 0 ? -1 : n;
        }

        @Override
        public void close() {
            api.close(fd);
        }
    }

    /** A JDK socket over the host's network (TCP_NODELAY, 30 s read timeout); shared by every bench that drives a host socket. */
    public static final class HostConn implements Conn {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        public HostConn(final Socket socket) throws IOException {
            this.socket = socket;
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(30_000);
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        @Override
        public void write(final byte[] b, final int len) throws IOException {
            out.write(b, 0, len);
        }

        @Override
        public int read(final byte[] b, final int off, final int len) throws IOException {
            return in.read(b, off, len);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
