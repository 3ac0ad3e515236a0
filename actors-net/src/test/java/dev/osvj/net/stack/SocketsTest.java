package dev.osvj.net.stack;

import dev.osvj.kernel.Errno;
import dev.osvj.net.dev.LoopbackDevice;
import dev.osvj.net.dev.Wire;
import dev.osvj.net.stack.NetCounters.Counter;
import dev.osvj.net.wire.Addresses;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BSD sockets over whole stacks driven by {@link StackDriver} threads: loopback inside one stack and
 * two stacks joined by a {@link Wire} (clean or lossy), in both receive modes. Blocking calls are bounded
 * by SO_RCVTIMEO and JUnit timeouts; nothing waits by sleeping.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SocketsTest {
    private static final int A = Addresses.parseIpv4("10.0.0.1");
    private static final int B = Addresses.parseIpv4("10.0.0.2");
    private static final int LO = 0x7F000001;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (final AutoCloseable c : closing) {
            c.close();
        }
    }

    private NetStack loopbackStack(final boolean channels) {
        final NetStack s = new NetStack(StackSettings.defaults().withNetChannels(channels), System::nanoTime);
        s.addInterface(new LoopbackDevice(), true, 0, 0, 0);
        closing.add(new StackDriver(s, "lo"));
        return s;
    }

    private NetStack[] wiredStacks(final boolean channels, final Wire.Impairments imp) {
        final Wire wire = new Wire(1500, imp);
        final NetStack a = new NetStack(StackSettings.defaults().withNetChannels(channels), System::nanoTime);
        a.addInterface(wire.a(), false, A, 0xFFFFFF00, 0);
        final NetStack b = new NetStack(StackSettings.defaults().withNetChannels(channels), System::nanoTime);
        b.addInterface(wire.b(), false, B, 0xFFFFFF00, 0);
        closing.add(new StackDriver(a, "a"));
        closing.add(new StackDriver(b, "b"));
        return new NetStack[] {a, b};
    }

    private static int server(final Sockets api, final int ip, final int port) {
        final int fd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, api.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1));
        assertEquals(0, api.bind(fd, ip, port));
        assertEquals(0, api.listen(fd, 16));
        assertEquals(0, api.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
        return fd;
    }

    private static int client(final Sockets api, final int ip, final int port) {
        final int fd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, api.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
        assertEquals(0, api.connect(fd, ip, port));
        return fd;
    }

    private static void sendAll(final Sockets api, final int fd, final byte[] b) {
        int off = 0;
        while (off < b.length) {
            final int n = api.send(fd, b, off, b.length - off, 0);
            assertTrue(n > 0, "send returned " + n);
            off += n;
        }
    }

    private static byte[] recvAll(final Sockets api, final int fd, final int len) {
        final byte[] b = new byte[len];
        int off = 0;
        while (off < len) {
            final int n = api.recv(fd, b, off, len - off, 0);
            assertTrue(n > 0, "recv returned " + n + " after " + off + " bytes");
            off += n;
        }
        return b;
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void shouldEchoOverLoopback(final boolean channels) throws Exception {
        final Sockets api = loopbackStack(channels).sockets();
        final int lfd = server(api, 0, 7);
        final CompletableFuture<Integer> echo = CompletableFuture.supplyAsync(() -> {
            final SockAddr peer = new SockAddr();
            final int c = api.accept(lfd, peer);
            assertEquals(LO, peer.ip);
            final byte[] b = new byte[4096];
            int total = 0;
            int n;
            while ((n = api.recv(c, b, 0, b.length, 0)) > 0) {
                sendAll(api, c, java.util.Arrays.copyOf(b, n));
                total += n;
            }
            api.close(c);
            return total;
        });
        final int fd = client(api, LO, 7);
        final SockAddr local = new SockAddr();
        assertEquals(0, api.getsockname(fd, local));
        assertEquals(LO, local.ip);
        assertTrue(local.port >= 32768);
        for (int i = 0; i < 50; i++) {
            final byte[] msg = ("request " + i).getBytes();
            sendAll(api, fd, msg);
            assertArrayEquals(msg, recvAll(api, fd, msg.length));
        }
        assertEquals(0, api.shutdown(fd, Sockets.SHUT_WR));
        assertEquals(0, api.recv(fd, new byte[10], 0, 10, 0), "EOF after the server closed");
        assertEquals(0, api.close(fd));
        assertTrue(echo.get(60, TimeUnit.SECONDS) > 0);
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void shouldTransferBulkDataBetweenStacksIntact(final boolean channels) throws Exception {
        final NetStack[] s = wiredStacks(channels, Wire.Impairments.NONE);
        transferAndCompare(s[0].sockets(), s[1].sockets(), 8 << 20, 1);
        if (channels) {
            assertTrue(s[1].counters().get(Counter.TCP_CHANNEL_PACKETS) > 0, "data went through net channels");
        } else {
            assertEquals(0, s[1].counters().get(Counter.TCP_CHANNEL_PACKETS));
            assertTrue(s[1].counters().get(Counter.TCP_LAYERED_PACKETS) > 0);
        }
    }

    @Test
    void shouldTransferIntactOverALossyLink() throws Exception {
        final NetStack[] s = wiredStacks(true, new Wire.Impairments(0.02, 0.01, 0.01, 0.02, 7));
        transferAndCompare(s[0].sockets(), s[1].sockets(), 4 << 20, 2);
        assertTrue(s[0].counters().get(Counter.DROP_TCP_CHECKSUM) + s[1].counters().get(Counter.DROP_TCP_CHECKSUM)
            + s[0].counters().get(Counter.DROP_IP_CHECKSUM) + s[1].counters().get(Counter.DROP_IP_CHECKSUM) > 0,
            "corrupted frames were detected and dropped");
    }

    private void transferAndCompare(final Sockets client, final Sockets server, final int size, final long seed)
        throws Exception {
        final byte[] data = new byte[size];
        new SplittableRandom(seed).nextBytes(data);
        final byte[] expected = MessageDigest.getInstance("SHA-256").digest(data);
        final int lfd = server(server, 0, 5001);
        final CompletableFuture<byte[]> sink = CompletableFuture.supplyAsync(() -> {
            try {
                final int c = server.accept(lfd, null);
                assertTrue(c > 0, "accept " + c);
                final MessageDigest md = MessageDigest.getInstance("SHA-256");
                final byte[] b = new byte[65536];
                int n;
                long total = 0;
                while ((n = server.recv(c, b, 0, b.length, 0)) > 0) {
                    md.update(b, 0, n);
                    total += n;
                }
                assertEquals(size, total, "bytes received (last recv " + n + ")");
                server.close(c);
                return md.digest();
            } catch (final Exception e) {
                throw new RuntimeException(e);
            }
        });
        final int fd = client(client, B, 5001);
        for (int off = 0; off < size; off += 100_000) {
            final int n = Math.min(100_000, size - off);
            sendAll(client, fd, java.util.Arrays.copyOfRange(data, off, off + n));
        }
        assertEquals(0, client.close(fd));
        assertArrayEquals(expected, sink.get(100, TimeUnit.SECONDS));
    }

    @Test
    void shouldReportConnectionRefusedAndAddressInUse() {
        final Sockets api = loopbackStack(true).sockets();
        final int fd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(-Errno.ECONNREFUSED.number(), api.connect(fd, LO, 9));
        final int l1 = server(api, 0, 8080);
        final int l2 = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(-Errno.EADDRINUSE.number(), api.bind(l2, 0, 8080));
        assertEquals(0, api.close(l1));
        assertEquals(0, api.bind(l2, 0, 8080));
        assertEquals(-Errno.EBADF.number(), api.close(l1));
        assertEquals(-Errno.EAFNOSUPPORT.number(), api.socket(10, Sockets.SOCK_STREAM, 0));
        final int u = api.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
        assertEquals(-Errno.EDESTADDRREQ.number(), api.send(u, new byte[1], 0, 1, 0));
    }

    @Test
    void shouldTimeOutABlockingReceiveWithEagain() {
        final Sockets api = loopbackStack(true).sockets();
        final int lfd = server(api, 0, 9000);
        final int fd = client(api, LO, 9000);
        final int c = api.accept(lfd, null);
        assertTrue(c > 0);
        assertEquals(0, api.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 100));
        assertEquals(-Errno.EAGAIN.number(), api.recv(fd, new byte[1], 0, 1, 0));
        assertEquals(-Errno.EAGAIN.number(), api.recv(fd, new byte[1], 0, 1, Sockets.MSG_DONTWAIT));
    }

    @Test
    void shouldConnectNonBlockingAndCompleteThroughPoll() {
        final Sockets api = loopbackStack(true).sockets();
        final int lfd = server(api, 0, 9001);
        final int fd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM | Sockets.SOCK_NONBLOCK, 0);
        assertEquals(-Errno.EINPROGRESS.number(), api.connect(fd, LO, 9001));
        final Sockets.PollFd[] p = {new Sockets.PollFd(fd, Sockets.POLLOUT), new Sockets.PollFd(lfd, Sockets.POLLIN)};
        int ready = 0;
        while (ready < 2) {
            ready = api.poll(p, 2, 10_000);
            assertTrue(ready > 0, "poll timed out");
            if (p[0].revents == Sockets.POLLOUT && p[1].revents == Sockets.POLLIN) {
                break;
            }
        }
        assertEquals(0, api.getsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_ERROR));
        final int c = api.accept(lfd, null);
        assertTrue(c > 0);
        assertEquals(-Errno.EAGAIN.number(), api.recv(fd, new byte[4], 0, 4, 0));
        sendAll(api, c, "abc".getBytes());
        final Sockets.PollFd[] q = {new Sockets.PollFd(fd, Sockets.POLLIN)};
        assertEquals(1, api.poll(q, 1, 10_000));
        assertEquals(Sockets.POLLIN, q[0].revents);
        assertEquals(3, api.recv(fd, new byte[4], 0, 4, 0));
        final Sockets.PollFd[] bad = {new Sockets.PollFd(999, Sockets.POLLIN)};
        assertEquals(1, api.poll(bad, 1, 0));
        assertEquals(Sockets.POLLNVAL, bad[0].revents);
    }

    @Test
    void shouldReportEpollLevelEdgeAndOneShot() {
        final Sockets api = loopbackStack(true).sockets();
        final int lfd = server(api, 0, 9002);
        final int fd = client(api, LO, 9002);
        final int c = api.accept(lfd, null);
        final int ep = api.epollCreate();
        final int[] fds = new int[8];
        final int[] ev = new int[8];
        final long[] data = new long[8];
        assertEquals(0, api.epollCtl(ep, Sockets.EPOLL_CTL_ADD, fd, Sockets.EPOLLIN, 11));
        assertEquals(-Errno.EEXIST.number(), api.epollCtl(ep, Sockets.EPOLL_CTL_ADD, fd, Sockets.EPOLLIN, 11));
        assertEquals(0, api.epollWait(ep, fds, ev, data, 8, 0));
        sendAll(api, c, "x".getBytes());
        assertEquals(1, api.epollWait(ep, fds, ev, data, 8, 10_000));
        assertEquals(fd, fds[0]);
        assertEquals(11, data[0]);
        assertEquals(Sockets.EPOLLIN, ev[0]);
        // level-triggered: still readable, reported again
        assertEquals(1, api.epollWait(ep, fds, ev, data, 8, 0));
        // edge-triggered: reported once per arrival
        assertEquals(0, api.epollCtl(ep, Sockets.EPOLL_CTL_MOD, fd, Sockets.EPOLLIN | Sockets.EPOLLET, 12));
        assertEquals(1, api.epollWait(ep, fds, ev, data, 8, 0));
        assertEquals(0, api.epollWait(ep, fds, ev, data, 8, 0));
        sendAll(api, c, "y".getBytes());
        assertEquals(1, api.epollWait(ep, fds, ev, data, 8, 10_000));
        assertEquals(12, data[0]);
        // one-shot: disabled after one report until re-armed
        assertEquals(0, api.epollCtl(ep, Sockets.EPOLL_CTL_MOD, fd, Sockets.EPOLLIN | Sockets.EPOLLONESHOT, 13));
        assertEquals(1, api.epollWait(ep, fds, ev, data, 8, 0));
        sendAll(api, c, "z".getBytes());
        assertEquals(0, api.epollWait(ep, fds, ev, data, 8, 200));
        assertEquals(0, api.epollCtl(ep, Sockets.EPOLL_CTL_MOD, fd, Sockets.EPOLLIN | Sockets.EPOLLONESHOT, 14));
        assertEquals(1, api.epollWait(ep, fds, ev, data, 8, 0));
        assertEquals(3, api.recv(fd, new byte[8], 0, 8, 0));
        // peer close: EPOLLIN (EOF) and RDHUP
        assertEquals(0, api.epollCtl(ep, Sockets.EPOLL_CTL_MOD, fd, Sockets.EPOLLIN | Sockets.EPOLLRDHUP, 15));
        api.close(c);
        assertEquals(1, api.epollWait(ep, fds, ev, data, 8, 10_000));
        assertTrue((ev[0] & Sockets.EPOLLRDHUP) != 0);
        assertEquals(0, api.epollCtl(ep, Sockets.EPOLL_CTL_DEL, fd, 0, 0));
        assertEquals(-Errno.ENOENT.number(), api.epollCtl(ep, Sockets.EPOLL_CTL_DEL, fd, 0, 0));
        assertEquals(0, api.close(ep));
    }

    @Test
    void shouldCarryLargeUdpDatagramsAsFragments() {
        final NetStack[] s = wiredStacks(true, Wire.Impairments.NONE);
        final Sockets a = s[0].sockets();
        final Sockets b = s[1].sockets();
        final int rx = b.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
        assertEquals(0, b.bind(rx, 0, 4000));
        assertEquals(0, b.setsockopt(rx, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 20_000));
        final int tx = a.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
        final byte[] big = new byte[9000];
        new SplittableRandom(3).nextBytes(big);
        assertEquals(9000, a.sendto(tx, big, 0, big.length, 0, B, 4000));
        final byte[] got = new byte[10000];
        final SockAddr from = new SockAddr();
        assertEquals(9000, b.recvfrom(rx, got, 0, got.length, 0, from));
        assertArrayEquals(big, java.util.Arrays.copyOf(got, 9000));
        assertEquals(A, from.ip);
        assertEquals(7, s[0].counters().get(Counter.IP_FRAGMENTS_OUT));
        assertEquals(1, s[1].counters().get(Counter.IP_REASSEMBLED));
    }

    @Test
    void shouldDeliverEachUdpDatagramOnceWhenTheReceiveRingWraps() {
        final NetStack s = loopbackStack(true);
        final Sockets api = s.sockets();
        final int rx = api.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
        assertEquals(0, api.bind(rx, LO, 4001));
        assertEquals(0, api.setsockopt(rx, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 20_000));
        final int tx = api.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
        final byte[] got = new byte[2048];
        final SockAddr from = new SockAddr();
        // 1000-byte datagrams do not divide the 64 KiB ring, so the records wrap with padding at the
        // end many times over; each datagram carries its sequence number and must arrive exactly once.
        for (int i = 0; i < 400; i++) {
            final byte[] d = new byte[1000 + (i % 7)];
            java.util.Arrays.fill(d, (byte) i);
            d[0] = (byte) (i >>> 8);
            d[1] = (byte) i;
            assertEquals(d.length, api.sendto(tx, d, 0, d.length, 0, LO, 4001));
            final int n = api.recvfrom(rx, got, 0, got.length, 0, from);
            assertEquals(d.length, n, "datagram " + i);
            assertEquals(i, ((got[0] & 0xFF) << 8) | (got[1] & 0xFF), "datagram " + i + " out of order or repeated");
            assertEquals((byte) i, got[n - 1]);
        }
    }

    @Test
    void shouldResetWhenClosingWithUnreadDataAndReportEconnreset() {
        final Sockets api = loopbackStack(true).sockets();
        final int lfd = server(api, 0, 9003);
        final int fd = client(api, LO, 9003);
        final int c = api.accept(lfd, null);
        sendAll(api, fd, "unread".getBytes());
        final Sockets.PollFd[] p = {new Sockets.PollFd(c, Sockets.POLLIN)};
        assertEquals(1, api.poll(p, 1, 10_000));
        assertEquals(0, api.close(c));
        int r;
        do {
            r = api.recv(fd, new byte[4], 0, 4, 0);
        } while (r > 0);
        assertEquals(-Errno.ECONNRESET.number(), r);
        assertEquals(-Errno.ECONNRESET.number(), api.send(fd, new byte[1], 0, 1, 0));
    }

    @Test
    void shouldKeepTheKeyedFlowTableBalancedForCraftedTuples() {
        final NetStack s = new NetStack(StackSettings.defaults(), System::nanoTime);
        final dev.osvj.net.channel.FlowTable<Object> t = new dev.osvj.net.channel.FlowTable<>(
            dev.osvj.net.tcp.SipHash.random());
        // tuples whose XOR of the four fields is identical (OSv's unkeyed hash puts them in one bucket)
        for (int i = 0; i < 4096; i++) {
            assertTrue(t.put(A, 80, B ^ (i << 16), 1000 ^ i, i));
        }
        assertTrue(t.longestChain() < 16, "longest chain " + t.longestChain());
        assertEquals(4096, t.size());
        assertEquals(5, t.get(A, 80, B ^ (5 << 16), 1000 ^ 5));
        assertTrue(t.remove(A, 80, B ^ (5 << 16), 1000 ^ 5, 5));
        assertEquals(null, t.get(A, 80, B ^ (5 << 16), 1000 ^ 5));
        assertEquals(0, s.flowCount());
    }
}
