package dev.osvj.system.app.memcached;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.net.stack.Sockets;
import dev.osvj.sched.KThread;
import dev.osvj.sched.Scheduler;
import dev.osvj.system.app.AppSubsystem;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A whole kernel booted with {@code osvj.app.name = memcached}, and clients on the kernel's own
 * loopback sockets: concurrent connections, the connection limit, quit. The server's acceptor and
 * workers are application kernel threads ({@code osvj.app.threads = auto}), the clients host threads.
 */
class MemcachedServerTest {
    private static final int CONN_LIMIT = 8;
    private static Kernel kernel;
    private static Sockets sockets;
    private static MemcachedServer server;

    @BeforeAll
    static void boot() throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        final Config config = KernelConfigLoader.load(null, List.of("osvj.name=memcached-test", "osvj.app.name=memcached",
            "osvj.app.args=[\"-p\", \"11211\", \"-m\", \"16\", \"-t\", \"2\", \"-c\", \"" + CONN_LIMIT + "\"]"),
            new Properties(), subsystems, tracepoints);
        kernel = Kernel.boot(config, subsystems, tracepoints,
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        final AppSubsystem.AppLauncher app = kernel.services().require(AppSubsystem.AppLauncher.class);
        assertEquals("memcached -p 11211 -m 16 -t 2 -c 8", app.cmdline());
        app.start(kernel);
        sockets = kernel.services().require(Sockets.class);
        server = kernel.services().require(MemcachedServer.class);
    }

    @AfterAll
    static void powerOff() throws Exception {
        server.close();
        kernel.powerOff(0);
        assertEquals(0, kernel.awaitPoweredOff(Duration.ofSeconds(30)));
    }

    @Test
    void shouldServeSeveralConcurrentConnections() throws Exception {
        final int clients = 6;
        final int rounds = 150;
        try (LoopbackClient setup = new LoopbackClient(sockets, server.port())) {
            assertEquals("STORED\r\n", setup.call("set counter 0 0 1\r\n0\r\n", "STORED\r\n"));
        }
        final ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            final List<Future<?>> done = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                final int id = c;
                done.add(pool.submit(() -> {
                    try (LoopbackClient client = new LoopbackClient(sockets, server.port())) {
                        for (int i = 0; i < rounds; i++) {
                            final String key = "k" + id + "-" + i;
                            final String value = "value-" + id + "-" + i + "-" + "x".repeat(i * 7);
                            final String stored = "STORED\r\n";
                            assertEquals(stored, client.call("set " + key + " " + id + " 0 " + value.length() + "\r\n" + value + "\r\n", stored));
                            final String hit = "VALUE " + key + " " + id + " " + value.length() + "\r\n" + value + "\r\nEND\r\n";
                            assertEquals(hit, client.call("get " + key + "\r\n", hit));
                            // pipelined: an incr and a miss in one send
                            client.send("incr counter 1\r\nget nope-" + id + "\r\n");
                            final String tail = client.readUntil("END\r\n");
                            assertTrue(tail.matches("\\d+\r\nEND\r\n"), tail);
                        }
                    }
                    return null;
                }));
            }
            for (final Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        try (LoopbackClient check = new LoopbackClient(sockets, server.port())) {
            final String total = String.valueOf(clients * rounds);
            final String expected = "VALUE counter 0 " + total.length() + "\r\n" + total + "\r\nEND\r\n";
            assertEquals(expected, check.call("get counter\r\n", expected));
            final String last = "VALUE k5-149 5 ";
            assertTrue(check.call("get k5-149\r\n", last).startsWith(last));
        }
        assertTrue(server.items() >= clients * rounds + 1, "items " + server.items());
    }

    @Test
    void shouldRefuseConnectionsAboveTheLimitAndCloseOnQuit() {
        LoopbackClient.await(() -> server.connections() == 0, "earlier connections to close");
        final List<LoopbackClient> open = new ArrayList<>();
        try {
            for (int i = 0; i < CONN_LIMIT; i++) {
                final LoopbackClient c = new LoopbackClient(sockets, server.port());
                open.add(c);
                assertEquals("VERSION 1.6.21\r\n", c.call("version\r\n", "VERSION 1.6.21\r\n"));
            }
            try (LoopbackClient extra = new LoopbackClient(sockets, server.port())) {
                final String refused = "ERROR Too many open connections\r\n";
                assertEquals(refused, extra.read(refused.length()));
                assertEquals(0, extra.recvOnce());
            }
            final LoopbackClient first = open.get(0);
            first.send("quit\r\n");
            assertEquals(0, first.recvOnce());
        } finally {
            open.forEach(LoopbackClient::close);
        }
        LoopbackClient.await(() -> server.connections() == 0, "connections to close");
        try (LoopbackClient again = new LoopbackClient(sockets, server.port())) {
            final String stats = again.call("stats\r\n", "STAT pid");
            assertEquals("STAT pid", stats);
        }
    }

    @Test
    void shouldRunItsAcceptorAndWorkersAsApplicationKernelThreadsOneWorkerStartedPerVcpu() {
        final List<KThread> threads = kernel.services().require(Scheduler.class).threads();
        for (final String name : List.of("memcached-acceptor", "memcached-worker-0", "memcached-worker-1")) {
            final KThread t = threads.stream().filter(k -> k.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no kernel thread " + name + " in " + threads));
            assertTrue(t.isApplication(), name + " is application code");
        }
        final KThread w0 = threads.stream().filter(k -> k.name().equals("memcached-worker-0")).findFirst().orElseThrow();
        final KThread w1 = threads.stream().filter(k -> k.name().equals("memcached-worker-1")).findFirst().orElseThrow();
        // one worker per vCPU to start with, free to move (the scheduler's wake-affine rule and balancer)
        assertTrue(!w0.isPinned() && !w1.isPinned(), "workers not pinned");
        assertEquals(2, java.util.Set.of(w0.cpuId(), w1.cpuId()).size(), "the workers started on different vCPUs");
    }

    @Test
    void shouldMoveALargeValueThroughTheSockets() {
        final int size = 1000 * 1000;
        final StringBuilder sb = new StringBuilder(size);
        for (int i = 0; i < size; i++) {
            sb.append((char)('a' + i % 26));
        }
        final String value = sb.toString();
        try (LoopbackClient c = new LoopbackClient(sockets, server.port())) {
            assertEquals("STORED\r\n", c.call("set large 0 0 " + size + "\r\n" + value + "\r\n", "STORED\r\n"));
            final String expected = "VALUE large 0 " + size + "\r\n" + value + "\r\nEND\r\n";
            assertEquals(expected, c.call("get large\r\n", expected));
        }
    }
}
