package dev.osvj.net;

import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.net.dev.Wire;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.stack.StackDriver;
import dev.osvj.net.stack.StackSettings;
import dev.osvj.net.wire.Addresses;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stack's tracepoints: declared through {@link Tracepoints} under {@code osvj.net.*}, and recorded
 * by JFR from a TCP transfer over a lossy wire (state changes of both ends, retransmissions, net-channel
 * batches, and drops with their reason), read back from the recording file.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NetEventsTest {
    private static final int A = Addresses.parseIpv4("10.0.0.1");
    private static final int B = Addresses.parseIpv4("10.0.0.2");

    @TempDir
    Path dir;

    @Test
    void shouldDeclareTheNetTracepoints() {
        final Tracepoints t = new Tracepoints();
        new NetSubsystem().declareTracepoints(t);
        assertEquals(List.of("osvj.net.ChannelBatch", "osvj.net.Drop", "osvj.net.Retransmit", "osvj.net.TcpStateChange"),
            t.select("net.*").stream().map(Tracepoints::nameOf).sorted().toList());
    }

    @Test
    void shouldRecordStateChangesRetransmitsBatchesAndDropsOfATransfer() throws Exception {
        final Wire wire = new Wire(1500, new Wire.Impairments(0.02, 0, 0.01, 0, 11));
        final NetStack a = new NetStack(StackSettings.defaults(), System::nanoTime);
        a.addInterface(wire.a(), false, A, 0xFFFFFF00, 0);
        final NetStack b = new NetStack(StackSettings.defaults(), System::nanoTime);
        b.addInterface(wire.b(), false, B, 0xFFFFFF00, 0);
        final Path file = dir.resolve("net.jfr");
        try (Recording recording = new Recording();
             StackDriver da = new StackDriver(a, "a");
             StackDriver db = new StackDriver(b, "b")) {
            for (final Class<? extends jdk.jfr.Event> e : NetEvents.ALL) {
                recording.enable(e).withoutStackTrace();
            }
            recording.start();
            final Sockets server = b.sockets();
            final int lfd = server.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, server.bind(lfd, 0, 80));
            assertEquals(0, server.listen(lfd, 4));
            final int size = 2 << 20;
            final CompletableFuture<Long> sink = CompletableFuture.supplyAsync(() -> {
                final int c = server.accept(lfd, null);
                final byte[] buf = new byte[65536];
                long total = 0;
                int n;
                while ((n = server.recv(c, buf, 0, buf.length, 0)) > 0) {
                    total += n;
                }
                server.close(c);
                return total;
            });
            final Sockets client = a.sockets();
            final int fd = client.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, client.connect(fd, B, 80));
            final byte[] data = new byte[size];
            new SplittableRandom(2).nextBytes(data);
            for (int off = 0; off < size; ) {
                final int n = client.send(fd, data, off, size - off, 0);
                assertTrue(n > 0, "send " + n);
                off += n;
            }
            assertEquals(0, client.close(fd));
            assertEquals(size, sink.get(100, TimeUnit.SECONDS));
            recording.stop();
            recording.dump(file);
        }
        final List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        final String client = "10.0.0.1:";
        assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("osvj.net.TcpStateChange")
            && e.getString("local").startsWith(client) && e.getString("remote").equals("10.0.0.2:80")
            && e.getString("from").equals("SYN_SENT") && e.getString("to").equals("ESTABLISHED")), "client established");
        assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("osvj.net.TcpStateChange")
            && e.getString("local").equals("10.0.0.2:80") && e.getString("to").equals("CLOSE_WAIT")), "server saw the FIN");
        assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("osvj.net.Retransmit")
            && e.getString("local").startsWith(client) && e.getInt("length") > 0), "retransmissions of the lossy link");
        assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("osvj.net.ChannelBatch")
            && e.getString("flow").startsWith("flow-") && e.getInt("segments") > 0), "net channel batches");
        assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("osvj.net.Drop")
            && (e.getString("reason").equals("drop_tcp_checksum") || e.getString("reason").equals("drop_ip_checksum"))),
            "corrupted frames dropped with their reason");
    }
}
