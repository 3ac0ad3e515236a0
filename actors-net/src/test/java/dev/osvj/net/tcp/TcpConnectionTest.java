package dev.osvj.net.tcp;

import dev.osvj.kernel.Errno;
import dev.osvj.net.wire.TcpRepr;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.osvj.net.tcp.TcpHarness.MS;
import static dev.osvj.net.tcp.TcpHarness.bytes;
import static dev.osvj.net.tcp.TcpHarness.data;
import static dev.osvj.net.tcp.TcpHarness.seg;
import static dev.osvj.net.wire.TcpSegment.ACK;
import static dev.osvj.net.wire.TcpSegment.FIN;
import static dev.osvj.net.wire.TcpSegment.RST;
import static dev.osvj.net.wire.TcpSegment.SYN;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Segment-level tests of the TCP state machine: segments are fed at explicit virtual times and the
 * exact segments sent in reply are asserted (tcpdump-like text: ports, flags, seq, ack, window,
 * length, options). Our ISS is 1000, the peer's 5000, unless a test says otherwise.
 */
class TcpConnectionTest {
    private static final String L = "80>49500 ";
    private TcpHarness h;

    @BeforeEach
    void setUp() {
        h = new TcpHarness();
    }

    private static TcpRepr synAck(final int window, final int mss, final int shift) {
        final TcpRepr r = seg(SYN | ACK, 5000, 1001, window);
        r.options.mss = mss;
        r.options.windowShift = shift;
        return r;
    }

    /** Active open with the plain config; the SYN's RTT is 10 ms, so SRTT 10 ms and RTO = min 200 ms. */
    private TcpConnection establish(final TcpConfig cfg, final int window, final int mss, final int shift) {
        h.connect(cfg, 1000, 0);
        h.clear();
        h.in(10 * MS, synAck(window, mss, shift));
        h.clear();
        h.events.clear();
        return h.conn;
    }

    private TcpConnection establish() {
        return establish(TcpHarness.plain(), 65535, 1460, 0);
    }

    // ----- handshake ---------------------------------------------------------------------------

    @Test
    void shouldSendSynWithMssAndWindowScaleOnConnect() {
        final TcpConnection c = h.connect(TcpHarness.plain(), 1000, 0);
        h.expect(L + "[S] seq 1000 win 65535 len 0 mss 1460 wscale 0");
        assertEquals(TcpState.SYN_SENT, c.state());
        assertEquals(1000 * MS, c.retransmitDeadline(), "initial RTO is 1 s (RFC 6298 §2.1)");
    }

    @Test
    void shouldOfferSackTimestampsAndScaledWindowByDefault() {
        h.connect(TcpConfig.defaults(), 1000, 0);
        assertEquals(1, h.sent.size());
        // wscale 7: enough for the 4 MiB autotuning ceiling, not just the 64 KiB starting buffer
        assertTrue(h.sent.get(0).startsWith(L + "[S] seq 1000 win 65535 len 0 mss 1460 wscale 7 sackOK TS val "),
            h.sent.get(0));
        assertTrue(h.sent.get(0).endsWith(" ecr 0"));
    }

    @Test
    void shouldEstablishOnSynAckAndApplyPeerOptions() {
        h.connect(TcpHarness.plain(), 1000, 0);
        h.clear();
        h.in(10 * MS, synAck(1000, 1400, 2));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 0");
        final TcpConnection c = h.conn;
        assertEquals(TcpState.ESTABLISHED, c.state());
        assertEquals(1400, c.sndMss());
        assertEquals(1000, c.sndWnd(), "the SYN-ACK's window is never scaled");
        h.in(11 * MS, seg(ACK, 5001, 1001, 1000));
        assertEquals(4000, c.sndWnd(), "later windows are scaled by the peer's shift");
        assertEquals(10 * MS, c.srttNs());
        assertEquals(200 * MS, c.rtoNs(), "RTO clamps to the 200 ms minimum");
    }

    @Test
    void shouldResetAnUnacceptableSynAck() {
        h.connect(TcpHarness.plain(), 1000, 0);
        h.clear();
        final TcpRepr bad = synAck(1000, 1460, 0);
        bad.ack = 2000;
        h.in(5 * MS, bad);
        h.expect(L + "[R] seq 2000 win 0 len 0");
        assertEquals(TcpState.SYN_SENT, h.conn.state());
    }

    @Test
    void shouldReportConnectionRefusedOnRstAckInSynSent() {
        h.connect(TcpHarness.plain(), 1000, 0);
        h.clear();
        h.in(5 * MS, seg(RST | ACK, 0, 1001, 0));
        h.expectNothing();
        assertEquals(TcpState.CLOSED, h.conn.state());
        assertEquals(Errno.ECONNREFUSED.number(), h.conn.error());
    }

    @Test
    void shouldIgnoreRstWithoutAckInSynSent() {
        h.connect(TcpHarness.plain(), 1000, 0);
        h.clear();
        h.in(5 * MS, seg(RST, 0, 0, 0));
        h.expectNothing();
        assertEquals(TcpState.SYN_SENT, h.conn.state());
    }

    @Test
    void shouldCompleteSimultaneousOpen() {
        h.connect(TcpHarness.plain(), 1000, 0);
        h.clear();
        final TcpRepr syn = seg(SYN, 5000, 0, 65535);
        syn.options.mss = 1460;
        syn.options.windowShift = 0;
        h.in(5 * MS, syn);
        h.expect(L + "[S.] seq 1000 ack 5001 win 65535 len 0 mss 1460 wscale 0");
        assertEquals(TcpState.SYN_RECEIVED, h.conn.state());
        // the peer's SYN-ACK (its answer to our SYN) completes the handshake on our side
        h.in(6 * MS, synAck(65535, 1460, 0));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 0");
        assertEquals(TcpState.ESTABLISHED, h.conn.state());
    }

    @Test
    void shouldAcceptPassiveOpenEchoingOnlyOfferedOptions() {
        final TcpRepr syn = seg(SYN, 5000, 0, 65535);
        syn.options.mss = 1460;
        syn.options.windowShift = 7;
        syn.options.sackPermitted = true;
        h.accept(TcpHarness.plain(), 1000, syn, 0);
        h.expect(L + "[S.] seq 1000 ack 5001 win 65535 len 0 mss 1460 wscale 0");
        assertEquals(TcpState.SYN_RECEIVED, h.conn.state());
        h.in(1 * MS, seg(ACK, 5001, 1001, 100));
        h.expectNothing();
        assertEquals(TcpState.ESTABLISHED, h.conn.state());
        assertEquals(100 << 7, h.conn.sndWnd());
        assertEquals(List.of("CLOSED->SYN_RECEIVED", "established", "SYN_RECEIVED->ESTABLISHED"), h.events);
    }

    @Test
    void shouldNotSendWindowScaleInSynAckWhenPeerDidNotOfferIt() {
        final TcpRepr syn = seg(SYN, 5000, 0, 65535);
        syn.options.mss = 1460;
        h.accept(TcpConfig.defaults().withOptions(false, false), 1000, syn, 0);
        h.expect(L + "[S.] seq 1000 ack 5001 win 65535 len 0 mss 1460");
        assertEquals(0, h.conn.rcvShift());
    }

    @Test
    void shouldRepeatSynAckForRetransmittedSynAndStayWhenAcceptQueueIsFull() {
        final TcpRepr syn = seg(SYN, 5000, 0, 65535);
        h.accept(TcpHarness.plain(), 1000, syn, 0);
        h.clear();
        h.in(100 * MS, seg(SYN, 5000, 0, 65535));
        h.expect(L + "[S.] seq 1000 ack 5001 win 65535 len 0 mss 1460");
        h.refuseEstablish = true;
        h.in(200 * MS, seg(ACK, 5001, 1001, 65535));
        h.expectNothing();
        assertEquals(TcpState.SYN_RECEIVED, h.conn.state(), "no RST when the backlog overflows (OSv #283)");
        h.refuseEstablish = false;
        h.in(300 * MS, seg(ACK, 5001, 1001, 65535));
        assertEquals(TcpState.ESTABLISHED, h.conn.state());
    }

    @Test
    void shouldResetAnAckWithWrongNumberInSynReceived() {
        h.accept(TcpHarness.plain(), 1000, seg(SYN, 5000, 0, 65535), 0);
        h.clear();
        h.in(1 * MS, seg(ACK, 5001, 777, 65535));
        h.expect(L + "[R] seq 777 win 0 len 0");
        assertEquals(TcpState.SYN_RECEIVED, h.conn.state());
    }

    @Test
    void shouldGiveUpConnectAfterSynRetriesWithBackoff() {
        final TcpConnection c = h.connect(TcpHarness.plain(), 1000, 0);
        h.clear();
        long expectedGap = 2000 * MS;
        long t = c.retransmitDeadline();
        assertEquals(1000 * MS, t);
        for (int i = 0; i < 6; i++) {
            c.poll(t);
            h.expect(L + "[S] seq 1000 win 65535 len 0 mss 1460 wscale 0");
            assertEquals(t + expectedGap, c.retransmitDeadline(), "retry " + i);
            t = c.retransmitDeadline();
            expectedGap = Math.min(expectedGap * 2, 60_000 * MS);
        }
        c.poll(t);
        h.expectNothing();
        assertEquals(TcpState.CLOSED, c.state());
        assertEquals(Errno.ETIMEDOUT.number(), c.error());
    }

    // ----- receiving ---------------------------------------------------------------------------

    @Test
    void shouldDelayAckForOneSegmentAndAckEverySecondFullSegmentAtOnce() {
        final TcpConnection c = establish(TcpHarness.plain().withDelayedAck(40 * MS), 65535, 1460, 0);
        h.in(20 * MS, data(5001, 1001, 65535, bytes(100, 1)));
        h.expectNothing();
        assertEquals(60 * MS, c.pollAt());
        c.poll(60 * MS);
        h.expect(L + "[.] seq 1001 ack 5101 win 65435 len 0");
        h.in(70 * MS, data(5101, 1001, 65535, bytes(1460, 2)));
        h.expectNothing();
        h.in(71 * MS, data(6561, 1001, 65535, bytes(1460, 3)));
        h.expect(L + "[.] seq 1001 ack 8021 win 62515 len 0");
        assertEquals(TcpConnection.NEVER, c.pollAt());
        assertArrayEquals(bytes(100, 1), h.read(100, 80 * MS));
    }

    /**
     * The MSS counts no options (RFC 6691): while out-of-order data waits, every segment carries SACK
     * blocks, so a data segment carries that much less payload and the frame still fits the MTU. (Two
     * gateway peers that both held out-of-order data sent their full-sized retransmissions with SACK
     * blocks, 12 bytes over the MTU: IP dropped them, neither hole ever filled, the flow stalled.)
     */
    @Test
    void shouldShrinkDataSegmentsByTheSackOptionWhileHoldingOutOfOrderData() {
        final TcpConfig cfg = TcpHarness.plain().withOptions(true, true);
        h.connect(cfg, 1000, 0);
        final TcpRepr sa = synAck(65535, 1460, 0);
        sa.options.sackPermitted = true;
        sa.options.hasTimestamp = true;
        sa.options.tsVal = 100;
        h.in(10 * MS, sa);
        assertEquals(1448, h.conn.sndMss());
        h.conn.setNoDelay(true, 10 * MS); // no Nagle: every segment of a write goes at once
        h.in(20 * MS, stamped(data(5101, 1001, 65535, bytes(100, 2)), 101));
        h.in(21 * MS, stamped(data(5301, 1001, 65535, bytes(50, 3)), 102));
        assertEquals(2, h.conn.outOfOrderRanges());
        h.clear();
        assertEquals(4000, h.write(bytes(4000, 4), 30 * MS));
        final List<Integer> lengths = h.payloads.stream().map(b -> b.length).toList();
        // timestamps (12) and two SACK blocks (4 + 2 * 8) beside 1448 - 20 = 1428 bytes of payload
        assertEquals(List.of(1428, 1428, 1144), lengths, h.sent.toString());
        for (final String seg : h.sent) {
            assertTrue(seg.contains(" sack 5301:5351 sack 5101:5201"), seg);
        }
        // the hole filled: full-sized segments again
        h.in(40 * MS, stamped(data(5001, 1001 + 4000, 65535, bytes(100, 1)), 103));
        h.in(41 * MS, stamped(data(5201, 1001 + 4000, 65535, bytes(100, 5)), 104));
        assertEquals(0, h.conn.outOfOrderRanges());
        h.clear();
        assertEquals(3000, h.write(bytes(3000, 6), 50 * MS));
        assertEquals(List.of(1448, 1448, 104), h.payloads.stream().map(b -> b.length).toList(), h.sent.toString());
    }

    private static TcpRepr stamped(final TcpRepr r, final int tsVal) {
        r.options.hasTimestamp = true;
        r.options.tsVal = tsVal;
        return r;
    }

    @Test
    void shouldAckOutOfOrderAtOnceWithSackAndReassemble() {
        final TcpConfig cfg = TcpHarness.plain().withOptions(true, false);
        h.connect(cfg, 1000, 0);
        final TcpRepr sa = synAck(65535, 1460, 0);
        sa.options.sackPermitted = true;
        h.in(10 * MS, sa);
        h.clear();
        h.in(20 * MS, data(5101, 1001, 65535, bytes(100, 2)));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 0 sack 5101:5201");
        h.in(21 * MS, data(5301, 1001, 65535, bytes(50, 3)));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 0 sack 5301:5351 sack 5101:5201");
        assertEquals(2, h.conn.outOfOrderRanges());
        h.in(22 * MS, data(5001, 1001, 65535, bytes(100, 1)));
        h.expect(L + "[.] seq 1001 ack 5201 win 65335 len 0 sack 5301:5351");
        final byte[] got = h.read(1000, 30 * MS);
        final byte[] want = new byte[200];
        System.arraycopy(bytes(100, 1), 0, want, 0, 100);
        System.arraycopy(bytes(100, 2), 0, want, 100, 100);
        assertArrayEquals(want, got);
    }

    @Test
    void shouldDropDuplicateDataAndAckIt() {
        establish();
        h.in(20 * MS, data(5001, 1001, 65535, bytes(100, 1)));
        h.expect(L + "[.] seq 1001 ack 5101 win 65435 len 0");
        h.in(21 * MS, data(5001, 1001, 65535, bytes(100, 1)));
        h.expect(L + "[.] seq 1001 ack 5101 win 65435 len 0");
        assertEquals(100, h.conn.readable());
    }

    @Test
    void shouldTrimDataBeyondTheWindowAndAnnounceReopenedWindow() {
        final TcpConnection c = establish(TcpHarness.plain().withBuffers(32 * 1024, 4096), 65535, 1460, 0);
        h.in(20 * MS, data(5001, 1001, 65535, bytes(1460, 1)));
        h.expect(L + "[.] seq 1001 ack 6461 win 2636 len 0");
        h.in(21 * MS, data(6461, 1001, 65535, bytes(1460, 2)));
        h.expect(L + "[.] seq 1001 ack 7921 win 1176 len 0");
        h.in(22 * MS, data(7921, 1001, 65535, bytes(1460, 3)));
        h.expect(L + "[.] seq 1001 ack 9097 win 0 len 0");
        assertEquals(4096, c.readable());
        // a segment into the zero window is not acceptable: ACK and drop
        h.in(23 * MS, data(9097, 1001, 65535, bytes(10, 4)));
        h.expect(L + "[.] seq 1001 ack 9097 win 0 len 0");
        // receiver SWS avoidance: reading 100 bytes does not announce; 2000 more does
        h.read(100, 30 * MS);
        h.expectNothing();
        h.read(2000, 31 * MS);
        h.expect(L + "[.] seq 1001 ack 9097 win 2100 len 0");
    }

    // ----- sending -----------------------------------------------------------------------------

    @Test
    void shouldSendMssSegmentsWithinTheScaledWindowAndHoldTheTailByNagle() {
        final TcpConnection c = establish(TcpHarness.plain(), 1000, 1400, 2);
        h.in(20 * MS, seg(ACK, 5001, 1001, 1000)); // 1000 << 2
        assertEquals(5000, h.write(bytes(5000, 1), 100 * MS));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 1400", L + "[.] seq 2401 ack 5001 win 65535 len 1400");
        h.in(120 * MS, seg(ACK, 5001, 2401, 1000));
        h.expect(L + "[.] seq 3801 ack 5001 win 65535 len 1400");
        assertEquals(800, c.sendQueued() - (c.sndNxt() - c.sndUna()), "800 bytes wait for an ACK (Nagle)");
        h.in(130 * MS, seg(ACK, 5001, 5201, 1000));
        h.expect(L + "[P.] seq 5201 ack 5001 win 65535 len 800");
    }

    @Test
    void shouldFillAWindowSmallerThanHalfTheLargestWhenNothingIsInFlight() {
        final TcpConnection c = establish();
        h.write(bytes(1000, 1), 100 * MS);
        h.expect(L + "[P.] seq 1001 ack 5001 win 65535 len 1000");
        h.in(110 * MS, seg(ACK, 5001, 2001, 1000));
        h.write(bytes(5000, 2), 120 * MS);
        // 1000 < max window / 2, but with nothing in flight no ACK would ever open it further
        h.expect(L + "[.] seq 2001 ack 5001 win 65535 len 1000");
        assertEquals(1000, c.sndNxt() - c.sndUna());
    }

    @Test
    void shouldHoldSmallSegmentsWhileDataIsUnackedUnlessNoDelay() {
        final TcpConnection c = establish();
        h.write(bytes(100, 1), 100 * MS);
        h.expect(L + "[P.] seq 1001 ack 5001 win 65535 len 100");
        h.write(bytes(100, 2), 101 * MS);
        h.expectNothing();
        h.in(110 * MS, seg(ACK, 5001, 1101, 65535));
        h.expect(L + "[P.] seq 1101 ack 5001 win 65535 len 100");
        c.setNoDelay(true, 111 * MS);
        h.write(bytes(10, 3), 112 * MS);
        h.write(bytes(10, 4), 113 * MS);
        h.expect(L + "[P.] seq 1201 ack 5001 win 65535 len 10", L + "[P.] seq 1211 ack 5001 win 65535 len 10");
    }

    @Test
    void shouldRetransmitOnTimeoutWithDoublingBackoff() {
        final TcpConnection c = establish();
        h.write(bytes(100, 1), 100 * MS);
        h.clear();
        assertEquals(300 * MS, c.retransmitDeadline());
        c.poll(299 * MS);
        h.expectNothing();
        c.poll(300 * MS);
        h.expect(L + "[P.] seq 1001 ack 5001 win 65535 len 100");
        assertEquals(700 * MS, c.retransmitDeadline());
        c.poll(700 * MS);
        h.expect(L + "[P.] seq 1001 ack 5001 win 65535 len 100");
        assertEquals(1500 * MS, c.retransmitDeadline());
        assertEquals(1460, c.cwnd(), "loss window is one segment");
        // Karn: the ACK of a retransmitted segment gives no sample; the backed-off RTO stays
        h.in(1510 * MS, seg(ACK, 5001, 1101, 65535));
        assertEquals(10 * MS, c.srttNs());
        assertEquals(800 * MS, c.rtoNs());
        assertEquals(TcpConnection.NEVER, c.retransmitDeadline());
    }

    @Test
    void shouldTakeRttSamplesAndComputeRtoPerRfc6298() {
        final TcpConnection c = establish(TcpHarness.plain().withRto(1000 * MS, MS, 60_000 * MS), 65535, 1460, 0);
        assertEquals(10 * MS, c.srttNs());
        assertEquals(30 * MS, c.rtoNs(), "SRTT + 4 * RTTVAR = 10 + 4 * 5");
        h.write(bytes(100, 1), 100 * MS);
        h.in(150 * MS, seg(ACK, 5001, 1101, 65535));
        // RTTVAR = 3/4 * 5 + 1/4 * |10 - 50| = 13.75; SRTT = 7/8 * 10 + 1/8 * 50 = 15
        assertEquals(15 * MS, c.srttNs());
        assertEquals(15 * MS + 55 * MS, c.rtoNs());
    }

    @Test
    void shouldFastRetransmitOnThreeDupAcksAndRecoverWithNewReno() {
        final TcpConnection c = establish();
        h.write(bytes(14600, 1), 100 * MS);
        assertEquals(10, h.sent.size(), "initial window is 10 segments (RFC 6928)");
        h.clear();
        h.in(110 * MS, seg(ACK, 5001, 1001, 65535));
        h.in(111 * MS, seg(ACK, 5001, 1001, 65535));
        h.expectNothing();
        h.in(112 * MS, seg(ACK, 5001, 1001, 65535));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 1460");
        assertTrue(c.inRecovery());
        assertEquals(7300, c.ssthresh());
        assertEquals(7300 + 3 * 1460, c.cwnd());
        // partial ACK: the next segment was lost too; retransmit it at once
        h.in(120 * MS, seg(ACK, 5001, 3921, 65535));
        h.expect(L + "[.] seq 3921 ack 5001 win 65535 len 1460");
        assertTrue(c.inRecovery());
        // full ACK: leave recovery with cwnd = min(ssthresh, flight + MSS)
        h.in(130 * MS, seg(ACK, 5001, 15601, 65535));
        h.expectNothing();
        assertFalse(c.inRecovery());
        assertEquals(2920, c.cwnd());
    }

    @Test
    void shouldRetransmitSackHolesAndSkipSackedData() {
        final TcpConfig cfg = TcpHarness.plain().withOptions(true, false);
        h.connect(cfg, 1000, 0);
        final TcpRepr sa = synAck(65535, 1460, 0);
        sa.options.sackPermitted = true;
        h.in(10 * MS, sa);
        final TcpConnection c = h.conn;
        h.write(bytes(14600, 1), 100 * MS);
        h.clear();
        // segments 1 (1001) and 3 (3921) lost
        final TcpRepr d1 = seg(ACK, 5001, 1001, 65535);
        d1.options.addSack(2461, 3921);
        h.in(110 * MS, d1);
        final TcpRepr d2 = seg(ACK, 5001, 1001, 65535);
        d2.options.addSack(5381, 6841);
        d2.options.addSack(2461, 3921);
        h.in(111 * MS, d2);
        h.expectNothing();
        final TcpRepr d3 = seg(ACK, 5001, 1001, 65535);
        d3.options.addSack(5381, 8301);
        d3.options.addSack(2461, 3921);
        h.in(112 * MS, d3);
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 1460");
        final TcpRepr d4 = seg(ACK, 5001, 1001, 65535);
        d4.options.addSack(5381, 9761);
        d4.options.addSack(2461, 3921);
        h.in(113 * MS, d4);
        h.expect(L + "[.] seq 3921 ack 5001 win 65535 len 1460");
        assertTrue(c.inRecovery());
    }

    @Test
    void shouldIgnoreSackBlocksOutsideTheSentRange() {
        final TcpConfig cfg = TcpHarness.plain().withOptions(true, false);
        h.connect(cfg, 1000, 0);
        final TcpRepr sa = synAck(65535, 1460, 0);
        sa.options.sackPermitted = true;
        h.in(10 * MS, sa);
        h.write(bytes(2920, 1), 100 * MS);
        h.clear();
        final TcpRepr bogus = seg(ACK, 5001, 1001, 65535);
        bogus.options.addSack(0x80000000, 0x80001000);
        bogus.options.addSack(900, 1001);
        h.in(110 * MS, bogus);
        h.expectNothing();
        assertEquals(TcpState.ESTABLISHED, h.conn.state());
    }

    @Test
    void shouldProbeAZeroWindowWithBackoffAndResumeWhenItOpens() {
        final TcpConnection c = establish(TcpHarness.plain(), 0, 1460, 0);
        h.write(bytes(100, 1), 100 * MS);
        h.expectNothing();
        assertEquals(300 * MS, c.persistDeadline());
        c.poll(300 * MS);
        assertArrayEquals(new byte[] {bytes(100, 1)[0]}, h.payloads.get(0));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 1");
        assertEquals(700 * MS, c.persistDeadline());
        h.in(310 * MS, seg(ACK, 5001, 1001, 0));
        h.expectNothing();
        c.poll(700 * MS);
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 1");
        assertEquals(1500 * MS, c.persistDeadline());
        h.in(710 * MS, seg(ACK, 5001, 1001, 1000));
        h.expect(L + "[P.] seq 1001 ack 5001 win 65535 len 100");
        assertEquals(TcpConnection.NEVER, c.persistDeadline());
    }

    @Test
    void shouldAcceptAProbeByteThatTheWindowHasRoomFor() {
        final TcpConnection c = establish(TcpHarness.plain(), 0, 1460, 0);
        h.write(bytes(100, 1), 100 * MS);
        c.poll(300 * MS);
        h.clear();
        // the peer took the probe byte and opened its window
        h.in(310 * MS, seg(ACK, 5001, 1002, 1000));
        h.expect(L + "[P.] seq 1002 ack 5001 win 65535 len 99");
        assertEquals(1002, c.sndUna());
    }

    // ----- closing -----------------------------------------------------------------------------

    @Test
    void shouldHalfCloseAndStillReceiveUntilTheTimeWaitEnds() {
        final TcpConnection c = establish();
        c.shutdownWrite(100 * MS);
        h.expect(L + "[F.] seq 1001 ack 5001 win 65535 len 0");
        assertEquals(TcpState.FIN_WAIT_1, c.state());
        assertEquals(-Errno.EPIPE.number(), h.write(bytes(1, 1), 101 * MS));
        h.in(110 * MS, seg(ACK, 5001, 1002, 65535));
        assertEquals(TcpState.FIN_WAIT_2, c.state());
        h.in(120 * MS, data(5001, 1002, 65535, bytes(10, 1)));
        h.expect(L + "[.] seq 1002 ack 5011 win 65525 len 0");
        h.in(130 * MS, seg(FIN | ACK, 5011, 1002, 65535));
        // the FIN takes a sequence number but no buffer space; the right edge stays put (SWS rule)
        h.expect(L + "[.] seq 1002 ack 5012 win 65524 len 0");
        assertEquals(TcpState.TIME_WAIT, c.state());
        assertEquals(130 * MS + 60_000 * MS, c.pollAt());
        // a retransmitted FIN is ACKed again and restarts 2*MSL
        h.in(1130 * MS, seg(FIN | ACK, 5011, 1002, 65535));
        h.expect(L + "[.] seq 1002 ack 5012 win 65524 len 0");
        assertEquals(1130 * MS + 60_000 * MS, c.pollAt());
        c.poll(1130 * MS + 60_000 * MS);
        assertEquals(TcpState.CLOSED, c.state());
        assertArrayEquals(bytes(10, 1), h.read(100, 0));
        assertTrue(c.eof());
    }

    @Test
    void shouldCloseFromCloseWaitThroughLastAck() {
        final TcpConnection c = establish();
        h.in(100 * MS, seg(FIN | ACK, 5001, 1001, 65535));
        h.expect(L + "[.] seq 1001 ack 5002 win 65534 len 0");
        assertEquals(TcpState.CLOSE_WAIT, c.state());
        assertTrue(c.eof());
        h.write(bytes(5, 1), 110 * MS);
        h.expect(L + "[P.] seq 1001 ack 5002 win 65534 len 5");
        c.close(120 * MS);
        h.expect(L + "[F.] seq 1006 ack 5002 win 65534 len 0");
        assertEquals(TcpState.LAST_ACK, c.state());
        h.in(130 * MS, seg(ACK, 5002, 1007, 65535));
        assertEquals(TcpState.CLOSED, c.state());
        assertEquals(0, c.error());
    }

    @Test
    void shouldHandleSimultaneousClose() {
        final TcpConnection c = establish();
        c.shutdownWrite(100 * MS);
        h.expect(L + "[F.] seq 1001 ack 5001 win 65535 len 0");
        h.in(101 * MS, seg(FIN | ACK, 5001, 1001, 65535));
        h.expect(L + "[.] seq 1002 ack 5002 win 65534 len 0");
        assertEquals(TcpState.CLOSING, c.state());
        h.in(102 * MS, seg(ACK, 5002, 1002, 65535));
        assertEquals(TcpState.TIME_WAIT, c.state());
    }

    @Test
    void shouldPiggybackFinOnTheLastDataSegment() {
        final TcpConnection c = establish();
        h.write(bytes(100, 1), 100 * MS);
        h.clear();
        h.write(bytes(50, 2), 101 * MS);
        h.expectNothing();
        c.close(102 * MS);
        h.expect(L + "[FP.] seq 1101 ack 5001 win 65535 len 50");
        h.in(120 * MS, seg(FIN | ACK, 5001, 1152, 65535));
        h.expect(L + "[.] seq 1152 ack 5002 win 65534 len 0");
        assertEquals(TcpState.TIME_WAIT, c.state());
    }

    @Test
    void shouldRetransmitALostFin() {
        final TcpConnection c = establish();
        c.shutdownWrite(100 * MS);
        h.clear();
        c.poll(300 * MS);
        h.expect(L + "[F.] seq 1001 ack 5001 win 65535 len 0");
        h.in(310 * MS, seg(ACK, 5001, 1002, 65535));
        assertEquals(TcpState.FIN_WAIT_2, c.state());
    }

    @Test
    void shouldAbortWithReset() {
        final TcpConnection c = establish();
        c.abort(100 * MS);
        h.expect(L + "[R.] seq 1001 ack 5001 win 0 len 0");
        assertEquals(TcpState.CLOSED, c.state());
    }

    @Test
    void shouldTimeOutAnOrphanInFinWait2() {
        final TcpConnection c = establish();
        c.close(100 * MS);
        h.in(110 * MS, seg(ACK, 5001, 1002, 65535));
        assertEquals(TcpState.FIN_WAIT_2, c.state());
        assertEquals(110 * MS + 60_000 * MS, c.pollAt());
        c.poll(110 * MS + 60_000 * MS);
        assertEquals(TcpState.CLOSED, c.state());
    }

    // ----- RST, challenge ACKs, PAWS (RFC 5961, RFC 7323) ----------------------------------------

    @Test
    void shouldResetOnExactRstAndChallengeInWindowRst() {
        final TcpConnection c = establish();
        h.in(100 * MS, seg(RST, 5101, 0, 0));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 0");
        assertEquals(TcpState.ESTABLISHED, c.state());
        assertEquals(1, c.challengeAcks());
        h.in(101 * MS, seg(RST, 5001 + 70000, 0, 0));
        h.expectNothing();
        assertEquals(TcpState.ESTABLISHED, c.state());
        h.in(102 * MS, seg(RST, 5001, 0, 0));
        h.expectNothing();
        assertEquals(TcpState.CLOSED, c.state());
        assertEquals(Errno.ECONNRESET.number(), c.error());
    }

    @Test
    void shouldChallengeSynInEstablishedAndAckOfUnsentData() {
        final TcpConnection c = establish();
        h.in(100 * MS, seg(SYN, 9999, 0, 100));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 0");
        assertEquals(TcpState.ESTABLISHED, c.state());
        h.in(101 * MS, data(5001, 5000, 65535, bytes(10, 1)));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 0");
        assertEquals(0, c.readable(), "a segment acknowledging unsent data is dropped");
    }

    @Test
    void shouldRateLimitChallengeAcks() {
        final TcpConnection c = establish();
        for (int i = 0; i < 150; i++) {
            h.in(100 * MS + i, seg(RST, 5002, 0, 0));
        }
        assertEquals(100, h.sent.size());
        h.clear();
        h.in(1200 * MS, seg(RST, 5002, 0, 0));
        assertEquals(1, h.sent.size(), "a new second, a new budget");
        assertEquals(TcpState.ESTABLISHED, c.state());
    }

    @Test
    void shouldAnswerRetransmittedSynAckWithAck() {
        establish();
        h.in(100 * MS, synAck(65535, 1460, 0));
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 0");
        assertEquals(TcpState.ESTABLISHED, h.conn.state());
    }

    @Test
    void shouldEchoTimestampsAndDropOldOnesByPaws() {
        final TcpConfig cfg = TcpHarness.plain().withOptions(false, true);
        h.connect(cfg, 1000, 0);
        final String syn = h.sent.get(0);
        final int ourTs = Integer.parseUnsignedInt(syn.replaceAll(".*TS val (\\d+) ecr.*", "$1"));
        h.clear();
        final TcpRepr sa = synAck(65535, 1460, 0);
        sa.options.hasTimestamp = true;
        sa.options.tsVal = 100;
        sa.options.tsEcr = ourTs;
        h.in(10 * MS, sa);
        h.expect(L + "[.] seq 1001 ack 5001 win 65535 len 0 TS val " + Integer.toUnsignedString(ourTs + 10) + " ecr 100");
        assertEquals(1448, h.conn.sndMss(), "12 bytes of every segment go to the timestamp option");
        assertEquals(10 * MS, h.conn.srttNs(), "RTT from the echoed timestamp");
        final TcpRepr d = data(5001, 1001, 65535, bytes(10, 1));
        d.options.hasTimestamp = true;
        d.options.tsVal = 200;
        d.options.tsEcr = ourTs + 10;
        h.in(20 * MS, d);
        h.expect(L + "[.] seq 1001 ack 5011 win 65525 len 0 TS val " + Integer.toUnsignedString(ourTs + 20) + " ecr 200");
        final TcpRepr old = data(5011, 1001, 65535, bytes(10, 2));
        old.options.hasTimestamp = true;
        old.options.tsVal = 150;
        old.options.tsEcr = ourTs + 10;
        h.in(30 * MS, old);
        h.expect(L + "[.] seq 1001 ack 5011 win 65525 len 0 TS val " + Integer.toUnsignedString(ourTs + 30) + " ecr 200");
        assertEquals(1, h.conn.pawsDrops());
        assertEquals(10, h.conn.readable());
        // timestamps across the 2^32 wrap are still "newer"
        final TcpRepr wrapped = data(5011, 1001, 65535, bytes(10, 3));
        wrapped.options.hasTimestamp = true;
        wrapped.options.tsVal = 200 + 0x7FFF_0000;
        h.in(40 * MS, wrapped);
        assertEquals(20, h.conn.readable());
    }

    @Test
    void shouldAcceptSegmentsWithoutTimestampAfterNegotiation() {
        final TcpConfig cfg = TcpHarness.plain().withOptions(false, true);
        h.connect(cfg, 1000, 0);
        final TcpRepr sa = synAck(65535, 1460, 0);
        sa.options.hasTimestamp = true;
        sa.options.tsVal = 100;
        h.in(10 * MS, sa);
        h.in(20 * MS, data(5001, 1001, 65535, bytes(10, 1)));
        assertEquals(10, h.conn.readable(), "gVisor #11536: do not drop segments without TSopt");
    }

    // ----- keepalive ---------------------------------------------------------------------------

    @Test
    void shouldSendKeepaliveProbesAndTimeOut() {
        final TcpConnection c = establish(TcpHarness.plain().withKeepalive(1000 * MS, 100 * MS, 3), 65535, 1460, 0);
        c.setKeepalive(true, 10 * MS);
        assertEquals(1010 * MS, c.pollAt());
        c.poll(1010 * MS);
        h.expect(L + "[.] seq 1000 ack 5001 win 65535 len 0");
        h.in(1020 * MS, seg(ACK, 5001, 1001, 65535));
        assertEquals(2020 * MS, c.pollAt(), "an answer restarts the idle timer");
        c.poll(2020 * MS);
        c.poll(2120 * MS);
        c.poll(2220 * MS);
        assertEquals(3, h.sent.size());
        h.clear();
        c.poll(2320 * MS);
        h.expectNothing();
        assertEquals(TcpState.CLOSED, c.state());
        assertEquals(Errno.ETIMEDOUT.number(), c.error());
    }

    @Test
    void shouldFailWithTimeoutAfterMaxRetransmissions() {
        final TcpConnection c = establish();
        h.write(bytes(10, 1), 100 * MS);
        h.clear();
        int polls = 0;
        while (c.state() != TcpState.CLOSED && polls < 100) {
            c.poll(c.retransmitDeadline());
            polls++;
        }
        assertEquals(15, h.sent.size(), "15 retransmissions, then give up");
        assertEquals(Errno.ETIMEDOUT.number(), c.error());
        assertEquals(60_000 * MS, c.rtoNs(), "backoff is capped at the maximum RTO");
    }

    // ----- sequence-number wrap ----------------------------------------------------------------

    @Test
    void shouldSendAndReceiveAcrossTheSequenceWrap() {
        final TcpConnection c = TcpConnection.connect(TcpHarness.plain(), h, h, TcpHarness.LOCAL_IP, 80,
            TcpHarness.REMOTE_IP, 49500, 0xFFFF_FF00, 1460, 0);
        h.conn = c;
        h.clear();
        final TcpRepr sa = seg(SYN | ACK, 0xFFFF_FFF0, 0xFFFF_FF01, 65535);
        sa.options.mss = 1460;
        sa.options.windowShift = 0;
        h.in(10 * MS, sa);
        h.expect(L + "[.] seq 4294967041 ack 4294967281 win 65535 len 0");
        h.write(bytes(1000, 1), 20 * MS);
        h.expect(L + "[P.] seq 4294967041 ack 4294967281 win 65535 len 1000");
        h.in(30 * MS, data(0xFFFF_FFF1, 0xFFFF_FF01 + 1000, 65535, bytes(100, 2)));
        h.expect(L + "[.] seq 745 ack 85 win 65435 len 0");
        assertEquals(745, c.sndUna());
        assertEquals(32 * 1024, c.writable());
        assertArrayEquals(bytes(100, 2), h.read(100, 40 * MS));
    }

    // ----- SYN cookies, ISN, SipHash ------------------------------------------------------------

    @Test
    void shouldValidateSynCookiesForTwoTicksOnly() {
        final SynCookies cookies = new SynCookies(new SipHash(1, 2));
        final long now = 1000L * TcpConfig.S;
        final int cookie = cookies.encode(now, 1, 80, 2, 5555, 777, 1400);
        assertEquals(1360, cookies.decode(now, 1, 80, 2, 5555, 777, cookie), "MSS rounded down to the table");
        assertEquals(1360, cookies.decode(now + 64 * TcpConfig.S, 1, 80, 2, 5555, 777, cookie));
        assertEquals(-1, cookies.decode(now + 130 * TcpConfig.S, 1, 80, 2, 5555, 777, cookie));
        assertEquals(-1, cookies.decode(now, 1, 80, 2, 5555, 778, cookie), "another peer ISN");
        assertEquals(-1, cookies.decode(now, 1, 80, 3, 5555, 777, cookie), "another peer address");
        assertEquals(-1, cookies.decode(now, 1, 80, 2, 5555, 777, cookie ^ (1 << 24)), "MSS index is authenticated");
        final int ts = SynCookies.encodeTsOptions(0x12345678, 7, true);
        assertEquals(7, SynCookies.decodeWindowShift(ts));
        assertTrue(SynCookies.decodeSack(ts));
        assertEquals(-1, SynCookies.decodeWindowShift(SynCookies.encodeTsOptions(5, -1, false)));
    }

    @Test
    void shouldEstablishFromCookieAndDeliverData() {
        final TcpRepr ack = data(5001, 1001, 100, bytes(20, 1));
        ack.options.hasTimestamp = true;
        ack.options.tsVal = 77;
        final TcpConnection c = TcpConnection.fromCookie(TcpHarness.plain().withOptions(true, true), h, h,
            TcpHarness.LOCAL_IP, 80, TcpHarness.REMOTE_IP, 49500, 1000, 1460, 1360, 3, true, ack, 0);
        h.conn = c;
        assertEquals(TcpState.ESTABLISHED, c.state());
        assertEquals(800, c.sndWnd());
        assertEquals(1360 - 12, c.sndMss());
        assertEquals(20, c.readable());
        assertEquals(1, h.sent.size());
        assertTrue(h.sent.get(0).startsWith(L + "[.] seq 1001 ack 5021 "), h.sent.get(0));
    }

    @Test
    void shouldGenerateIsnsThatAdvanceWithTheClockAndDependOnTheTuple() {
        final IsnGenerator isn = new IsnGenerator(new SipHash(3, 4));
        final int a = isn.isn(0, 1, 80, 2, 1000);
        assertEquals(a + 250, isn.isn(1_000_000, 1, 80, 2, 1000), "4 us ticks: 250 per millisecond");
        assertTrue(a != isn.isn(0, 1, 80, 2, 1001));
    }

    @Test
    void shouldMatchTheSipHashReferenceVector() {
        // SipHash-2-4 reference: key 00..0f, message 00..0f (16 bytes) -> 0x3f2acc7f57c29bdb
        final SipHash h24 = new SipHash(0x0706050403020100L, 0x0f0e0d0c0b0a0908L);
        assertEquals(0x3f2acc7f57c29bdbL, h24.hash(0x0706050403020100L, 0x0f0e0d0c0b0a0908L));
    }

    @Test
    void shouldCompareSequenceNumbersAcrossTheWrap() {
        assertTrue(SeqNum.lt(0xFFFF_FFF0, 5));
        assertTrue(SeqNum.gt(5, 0xFFFF_FFF0));
        assertTrue(SeqNum.inRange(2, 0xFFFF_FFFE, 10));
        assertFalse(SeqNum.inRange(10, 0xFFFF_FFFE, 10));
        assertEquals(5, SeqNum.max(5, 0xFFFF_FFF0));
    }
}
