package dev.osvj.net;

import dev.osvj.kernel.testing.StandaloneKernel;
import dev.osvj.net.dev.NetDeviceProvider;
import dev.osvj.net.dev.Wire;
import dev.osvj.net.stack.NetCounters.Counter;
import dev.osvj.net.stack.NetFaults;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.stack.StackDriver;
import dev.osvj.net.stack.StackSettings;
import dev.osvj.net.testing.FaultedSink;
import dev.osvj.net.wire.Addresses;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.security.MessageDigest;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Supervision under traffic (issue 6, Tests): a kernel's stack, driven by its actors, receives 64 MiB
 * from a peer stack over an in-memory wire while faults crash the interface's receive ("interrupt")
 * actor twice and a flow's net-channel actor once. Their supervisors restart them, the transfer
 * completes, and the SHA-256 matches: no acknowledged byte was lost.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class NetSupervisionTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final int GUEST = Addresses.parseIpv4("10.0.0.1");
    private static final int PEER = Addresses.parseIpv4("10.0.0.2");
    private static final int SIZE = 64 << 20;
    private static final int PORT = 5001;

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    @Test
    void shouldRestartCrashedReceiveAndFlowActorsAndCompleteA64MiBTransferIntact() throws Exception {
        final Wire wire = new Wire(1500);
        final StandaloneKernel kernel = new StandaloneKernel("supervision", StandaloneKernel.config("""
            osvj.net.interfaces = [{ name = eth0, backend = virtio, address = "10.0.0.1", netmask = "255.255.255.0" }]
            """));
        kernel.services().provide(NetDeviceProvider.class, (name, backend, entry) -> wire.a());
        kernel.bootOnActor(KIT, new NetSubsystem());
        final NetStack guest = kernel.services().require(NetStack.class);
        final Sockets api = kernel.services().require(Sockets.class);
        final NetFaults faults = guest.faults();

        final NetStack peer = new NetStack(StackSettings.defaults(), System::nanoTime);
        peer.addInterface(wire.b(), false, PEER, 0xFFFFFF00, 0);
        try (StackDriver peerDriver = new StackDriver(peer, "peer")) {
            final byte[] data = new byte[SIZE];
            new SplittableRandom(6).nextBytes(data);
            final byte[] expected = MessageDigest.getInstance("SHA-256").digest(data);

            final int lfd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, api.bind(lfd, 0, PORT));
            assertEquals(0, api.listen(lfd, 4));
            final CompletableFuture<byte[]> sink = FaultedSink.start(api, lfd, SIZE, guest);

            final Sockets client = peer.sockets();
            final int fd = client.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, client.connect(fd, GUEST, PORT));
            for (int off = 0; off < SIZE; ) {
                final int n = client.send(fd, data, off, Math.min(256 << 10, SIZE - off), 0);
                assertTrue(n > 0, "send returned " + n + " at " + off);
                off += n;
            }
            assertEquals(0, client.close(fd));
            assertArrayEquals(expected, sink.get(120, TimeUnit.SECONDS), "SHA-256 of the 64 MiB received");
            assertEquals(2, faults.fired(NetFaults.Point.RECEIVE), "receive actor crashes");
            assertEquals(1, faults.fired(NetFaults.Point.FLOW_ACTOR), "flow actor crashes");
            assertTrue(guest.counters().get(Counter.TCP_CHANNEL_PACKETS) > 0, "data went through the net channel");
            api.close(lfd);
        }
    }
}
