package dev.osvj.net.stack;

import dev.osvj.net.dev.LoopbackDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Regression tests for session 3's epoll race: {@code epoll_ctl(ADD)} made the registration visible and
 * woke the blocked {@code epoll_wait} before the epoll instance watched the socket, so a woken waiter
 * could look at the new connection (not readable yet), sleep again, and miss the connection's first
 * readiness, which arrived before the watcher existed: the request on a new connection then hung.
 *
 * <p>The first test forces that interleaving through {@link Epoll#afterAddForTests}: when {@code add}
 * has published the registration, the hook waits until the woken waiter is asleep again, then makes
 * the socket readable. With the old order (watch after publish) no watcher hears it and the waiter
 * times out with 0 events; with the fixed order it is woken with EPOLLIN. The second one races a
 * real {@code ADD} against the first send, many times, with no hook. Waits are bounded by
 * {@code epoll_wait} timeouts and latches, never by sleeping.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class EpollAddRaceTest {
    private static final int LO = 0x7F000001;
    private static final int WAIT_MS = 20_000;
    private NetStack stack;
    private StackDriver driver;
    private Sockets api;
    private int listener;

    @BeforeEach
    void setUp() {
        stack = new NetStack(StackSettings.defaults(), System::nanoTime);
        stack.addInterface(new LoopbackDevice(), true, 0, 0, 0);
        driver = new StackDriver(stack, "lo");
        api = stack.sockets();
        listener = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, api.bind(listener, LO, 7070));
        assertEquals(0, api.listen(listener, 64));
        assertEquals(0, api.setsockopt(listener, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, WAIT_MS));
    }

    @AfterEach
    void tearDown() {
        Epoll.afterAddForTests = null;
        Epoll.beforeWakeForTests = null;
        driver.close();
    }

    /** A connected pair: {client, accepted}. */
    private int[] connectPair() {
        final int client = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, api.connect(client, LO, 7070));
        final int accepted = api.accept4(listener, null, Sockets.SOCK_NONBLOCK);
        assertTrue(accepted > 0, "accept " + accepted);
        return new int[] {client, accepted};
    }

    /** Block in epoll_wait on a platform thread; completes with the events' count and the first fd. */
    private CompletableFuture<int[]> waiter(final int epfd, final CountDownLatch started) {
        final CompletableFuture<int[]> result = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("epoll-waiter").start(() -> {
            final int[] fds = new int[8];
            final int[] events = new int[8];
            final long[] data = new long[8];
            started.countDown();
            final int n = api.epollWait(epfd, fds, events, data, 8, WAIT_MS);
            result.complete(new int[] {n, n > 0 ? fds[0] : -1, n > 0 ? events[0] : 0});
        });
        return result;
    }

    private static void awaitTrue(final java.util.function.BooleanSupplier condition, final String what) {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_MS / 1000);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting: " + what);
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    @Test
    void shouldReportTheFirstReadinessThatArrivesWhileAddHasPublishedButTheWaiterSleptAgain() throws Exception {
        final int[] pair = connectPair();
        final int epfd = api.epollCreate();
        final AtomicReference<Throwable> hookFailure = new AtomicReference<>();
        Epoll.afterAddForTests = epoll -> {
            try {
                // the waiter was woken by add: let it look at the (not yet readable) socket and sleep again
                awaitTrue(() -> epoll.sleepersForTests() == 1, "the waiter to sleep again");
                final byte[] one = {42};
                assertEquals(1, api.send(pair[0], one, 0, 1, 0)); // the connection's first data
                awaitTrue(() -> (api.readiness(pair[1]) & Sockets.POLLIN) != 0, "the byte to arrive");
            } catch (final Throwable t) {
                hookFailure.set(t);
            }
        };
        final CountDownLatch started = new CountDownLatch(1);
        final CompletableFuture<int[]> waiting = waiter(epfd, started);
        started.await();
        awaitTrue(() -> sleepers(epfd) == 1, "the waiter to block");
        assertEquals(0, api.epollCtl(epfd, Sockets.EPOLL_CTL_ADD, pair[1], Sockets.EPOLLIN, pair[1]));
        Epoll.afterAddForTests = null;
        final int[] got = waiting.get(WAIT_MS * 2L, TimeUnit.MILLISECONDS);
        if (hookFailure.get() != null) {
            throw new AssertionError(hookFailure.get());
        }
        assertEquals(1, got[0], "epoll_wait missed the new connection's first readiness");
        assertEquals(pair[1], got[1]);
        assertTrue((got[2] & Sockets.EPOLLIN) != 0);
    }

    /**
     * A readiness notification wakes the blocked waiter after it released the epoll lock (session 7:
     * the wake, a scheduler wakeup or an unpark, used to run under it, so a vCPU's kernel thread that
     * wanted the lock meanwhile parked the vCPU's carrier). Fails on the old order: the hook then runs
     * with the lock held.
     */
    @Test
    void shouldWakeABlockedWaiterAfterReleasingTheEpollLock() throws Exception {
        final int[] pair = connectPair();
        final int epfd = api.epollCreate();
        assertEquals(0, api.epollCtl(epfd, Sockets.EPOLL_CTL_ADD, pair[1], Sockets.EPOLLIN, pair[1]));
        final CountDownLatch started = new CountDownLatch(1);
        final CompletableFuture<int[]> waiting = waiter(epfd, started);
        started.await();
        awaitTrue(() -> sleepers(epfd) == 1, "the waiter to block");
        final CompletableFuture<Boolean> heldDuringWake = new CompletableFuture<>();
        Epoll.beforeWakeForTests = epoll -> heldDuringWake.complete(epoll.lockHeldForTests());
        assertEquals(1, api.send(pair[0], new byte[] {7}, 0, 1, 0));
        final int[] got = waiting.get(WAIT_MS * 2L, TimeUnit.MILLISECONDS);
        assertEquals(1, got[0]);
        assertEquals(pair[1], got[1]);
        assertTrue((got[2] & Sockets.EPOLLIN) != 0);
        assertEquals(Boolean.FALSE, heldDuringWake.get(WAIT_MS, TimeUnit.MILLISECONDS),
            "the waiter was woken with the epoll lock held");
    }

    @Test
    void shouldNeverMissTheFirstSendRacingAnAddToABlockedWaiter() throws Exception {
        for (int i = 0; i < 300; i++) {
            final int[] pair = connectPair();
            final int epfd = api.epollCreate();
            final CountDownLatch started = new CountDownLatch(1);
            final CompletableFuture<int[]> waiting = waiter(epfd, started);
            started.await();
            awaitTrue(() -> sleepers(epfd) == 1, "the waiter to block");
            final CountDownLatch go = new CountDownLatch(1);
            final byte mark = (byte)i;
            final Thread sender = Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                } catch (final InterruptedException e) {
                    return;
                }
                api.send(pair[0], new byte[] {mark}, 0, 1, 0);
            });
            go.countDown();
            assertEquals(0, api.epollCtl(epfd, Sockets.EPOLL_CTL_ADD, pair[1], Sockets.EPOLLIN, pair[1]));
            final int[] got = waiting.get(WAIT_MS * 2L, TimeUnit.MILLISECONDS);
            sender.join();
            assertEquals(1, got[0], "round " + i + ": epoll_wait missed the first send");
            assertEquals(pair[1], got[1]);
            api.close(pair[0]);
            api.close(pair[1]);
            api.close(epfd);
        }
    }

    private int sleepers(final int epfd) {
        return epollOf(epfd).sleepersForTests();
    }

    private Epoll epollOf(final int epfd) {
        return api.epollForTests(epfd);
    }
}
