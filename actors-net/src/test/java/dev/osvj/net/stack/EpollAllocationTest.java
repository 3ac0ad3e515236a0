package dev.osvj.net.stack;

import dev.osvj.net.dev.LoopbackDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code epoll_wait} on the request path allocates nothing per call: a memcached worker calls it once per
 * request or burst, and it used to make two lists (and grow one, and iterate with an iterator) each
 * time. Measured with the JVM's per-thread allocation counter on a level-triggered registration that
 * stays ready, so every call reports the event and never blocks.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EpollAllocationTest {
    private static final int LO = 0x7F000001;

    @Test
    void shouldReportAReadyRegistrationWithoutAllocating() throws Exception {
        final NetStack stack = new NetStack(StackSettings.defaults().withNetChannels(true), System::nanoTime);
        stack.addInterface(new LoopbackDevice(), true, 0, 0, 0);
        try (StackDriver driver = new StackDriver(stack, "lo")) {
            final Sockets api = stack.sockets();
            final int lfd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, api.bind(lfd, 0, 7003));
            assertEquals(0, api.listen(lfd, 4));
            assertEquals(0, api.setsockopt(lfd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
            final int cfd = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            assertEquals(0, api.connect(cfd, LO, 7003));
            final int sfd = api.accept4(lfd, new SockAddr(), 0);
            assertTrue(sfd >= 0);
            final byte[] hello = {'h', 'i'};
            assertEquals(2, api.send(cfd, hello, 0, 2, 0));
            final int ep = api.epollCreate();
            assertEquals(0, api.epollCtl(ep, Sockets.EPOLL_CTL_ADD, sfd, Sockets.EPOLLIN, 42));
            final int[] fds = new int[8];
            final int[] events = new int[8];
            final long[] data = new long[8];
            // Until the two bytes are readable (the driver may still be delivering them).
            while (api.epollWait(ep, fds, events, data, fds.length, 1000) != 1) {
                Thread.yield();
            }
            for (int i = 0; i < 50_000; i++) { // warm up: the JIT compiles the path
                assertEquals(1, api.epollWait(ep, fds, events, data, fds.length, 0));
            }
            final com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
            final long me = Thread.currentThread().threadId();
            final int calls = 20_000;
            final long before = threads.getThreadAllocatedBytes(me);
            for (int i = 0; i < calls; i++) {
                if (api.epollWait(ep, fds, events, data, fds.length, 0) != 1 || data[0] != 42) {
                    throw new AssertionError("call " + i + ": the registration is level-triggered and stays ready");
                }
            }
            final long perCall = (threads.getThreadAllocatedBytes(me) - before) / calls;
            assertTrue(perCall < 8, "bytes allocated per epoll_wait: " + perCall);
            api.close(ep);
            api.close(cfd);
            api.close(sfd);
            api.close(lfd);
        }
    }
}
