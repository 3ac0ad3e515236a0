package dev.osvj.net.stack;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.KernelClock;
import dev.osvj.net.dev.LoopbackDevice;
import dev.osvj.sched.KThread;
import dev.osvj.sched.SchedConfig;
import dev.osvj.sched.Scheduler;
import dev.osvj.sched.ThreadAttr;
import dev.osvj.sched.ThreadState;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Blocking socket calls made from kernel threads (continuations on 2 vCPUs) block through the
 * scheduler ({@link Waiter}): the thread is WAITING and its vCPU runs other threads meanwhile; host
 * threads still park. Wakers on either kind of thread wake both kinds. The sockets' re-check cap is
 * raised to an hour, so a lost wakeup hangs the test (JUnit timeout) instead of being hidden by a 50 ms
 * re-check. Timed waits use the scheduler's timers; closing a socket or an epoll instance that a kernel
 * thread is blocked on wakes it with EBADF. Nothing here depends on timing: waits are for conditions.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KernelThreadSocketsTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final AtomicInteger KERNELS = new AtomicInteger();
    private static final int LO = 0x7F000001;
    private static final long JOIN_NS = TimeUnit.SECONDS.toNanos(60);

    private Scheduler sched;
    private NetStack stack;
    private Sockets api;
    private StackDriver driver;

    @BeforeAll
    static void noRecheck() {
        Socket.setMaxWaitForTests(Duration.ofHours(1).toNanos());
    }

    @AfterAll
    static void shutdown() {
        Socket.setMaxWaitForTests(Socket.MAX_WAIT_NS);
        KIT.shutdownTestKit();
    }

    @BeforeEach
    void setUp() {
        sched = Scheduler.create("ksock-" + KERNELS.incrementAndGet(), SchedConfig.defaults(2), KernelClock.SYSTEM,
            null);
        sched.start((b, n, p) -> KIT.spawn(b, sched.name() + "-" + n, p));
        stack = new NetStack(StackSettings.defaults(), System::nanoTime);
        stack.addInterface(new LoopbackDevice(), true, 0, 0, 0);
        driver = new StackDriver(stack, "lo");
        api = stack.sockets();
    }

    @AfterEach
    void tearDown() throws Exception {
        driver.close();
        sched.stop(Duration.ofSeconds(30));
    }

    // ----- helpers -------------------------------------------------------------------------------

    private int listener(final int port) {
        final int fd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, api.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1));
        assertEquals(0, api.bind(fd, LO, port));
        assertEquals(0, api.listen(fd, 64));
        return fd;
    }

    private int connect(final int port) {
        final int fd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, api.connect(fd, LO, port));
        return fd;
    }

    /** A kernel thread whose body's int result (or failure) completes the future. */
    private KThread kernel(final String name, final CompletableFuture<Integer> out, final IntBody body) {
        return sched.spawn(ThreadAttr.named(name).asApplication(), () -> {
            try {
                out.complete(body.run());
            } catch (final Throwable e) {
                out.completeExceptionally(e);
            }
        });
    }

    @FunctionalInterface
    private interface IntBody {
        int run();
    }

    private static void await(final String what, final BooleanSupplier condition) {
        final long deadline = System.nanoTime() + JOIN_NS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            LockSupport.parkNanos(200_000);
        }
    }

    private static int echo(final Sockets api, final int fd, final int rounds) {
        final byte[] buf = new byte[256];
        int served = 0;
        while (served < rounds) {
            final int n = api.recv(fd, buf, 0, buf.length, 0);
            if (n <= 0) {
                return n;
            }
            int off = 0;
            while (off < n) {
                final int w = api.send(fd, buf, off, n - off, 0);
                if (w <= 0) {
                    return w;
                }
                off += w;
            }
            served++;
        }
        return served;
    }

    private static byte[] roundTrip(final Sockets api, final int fd, final byte[] msg) {
        assertEquals(msg.length, api.send(fd, msg, 0, msg.length, 0));
        final byte[] back = new byte[msg.length];
        int got = 0;
        while (got < msg.length) {
            final int n = api.recv(fd, back, got, msg.length - got, 0);
            assertTrue(n > 0, "recv " + n);
            got += n;
        }
        return back;
    }

    // ----- tests ---------------------------------------------------------------------------------

    @Test
    void shouldServeAHostClientFromAKernelThreadServer() throws Exception {
        final int lfd = listener(6101);
        final CompletableFuture<Integer> served = new CompletableFuture<>();
        final KThread server = kernel("server", served, () -> {
            final int fd = api.accept4(lfd, null, 0); // blocks: the client connects later
            return fd < 0 ? fd : echo(api, fd, 200);
        });
        await("server blocked in accept", () -> server.state() == ThreadState.WAITING);
        final int cfd = connect(6101);
        for (int i = 0; i < 200; i++) {
            final byte[] msg = ("host request " + i).getBytes(StandardCharsets.US_ASCII);
            assertArrayEquals(msg, roundTrip(api, cfd, msg));
        }
        assertEquals(200, served.get(60, TimeUnit.SECONDS));
        assertTrue(server.join(JOIN_NS));
        api.close(cfd);
        api.close(lfd);
    }

    @Test
    void shouldServeAKernelThreadClientFromAHostThreadServer() throws Exception {
        final int lfd = listener(6102);
        final CompletableFuture<Integer> served = CompletableFuture.supplyAsync(() -> {
            final int fd = api.accept(lfd, null);
            return fd < 0 ? fd : echo(api, fd, 200);
        });
        final CompletableFuture<Integer> done = new CompletableFuture<>();
        kernel("client", done, () -> {
            final int fd = connect(6102);
            for (int i = 0; i < 200; i++) {
                final byte[] msg = ("kernel request " + i).getBytes(StandardCharsets.US_ASCII);
                assertArrayEquals(msg, roundTrip(api, fd, msg));
            }
            return api.close(fd);
        });
        assertEquals(0, done.get(60, TimeUnit.SECONDS));
        assertEquals(200, served.get(60, TimeUnit.SECONDS));
        api.close(lfd);
    }

    @Test
    void shouldKeepTheVcpusRunningWhileManyKernelThreadsBlockInEpollWait() throws Exception {
        final int waitersCount = 16;
        final int lfd = listener(6103);
        final int[] clients = new int[waitersCount];
        final int[] servers = new int[waitersCount];
        for (int i = 0; i < waitersCount; i++) {
            clients[i] = connect(6103);
            servers[i] = api.accept(lfd, null);
            assertTrue(servers[i] >= 0);
        }
        final List<KThread> waiters = new ArrayList<>();
        final List<CompletableFuture<Integer>> results = new ArrayList<>();
        for (int i = 0; i < waitersCount; i++) {
            final int sfd = servers[i];
            final CompletableFuture<Integer> r = new CompletableFuture<>();
            results.add(r);
            waiters.add(kernel("epoller-" + i, r, () -> {
                final int ep = api.epollCreate();
                api.epollCtl(ep, Sockets.EPOLL_CTL_ADD, sfd, Sockets.EPOLLIN, sfd);
                final int[] fds = new int[4];
                final int[] ev = new int[4];
                final long[] data = new long[4];
                final int n = api.epollWait(ep, fds, ev, data, 4, -1); // forever: only a wakeup ends it
                api.close(ep);
                return n == 1 && data[0] == sfd && (ev[0] & Sockets.EPOLLIN) != 0 ? 1 : -1000 - n;
            }));
        }
        await("all epoll waiters blocked", () -> waiters.stream().allMatch(t -> t.state() == ThreadState.WAITING));
        // CPU work on both vCPUs completes while the sixteen are blocked.
        final AtomicLong work = new AtomicLong();
        final List<KThread> workers = new ArrayList<>();
        for (int cpu = 0; cpu < 2; cpu++) {
            workers.add(sched.spawn(ThreadAttr.named("work-" + cpu).pinnedTo(cpu), () -> {
                for (int i = 0; i < 100_000; i++) {
                    work.incrementAndGet();
                    if (i % 1000 == 0) {
                        KThread.preemptionPoint();
                    }
                }
            }));
        }
        for (final KThread w : workers) {
            assertTrue(w.join(JOIN_NS), "work thread finished");
        }
        assertEquals(200_000, work.get());
        for (final KThread t : waiters) {
            assertEquals(ThreadState.WAITING, t.state(), t.name() + " still blocked");
        }
        final byte[] one = {42};
        for (int i = 0; i < waitersCount; i++) {
            assertEquals(1, api.send(clients[i], one, 0, 1, 0));
        }
        for (final CompletableFuture<Integer> r : results) {
            assertEquals(1, r.get(60, TimeUnit.SECONDS));
        }
        for (int i = 0; i < waitersCount; i++) {
            api.close(clients[i]);
            api.close(servers[i]);
        }
        api.close(lfd);
    }

    @Test
    void shouldWakeAnEpollWaiterWhenAReadySocketIsAdded() throws Exception {
        final int lfd = listener(6107);
        final int cfd = connect(6107);
        final int sfd = api.accept(lfd, null);
        assertEquals(1, api.send(cfd, new byte[] {7}, 0, 1, 0)); // sfd is readable before it is added
        final int ep = api.epollCreate();
        final CompletableFuture<Integer> got = new CompletableFuture<>();
        final KThread waiter = kernel("epoll-add", got, () -> {
            final long[] data = new long[2];
            final int n = api.epollWait(ep, new int[2], new int[2], data, 2, -1); // empty set, no timeout
            return n == 1 ? (int)data[0] : -1000 - n;
        });
        await("waiter blocked on the empty set", () -> waiter.state() == ThreadState.WAITING);
        assertEquals(0, api.epollCtl(ep, Sockets.EPOLL_CTL_ADD, sfd, Sockets.EPOLLIN, 77));
        assertEquals(77, got.get(60, TimeUnit.SECONDS));
        api.close(ep);
        api.close(cfd);
        api.close(sfd);
        api.close(lfd);
    }

    @Test
    void shouldTimeOutOnTheSchedulersTimers() throws Exception {
        final int lfd = listener(6104);
        final int cfd = connect(6104);
        final int sfd = api.accept(lfd, null);
        final CompletableFuture<Integer> recv = new CompletableFuture<>();
        final CompletableFuture<Integer> epoll = new CompletableFuture<>();
        final CompletableFuture<Integer> poll = new CompletableFuture<>();
        final CompletableFuture<Integer> accept = new CompletableFuture<>();
        kernel("recv-timeout", recv, () -> {
            api.setsockopt(sfd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 20);
            return api.recv(sfd, new byte[8], 0, 8, 0);
        });
        kernel("epoll-timeout", epoll, () -> {
            final int ep = api.epollCreate();
            api.epollCtl(ep, Sockets.EPOLL_CTL_ADD, cfd, Sockets.EPOLLIN, 0);
            final int n = api.epollWait(ep, new int[2], new int[2], new long[2], 2, 20);
            api.close(ep);
            return n;
        });
        kernel("poll-timeout", poll, () -> api.poll(new Sockets.PollFd[] {new Sockets.PollFd(cfd, Sockets.POLLIN)}, 1, 20));
        kernel("accept-timeout", accept, () -> {
            api.setsockopt(lfd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 20);
            return api.accept(lfd, null);
        });
        assertEquals(-Errno.EAGAIN.number(), recv.get(60, TimeUnit.SECONDS));
        assertEquals(0, epoll.get(60, TimeUnit.SECONDS));
        assertEquals(0, poll.get(60, TimeUnit.SECONDS));
        assertEquals(-Errno.EAGAIN.number(), accept.get(60, TimeUnit.SECONDS));
        api.close(cfd);
        api.close(sfd);
        api.close(lfd);
    }

    @Test
    void shouldWakeBlockedKernelThreadsWithEbadfWhenTheirDescriptorIsClosed() throws Exception {
        final int lfd = listener(6105);
        final int cfd = connect(6105);
        final int sfd = api.accept(lfd, null);
        final int ep = api.epollCreate();
        assertEquals(0, api.epollCtl(ep, Sockets.EPOLL_CTL_ADD, cfd, Sockets.EPOLLIN, 0));
        final int lfd2 = listener(6106);
        final CompletableFuture<Integer> recv = new CompletableFuture<>();
        final CompletableFuture<Integer> epoll = new CompletableFuture<>();
        final CompletableFuture<Integer> accept = new CompletableFuture<>();
        final KThread r = kernel("recv-close", recv, () -> api.recv(sfd, new byte[8], 0, 8, 0));
        final KThread e = kernel("epoll-close", epoll,
            () -> api.epollWait(ep, new int[2], new int[2], new long[2], 2, -1));
        final KThread a = kernel("accept-close", accept, () -> api.accept(lfd2, null));
        await("all three blocked", () -> r.state() == ThreadState.WAITING && e.state() == ThreadState.WAITING
            && a.state() == ThreadState.WAITING);
        assertNull(recv.getNow(null));
        assertEquals(0, api.close(ep)); // first: closing sfd would make cfd readable (its FIN)
        assertEquals(-Errno.EBADF.number(), epoll.get(60, TimeUnit.SECONDS));
        assertEquals(0, api.close(sfd));
        assertEquals(0, api.close(lfd2));
        assertEquals(-Errno.EBADF.number(), recv.get(60, TimeUnit.SECONDS));
        assertEquals(-Errno.EBADF.number(), accept.get(60, TimeUnit.SECONDS));
        api.close(cfd);
        api.close(lfd);
    }
}
