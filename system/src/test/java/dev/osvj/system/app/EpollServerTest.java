package dev.osvj.system.app;

import dev.osvj.net.dev.LoopbackDevice;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.stack.StackDriver;
import dev.osvj.net.stack.StackSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link EpollServer#close()} on a stack of its own (loopback, host threads): it stops its threads, and
 * when one does not stop within {@link EpollServer#STOP_BUDGET_NS} it gives up and names it instead of
 * holding the caller (the app's stop hook, on a vCPU) past the kernel's stop-hook budget.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EpollServerTest {
    private NetStack stack;
    private StackDriver driver;
    private Sockets sockets;

    /** Echoes nothing: every session just takes bytes. */
    private static final EpollServer.Protocol SILENT = () -> new EpollServer.Session() {
        private final EpollServer.Output none = new EpollServer.Output() {
            @Override
            public byte[] array() {
                return new byte[0];
            }

            @Override
            public int readIndex() {
                return 0;
            }

            @Override
            public int readable() {
                return 0;
            }

            @Override
            public void consume(final int n) {
            }
        };

        @Override
        public boolean receive(final byte[] b, final int off, final int len) {
            return true;
        }

        @Override
        public EpollServer.Output output() {
            return none;
        }
    };

    @BeforeEach
    void setUp() {
        stack = new NetStack(StackSettings.defaults(), System::nanoTime);
        stack.addInterface(new LoopbackDevice(), true, 0, 0, 0);
        driver = new StackDriver(stack, "lo");
        sockets = stack.sockets();
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    @Test
    void shouldStopItsThreadsAndReleaseThePort() throws Exception {
        final EpollServer server = EpollServer.start("t", sockets, 0x7F000001, 0, EpollServer.Threads.platform(), 2,
            16, new AtomicLong(), SILENT);
        final int port = server.port();
        server.close();
        final int fd = sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, sockets.bind(fd, 0x7F000001, port), "the listening port is free again");
        sockets.close(fd);
    }

    @Test
    void shouldNameTheThreadsThatDidNotStopInsteadOfWaitingPastTheStopHookBudget() throws Exception {
        // the acceptor's handle never reports its end, as a thread stuck where close() cannot wake it
        final EpollServer.Threads platform = EpollServer.Threads.platform();
        final EpollServer.Threads stuckAcceptor = (name, slot, body) -> {
            final EpollServer.Handle real = platform.start(name, slot, body);
            if (!name.endsWith("-acceptor")) {
                return real;
            }
            return new EpollServer.Handle() {
                @Override
                public void interrupt() {
                    real.interrupt();
                }

                @Override
                public boolean join(final long timeoutNanos) throws InterruptedException {
                    assertTrue(timeoutNanos <= EpollServer.STOP_BUDGET_NS, "waits at most the budget");
                    real.join(timeoutNanos);
                    return false;
                }
            };
        };
        final EpollServer server = EpollServer.start("t", sockets, 0x7F000001, 0, stuckAcceptor, 2, 16,
            new AtomicLong(), SILENT);
        final int port = server.port();
        final IllegalStateException e = assertThrows(IllegalStateException.class, server::close);
        assertEquals("t: threads did not stop within 3000 ms: t-acceptor", e.getMessage());
        final int fd = sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, sockets.bind(fd, 0x7F000001, port), "the listening socket is closed anyway");
        sockets.close(fd);
        server.close(); // idempotent
    }
}
