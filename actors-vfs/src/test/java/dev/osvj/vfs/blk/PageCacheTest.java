package dev.osvj.vfs.blk;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PageCacheTest {
    @Test
    void shouldServeBytesAcrossPagesAndCountHits() {
        final byte[] data = new byte[64 * 1024];
        new Random(3).nextBytes(data);
        final PageCache cache = new PageCache(new MemoryBlockDevice("m", data, true), 64);
        final ByteBuffer dst = ByteBuffer.allocate(10000);
        assertEquals(0, cache.read(4000, dst));
        final byte[] expect = java.util.Arrays.copyOfRange(data, 4000, 14000);
        assertArrayEquals(expect, dst.array());
        assertEquals(4, cache.misses());
        assertEquals(0, cache.read(4000, dst.clear()));
        assertEquals(4, cache.hits());
        assertEquals(-5, cache.read(data.length - 10, ByteBuffer.allocate(20)));
    }

    @Test
    void shouldStayWithinItsBoundAndKeepReferencedPages() {
        final byte[] data = new byte[1 << 20];
        for (int i = 0; i < data.length; i += 4096) {
            data[i] = (byte)(i / 4096);
        }
        final PageCache cache = new PageCache(new MemoryBlockDevice("m", data, true), 8);
        final ByteBuffer one = ByteBuffer.allocate(1);
        for (int p = 0; p < 256; p++) {
            assertEquals(0, cache.read(p * 4096L, one.clear()));
            assertEquals((byte)p, one.get(0));
            // page 0 is read again and again: CLOCK keeps it
            assertEquals(0, cache.read(0, one.clear()));
            assertTrue(cache.size() <= 8, "size " + cache.size());
        }
        final long missesBefore = cache.misses();
        cache.read(0, one.clear());
        assertEquals(missesBefore, cache.misses(), "the hot page survived eviction");
    }
}
