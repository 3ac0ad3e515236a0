package dev.osvj.net.testing;

import dev.osvj.net.stack.NetCounters.Counter;
import dev.osvj.net.stack.NetFaults;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;

import java.security.MessageDigest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The receiving side of the supervision tests (the stack's own {@code NetSupervisionTest} and the
 * system module's {@code VirtioNetSupervisionTest}): accepts one connection and reads it to EOF,
 * hashing every byte, while it crashes the stack's actors through {@link NetFaults}: the receive
 * ("interrupt") actor after a quarter of the bytes, the flow's net-channel actor at half (the sink
 * stops reading, so that the flow actor consumes the channel, until the restarted actor has drained
 * it), and the receive actor again at three quarters.
 */
public final class FaultedSink {
    private FaultedSink() {
    }

    /**
     * Accept on {@code listenFd} of {@code api} and read {@code size} bytes, crashing {@code stack}'s
     * actors on the way.
     *
     * @return the SHA-256 of what was received (fails if it was not exactly {@code size} bytes).
     */
    public static CompletableFuture<byte[]> start(final Sockets api, final int listenFd, final int size,
        final NetStack stack) {
        final NetFaults faults = stack.faults();
        return CompletableFuture.supplyAsync(() -> {
            try {
                final int c = api.accept(listenFd, null);
                assertTrue(c > 0, "accept " + c);
                assertEquals(0, api.setsockopt(c, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 60_000));
                final MessageDigest md = MessageDigest.getInstance("SHA-256");
                final byte[] b = new byte[65536];
                long total = 0;
                int stage = 0;
                int n;
                while ((n = api.recv(c, b, 0, b.length, 0)) > 0) {
                    md.update(b, 0, n);
                    total += n;
                    if (stage == 0 && total >= size / 4) {
                        stage++;
                        faults.arm(NetFaults.Point.RECEIVE, 1); // the next frame crashes the receive actor
                    } else if (stage == 1 && total >= size / 2) {
                        stage++;
                        // Stop reading: with no application thread waiting, the flow's net-channel
                        // actor consumes the channel, and the armed fault crashes it mid-drain.
                        faults.arm(NetFaults.Point.FLOW_ACTOR, 1);
                        await(() -> faults.fired(NetFaults.Point.FLOW_ACTOR) == 1, "the flow actor's crash");
                        final long drains = stack.counters().get(Counter.TCP_CHANNEL_ACTOR_DRAINS);
                        await(() -> stack.counters().get(Counter.TCP_CHANNEL_ACTOR_DRAINS) > drains,
                            "a drain by the restarted flow actor");
                    } else if (stage == 2 && total >= size * 3L / 4) {
                        stage++;
                        faults.arm(NetFaults.Point.RECEIVE, 1);
                    }
                }
                assertEquals(size, total, "bytes received (last recv " + n + ")");
                api.close(c);
                return md.digest();
            } catch (final Exception e) {
                throw new RuntimeException(e);
            }
        });
    }

    /** Wait (60 s at most) until {@code condition} holds. */
    public static void await(final BooleanSupplier condition, final String what) {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            LockSupport.parkNanos(1_000_000L);
        }
    }
}
