package dev.osvj.bench;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The closed-loop load: every client runs on its own connection, is closed, and its failures surface. */
class ClosedLoopTest {
    @Test
    void shouldRunEveryClientOnItsOwnConnectionAndCloseIt() throws Exception {
        final ConcurrentHashMap<Integer, AtomicLong> requests = new ConcurrentHashMap<>();
        final AtomicLong closed = new AtomicLong();
        final ClosedLoop.Result r = ClosedLoop.run(index -> new ClosedLoop.Client() {
            @Override
            public void request() {
                requests.computeIfAbsent(index, i -> new AtomicLong()).incrementAndGet();
            }

            @Override
            public void close() {
                closed.incrementAndGet();
            }
        }, 3, TimeUnit.MILLISECONDS.toNanos(50));
        assertEquals(3, requests.size());
        assertEquals(3, closed.get());
        assertTrue(r.opsPerSecond() > 0);
        final long total = requests.values().stream().mapToLong(AtomicLong::get).sum();
        assertTrue(r.latencyNanos().getTotalCount() > 0 && r.latencyNanos().getTotalCount() <= total,
            r.latencyNanos().getTotalCount() + " recorded of " + total);
    }

    @Test
    void shouldFailWithAClientsFailure() {
        final Exception e = assertThrows(Exception.class, () -> ClosedLoop.run(index -> new ClosedLoop.Client() {
            @Override
            public void request() throws IOException {
                if (index == 1) {
                    throw new IOException("server closed the connection");
                }
            }

            @Override
            public void close() {
            }
        }, 2, TimeUnit.MILLISECONDS.toNanos(50)));
        assertTrue(e.toString().contains("server closed the connection"), e.toString());
    }
}
