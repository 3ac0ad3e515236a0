package dev.osvj.net.tcp;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static dev.osvj.net.tcp.TcpHarness.MS;
import static dev.osvj.net.tcp.TcpHarness.bytes;
import static dev.osvj.net.tcp.TcpHarness.data;
import static dev.osvj.net.tcp.TcpHarness.seg;
import static dev.osvj.net.wire.TcpSegment.ACK;
import static dev.osvj.net.wire.TcpSegment.SYN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The receive side's window and ACK policy: window scaling that covers receive-buffer autotuning,
 * autotuning itself (the buffer grows only while the reader keeps up), stretch ACKs for a batch of
 * segments (a net channel's drain), and window updates only when the peer's window would otherwise
 * run short. Segments are fed at explicit virtual times; replies are asserted exactly.
 */
class TcpReceiveWindowTest {
    private static final String L = "80>49500 ";
    private static final int MSS = 1460;
    private TcpHarness h;

    @BeforeEach
    void setUp() {
        h = new TcpHarness();
    }

    /** No timestamps or SACK, no delayed ACK, 64 KiB starting buffer autotuning up to 256 KiB. */
    private static TcpConfig autotuned() {
        return TcpConfig.defaults().withOptions(false, false).withDelayedAck(0).withRecvBufferMax(256 * 1024);
    }

    /** Feed {@code n} in-order segments of {@code size} bytes from {@code seq} at {@code now}; returns the next seq. */
    private int feedSized(final int seq, final int n, final int size, final long now) {
        int s = seq;
        for (int i = 0; i < n; i++) {
            h.in(now, data(s, 1001, 512, bytes(size, i)));
            s += size;
        }
        return s;
    }

    @Test
    void shouldBoundTheAutotunedWindowBySegmentsANetChannelHoldsUnlessTheyAreSuperFrames() {
        final TcpConnection c = establish(TcpConfig.defaults().withOptions(false, false).withDelayedAck(0));
        assertEquals(7, c.rcvShift(), "the default 4 MiB ceiling needs window scale 7");
        // MTU-sized segments and a reader that keeps up: the window stops at 192 segments
        int seq = 5001;
        long now = 20 * MS;
        for (int round = 0; round < 8; round++) {
            now += 2 * MS;
            seq = feed(seq, c.recvBufferSize() / MSS * 3 / 4, now);
            h.read(c.recvBufferSize(), now);
        }
        assertEquals(TcpConnection.AUTOTUNE_MAX_SEGMENTS * MSS, c.recvBufferSize());
        // the peer now sends 32 KiB super-frames (a host's TSO with receive offloads): the window may
        // grow on, up to the configured ceiling
        final int big = 32 * 1024;
        for (int round = 0; round < 8; round++) {
            now += 2 * MS;
            seq = feedSized(seq, c.recvBufferSize() / big * 3 / 4, big, now);
            h.read(c.recvBufferSize(), now);
        }
        assertEquals(4 * 1024 * 1024, c.recvBufferSize());
    }

    /** Active open; the peer's SYN-ACK offers window scale 7. Returns the connection in ESTABLISHED. */
    private TcpConnection establish(final TcpConfig cfg) {
        h.connect(cfg, 1000, 0);
        h.clear();
        final var synAck = seg(SYN | ACK, 5000, 1001, 65535);
        synAck.options.mss = MSS;
        synAck.options.windowShift = 7;
        h.in(10 * MS, synAck);
        h.clear();
        return h.conn;
    }

    /** Feed {@code n} full segments in order from {@code seq} at {@code now}; returns the next seq. */
    private int feed(final int seq, final int n, final long now) {
        int s = seq;
        for (int i = 0; i < n; i++) {
            h.in(now, data(s, 1001, 512, bytes(MSS, i)));
            s += MSS;
        }
        return s;
    }

    @Test
    void shouldOfferAWindowScaleThatCoversTheAutotuningCeiling() {
        h.connect(autotuned(), 1000, 0);
        assertEquals(L + "[S] seq 1000 win 65535 len 0 mss 1460 wscale 3", h.sent.get(0));
        assertEquals(7, TcpConfig.defaults().offeredShift(), "the default ceiling, 4 MiB");
        assertEquals(3, TcpConfig.shiftFor(256 * 1024));
        // an explicit SO_RCVBUF (a size other than the default) turns autotuning off and sizes the shift
        h.clear();
        h.connect(autotuned().withBuffers(32 * 1024, 1 << 20), 1000, 0);
        assertEquals(L + "[S] seq 1000 win 65535 len 0 mss 1460 wscale 5", h.sent.get(0));
        assertFalse(h.conn.autotuning());
    }

    @Test
    void shouldGrowTheReceiveBufferWhileTheReaderKeepsUpWithAWindowLimitedPeer() {
        final TcpConnection c = establish(autotuned());
        assertEquals(3, c.rcvShift());
        assertEquals(64 * 1024, c.recvBufferSize());
        // the peer fills most of the 64 KiB window and the application reads it all at once...
        int seq = feed(5001, 30, 20 * MS);
        assertEquals(30 * MSS, h.read(64 * 1024, 20 * MS).length);
        assertEquals(64 * 1024, c.recvBufferSize(), "no decision before one RTT (at least 1 ms) has passed");
        // ...and one RTT later it has read more than half the buffer in that time: the window limits
        seq = feed(seq, 1, 22 * MS);
        h.read(64 * 1024, 22 * MS);
        assertEquals(128 * 1024, c.recvBufferSize());
        assertEquals(1, c.autotuneGrowths());
        h.clear();
        // the grown window goes out with the next ACK: 128 KiB free, in units of 2^3
        h.in(23 * MS, data(seq, 1001, 512, bytes(MSS, 99)));
        h.expect(L + "[.] seq 1001 ack " + (seq + MSS) + " win " + ((128 * 1024 - MSS) >> 3) + " len 0");
        // the ceiling holds: keep the reader fast and the buffer stops at 256 KiB
        long now = 23 * MS;
        seq += MSS;
        for (int round = 0; round < 6; round++) {
            now += 2 * MS;
            final int segments = c.recvBufferSize() / MSS * 3 / 4;
            seq = feed(seq, segments, now);
            h.read(c.recvBufferSize(), now);
        }
        assertEquals(256 * 1024, c.recvBufferSize());
        assertEquals(2, c.autotuneGrowths());
    }

    @Test
    void shouldNotGrowTheReceiveBufferForASlowReader() {
        final TcpConnection c = establish(autotuned());
        int seq = feed(5001, 40, 20 * MS);
        long now = 20 * MS;
        for (int i = 0; i < 20; i++) {
            now += 2 * MS;
            h.read(1000, now); // 1000 bytes per 2 ms: far less than half the buffer per RTT
            seq = feed(seq, 1, now);
        }
        assertEquals(64 * 1024, c.recvBufferSize());
        assertEquals(0, c.autotuneGrowths());
    }

    @Test
    void shouldNotGrowAnExplicitlySizedReceiveBuffer() {
        final TcpConnection c = establish(autotuned());
        c.setRecvBufferSize(64 * 1024); // SO_RCVBUF after connect: fixed from now on
        int seq = feed(5001, 30, 20 * MS);
        h.read(64 * 1024, 20 * MS);
        feed(seq, 30, 22 * MS);
        h.read(64 * 1024, 22 * MS);
        assertEquals(64 * 1024, c.recvBufferSize());
        assertFalse(c.autotuning());
    }

    @Test
    void shouldAcknowledgeABatchOfInOrderSegmentsOnceAtItsEnd() {
        final TcpConnection c = establish(autotuned().withDelayedAck(40 * MS));
        c.beginBatch();
        final int seq = feed(5001, 6, 20 * MS);
        h.expectNothing(); // six full segments, no ACK yet: a stretch ACK at the batch's end
        c.endBatch(20 * MS);
        h.expect(L + "[.] seq 1001 ack " + seq + " win " + ((64 * 1024 - 6 * MSS) >> 3) + " len 0");
        // one segment alone in a batch waits for the delayed-ACK timer, as outside a batch
        c.beginBatch();
        feed(seq, 1, 21 * MS);
        c.endBatch(21 * MS);
        h.expectNothing();
        assertEquals(61 * MS, c.pollAt());
    }

    @Test
    void shouldAcknowledgeMidBatchEvery64KibAndOutOfOrderDataAtOnce() {
        final TcpConnection c = establish(autotuned().withDelayedAck(40 * MS));
        c.setRecvBufferSize(1 << 20); // a buffer large enough that the stretch limit is 64 KiB
        c.beginBatch();
        int seq = feed(5001, 45, 20 * MS); // 65700 bytes: crosses 64 KiB once
        assertEquals(1, h.sent.size(), "one stretch ACK per 64 KiB: " + h.sent);
        h.clear();
        // a hole: the next segment is out of order and is answered at once (a duplicate ACK with the
        // same cumulative ack, which the peer's fast retransmit counts)
        h.in(20 * MS, data(seq + MSS, 1001, 512, bytes(MSS, 1)));
        assertEquals(1, h.sent.size());
        assertTrue(h.sent.get(0).contains(" ack " + seq + " "), h.sent.get(0));
        c.endBatch(20 * MS);
    }

    @Test
    void shouldSendAWindowUpdateOnlyWhenThePeerWouldRunShort() {
        final TcpConnection c = establish(autotuned().withBuffers(32 * 1024, 8 * 1024));
        assertEquals(8 * 1024, c.recvBufferSize());
        assertEquals(0, c.rcvShift(), "an explicit 8 KiB buffer needs no scaling");
        // 1460 in, ACKed at once (no delayed ACK): 6732 left
        h.in(20 * MS, data(5001, 1001, 512, bytes(MSS, 1)));
        h.expect(L + "[.] seq 1001 ack 6461 win 6732 len 0");
        // reading it grows the window by one MSS, but the peer may still send 6732 of 8192: no update
        h.read(MSS, 21 * MS);
        h.expectNothing();
        // four more segments leave the peer 2352; reading them reopens 8192, more than twice that
        h.in(22 * MS, data(6461, 1001, 512, bytes(4 * MSS, 2)));
        h.expect(L + "[.] seq 1001 ack 12301 win 2352 len 0");
        h.read(8192, 23 * MS);
        h.expect(L + "[.] seq 1001 ack 12301 win 8192 len 0");
    }
}
