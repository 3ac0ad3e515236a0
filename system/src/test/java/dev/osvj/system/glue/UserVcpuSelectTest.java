package dev.osvj.system.glue;

import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.net.stack.Sockets;
import dev.osvj.sched.KThread;
import dev.osvj.sched.Scheduler;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import dev.osvj.virtio.VirtioDevices;
import dev.osvj.virtio.net.PluggableTransport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code osvj.net.user.vcpu-select} in a whole kernel with one vCPU: host clients reach a guest echo
 * service through the user gateway's hostfwd while the idle vCPU waits in the gateway's selector, and
 * still while a CPU-bound kernel thread keeps that vCPU busy (it never idles, so the gateway's loop
 * thread must take the selector over); every byte comes back in order.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class UserVcpuSelectTest {
    @TempDir
    Path dir;
    private static final Pattern FORWARD = Pattern.compile("hostfwd tcp:127\\.0\\.0\\.1:(\\d+)-:5001");

    private static long counter(final PluggableTransport user, final String name) {
        final Matcher m = Pattern.compile("\\b" + name + "=(\\d+)").matcher(user.describe());
        assertTrue(m.find(), name + " in " + user.describe());
        return Long.parseLong(m.group(1));
    }

    /** A guest echo service on a host thread through the kernel's socket API: one connection at a time. */
    private static Thread echo(final Sockets api, final int listener) {
        return Thread.ofPlatform().daemon().name("guest-echo").start(() -> {
            final byte[] b = new byte[16384];
            while (true) {
                final int c = api.accept(listener, null);
                if (c < 0) {
                    return;
                }
                int n;
                while ((n = api.recv(c, b, 0, b.length, 0)) > 0) {
                    int w = 0;
                    while (w < n) {
                        final int k = api.send(c, b, w, n - w, 0);
                        if (k <= 0) {
                            break;
                        }
                        w += k;
                    }
                }
                api.close(c);
            }
        });
    }

    private static void echoThrough(final int port, final int seed) throws Exception {
        final byte[] data = new byte[256 << 10];
        new SplittableRandom(seed).nextBytes(data);
        try (Socket host = new Socket("127.0.0.1", port)) {
            host.setSoTimeout(120_000);
            final Thread writer = Thread.ofPlatform().start(() -> {
                try {
                    host.getOutputStream().write(data);
                    host.shutdownOutput();
                } catch (final Exception e) {
                    throw new RuntimeException(e);
                }
            });
            final byte[] back = host.getInputStream().readAllBytes();
            writer.join();
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(data),
                MessageDigest.getInstance("SHA-256").digest(back), "the echo, byte for byte");
        }
    }

    @Test
    void shouldServeHostClientsFromTheIdleVcpuAndWhileACpuBoundThreadKeepsItBusy() throws Exception {
        final ByteArrayOutputStream console = new ByteArrayOutputStream();
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        final Path conf = dir.resolve("vcpuselect.conf");
        Files.writeString(conf, """
            osvj.name = vcpuselect
            osvj.cpus = 1
            osvj.devices = [{type = net, backend = user}]
            osvj.net.interfaces = [{name = eth0, backend = virtio, address = "10.0.2.15", gateway = "10.0.2.2",
              hostfwd = ["tcp:127.0.0.1:0-:5001"]}]
            osvj.net.user.vcpu-select = true
            """);
        final Kernel kernel = Kernel.boot(KernelConfigLoader.load(conf, List.of(), new Properties(), subsystems, tracepoints),
            subsystems, tracepoints, new PrintStream(console, true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        final AtomicBoolean stop = new AtomicBoolean();
        try {
            final Matcher m = FORWARD.matcher(console.toString(StandardCharsets.UTF_8));
            assertTrue(m.find(), console.toString(StandardCharsets.UTF_8));
            final int hostPort = Integer.parseInt(m.group(1));
            final Sockets api = kernel.services().require(Sockets.class);
            final Scheduler scheduler = kernel.services().require(Scheduler.class);
            final VirtioDevices devices = kernel.services().require(VirtioDevices.class);
            final PluggableTransport user = devices.userTransport(devices.netPorts().get(0).name()).orElseThrow();
            final int lfd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, api.bind(lfd, 0, 5001));
            assertEquals(0, api.listen(lfd, 4));
            echo(api, lfd);

            // the gateway wakes the device's backend for every frame it leaves on its ring, so the backend
            // parks long instead of polling while it has nothing to do
            assertFalse(user.needsPolling(), user.describe());
            echoThrough(hostPort, 1); // the idle vCPU serves the host sockets
            assertTrue(scheduler.haltWaits() > 0, "the idle vCPU waited in the gateway's selector");
            assertTrue(counter(user, "vcpu_selects") > 0, user.describe());

            final long takeovers = counter(user, "loop_takeovers");
            final KThread hog = scheduler.spawn("cpu-bound", () -> {
                while (!stop.get()) {
                    KThread.preemptionPoint(); // runnable all the time: the vCPU never idles
                }
            });
            echoThrough(hostPort, 2);
            assertTrue(counter(user, "loop_takeovers") > takeovers,
                "with the vCPU busy the loop thread took the selector over: " + user.describe());
            stop.set(true);
            assertTrue(hog.join(TimeUnit.SECONDS.toNanos(60)), "the hog ended");

            echoThrough(hostPort, 3); // idle again: the vCPU asks for the selector back
            api.close(lfd);
        } finally {
            stop.set(true);
            kernel.powerOff(0);
            kernel.awaitPoweredOff(Duration.ofSeconds(30));
        }
    }
}
