package dev.osvj.net.stack;

import dev.osvj.net.kernel.NetActors;
import dev.osvj.net.stack.NetCounters.Counter;
import dev.osvj.net.dev.Wire;
import dev.osvj.net.wire.Addresses;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Regression for the "receive path waits for the timer tick" suspicion (issue 6/8 benchmarks): a
 * kernel stack driven by its actors ({@link NetActors}, interface "interrupt" actor and flow waker) and
 * a peer stack driven by a {@link StackDriver}, both with a one-hour timer tick, so no timer ever runs
 * during the test. Request/response round trips must still complete, with the server blocked in
 * {@code recv} or in {@code epoll_wait} (infinite timeouts): every frame and every net-channel segment
 * has to reach its consumer through a wakeup (device notifier, channel wakeup, epoll notification),
 * never through the tick. The sockets' re-check cap ({@link Socket#MAX_WAIT_NS}, which would hide a
 * lost wakeup behind a 50 ms stall) is raised to an hour as well, so a lost wakeup anywhere on that
 * path leaves a side blocked for the rest of the hour and the test times out. Afterwards no segment
 * was found queued by a tick or by a later general-path segment
 * ({@link Counter#TCP_CHANNEL_BY_TIMER}, {@link Counter#TCP_CHANNEL_BY_GENERAL}).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NoTickWakeupTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final Duration HOUR = Duration.ofHours(1);
    private static final int KERNEL = Addresses.parseIpv4("10.0.0.1");
    private static final int PEER = Addresses.parseIpv4("10.0.0.2");
    private static final int MASK = Addresses.parseIpv4("255.255.255.0");
    private static final int MSG = 64;
    private static final int ROUNDS = 300;

    @BeforeAll
    static void noRecheck() {
        Socket.setMaxWaitForTests(HOUR.toNanos());
    }

    @AfterAll
    static void shutdown() {
        Socket.setMaxWaitForTests(Socket.MAX_WAIT_NS);
        KIT.shutdownTestKit();
    }

    @Test
    void shouldCompleteRoundTripsToABlockedRecvWithoutTheTimerTick() throws Exception {
        roundTrips(5101, (api, fd) -> echoBlocking(api, fd));
    }

    @Test
    void shouldCompleteRoundTripsToABlockedEpollWaitWithoutTheTimerTick() throws Exception {
        roundTrips(5102, (api, fd) -> echoEpoll(api, fd));
    }

    /** What the kernel's server does with one accepted connection; returns the round trips served. */
    @FunctionalInterface
    private interface Server {
        int serve(Sockets api, int fd);
    }

    private static void roundTrips(final int port, final Server server) throws Exception {
        final Wire wire = new Wire(1500);
        final NetStack kernel = new NetStack(StackSettings.defaults(), System::nanoTime);
        kernel.addInterface(wire.a(), false, KERNEL, MASK, 0);
        final CountDownLatch started = new CountDownLatch(1);
        KIT.spawn(Behaviors.setup(ctx -> {
            NetActors.start(ctx, kernel, HOUR);
            started.countDown();
            return Behaviors.empty();
        }), "net-" + port);
        assertTrue(started.await(60, TimeUnit.SECONDS), "the kernel's net actors started");
        final Sockets api = kernel.sockets();
        final int lfd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, api.bind(lfd, 0, port));
        assertEquals(0, api.listen(lfd, 4));
        final CompletableFuture<Integer> served = CompletableFuture.supplyAsync(() -> {
            final int c = api.accept(lfd, null);
            assertTrue(c > 0, "accept " + c);
            api.setsockopt(c, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1);
            final int n = server.serve(api, c);
            api.close(c);
            return n;
        });

        final NetStack peer = new NetStack(StackSettings.defaults(), System::nanoTime);
        peer.addInterface(wire.b(), false, PEER, MASK, 0);
        try (StackDriver driver = new StackDriver(peer, "peer-" + port, HOUR.toNanos())) {
            final Sockets client = peer.sockets();
            final int fd = client.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            client.setsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1);
            assertEquals(0, client.connect(fd, KERNEL, port));
            final byte[] out = new byte[MSG];
            final byte[] in = new byte[MSG];
            for (int round = 0; round < ROUNDS; round++) {
                Arrays.fill(out, (byte)round);
                assertEquals(MSG, client.send(fd, out, 0, MSG, 0), "send, round " + round);
                readFully(client, fd, in, round);
                assertArrayEquals(out, in, "echo of round " + round);
            }
            assertEquals(0, client.close(fd));
            assertEquals(ROUNDS, served.get(60, TimeUnit.SECONDS), "round trips the server saw");
            api.close(lfd);
            assertTrue(kernel.counters().get(Counter.TCP_CHANNEL_PACKETS) >= ROUNDS,
                "requests went through the kernel's net channel");
            for (final NetStack s : new NetStack[] {kernel, peer}) {
                assertEquals(0, s.counters().get(Counter.TCP_CHANNEL_BY_TIMER), "segments left for the tick");
                assertEquals(0, s.counters().get(Counter.TCP_CHANNEL_BY_GENERAL), "segments left for the general path");
            }
        }
    }

    private static void readFully(final Sockets api, final int fd, final byte[] b, final int round) {
        int got = 0;
        while (got < b.length) {
            final int n = api.recv(fd, b, got, b.length - got, 0);
            assertTrue(n > 0, "recv returned " + n + " in round " + round);
            got += n;
        }
    }

    /** Echo with blocking recv (no timeout: only a wakeup returns it) until EOF. */
    private static int echoBlocking(final Sockets api, final int fd) {
        final byte[] b = new byte[MSG];
        int rounds = 0;
        while (true) {
            int got = 0;
            while (got < MSG) {
                final int n = api.recv(fd, b, got, MSG - got, 0);
                if (n <= 0) {
                    return rounds;
                }
                got += n;
            }
            assertEquals(MSG, api.send(fd, b, 0, MSG, 0));
            rounds++;
        }
    }

    /** Echo driven by a level-triggered epoll with an infinite wait, reads non-blocking, until EOF. */
    private static int echoEpoll(final Sockets api, final int fd) {
        final int ep = api.epollCreate();
        assertEquals(0, api.epollCtl(ep, Sockets.EPOLL_CTL_ADD, fd, Sockets.EPOLLIN | Sockets.EPOLLRDHUP, fd));
        final int[] fds = new int[1];
        final int[] events = new int[1];
        final long[] data = new long[1];
        final byte[] b = new byte[MSG];
        int got = 0;
        int rounds = 0;
        try {
            while (true) {
                final int ready = api.epollWait(ep, fds, events, data, 1, -1);
                assertTrue(ready >= 0, "epoll_wait " + ready);
                while (true) {
                    final int n = api.recv(fd, b, got, MSG - got, Sockets.MSG_DONTWAIT);
                    if (n == 0) {
                        return rounds;
                    }
                    if (n < 0) {
                        break; // EAGAIN: back to epoll_wait
                    }
                    got += n;
                    if (got == MSG) {
                        assertEquals(MSG, api.send(fd, b, 0, MSG, 0));
                        rounds++;
                        got = 0;
                    }
                }
            }
        } finally {
            api.close(ep);
        }
    }
}
