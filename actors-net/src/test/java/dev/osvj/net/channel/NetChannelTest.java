package dev.osvj.net.channel;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NetChannelTest {
    private final PacketPool pool = new PacketPool(9000, 1024);

    private PacketBuffer packet(final int n) {
        final UnsafeBuffer b = new UnsafeBuffer(new byte[4]);
        b.putInt(0, n);
        return pool.copyOf(b, 0, 4);
    }

    @Test
    void shouldHold256PacketsInOrderAndRefuseTheNext() {
        final NetChannel ch = new NetChannel("owner");
        for (int i = 0; i < NetChannel.CAPACITY; i++) {
            assertTrue(ch.offer(packet(i)));
        }
        assertFalse(ch.offer(packet(999)), "a full ring sends the packet to the general path");
        assertEquals(1, ch.fullDrops());
        for (int i = 0; i < NetChannel.CAPACITY; i++) {
            final PacketBuffer p = ch.poll();
            assertEquals(i, p.buffer.getInt(0));
            p.release();
        }
        assertNull(ch.poll());
        ch.close();
        assertFalse(ch.offer(packet(1)));
        assertSame("owner", ch.owner());
    }

    @Test
    void shouldWakeTheConsumerOncePerBatch() {
        final NetChannel ch = new NetChannel(null);
        assertTrue(ch.offer(packet(1)));
        assertTrue(ch.claimWakeup());
        assertTrue(ch.offer(packet(2)));
        assertFalse(ch.claimWakeup(), "the consumer was already woken for this batch");
        ch.consumerDraining();
        while (ch.poll() != null) {
            // drain
        }
        assertTrue(ch.offer(packet(3)));
        assertTrue(ch.claimWakeup(), "a packet after the drain started wakes again");
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void shouldPassMillionsOfPacketsBetweenTwoThreadsWithoutLossOrReordering() throws Exception {
        final NetChannel ch = new NetChannel(null);
        final int total = 1_000_000;
        final CompletableFuture<Long> consumer = CompletableFuture.supplyAsync(() -> {
            long sum = 0;
            int expected = 0;
            while (expected < total) {
                final PacketBuffer p = ch.poll();
                if (p == null) {
                    Thread.yield(); // not a spin: on a loaded 2-core machine the producer needs the CPU
                    continue;
                }
                final int v = p.buffer.getInt(0);
                if (v != expected) {
                    throw new AssertionError("expected " + expected + " got " + v);
                }
                p.release();
                sum += v;
                expected++;
            }
            return sum;
        });
        for (int i = 0; i < total; i++) {
            final PacketBuffer p = packet(i);
            while (!ch.offer(p)) {
                Thread.yield();
            }
        }
        assertEquals((long)total * (total - 1) / 2, consumer.get(110, TimeUnit.SECONDS));
    }
}
