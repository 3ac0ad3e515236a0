package dev.osvj.net.channel;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PacketPoolTest {
    private static final int CAPACITY = 64;
    private static final int LARGEST = 9000;
    private final PacketPool pool = new PacketPool(LARGEST, CAPACITY);
    private final UnsafeBuffer frame = new UnsafeBuffer(new byte[LARGEST]);

    private List<PacketBuffer> take(final int n, final int length) {
        final List<PacketBuffer> taken = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            taken.add(pool.copyOf(frame, 0, length));
        }
        return taken;
    }

    @Test
    void shouldCreateNoFreeListBeforeTheFirstRelease() {
        final List<PacketBuffer> small = take(3, 60);
        final List<PacketBuffer> large = take(2, LARGEST);
        assertFalse(pool.hasFreeLists(), "taking buffers from an empty pool allocates them, not its free lists");
        small.getFirst().release();
        assertTrue(pool.hasFreeLists());
        assertEquals(1, pool.pooledSmall());
        assertEquals(0, pool.pooledLarge());
        large.forEach(PacketBuffer::release);
        assertEquals(2, pool.pooledLarge());
    }

    @Test
    void shouldGrowToItsCapacityAndLeaveTheRestToTheGc() {
        final List<PacketBuffer> first = take(2 * CAPACITY, 1500);
        first.forEach(PacketBuffer::release);
        assertEquals(CAPACITY, pool.pooledSmall(), "the small class keeps exactly its capacity");
        final Set<PacketBuffer> released = Collections.newSetFromMap(new IdentityHashMap<>());
        released.addAll(first);
        final List<PacketBuffer> again = take(2 * CAPACITY, 1500);
        int recycled = 0;
        for (final PacketBuffer p : again) {
            if (released.contains(p)) {
                recycled++;
            }
        }
        assertEquals(CAPACITY, recycled, "every pooled buffer is handed out again, then new ones are made");
        assertEquals(0, pool.pooledSmall());
    }

    @Test
    void shouldKeepAnEighthOfTheCapacityOfLargeBuffersAndRefuseFramesBeyondTheLargest() {
        take(CAPACITY, LARGEST).forEach(PacketBuffer::release);
        assertEquals(Math.max(16, CAPACITY / 8), pool.pooledLarge());
        assertEquals(0, pool.pooledSmall());
        assertNull(pool.copyOf(new UnsafeBuffer(new byte[LARGEST + 1]), 0, LARGEST + 1));
    }

    @Test
    void shouldCopyTheFrameAndClearTheChecksumMark() {
        frame.putInt(0, 0xCAFEBABE);
        final PacketBuffer p = pool.copyOf(frame, 0, 4);
        p.checksumValid = true;
        p.release();
        frame.putInt(0, 0x12345678);
        final PacketBuffer q = pool.copyOf(frame, 0, 4);
        assertEquals(0x12345678, q.buffer.getInt(0));
        assertEquals(4, q.length);
        assertFalse(q.checksumValid);
    }
}
