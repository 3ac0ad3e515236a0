package dev.osvj.bench;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.net.stack.Sockets;
import dev.osvj.system.app.AppSubsystem;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * An osvj kernel booted inside the benchmark's JVM, as {@code bin/osvj run} would boot it, from the
 * modules' reference configuration plus a list of HOCON lines ({@code "osvj.app.name=memcached"},
 * {@code "osvj.devices=[{type=net, backend=user}]"}...), written to a temporary configuration file as
 * {@code bin/osvj run CONF} would read it; {@code -Dosvj.*} system properties override it as they do
 * for {@code bin/osvj run} (so {@code bin/osvj -Dosvj.sched.idle-spin=0s bench apps} benchmarks a tuned
 * kernel). The console output is discarded.
 *
 * <p>Benchmarks reach the kernel in two ways: in-kernel threads of the benchmark call the kernel's
 * socket API ({@link #sockets()}), as an application would; host clients reach it over a network
 * backend ({@code user} gateway port forwards, or a {@code tap} device, see {@link NetNamespace}).
 *
 * <p>Not thread-safe to boot or close concurrently; {@link #close()} powers the kernel off and waits
 * up to 30 s for it.
 */
public final class BenchKernel implements AutoCloseable {
    private final Kernel kernel;

    private BenchKernel(final Kernel kernel) {
        this.kernel = kernel;
    }

    /**
     * Boot a kernel named {@code name} with {@code overrides} (HOCON {@code key = value} lines of a
     * configuration file) and, when
     * {@code startApp}, start its application ({@code osvj.app.*}) as the launcher does after the boot.
     */
    public static BenchKernel boot(final String name, final List<String> overrides, final boolean startApp)
        throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        // A configuration file rather than --set overrides: a --set value with a ':' (a hostfwd rule) is
        // taken as a plain string, a file line is always HOCON.
        final List<String> lines = new ArrayList<>();
        lines.add("osvj.name = \"" + name + "\"");
        lines.addAll(overrides);
        final Path conf = Files.createTempFile("osvj-bench-", ".conf");
        final Config config;
        try {
            Files.write(conf, lines, StandardCharsets.UTF_8);
            config = KernelConfigLoader.load(conf, List.of(), System.getProperties(), subsystems, tracepoints);
        } finally {
            Files.deleteIfExists(conf);
        }
        final Kernel kernel = Kernel.boot(config, subsystems, tracepoints,
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        final BenchKernel k = new BenchKernel(kernel);
        if (startApp) {
            try {
                kernel.services().require(AppSubsystem.AppLauncher.class).start(kernel);
            } catch (final Exception | Error e) {
                k.close();
                throw e;
            }
        }
        return k;
    }

    /** The kernel itself (services, configuration, clock). */
    public Kernel kernel() {
        return kernel;
    }

    /** The kernel's socket API. */
    public Sockets sockets() {
        return kernel.services().require(Sockets.class);
    }

    /** Power off and wait for it (30 s at most). */
    @Override
    public void close() throws InterruptedException {
        kernel.powerOff(0);
        kernel.awaitPoweredOff(Duration.ofSeconds(30));
    }

    /**
     * A host loopback TCP port free right now (bound and released), for a port forward or a native
     * server. Another process may take it before it is used; the caller sees a bind error then.
     */
    public static int freeLoopbackPort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }

    /**
     * The overrides of an {@code eth0} on the embedded {@code user} gateway with a static address
     * (the gateway's default guest address 10.0.2.15, so no DHCP round trip delays the benchmark)
     * and one port forward {@code 127.0.0.1:hostPort -> guest:guestPort}.
     */
    public static List<String> userNetwork(final int hostPort, final int guestPort) {
        return List.of("osvj.devices=[{type=net, backend=user}]",
            "osvj.net.interfaces=[{name=lo, backend=loopback, address=\"127.0.0.1\", netmask=\"255.0.0.0\", mtu=65536},"
                + "{name=eth0, backend=virtio, address=\"10.0.2.15\", netmask=\"255.255.255.0\", gateway=\"10.0.2.2\","
                + " hostfwd=[\"tcp:127.0.0.1:" + hostPort + "-:" + guestPort + "\"]}]");
    }

    /**
     * The overrides of an {@code eth0} on a {@code tap} device {@code ifname} that the kernel creates
     * inside network namespace {@code netns}, with static address {@code address}/24 and an MTU of
     * {@code mtu} bytes on the device and the interface (set Linux's end to the same, see
     * {@link NetNamespace#linkUp}).
     */
    public static List<String> tapNetwork(final String netns, final String ifname, final String address, final int mtu) {
        return List.of("osvj.devices=[{type=net, backend=tap, ifname=\"" + ifname + "\", netns=\"" + netns + "\", mtu="
                + mtu + "}]",
            "osvj.net.interfaces=[{name=lo, backend=loopback, address=\"127.0.0.1\", netmask=\"255.0.0.0\", mtu=65536},"
                + "{name=eth0, backend=virtio, address=\"" + address + "\", netmask=\"255.255.255.0\", mtu=" + mtu + "}]");
    }
}
