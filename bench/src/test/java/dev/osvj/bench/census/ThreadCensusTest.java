package dev.osvj.bench.census;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ThreadCensusTest {
    private static final long BURN_NS = 30_000_000;
    private static final int ALLOC_BYTES = 8 << 20;
    private static volatile byte[] sink;

    @Test
    void shouldGroupThreadsByKindAndByFoldedName() {
        assertEquals("server-#-osvj-vcpu-carrier-#", ThreadCensus.kind("k2k-bench-server-3-osvj-vcpu-carrier-0"));
        assertEquals("client-#-virtio-backend", ThreadCensus.kind("k2k-inline-client-12-virtio-backend"));
        assertEquals("one-#-osvj-vcpu-carrier-#", ThreadCensus.kind("k2k-one-4-osvj-vcpu-carrier-0"));
        assertEquals("load-client-#", ThreadCensus.kind("bench-client-3"));
        assertEquals("vswitch-host", ThreadCensus.kind("vswitch-host"));
        assertEquals("osvj-bench-apps-#-osvj-vcpu-carrier-#", ThreadCensus.folded("osvj-bench-apps-1-osvj-vcpu-carrier-0"));
        assertEquals("eth#-gw", ThreadCensus.folded("eth0-gw"));
    }

    @Test
    void shouldNameANativeThreadAsHotSpotDoes() {
        assertEquals("short", ThreadCensus.commOf("short"));
        assertEquals("k2k-bench-serve", ThreadCensus.commOf("k2k-bench-server-3-osvj-vcpu-carrier-0"));
        // 15 UTF-8 bytes, one char per byte as /proc's comm is read
        final String comm = ThreadCensus.commOf("\u00fcn\u00efc\u00f8d\u00e9-thread");
        assertEquals(15, comm.length());
    }

    @Test
    void shouldPairThreadsOfOneNativeNameInOrderOfCpuTime() {
        final Map<Long, String> names = Map.of(1L, "k2k-bench-server-1-a", 2L, "k2k-bench-server-1-b", 3L, "solo");
        final Map<Long, long[]> counters = Map.of(1L, new long[] {9_000, 0}, 2L, new long[] {1_000, 0}, 3L, new long[] {5, 0});
        final Map<Integer, ThreadCensus.NativeSample> natives = new HashMap<>();
        natives.put(100, new ThreadCensus.NativeSample("k2k-bench-serve", 1_010, 0));
        natives.put(101, new ThreadCensus.NativeSample("k2k-bench-serve", 9_020, 0));
        natives.put(102, new ThreadCensus.NativeSample("solo", 7, 0));
        natives.put(103, new ThreadCensus.NativeSample("C2 CompilerThre", 1_000, 0));
        final Map<Long, Integer> tids = ThreadCensus.match(names, counters, natives);
        assertEquals(Map.of(1L, 101, 2L, 100, 3L, 102), tids);
        // more native threads than Java ones under a name: the closest CPU times win
        natives.put(104, new ThreadCensus.NativeSample("k2k-bench-serve", 4_000, 0));
        assertEquals(Map.of(1L, 101, 2L, 100, 3L, 102), ThreadCensus.match(names, counters, natives));
    }

    @Test
    void shouldPairAThreadThatDidNotRunByItsExactCpuTimeFirst() {
        // a ran on between the two reads (5,000 -> 8,000 ns), b slept (7,000 ns on both sides): in order of
        // CPU time a would take b's native thread
        final Map<Long, String> names = Map.of(1L, "k2k-inline-server-2-a", 2L, "k2k-inline-server-2-b");
        final Map<Long, long[]> counters = Map.of(1L, new long[] {5_000, 0}, 2L, new long[] {7_000, 0});
        final Map<Integer, ThreadCensus.NativeSample> natives = Map.of(
            200, new ThreadCensus.NativeSample("k2k-inline-serv", 8_000, 0),
            201, new ThreadCensus.NativeSample("k2k-inline-serv", 7_000, 0));
        assertEquals(Map.of(1L, 200, 2L, 201), ThreadCensus.match(names, counters, natives));
    }

    @Test
    void shouldListTheLiveThreadsWithoutAStackWalk() {
        final List<Thread> live = ThreadCensus.liveThreads();
        assertTrue(live.contains(Thread.currentThread()));
        assertTrue(live.stream().anyMatch(t -> t.getName().equals("Reference Handler")), live.toString());
    }

    @Test
    void shouldShowAThreadThatBurnsCpuUnderItsKind() throws Exception {
        final CountDownLatch go = new CountDownLatch(1);
        final CountDownLatch burned = new CountDownLatch(1);
        final CountDownLatch end = new CountDownLatch(1);
        final Thread burner = Thread.ofPlatform().name("census-test-server-7-burner-1").start(() -> {
            try {
                go.await();
                final java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
                final long t0 = mx.getCurrentThreadCpuTime();
                int allocated = 0;
                while (mx.getCurrentThreadCpuTime() - t0 < BURN_NS || allocated < ALLOC_BYTES) {
                    sink = new byte[4096]; // escapes: really allocated
                    allocated += sink.length;
                }
                burned.countDown();
                end.await();
            } catch (final InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            final ThreadCensus before = ThreadCensus.take();
            go.countDown();
            assertTrue(burned.await(60, TimeUnit.SECONDS));
            final ThreadCensus.Delta d = ThreadCensus.take().since(before);
            final long[] server = d.byGroup(ThreadCensus::kind).get("server-#-burner-#");
            assertTrue(server != null && server[0] >= BURN_NS, "cpu ns " + (server == null ? "none" : server[0]));
            assertTrue(server[2] >= ALLOC_BYTES, "allocated " + server[2]);
            assertTrue(d.processCpuNs() >= BURN_NS);
            final Map<String, Double> byKind = ThreadCensus.perRequestByKind(d, 1_000);
            assertTrue(byKind.get("cpu_us.server-#-burner-#") >= BURN_NS / 1e3 / 1_000, byKind.toString());
            assertTrue(byKind.get("cpu_us.process") >= byKind.get("cpu_us.server-#-burner-#"), byKind.toString());
            final Map<String, Double> byName = new TreeMap<>();
            ThreadCensus.perRequestByName(d, 1_000, 0, byName);
            assertTrue(byName.get("cpu_us.thread.census-test-server-#-burner-#") >= BURN_NS / 1e3 / 1_000, byName.toString());
            assertTrue(byName.get("cpu_us.jvm") >= BURN_NS / 1e3 / 1_000, byName.toString());
            assertFalse(byName.containsKey("cpu_us.server_process"));
        } finally {
            end.countDown();
            burner.join();
        }
    }

    /**
     * A sleep in a blocking read (not a park: {@code ThreadInfo.getWaitedCount}, the census's source
     * until session 9, did not count it) shows under the thread's kind.
     */
    @Test
    void shouldCountASleepInABlockingReadUnderTheThreadsKind() throws Exception {
        final Pipe pipe = Pipe.open();
        final AtomicInteger tid = new AtomicInteger();
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch gotByte = new CountDownLatch(1);
        final Thread reader = Thread.ofPlatform().name("census-test-client-2-reader").start(() -> {
            try {
                tid.set(Integer.parseInt(Files.readSymbolicLink(Path.of("/proc/thread-self")).getFileName().toString()));
                started.countDown();
                final ByteBuffer one = ByteBuffer.allocate(1);
                while (pipe.source().read(one.clear()) > 0) {
                    gotByte.countDown();
                }
            } catch (final IOException e) {
                // the pipe closed: the test ends
            }
        });
        try {
            assertTrue(started.await(60, TimeUnit.SECONDS));
            final ThreadCensus before = ThreadCensus.take();
            final long sleptBefore = voluntarySwitches(tid.get());
            pipe.sink().write(ByteBuffer.wrap(new byte[] {1}));
            assertTrue(gotByte.await(60, TimeUnit.SECONDS));
            // the reader is back in read() with nothing to read: it sleeps, whatever the timing
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (voluntarySwitches(tid.get()) <= sleptBefore && System.nanoTime() < deadline) {
                LockSupport.parkNanos(1_000_000);
            }
            final ThreadCensus.Delta d = ThreadCensus.take().since(before);
            final long[] client = d.byGroup(ThreadCensus::kind).get("client-#-reader");
            assertTrue(client != null && client[1] >= 1, "sleeps " + (client == null ? "none" : client[1]));
            final Map<String, Double> byName = new TreeMap<>();
            ThreadCensus.perRequestByName(d, 1, 0, byName);
            assertTrue(byName.get("waits.thread.census-test-client-#-reader") >= 1, byName.toString());
            assertTrue(byName.get("sleeps.jvm") >= 1, byName.toString());
            final Map<String, Double> byKind = ThreadCensus.perRequestByKind(d, 1);
            assertTrue(byKind.get("waits.client-#-reader") >= 1, byKind.toString());
        } finally {
            pipe.sink().close();
            reader.join();
            pipe.source().close();
        }
    }

    private static long voluntarySwitches(final int tid) throws IOException {
        for (final String line : Files.readAllLines(Path.of("/proc/self/task/" + tid + "/status"))) {
            if (line.startsWith("voluntary_ctxt_switches:")) {
                return Long.parseLong(line.substring(line.indexOf(':') + 1).strip());
            }
        }
        throw new IllegalStateException("no voluntary_ctxt_switches for " + tid);
    }
}
