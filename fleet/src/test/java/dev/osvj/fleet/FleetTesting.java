package dev.osvj.fleet;

import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.console.Terminal;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Helpers of the fleet tests: parsing a fleet, awaiting a condition, running a console command in an instance. */
final class FleetTesting {
    /** Generous: several builds share the 2 cores. */
    static final long TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(120);

    private FleetTesting() {
    }

    static FleetConfig fleet(final String hocon) throws Exception {
        return FleetConfig.parse(ConfigFactory.parseString(hocon).resolve(), Subsystems.discover());
    }

    /** Wait until {@code condition} holds (polled), failing after {@link #TIMEOUT_NANOS}. */
    static void await(final String what, final BooleanSupplier condition) {
        final long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("timed out waiting for " + what);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }

    /** A port that was free on {@code host} a moment ago. */
    static int freePort(final String host) throws java.io.IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket()) {
            s.bind(new java.net.InetSocketAddress(java.net.InetAddress.getByName(host), 0));
            return s.getLocalPort();
        }
    }

    /** A UDP port that was free on {@code host} a moment ago. */
    static int freeUdpPort(final String host) throws java.io.IOException {
        try (java.net.DatagramSocket s = new java.net.DatagramSocket(new java.net.InetSocketAddress(
            java.net.InetAddress.getByName(host), 0))) {
            return s.getLocalPort();
        }
    }

    static InstanceStatus row(final FleetManager m, final String name) {
        return m.status().stream().filter(r -> r.name().equals(name)).findFirst()
            .orElseThrow(() -> new AssertionError("no instance " + name + " in " + m.status()));
    }

    /** Run a console command in an in-JVM instance's kernel; returns its output, asserting exit 0. */
    static String console(final FleetManager m, final String instance, final String command, final String... args) throws Exception {
        final Kernel k = ((InJvmInstance)m.instance(instance)).kernel();
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
        final int status = k.commands().find(command).run(List.of(args), new Terminal() {
            @Override
            public PrintStream out() {
                return ps;
            }

            @Override
            public boolean interactive() {
                return false;
            }

            @Override
            public String pollLine(final long timeoutMs) {
                return null;
            }
        });
        assertEquals(0, status, out.toString(StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }
}
