package dev.osvj.system.glue;

import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.net.stack.NetFaults;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.testing.FaultedSink;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Supervision of the virtio-net path in a whole kernel (issue 6, Tests): a host client sends 64 MiB
 * through the user gateway's hostfwd to a guest socket while injected faults crash the virtio-net
 * driver's interrupt actor (the stack's receive path runs inline on it) twice and the flow's
 * net-channel actor once. The supervisors restart them, and the guest receives every byte: the
 * SHA-256 matches.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class VirtioNetSupervisionTest {
    @TempDir
    Path dir;
    private static final Pattern FORWARD = Pattern.compile("hostfwd tcp:127\\.0\\.0\\.1:(\\d+)-:5001");
    private static final int SIZE = 64 << 20;

    @Test
    void shouldRestartTheCrashedInterruptAndFlowActorsAndDeliverA64MiBTransferIntact() throws Exception {
        final ByteArrayOutputStream console = new ByteArrayOutputStream();
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        final Path conf = dir.resolve("supervision.conf");
        Files.writeString(conf, """
            osvj.name = netsupervision
            osvj.devices = [{type = net, backend = user}]
            osvj.net.interfaces = [{name = eth0, backend = virtio, address = "10.0.2.15", gateway = "10.0.2.2",
              hostfwd = ["tcp:127.0.0.1:0-:5001"]}]
            """);
        final Kernel kernel = Kernel.boot(KernelConfigLoader.load(conf, List.of(), new Properties(), subsystems, tracepoints),
            subsystems, tracepoints, new PrintStream(console, true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        try {
            final Matcher m = FORWARD.matcher(console.toString(StandardCharsets.UTF_8));
            assertTrue(m.find(), console.toString(StandardCharsets.UTF_8));
            final int hostPort = Integer.parseInt(m.group(1));
            final NetStack stack = kernel.services().require(NetStack.class);
            final Sockets api = kernel.services().require(Sockets.class);
            final NetFaults faults = stack.faults();

            final byte[] data = new byte[SIZE];
            new SplittableRandom(5).nextBytes(data);
            final byte[] expected = MessageDigest.getInstance("SHA-256").digest(data);
            final int lfd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, api.bind(lfd, 0, 5001));
            assertEquals(0, api.listen(lfd, 4));
            final CompletableFuture<byte[]> sink = FaultedSink.start(api, lfd, SIZE, stack);
            try (Socket host = new Socket("127.0.0.1", hostPort)) {
                final OutputStream out = host.getOutputStream();
                for (int off = 0; off < SIZE; off += 1 << 20) {
                    out.write(data, off, 1 << 20);
                }
                host.shutdownOutput();
                assertArrayEquals(expected, sink.get(150, TimeUnit.SECONDS), "SHA-256 of the 64 MiB received");
            }
            assertEquals(2, faults.fired(NetFaults.Point.RECEIVE), "interrupt actor crashes");
            assertEquals(1, faults.fired(NetFaults.Point.FLOW_ACTOR), "flow actor crashes");
            api.close(lfd);
        } finally {
            kernel.powerOff(0);
            kernel.awaitPoweredOff(Duration.ofSeconds(30));
        }
    }
}
