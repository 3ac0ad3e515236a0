package dev.osvj.net.stack;

import dev.osvj.kernel.Errno;
import dev.osvj.net.dev.LoopbackDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The loopback fast path ({@code NetStack.loopbackToChannel}): once a flow is established, a segment
 * sent on {@code lo} goes into the receiving flow's net channel in the sender's own transmit and wakes
 * its reader from there, with no receive context running at all; and it never overtakes a frame still
 * queued in the loopback device for the receive context.
 *
 * <p>Each test establishes its connection with a {@link StackDriver} (the handshake takes the queue),
 * then stops the driver: from then on nothing polls the loopback device, so whatever arrives did not
 * go through its queue. Nothing waits by sleeping; blocking calls are bounded by SO_RCVTIMEO.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LoopbackToChannelTest {
    private static final int LO = 0x7F000001;

    /** A loopback stack, its server and client connected, and the driver that did the handshake. */
    private record Pair(NetStack stack, Sockets api, int listener, int server, int client, StackDriver driver) {
    }

    private static Pair connectedPair(final int port) {
        final NetStack stack = new NetStack(StackSettings.defaults().withNetChannels(true), System::nanoTime);
        stack.addInterface(new LoopbackDevice(), true, 0, 0, 0);
        final StackDriver driver = new StackDriver(stack, "lo");
        final Sockets api = stack.sockets();
        final int lfd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, api.bind(lfd, 0, port));
        assertEquals(0, api.listen(lfd, 16));
        assertEquals(0, api.setsockopt(lfd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
        final int cfd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, api.connect(cfd, LO, port));
        final int sfd = api.accept4(lfd, new SockAddr(), 0);
        assertTrue(sfd >= 0, "accept: " + sfd);
        for (final int fd : new int[] {cfd, sfd}) {
            assertEquals(0, api.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 10_000));
            assertEquals(0, api.setsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1));
        }
        return new Pair(stack, api, lfd, sfd, cfd, driver);
    }

    private static byte[] bytes(final String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static String recvString(final Sockets api, final int fd, final int len, final int flags) {
        final byte[] b = new byte[len];
        final int n = api.recv(fd, b, 0, len, flags);
        assertTrue(n > 0, "recv returned " + n);
        return new String(b, 0, n, StandardCharsets.US_ASCII);
    }

    @Test
    void shouldDeliverEstablishedLoopbackSegmentsInTheSendersTransmitWithoutAReceiveContext() throws Exception {
        final Pair p = connectedPair(7001);
        p.driver().close(); // nothing polls the loopback device from here on
        final Sockets api = p.api();
        final long before = p.stack().loopbackToChannelFrames();
        for (int i = 0; i < 50; i++) {
            final byte[] request = bytes("get key" + i + "\r\n");
            assertEquals(request.length, api.send(p.client(), request, 0, request.length, 0));
            assertEquals("get key" + i + "\r\n", recvString(api, p.server(), 64, Sockets.MSG_DONTWAIT));
            final byte[] reply = bytes("VALUE key" + i + "\r\n");
            assertEquals(reply.length, api.send(p.server(), reply, 0, reply.length, 0));
            assertEquals("VALUE key" + i + "\r\n", recvString(api, p.client(), 64, Sockets.MSG_DONTWAIT));
        }
        assertTrue(p.stack().loopbackToChannelFrames() - before >= 100,
            "every request and reply went straight into a channel: " + (p.stack().loopbackToChannelFrames() - before));
        // A reader blocked in recv is woken by the sender's transmit itself.
        final CompletableFuture<String> blocked = CompletableFuture.supplyAsync(
            () -> recvString(api, p.server(), 64, 0));
        final byte[] late = bytes("late\r\n");
        assertEquals(late.length, api.send(p.client(), late, 0, late.length, 0));
        assertEquals("late\r\n", blocked.get(30, TimeUnit.SECONDS));
        api.close(p.client());
        api.close(p.server());
        api.close(p.listener());
    }

    @Test
    void shouldQueueBehindAFrameStillWaitingForTheReceiveContext() throws Exception {
        final Pair p = connectedPair(7002);
        p.driver().close();
        final Sockets api = p.api();
        // A SYN (never classified into a channel) now waits in the loopback device's queue.
        final int other = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM | Sockets.SOCK_NONBLOCK, 0);
        assertEquals(-Errno.EINPROGRESS.number(), api.connect(other, LO, 7002));
        final long before = p.stack().loopbackToChannelFrames();
        final byte[] data = bytes("after the syn\r\n");
        assertEquals(data.length, api.send(p.client(), data, 0, data.length, 0));
        // Not overtaken: the segment queued behind the SYN instead of going into the channel.
        assertEquals(before, p.stack().loopbackToChannelFrames());
        final byte[] b = new byte[64];
        assertEquals(-Errno.EAGAIN.number(), api.recv(p.server(), b, 0, b.length, Sockets.MSG_DONTWAIT));
        // The receive context takes the queue in order: the SYN, then the data.
        final NetInterface lo = p.stack().interfaceByName("lo");
        while (p.stack().pollInterface(lo, 64) > 0) {
            // drain (the SYN-ACK and the handshake's last ACK queue behind too)
        }
        assertArrayEquals(data, bytes(recvString(api, p.server(), 64, Sockets.MSG_DONTWAIT)));
        // With the queue empty again, the next segment takes the fast path.
        final byte[] next = bytes("next\r\n");
        assertEquals(next.length, api.send(p.client(), next, 0, next.length, 0));
        assertEquals("next\r\n", recvString(api, p.server(), 64, Sockets.MSG_DONTWAIT));
        assertEquals(before + 1, p.stack().loopbackToChannelFrames());
        api.close(other);
        api.close(p.client());
        api.close(p.server());
        api.close(p.listener());
    }
}
