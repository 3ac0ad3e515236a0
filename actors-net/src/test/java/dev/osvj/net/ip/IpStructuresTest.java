package dev.osvj.net.ip;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IpStructuresTest {
    private static final long S = 1_000_000_000L;

    private static UnsafeBuffer data(final int n, final int seed) {
        final byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte)(i + seed);
        }
        return new UnsafeBuffer(b);
    }

    @Test
    void shouldReassembleOutOfOrderAndOverlappingFragments() {
        final Reassembler r = new Reassembler(4, 256 * 1024, 30 * S);
        final UnsafeBuffer whole = data(3000, 1);
        final UnsafeBuffer out = new UnsafeBuffer(new byte[65536]);
        assertEquals(Reassembler.PENDING, r.add(0, 1, 2, 7, 17, 2400, false, whole, 2400, 600, out));
        assertEquals(Reassembler.PENDING, r.add(0, 1, 2, 7, 17, 0, true, whole, 0, 1200, out));
        assertEquals(Reassembler.PENDING, r.add(0, 1, 2, 7, 17, 800, true, whole, 800, 800, out), "overlap");
        assertEquals(3000, r.add(0, 1, 2, 7, 17, 1600, true, whole, 1600, 800, out));
        for (int i = 0; i < 3000; i++) {
            assertEquals(whole.getByte(i), out.getByte(i));
        }
        assertEquals(0, r.inProgress());
        assertEquals(0, r.bytesInUse());
    }

    @Test
    void shouldBoundMemoryTimeOutAndRejectMalformedFragments() {
        final Reassembler r = new Reassembler(4, 64 * 1024, 30 * S);
        final UnsafeBuffer d = data(1480, 0);
        final UnsafeBuffer out = new UnsafeBuffer(new byte[65536]);
        // a flood of first fragments of different datagrams: at most 4 held, memory bounded
        for (int id = 0; id < 100; id++) {
            r.add(id, 1, 2, id, 17, 0, true, d, 0, 1480, out);
        }
        assertEquals(4, r.inProgress());
        assertTrue(r.bytesInUse() <= 64 * 1024);
        assertTrue(r.evictions() >= 96);
        // a fragment far into the datagram cannot grow a buffer past the memory bound alone
        assertEquals(Reassembler.PENDING, r.add(200, 3, 4, 1, 17, 60000, true, d, 0, 1480, out));
        assertTrue(r.bytesInUse() <= 64 * 1024);
        r.expire(31 * S + 200);
        assertEquals(0, r.inProgress());
        assertTrue(r.timeouts() > 0);
        assertEquals(Reassembler.DROPPED, r.add(0, 1, 2, 9, 17, 0, true, d, 0, 1001, out), "not a multiple of 8");
        assertEquals(Reassembler.DROPPED, r.add(0, 1, 2, 9, 17, 65000, false, d, 0, 1480, out), "beyond 64 KiB");
        assertEquals(Reassembler.PENDING, r.add(0, 1, 2, 10, 17, 1480, false, d, 0, 100, out));
        assertEquals(Reassembler.DROPPED, r.add(0, 1, 2, 10, 17, 2000, true, d, 0, 8, out), "past the known end");
    }

    @Test
    void shouldExpireArpEntriesAndRateLimitRequests() {
        final ArpCache c = new ArpCache(60 * S, S, 8);
        assertEquals(-1, c.lookup(5, 0));
        assertTrue(c.shouldRequest(5, 0));
        assertFalse(c.shouldRequest(5, S / 2));
        assertTrue(c.shouldRequest(5, S));
        c.update(5, 0xABCDEFL, 2 * S);
        assertEquals(0xABCDEFL, c.lookup(5, 3 * S));
        assertEquals(-1, c.lookup(5, 62 * S));
        assertEquals(1, c.neighbours(3 * S).size());
    }

    @Test
    void shouldPickTheLongestPrefix() {
        final RouteTable t = new RouteTable();
        t.add(new RouteTable.Route(0, 0, 0x0A000202, 1));
        t.add(new RouteTable.Route(0x0A000200, 0xFFFFFF00, 0, 1));
        t.add(new RouteTable.Route(0x7F000000, 0xFF000000, 0, 0));
        assertEquals(0, t.lookup(0x7F000001).ifIndex());
        assertEquals(0, t.lookup(0x0A000205).gateway());
        assertEquals(0x0A000202, t.lookup(0x08080808).gateway());
        t.removeInterface(1);
        assertEquals(null, t.lookup(0x08080808));
    }
}
