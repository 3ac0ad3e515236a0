package dev.osvj.system.app.memcached;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.net.stack.Sockets;
import dev.osvj.system.app.AppSubsystem;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Power-off with memcached's kernel-thread workers busy with client sessions, through the real stop
 * path (the app subsystem's stop hook, which runs on a vCPU and joins the workers), not a test's own
 * {@code close()}: clients left connected, one in the middle of a storage command, one that sent a
 * pipeline of requests it never reads. The stop hook must finish (no "stop hook failed" line on the
 * console, which is what a worker that close() cannot wake produces after 5 s) and the kernel must
 * power off.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class MemcachedPowerOffTest {
    @Test
    void shouldStopTheWorkersFromTheStopHookWhileClientSessionsAreOpen() throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        final Config config = KernelConfigLoader.load(null, List.of("osvj.name=memcached-poweroff", "osvj.app.name=memcached",
            "osvj.app.threads=kernel", "osvj.app.args=[\"-p\", \"11311\", \"-m\", \"16\", \"-t\", \"2\"]"),
            new Properties(), subsystems, tracepoints);
        final ByteArrayOutputStream console = new ByteArrayOutputStream();
        final Kernel kernel = Kernel.boot(config, subsystems, tracepoints,
            new PrintStream(console, true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        kernel.services().require(AppSubsystem.AppLauncher.class).start(kernel);
        final Sockets sockets = kernel.services().require(Sockets.class);
        final MemcachedServer server = kernel.services().require(MemcachedServer.class);
        final LoopbackClient idle = new LoopbackClient(sockets, server.port());
        final LoopbackClient midCommand = new LoopbackClient(sockets, server.port());
        final int flooding = new LoopbackClient(sockets, server.port()).fd;
        idle.send("set k 0 0 1\r\nv\r\n");
        final byte[] reply = new byte[8];
        assertEquals(8, sockets.recv(idle.fd, reply, 0, 8, Sockets.MSG_WAITALL)); // STORED\r\n: served
        midCommand.send("set big 0 0 100000\r\nonly-the-start");
        final byte[] gets = "get k\r\n".repeat(20_000).getBytes(StandardCharsets.ISO_8859_1);
        assertEquals(0, sockets.setNonBlocking(flooding, true));
        int off = 0;
        while (off < gets.length) { // until the server stops reading: its replies are never read
            final int n = sockets.send(flooding, gets, off, gets.length - off, 0);
            if (n < 0) {
                break;
            }
            off += n;
        }
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (server.connections() < 3) { // the acceptor adopts the last one on its own thread
            assertTrue(System.nanoTime() < deadline, "connections " + server.connections());
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
        final long start = System.nanoTime();
        kernel.powerOff(0);
        assertEquals(0, kernel.awaitPoweredOff(Duration.ofSeconds(120)));
        final String out = console.toString(StandardCharsets.UTF_8);
        System.out.println("power-off took " + (System.nanoTime() - start) / 1_000_000 + " ms; console:\n" + out);
        assertFalse(out.contains("stop hook failed"), out);
    }
}
