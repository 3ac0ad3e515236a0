package dev.osvj.net.tcp;

import dev.osvj.kernel.Errno;
import dev.osvj.net.NetEvents;
import dev.osvj.net.wire.TcpOptions;
import dev.osvj.net.wire.TcpRepr;
import dev.osvj.net.wire.TcpSegment;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * One TCP connection's state machine (RFC 9293), smoltcp style: it does no I/O and reads no clock.
 * Segments come in through {@link #input}, application calls through {@link #send}/{@link #recv}/
 * {@link #close}, and timers through {@link #poll}; every method takes {@code now} (monotonic
 * nanoseconds) and emits the segments it decides to send through {@link Output} at once, synchronously.
 * {@link #pollAt()} is the next deadline the caller must call {@link #poll} at.
 *
 * <p>What it implements: the full state diagram including simultaneous open and close and half-close;
 * RFC 6298 RTO with Karn's rule, backoff, min/max; RFC 5681 slow start and congestion avoidance with
 * byte counting, fast retransmit and RFC 6582 NewReno recovery; RFC 2018 SACK both ways (blocks out,
 * scoreboard in: recovery retransmits holes and skips SACKed ranges); RFC 7323 window scaling (always
 * offered), timestamps, RTTM and PAWS; MSS; delayed ACK (every second full segment or after
 * {@link TcpConfig#delayedAckNs}); Nagle with TCP_NODELAY; sender and receiver silly-window
 * avoidance; keepalive; zero-window probes (persist timer with backoff); TIME_WAIT; FIN_WAIT_2
 * timeout for orphans; RFC 5961 challenge ACKs for in-window RSTs, SYNs in synchronized states and
 * ACKs of unsent data, rate limited. Segments without a timestamp are accepted even when timestamps
 * were negotiated (RFC 7323 says SHOULD drop; gVisor #11536 shows why not).
 *
 * <p>Thread safety: none. The owner (the socket) calls every method under its socket lock.
 */
public final class TcpConnection {
    /** Where segments go: the IP layer. The repr and its payload view are valid only during the call. */
    @FunctionalInterface
    public interface Output {
        void transmit(TcpConnection connection, TcpRepr segment);
    }

    /** What the socket layer hears about; called synchronously from inside the state machine. */
    public interface Events {
        /** A passive connection completes its handshake; false refuses it (the ACK is dropped). */
        default boolean onEstablished(final TcpConnection c) {
            return true;
        }

        /** Data, FIN, or an error became available to the reader. */
        default void onReadable(final TcpConnection c) {
        }

        /** Send-buffer space was freed, or an error happened. */
        default void onWritable(final TcpConnection c) {
        }

        default void onStateChange(final TcpConnection c, final TcpState from, final TcpState to) {
        }
    }

    /** "No deadline". */
    public static final long NEVER = Long.MAX_VALUE;
    /** RFC 9293 §3.7.1: the MSS assumed when the peer sends none. */
    public static final int DEFAULT_MSS = 536;
    /** PAWS: timestamps older than 24 days are no longer trusted (RFC 7323 §5.5). */
    static final long PAWS_IDLE_NS = 24L * 86400 * TcpConfig.S;
    private static final int MAX_SACK_SCOREBOARD = 8;
    private static final Events NO_EVENTS = new Events() {
    };

    private final TcpConfig cfg;
    private final Output out;
    private Events events = NO_EVENTS;
    public final int localIp;
    public final int localPort;
    public final int remoteIp;
    public final int remotePort;

    private TcpState state = TcpState.CLOSED;
    private int error;
    private boolean passive;
    private boolean userClosed;
    private boolean nodelay;
    private boolean keepalive;

    // send sequence space
    private int iss;
    private int sndUna;
    private int sndNxt;
    private int sndMax;
    private int sndWl1;
    private int sndWl2;
    private int sndWnd;
    private int maxSndWnd;
    private int sendBufSeq;
    private final SendBuffer sendBuf;
    private boolean finQueued;
    private int sndMss;
    private final int localMss;

    // receive sequence space
    private int irs;
    private int rcvNxt;
    private int rcvAdv;
    private final RecvBuffer recvBuf;
    private boolean finReceived;
    private int lastAckSent;

    // options
    private int sndShift;
    private int rcvShift;
    private boolean tsOk;
    private boolean sackOk;
    private int tsRecent;
    private long tsRecentNs;
    private final int tsOffset;

    // timers, absolute ns
    private long rtxAt = NEVER;
    private long delackAt = NEVER;
    private long persistAt = NEVER;
    private long keepAt = NEVER;
    private long closeAt = NEVER;
    private int retries;
    private int persistBackoff;
    private int keepProbes;
    private final RttEstimator rtt;
    private boolean timing;
    private int rtSeq;
    private long rtStart;

    // congestion control
    private int cwnd;
    private int ssthresh = Integer.MAX_VALUE / 2;
    private int dupAcks;
    private int recover;
    private boolean inRecovery;
    private int bytesAckedCa;
    private int rtxHigh;

    // SACK scoreboard: ranges the peer reported, above SND.UNA, sorted, merged
    private final int[] sackL = new int[MAX_SACK_SCOREBOARD];
    private final int[] sackR = new int[MAX_SACK_SCOREBOARD];
    private int sackN;

    // ACK policy
    private boolean ackNow;
    private int rcvUnackedBytes;
    /** Inside {@link #beginBatch}/{@link #endBatch}: in-order data is acknowledged at the batch's end. */
    private boolean batching;

    // receive-buffer autotuning (Linux's tcp_rcv_space_adjust): bytes the application read during the
    // current measurement interval (one receiver-side RTT, at least AUTOTUNE_MIN_INTERVAL_NS)
    private boolean autotune;
    private long rcvSpaceStart = NEVER;
    private int rcvSpaceCopied;
    /** Receiver-side RTT from timestamp echoes (RFC 7323 §4.3 as Linux's tcp_rcv_rtt_measure_ts), ns; 0 = none. */
    private long rcvRttNs;
    private long autotuneGrowths;
    /**
     * Largest in-order segment payload received, bytes (Linux's {@code rcv_mss}): an MTU-sized segment,
     * or a host's TSO super-frame of up to 64 KiB with receive offloads.
     */
    private int rcvSegmentMax;
    private long challengeWindowStart = Long.MIN_VALUE / 2;
    private int challengeCount;

    // counters
    private long segmentsIn;
    private long segmentsOut;
    private long retransmits;
    private long challengeAcks;
    private long pawsDrops;

    private final TcpRepr tx = new TcpRepr();

    private TcpConnection(final TcpConfig cfg, final Output out, final int localIp, final int localPort,
        final int remoteIp, final int remotePort, final int iss, final int localMss) {
        this.cfg = cfg;
        this.out = out;
        this.localIp = localIp;
        this.localPort = localPort;
        this.remoteIp = remoteIp;
        this.remotePort = remotePort;
        this.iss = iss;
        this.sndUna = iss;
        this.sndNxt = iss;
        this.sndMax = iss;
        this.sendBufSeq = iss + 1;
        this.recover = iss;
        this.localMss = localMss;
        this.sndMss = Math.min(DEFAULT_MSS, localMss);
        this.sendBuf = new SendBuffer(cfg.sendBuffer());
        this.recvBuf = new RecvBuffer(cfg.recvBuffer());
        this.rtt = new RttEstimator(cfg.initialRtoNs(), cfg.minRtoNs(), cfg.maxRtoNs());
        this.rcvShift = cfg.offeredShift();
        this.autotune = cfg.autotune();
        this.tsOffset = iss * 31 + 0x5bd1e995;
    }

    /** Active open: a connection in SYN_SENT that has sent its SYN. */
    public static TcpConnection connect(final TcpConfig cfg, final Output out, final Events events,
        final int localIp, final int localPort, final int remoteIp, final int remotePort, final int iss,
        final int localMss, final long now) {
        final TcpConnection c = new TcpConnection(cfg, out, localIp, localPort, remoteIp, remotePort, iss, localMss);
        c.events = events == null ? NO_EVENTS : events;
        c.setState(TcpState.SYN_SENT);
        c.sendSyn(now, false);
        return c;
    }

    /** Passive open: a SYN arrived at a listener; the connection is in SYN_RECEIVED and sent SYN-ACK. */
    public static TcpConnection accept(final TcpConfig cfg, final Output out, final Events events,
        final int localIp, final int localPort, final int remoteIp, final int remotePort, final int iss,
        final int localMss, final TcpRepr syn, final long now) {
        final TcpConnection c = new TcpConnection(cfg, out, localIp, localPort, remoteIp, remotePort, iss, localMss);
        c.events = events == null ? NO_EVENTS : events;
        c.passive = true;
        c.irs = syn.seq;
        c.rcvNxt = syn.seq + 1;
        c.rcvAdv = c.rcvNxt;
        c.negotiate(syn, true, now);
        c.sndWnd = syn.window; // never scaled in a SYN
        c.maxSndWnd = c.sndWnd;
        c.sndWl1 = syn.seq;
        c.sndWl2 = iss;
        c.setState(TcpState.SYN_RECEIVED);
        c.sendSyn(now, true);
        return c;
    }

    /**
     * Passive open completed by a valid SYN cookie: the handshake's ACK arrived without state, so the
     * connection starts ESTABLISHED with the options the cookie encoded, then processes the segment.
     *
     * @param windowShift the peer's window-scale shift, or -1 when it sent none (or it was not encoded).
     */
    public static TcpConnection fromCookie(final TcpConfig cfg, final Output out, final Events events,
        final int localIp, final int localPort, final int remoteIp, final int remotePort, final int iss,
        final int localMss, final int peerMss, final int windowShift, final boolean sack, final TcpRepr ack,
        final long now) {
        final TcpConnection c = new TcpConnection(cfg, out, localIp, localPort, remoteIp, remotePort, iss, localMss);
        c.events = events == null ? NO_EVENTS : events;
        c.passive = true;
        c.irs = ack.seq - 1;
        c.rcvNxt = ack.seq;
        c.rcvAdv = c.rcvNxt;
        c.sndUna = iss + 1;
        c.sndNxt = iss + 1;
        c.sndMax = iss + 1;
        c.recover = iss + 1;
        c.sndMss = Math.max(64, Math.min(peerMss, localMss));
        if (windowShift >= 0) {
            c.peerOfferedWs = true;
            c.sndShift = windowShift;
        } else {
            c.rcvShift = 0;
        }
        c.sackOk = sack && cfg.sack();
        c.tsOk = cfg.timestamps() && ack.options.hasTimestamp;
        if (c.tsOk) {
            c.tsRecent = ack.options.tsVal;
            c.tsRecentNs = now;
            c.sndMss -= TIMESTAMP_OPTION_LENGTH;
        }
        c.cwnd = c.initialWindow();
        c.sndWnd = ack.window << c.sndShift;
        c.maxSndWnd = c.sndWnd;
        c.sndWl1 = ack.seq;
        c.sndWl2 = ack.ack;
        c.setState(TcpState.SYN_RECEIVED);
        if (!c.events.onEstablished(c)) {
            c.setState(TcpState.CLOSED);
            return c;
        }
        c.setState(TcpState.ESTABLISHED);
        c.keepAt = c.keepalive ? now + cfg.keepIdleNs() : NEVER;
        if (ack.payloadLength > 0 || ack.has(TcpSegment.FIN)) {
            c.input(now, ack);
        }
        return c;
    }

    public void setEvents(final Events events) {
        this.events = events == null ? NO_EVENTS : events;
    }

    // ------------------------------------------------------------------------------------------
    // segment arrival (RFC 9293 §3.10.7)
    // ------------------------------------------------------------------------------------------

    /** Process one segment addressed to this connection. */
    public void input(final long now, final TcpRepr seg) {
        segmentsIn++;
        switch (state) {
            case CLOSED, LISTEN -> {
                return;
            }
            case SYN_SENT -> {
                if (!inputSynSent(now, seg)) {
                    return;
                }
                // SYN-ACK with data: fall through to text processing below
                if (seg.payloadLength > 0) {
                    processText(now, seg, seg.seq + 1, seg.payloadLength);
                }
                output(now);
                return;
            }
            default -> {
            }
        }
        if (keepalive && (state == TcpState.ESTABLISHED || state == TcpState.CLOSE_WAIT)) {
            keepProbes = 0;
            keepAt = now + cfg.keepIdleNs();
        }
        final boolean rst = seg.has(TcpSegment.RST);
        if (seg.has(TcpSegment.SYN) && !rst) {
            if (seg.seq != irs) {
                challengeAck(now); // SYN in a synchronized state (RFC 5961 §4)
                return;
            }
            if (state == TcpState.SYN_RECEIVED && !seg.has(TcpSegment.ACK)) {
                sendSyn(now, true); // retransmitted SYN: repeat our SYN-ACK
                return;
            }
            // a duplicate of the peer's SYN (simultaneous open's SYN-ACK, or a retransmitted SYN-ACK
            // whose ACK was lost): drop the SYN, keep the ACK, and answer (BSD's tcp_input does the same)
            seg.flags &= ~TcpSegment.SYN;
            seg.seq += 1;
            ackNow = true;
        }
        final boolean syn = seg.has(TcpSegment.SYN);
        // PAWS (RFC 7323 §5.3)
        if (tsOk && seg.options.hasTimestamp && !rst && SeqNum.lt(seg.options.tsVal, tsRecent)
            && now - tsRecentNs < PAWS_IDLE_NS) {
            pawsDrops++;
            sendAck(now);
            return;
        }
        // sequence acceptability
        final int rcvWnd = receiveWindow();
        final int segLen = seg.segmentLength();
        final boolean acceptable;
        if (segLen == 0) {
            acceptable = rcvWnd == 0 ? seg.seq == rcvNxt : SeqNum.inRange(seg.seq, rcvNxt, rcvNxt + rcvWnd);
        } else {
            acceptable = rcvWnd != 0 && (SeqNum.inRange(seg.seq, rcvNxt, rcvNxt + rcvWnd)
                || SeqNum.inRange(seg.seq + segLen - 1, rcvNxt, rcvNxt + rcvWnd));
        }
        boolean ackOnly = false;
        if (!acceptable) {
            if (rst) {
                return;
            }
            if (rcvWnd == 0 && seg.seq == rcvNxt && seg.has(TcpSegment.ACK)) {
                ackOnly = true; // zero window: still take the ACK (RFC 9293 §3.10.7.4)
                if (segLen > 0) {
                    ackNow = true; // and answer a probe, so the sender learns when the window opens
                }
            } else {
                if (state == TcpState.TIME_WAIT && !syn) {
                    closeAt = now + cfg.timeWaitNs();
                }
                sendAck(now);
                return;
            }
        }
        // RST (RFC 5961 §3.2)
        if (rst) {
            if (seg.seq != rcvNxt) {
                challengeAck(now);
                return;
            }
            switch (state) {
                case SYN_RECEIVED -> fail(passive ? 0 : Errno.ECONNREFUSED.number());
                case CLOSING, LAST_ACK, TIME_WAIT -> becomeClosed();
                default -> fail(Errno.ECONNRESET.number());
            }
            return;
        }
        if (syn) {
            challengeAck(now); // SYN together with RST: challenge as well
            return;
        }
        if (!seg.has(TcpSegment.ACK)) {
            return;
        }
        // timestamps: remember the peer's clock (RFC 7323 §4.3)
        if (tsOk && seg.options.hasTimestamp && SeqNum.le(seg.seq, lastAckSent)
            && SeqNum.ge(seg.options.tsVal, tsRecent)) {
            tsRecent = seg.options.tsVal;
            tsRecentNs = now;
        }
        if (state == TcpState.SYN_RECEIVED) {
            if (SeqNum.gt(seg.ack, sndUna) && SeqNum.le(seg.ack, sndMax)) {
                if (!events.onEstablished(this)) {
                    return; // accept queue full: drop the ACK, the peer retransmits (no RST, OSv #283)
                }
                sndWnd = seg.window << sndShift;
                maxSndWnd = Math.max(maxSndWnd, sndWnd);
                sndWl1 = seg.seq;
                sndWl2 = seg.ack;
                setState(TcpState.ESTABLISHED);
                if (keepalive) {
                    keepAt = now + cfg.keepIdleNs();
                }
                if (finQueued) {
                    setState(TcpState.FIN_WAIT_1);
                }
            } else {
                sendReset(seg.ack, 0, false);
                return;
            }
        }
        if (!processAck(now, seg)) {
            return;
        }
        if (state == TcpState.CLOSED) {
            return;
        }
        if (!ackOnly && seg.payloadLength > 0 || !ackOnly && seg.has(TcpSegment.FIN)) {
            processText(now, seg, seg.seq, seg.payloadLength);
        }
        output(now);
    }

    /** SYN_SENT processing; true when the segment moved the connection on and text may follow. */
    private boolean inputSynSent(final long now, final TcpRepr seg) {
        final boolean hasAck = seg.has(TcpSegment.ACK);
        if (hasAck && (SeqNum.le(seg.ack, iss) || SeqNum.gt(seg.ack, sndMax))) {
            if (!seg.has(TcpSegment.RST)) {
                sendReset(seg.ack, 0, false);
            }
            return false;
        }
        if (seg.has(TcpSegment.RST)) {
            if (hasAck) {
                fail(Errno.ECONNREFUSED.number());
            }
            return false;
        }
        if (!seg.has(TcpSegment.SYN)) {
            return false;
        }
        irs = seg.seq;
        rcvNxt = seg.seq + 1;
        rcvAdv = rcvNxt;
        lastAckSent = rcvNxt;
        negotiate(seg, false, now);
        if (hasAck) {
            // SYN-ACK: our SYN is acknowledged
            sndUna = seg.ack;
            if (SeqNum.lt(sndNxt, sndUna)) {
                sndNxt = sndUna;
            }
            if (timing) {
                timing = false;
                if (retries == 0) {
                    rtt.sample(now - rtStart);
                }
            }
            retries = 0;
            rtxAt = NEVER;
            sndWnd = seg.window; // a SYN-ACK's window is never scaled (RFC 7323 §2.2)
            maxSndWnd = sndWnd;
            sndWl1 = seg.seq;
            sndWl2 = seg.ack;
            cwnd = initialWindow();
            setState(finQueued ? TcpState.FIN_WAIT_1 : TcpState.ESTABLISHED);
            if (keepalive) {
                keepAt = now + cfg.keepIdleNs();
            }
            ackNow = true;
            events.onWritable(this);
            return true;
        }
        // simultaneous open: SYN without ACK
        sndWnd = seg.window;
        maxSndWnd = sndWnd;
        sndWl1 = seg.seq;
        sndWl2 = iss;
        setState(TcpState.SYN_RECEIVED);
        sendSyn(now, true);
        return false;
    }

    /** Apply the peer's SYN options; {@code synAck} when we answer with SYN-ACK (echo what it offered). */
    private void negotiate(final TcpRepr syn, final boolean synAck, final long now) {
        final int peerMss = syn.options.mss > 0 ? syn.options.mss : DEFAULT_MSS;
        peerOfferedWs = syn.options.windowShift >= 0;
        sndMss = Math.max(64, Math.min(peerMss, localMss));
        if (syn.options.windowShift >= 0) {
            sndShift = syn.options.windowShift;
        } else {
            sndShift = 0;
            rcvShift = 0;
        }
        sackOk = cfg.sack() && syn.options.sackPermitted;
        tsOk = cfg.timestamps() && syn.options.hasTimestamp;
        if (tsOk) {
            tsRecent = syn.options.tsVal;
            tsRecentNs = now;
            sndMss -= TIMESTAMP_OPTION_LENGTH;
        }
        cwnd = initialWindow();
    }

    /** RFC 6928 initial window: min(10 * MSS, max(2 * MSS, 14600)). */
    private int initialWindow() {
        return Math.min(10 * sndMss, Math.max(2 * sndMss, 14600));
    }

    /** ACK processing (§3.10.7.4 fifth check); false when the segment is to be dropped. */
    private boolean processAck(final long now, final TcpRepr seg) {
        final int ack = seg.ack;
        if (SeqNum.gt(ack, sndMax)) {
            challengeAck(now); // ACK of data never sent (RFC 5961 §5.2 / RFC 9293)
            return false;
        }
        if (SeqNum.lt(ack, sndUna - Math.max(maxSndWnd, 1))) {
            challengeAck(now);
            return false;
        }
        final int scaledWindow = seg.window << sndShift;
        if (seg.options.sackCount > 0 && sackOk) {
            recordSacks(seg);
        }
        if (SeqNum.gt(ack, sndUna)) {
            onNewAck(now, seg, ack);
            if (state == TcpState.CLOSED) {
                return false;
            }
        } else if (ack == sndUna && seg.payloadLength == 0 && !seg.has(TcpSegment.FIN)
            && scaledWindow == sndWnd && scaledWindow != 0 && sndMax != sndUna) {
            onDupAck(now);
        } else if (ack == sndUna && sndMax != sndUna && seg.options.sackCount > 0 && inRecovery) {
            onDupAck(now);
        }
        // window update (SND.WL1 / SND.WL2 rule)
        if (SeqNum.lt(sndWl1, seg.seq) || sndWl1 == seg.seq && SeqNum.le(sndWl2, ack)) {
            final int old = sndWnd;
            sndWnd = scaledWindow;
            sndWl1 = seg.seq;
            sndWl2 = ack;
            maxSndWnd = Math.max(maxSndWnd, sndWnd);
            if (sndWnd > 0) {
                persistAt = NEVER;
                persistBackoff = 0;
            }
            if (old == 0 && sndWnd > 0) {
                events.onWritable(this);
            }
        }
        return true;
    }

    private void onNewAck(final long now, final TcpRepr seg, final int ack) {
        final int acked = ack - sndUna;
        // data bytes acknowledged (excluding SYN and FIN sequence numbers)
        final int dataEnd = sendBufSeq + sendBuf.length();
        final int ackedData = SeqNum.gt(ack, sendBufSeq) ? SeqNum.min(ack, dataEnd) - sendBufSeq : 0;
        if (ackedData > 0) {
            sendBuf.consume(ackedData);
            sendBufSeq += ackedData;
        }
        sndUna = ack;
        if (SeqNum.lt(sndNxt, sndUna)) {
            sndNxt = sndUna;
        }
        // RTT sample: timestamps (RFC 7323 RTTM) or the one timed segment (Karn: never a retransmitted one)
        if (tsOk && seg.options.hasTimestamp && seg.options.tsEcr != 0) {
            final int sampleMs = tsNow(now) - seg.options.tsEcr;
            if (sampleMs >= 0 && sampleMs < 3_600_000L) {
                rtt.sample(sampleMs * TcpConfig.MS);
            }
            timing = false;
        } else if (timing && SeqNum.gt(ack, rtSeq)) {
            rtt.sample(now - rtStart);
            timing = false;
        }
        retries = 0;
        // congestion control
        if (inRecovery) {
            if (SeqNum.ge(ack, recover)) {
                // full ACK: leave recovery (RFC 6582 §3.2 step 3, option 1)
                final int flight = sndMax - sndUna;
                cwnd = Math.min(ssthresh, Math.max(flight, sndMss) + sndMss);
                inRecovery = false;
                dupAcks = 0;
            } else {
                // partial ACK: retransmit the next hole, deflate by the amount acked
                retransmitHole(now, sndUna);
                cwnd = Math.max(sndMss, cwnd - acked + (acked >= sndMss ? sndMss : 0));
            }
        } else {
            dupAcks = 0;
            if (cwnd < ssthresh) {
                cwnd += Math.min(acked, sndMss);
            } else {
                bytesAckedCa += acked;
                if (bytesAckedCa >= cwnd) {
                    bytesAckedCa -= cwnd;
                    cwnd += sndMss;
                }
            }
        }
        trimSacks();
        // RFC 6298 §5.2/5.3: stop when all is acked, otherwise restart
        rtxAt = sndUna == sndMax ? NEVER : now + rtt.rto();
        if (ackedData > 0) {
            events.onWritable(this);
        }
        // our FIN acknowledged?
        if (finQueued && sndUna == finSeq() + 1) {
            switch (state) {
                case FIN_WAIT_1 -> {
                    setState(TcpState.FIN_WAIT_2);
                    if (userClosed) {
                        closeAt = now + cfg.finWait2Ns();
                    }
                }
                case CLOSING -> enterTimeWait(now);
                case LAST_ACK -> becomeClosed();
                default -> {
                }
            }
        }
    }

    private void onDupAck(final long now) {
        dupAcks++;
        if (inRecovery) {
            cwnd += sndMss;
            if (sackOk && sackN > 0) {
                retransmitHole(now, SeqNum.max(rtxHigh, sndUna));
            }
            return;
        }
        if (dupAcks == 3 && SeqNum.ge(sndUna, recover)) {
            // fast retransmit, enter NewReno recovery (RFC 6582 §3.2 step 2)
            final int flight = sndMax - sndUna;
            ssthresh = Math.max(flight / 2, 2 * sndMss);
            recover = sndMax;
            inRecovery = true;
            timing = false;
            rtxHigh = sndUna;
            retransmitHole(now, sndUna);
            cwnd = ssthresh + 3 * sndMss;
        }
    }

    private void recordSacks(final TcpRepr seg) {
        for (int i = 0; i < seg.options.sackCount; i++) {
            final int l = seg.options.sackLeft[i];
            final int r = seg.options.sackRight[i];
            // only blocks inside (SND.UNA, SND.MAX] make sense (RFC 2018; smoltcp #1136: no sign tricks)
            if (!SeqNum.lt(l, r) || !SeqNum.gt(l, sndUna) || SeqNum.gt(r, sndMax)) {
                continue;
            }
            addSack(l, r);
        }
    }

    private void addSack(final int l, final int r) {
        int nl = l;
        int nr = r;
        int w = 0;
        for (int i = 0; i < sackN; i++) {
            if (SeqNum.le(sackL[i], nr) && SeqNum.ge(sackR[i], nl)) {
                nl = SeqNum.min(nl, sackL[i]);
                nr = SeqNum.max(nr, sackR[i]);
            } else {
                sackL[w] = sackL[i];
                sackR[w] = sackR[i];
                w++;
            }
        }
        sackN = w;
        if (sackN == MAX_SACK_SCOREBOARD) {
            sackN--; // drop the highest range (least useful for the next hole)
        }
        int pos = sackN;
        while (pos > 0 && SeqNum.gt(sackL[pos - 1], nl)) {
            sackL[pos] = sackL[pos - 1];
            sackR[pos] = sackR[pos - 1];
            pos--;
        }
        sackL[pos] = nl;
        sackR[pos] = nr;
        sackN++;
    }

    private void trimSacks() {
        int w = 0;
        for (int i = 0; i < sackN; i++) {
            if (SeqNum.gt(sackR[i], sndUna)) {
                sackL[w] = SeqNum.max(sackL[i], sndUna);
                sackR[w] = sackR[i];
                w++;
            }
        }
        sackN = w;
    }

    /**
     * Retransmit one segment starting at the first sequence number {@code >= from} that the peer has
     * not SACKed, ending before the next SACKed range; beyond the highest SACKed range only the first
     * hole at SND.UNA is retransmitted (the rest is for the retransmission timer or new ACKs).
     */
    private void retransmitHole(final long now, final int from) {
        int seq = SeqNum.max(from, sndUna);
        int holeEnd = sndMax;
        for (int i = 0; i < sackN; i++) {
            if (SeqNum.ge(seq, sackL[i]) && SeqNum.lt(seq, sackR[i])) {
                seq = sackR[i];
            } else if (SeqNum.gt(sackL[i], seq)) {
                holeEnd = sackL[i];
                break;
            }
        }
        if (!SeqNum.lt(seq, sndMax)) {
            return;
        }
        if (seq != sndUna && (sackN == 0 || SeqNum.ge(seq, sackR[sackN - 1]))) {
            return;
        }
        final int len = Math.min(holeEnd - seq, effectiveMss());
        final int sent = emitData(now, seq, len, true);
        rtxHigh = seq + Math.max(sent, 1);
    }

    /** Data and FIN (§3.10.7.4 seventh and eighth checks). */
    private void processText(final long now, final TcpRepr seg, final int dataSeq, final int dataLen) {
        if (!state.canReceive() && !(state == TcpState.SYN_RECEIVED)) {
            return; // CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT: the peer already sent FIN; ignore text
        }
        int seq = dataSeq;
        int off = seg.payloadOffset;
        int len = dataLen;
        // trim what we already have
        if (SeqNum.lt(seq, rcvNxt)) {
            final int skip = Math.min(rcvNxt - seq, len);
            seq += skip;
            off += skip;
            len -= skip;
        }
        final int offset = seq - rcvNxt;
        final int room = recvBuf.window() - offset;
        boolean finOk = seg.has(TcpSegment.FIN);
        if (len > room) {
            len = Math.max(0, room);
            finOk = false;
        }
        final boolean hadOoo = !recvBuf.assembler.isEmpty();
        if (len > 0) {
            final int advance = recvBuf.write(offset, seg.payload, off, len);
            if (advance < 0) {
                ackNow = true; // out of assembler ranges: dropped, ACK what we have
                return;
            }
            if (advance > 0) {
                rcvNxt += advance;
                rcvUnackedBytes += advance;
                if (len > rcvSegmentMax) {
                    rcvSegmentMax = len;
                }
                if (tsOk && seg.options.hasTimestamp && seg.options.tsEcr != 0) {
                    final int sampleMs = tsNow(now) - seg.options.tsEcr;
                    if (sampleMs >= 0 && sampleMs < 60_000) {
                        rcvRttNs = sampleMs * TcpConfig.MS;
                    }
                }
                events.onReadable(this);
                if (hadOoo || cfg.delayedAckNs() == 0) {
                    ackNow = true;
                } else if (rcvUnackedBytes >= 2 * sndMss && !(batching && rcvUnackedBytes < stretchAckBytes())) {
                    ackNow = true; // RFC 1122 / 5681: at least every second full-sized segment
                } else if (delackAt == NEVER) {
                    delackAt = now + cfg.delayedAckNs();
                }
            } else {
                ackNow = true; // out of order: immediate duplicate ACK with SACK (RFC 5681 §4.2)
            }
        } else if (dataLen > 0) {
            ackNow = true;
        }
        if (finOk && seq + len == rcvNxt && !finReceived) {
            finReceived = true;
            rcvNxt += 1;
            ackNow = true;
            switch (state) {
                case SYN_RECEIVED, ESTABLISHED -> setState(TcpState.CLOSE_WAIT);
                case FIN_WAIT_1 -> {
                    if (finQueued && sndUna == finSeq() + 1) {
                        enterTimeWait(now);
                    } else {
                        setState(TcpState.CLOSING);
                    }
                }
                case FIN_WAIT_2 -> enterTimeWait(now);
                default -> {
                }
            }
            events.onReadable(this);
        } else if (finOk && state == TcpState.TIME_WAIT) {
            ackNow = true;
            closeAt = now + cfg.timeWaitNs();
        }
    }

    private void enterTimeWait(final long now) {
        setState(TcpState.TIME_WAIT);
        rtxAt = NEVER;
        persistAt = NEVER;
        keepAt = NEVER;
        delackAt = NEVER;
        closeAt = now + cfg.timeWaitNs();
    }

    // ------------------------------------------------------------------------------------------
    // application calls
    // ------------------------------------------------------------------------------------------

    /**
     * Queue up to {@code len} bytes and transmit what the windows allow.
     *
     * @return bytes queued (0 when the send buffer is full), or -errno: EPIPE after shutdown or
     *     in a state that cannot send, the connection's error if it failed, ENOTCONN before the handshake.
     */
    public int send(final DirectBuffer src, final int off, final int len, final long now) {
        if (error != 0) {
            return -error;
        }
        if (finQueued) {
            return -Errno.EPIPE.number();
        }
        if (state == TcpState.SYN_SENT || state == TcpState.SYN_RECEIVED) {
            final int n = sendBuf.write(src, off, len); // sent once established
            return n;
        }
        if (!state.canSend()) {
            return state == TcpState.CLOSED ? -Errno.ENOTCONN.number() : -Errno.EPIPE.number();
        }
        final int n = sendBuf.write(src, off, len);
        if (n > 0) {
            output(now);
        }
        return n;
    }

    /**
     * Copy up to {@code len} received bytes out.
     *
     * @return bytes copied; 0 with {@link #eof()} true at end of stream; 0 otherwise means "would block".
     */
    public int recv(final MutableDirectBuffer dst, final int off, final int len, final long now, final boolean peek) {
        if (peek) {
            return recvBuf.peek(dst, off, len);
        }
        final int n = recvBuf.read(dst, off, len);
        if (n > 0 && state.synchronizedState()) {
            if (autotune) {
                adjustReceiveSpace(n, now);
            }
            maybeWindowUpdate(now);
        }
        return n;
    }

    /** Shortest autotuning interval: timestamps tick in milliseconds, so shorter RTTs count as 1 ms. */
    static final long AUTOTUNE_MIN_INTERVAL_NS = TcpConfig.MS;

    /**
     * Segments an autotuned window may hold at most: three quarters of a net channel's 256 slots, so a
     * whole window of the segments this peer sends fits in the flow's channel with room to spare and a
     * consumer that falls a little behind does not push the flow onto the general path. With MTU-sized
     * segments (1448 bytes) that is about 272 KiB; with a host's 64 KiB TSO super-frames (receive
     * offloads) 12 MiB, so there {@link TcpConfig#recvBufferMax} is the bound.
     */
    static final int AUTOTUNE_MAX_SEGMENTS = 192;

    /**
     * Receive-buffer autotuning (the dynamic right-sizing of Linux's {@code tcp_rcv_space_adjust}): the
     * application read {@code n} more bytes. Once per receiver-side RTT (at least 1 ms), if it read more
     * than half the buffer in that time, the window is what limits the flow (a window of W carries at
     * most W per RTT), so the buffer doubles (up to {@link TcpConfig#recvBufferMax}, what the offered
     * window scale can express, and {@link #AUTOTUNE_MAX_SEGMENTS} of the largest segment received).
     * A slow reader never reads half a buffer per RTT, so it never grows.
     */
    private void adjustReceiveSpace(final int n, final long now) {
        if (rcvSpaceStart == NEVER) {
            rcvSpaceStart = now;
        }
        rcvSpaceCopied += n;
        if (now - rcvSpaceStart < Math.max(AUTOTUNE_MIN_INTERVAL_NS, rcvRttNs)) {
            return;
        }
        final int capacity = recvBuf.capacity();
        final long bySegments = (long)AUTOTUNE_MAX_SEGMENTS * Math.max(rcvSegmentMax, sndMss);
        final int limit = (int)Math.min(Math.min(cfg.recvBufferMax(), 65535L << rcvShift), bySegments);
        if (rcvSpaceCopied > capacity / 2 && capacity < limit && recvBuf.assembler.isEmpty()) {
            recvBuf.resize((int)Math.min(limit, 2L * capacity));
            autotuneGrowths++;
        }
        rcvSpaceStart = now;
        rcvSpaceCopied = 0;
    }

    /**
     * Bytes of in-order data a batch may leave unacknowledged before an ACK goes out mid-batch (a
     * stretch ACK, as Linux sends for a GRO super-segment): 64 KiB, at most a quarter of the buffer, so
     * the peer's window never waits on the end of a long batch.
     */
    private int stretchAckBytes() {
        return Math.max(2 * sndMss, Math.min(65_536, recvBuf.capacity() / 4));
    }

    /**
     * Start processing a batch of segments (a net channel's drain): until {@link #endBatch}, in-order
     * data is acknowledged once per {@link #stretchAckBytes} instead of every second segment, and the
     * rest by one ACK at the end. Duplicate ACKs for out-of-order data and every other immediate ACK
     * still go out at once (the peer's fast retransmit counts them).
     */
    public void beginBatch() {
        batching = true;
    }

    /** End a batch: acknowledge the batch's in-order data if it is two full segments or more. */
    public void endBatch(final long now) {
        batching = false;
        if (rcvUnackedBytes >= 2 * sndMss && state.synchronizedState()) {
            ackNow = true;
            output(now);
        }
    }

    /**
     * After a read: send a window update only when the window grew by at least min(buffer/2, MSS)
     * (receiver SWS avoidance, RFC 9293 §3.8.6.2.2) and at least doubles what the peer may still send
     * (Linux's {@code tcp_cleanup_rbuf}). A reader that keeps up leaves the peer plenty of window, and
     * the grown window rides on the next ACK instead of costing a segment per read.
     */
    private void maybeWindowUpdate(final long now) {
        final int wnd = scaledWindowFit(recvBuf.window());
        final int newEdge = rcvNxt + wnd;
        final int growth = newEdge - rcvAdv;
        final int remaining = Math.max(0, rcvAdv - rcvNxt);
        if (growth >= swsThreshold() && wnd >= 2 * remaining) {
            ackNow = true;
            output(now);
        }
    }

    /** Half-close: queue a FIN after the queued data (shutdown(SHUT_WR)). */
    public void shutdownWrite(final long now) {
        if (finQueued) {
            return;
        }
        switch (state) {
            case SYN_SENT -> {
                becomeClosed();
                return;
            }
            case SYN_RECEIVED -> finQueued = true; // FIN follows once the handshake completes
            case ESTABLISHED -> {
                finQueued = true;
                setState(TcpState.FIN_WAIT_1);
            }
            case CLOSE_WAIT -> {
                finQueued = true;
                setState(TcpState.LAST_ACK);
            }
            default -> {
                return;
            }
        }
        output(now);
    }

    /** close(2): half-close and orphan; an orphan in FIN_WAIT_2 gives up after finWait2. */
    public void close(final long now) {
        userClosed = true;
        shutdownWrite(now);
        if (state == TcpState.FIN_WAIT_2) {
            closeAt = now + cfg.finWait2Ns();
        }
    }

    /** Abortive close (SO_LINGER 0, or close with unread data): send RST, go to CLOSED. */
    public void abort(final long now) {
        userClosed = true;
        if (state.synchronizedState() && state != TcpState.TIME_WAIT || state == TcpState.SYN_RECEIVED) {
            sendReset(sndNxt, rcvNxt, true);
        }
        becomeClosed();
    }

    // ------------------------------------------------------------------------------------------
    // timers
    // ------------------------------------------------------------------------------------------

    /** The next time {@link #poll} has something to do, or {@link #NEVER}. */
    public long pollAt() {
        long t = Math.min(rtxAt, delackAt);
        t = Math.min(t, persistAt);
        t = Math.min(t, keepAt);
        t = Math.min(t, closeAt);
        return ackNow ? Long.MIN_VALUE : t;
    }

    /** Run every timer due at {@code now}. */
    public void poll(final long now) {
        if (state == TcpState.CLOSED) {
            return;
        }
        if (closeAt <= now) {
            closeAt = NEVER;
            if (state == TcpState.TIME_WAIT || state == TcpState.FIN_WAIT_2) {
                becomeClosed();
                return;
            }
        }
        if (rtxAt <= now) {
            rtxAt = NEVER;
            onRetransmitTimeout(now);
            if (state == TcpState.CLOSED) {
                return;
            }
        }
        if (persistAt <= now) {
            persistAt = NEVER;
            onPersistTimeout(now);
        }
        if (keepAt <= now) {
            keepAt = NEVER;
            onKeepaliveTimeout(now);
            if (state == TcpState.CLOSED) {
                return;
            }
        }
        if (delackAt <= now) {
            delackAt = NEVER;
            ackNow = true;
        }
        output(now);
    }

    /** Smallest path MTU an ICMP "fragmentation needed" may set (Linux's {@code min_pmtu}): MSS 512. */
    static final int MIN_PATH_MTU = 552;

    /**
     * An ICMP destination unreachable (port or protocol unreachable) quoting a segment this connection
     * sent, whose sequence number was {@code seq}. A connection still opening (SYN-SENT, or SYN-RECEIVED
     * of a simultaneous open) fails with ECONNREFUSED, as Linux's {@code tcp_v4_err}; a synchronized
     * connection treats it as a soft error and carries on (RFC 1122 §4.2.3.9 lets TCP do so; Linux does
     * without IP_RECVERR), since a RST would have said the same with authority. The quoted sequence
     * number must lie in [SND.UNA, SND.MAX] (RFC 5927 §4.1), so a blind attacker must guess it.
     *
     * @return true when the connection failed.
     */
    public boolean icmpUnreachable(final long now, final int seq) {
        if (!SeqNum.inRange(seq, sndUna, sndMax + 1)) {
            return false;
        }
        if (state == TcpState.SYN_SENT || state == TcpState.SYN_RECEIVED && !passive) {
            fail(Errno.ECONNREFUSED.number());
            return true;
        }
        return false;
    }

    /**
     * ICMP "fragmentation needed" (RFC 1191) quoting a segment this connection sent ({@code seq}): the
     * path carries datagrams of at most {@code mtu} bytes (at least {@link #MIN_PATH_MTU}). A smaller
     * MSS than the current one takes effect at once and everything unacknowledged is sent again in
     * segments of the new size (Linux's {@code tcp_simple_retransmit}: the big ones were dropped, not
     * congestion, so cwnd stays). Only a quoted sequence number in [SND.UNA, SND.MAX] counts.
     *
     * @return true when the MSS shrank.
     */
    public boolean pathMtu(final long now, final int mtu, final int seq) {
        if (!state.synchronizedState() || !SeqNum.inRange(seq, sndUna, sndMax + 1)) {
            return false;
        }
        // IPv4 and TCP headers without options, and the timestamp option every segment carries
        final int mss = Math.max(MIN_PATH_MTU, mtu) - 40 - (tsOk ? TIMESTAMP_OPTION_LENGTH : 0);
        if (mss >= sndMss) {
            return false;
        }
        sndMss = mss;
        if (sndUna != sndMax) {
            sndNxt = sndUna;
            output(now);
        }
        return true;
    }

    private void onRetransmitTimeout(final long now) {
        retries++;
        retransmits++;
        timing = false;
        rtt.backOff();
        if (state == TcpState.SYN_SENT || state == TcpState.SYN_RECEIVED) {
            if (retries > cfg.synRetries()) {
                fail(Errno.ETIMEDOUT.number());
                return;
            }
            NetEvents.retransmit(localIp, localPort, remoteIp, remotePort, "syn", iss, 0, rtt.rto(), cwnd);
            sendSyn(now, state == TcpState.SYN_RECEIVED);
            return;
        }
        if (sndUna == sndMax) {
            return;
        }
        if (retries > cfg.maxRetries()) {
            fail(Errno.ETIMEDOUT.number());
            return;
        }
        // RFC 5681 §3.1 eq. 4 and the loss window; go back N from SND.UNA
        final int flight = sndMax - sndUna;
        ssthresh = Math.max(flight / 2, 2 * sndMss);
        cwnd = sndMss;
        bytesAckedCa = 0;
        inRecovery = false;
        dupAcks = 0;
        recover = sndMax;
        sackN = 0; // the receiver may renege (RFC 2018 §8)
        sndNxt = sndUna;
        output(now);
        if (rtxAt == NEVER) {
            rtxAt = now + rtt.rto();
        }
    }

    private void onPersistTimeout(final long now) {
        final int unsent = unsentBytes();
        if (sndWnd != 0 || unsent <= 0 || sndNxt != sndUna) {
            persistBackoff = 0;
            return;
        }
        // zero-window probe: one byte beyond the window; the peer must answer with an ACK
        final int offset = sndNxt - sendBufSeq;
        if (sendBuf.contiguous(offset, 1) == 1) {
            emitSegment(now, TcpSegment.ACK, sndNxt, sendBuf.view(), sendBuf.viewOffset(offset), 1);
            sndMax = SeqNum.max(sndMax, sndNxt + 1);
        }
        if (persistBackoff < 16) {
            persistBackoff++;
        }
        persistAt = now + persistInterval();
    }

    private long persistInterval() {
        long t = rtt.rto();
        for (int i = 0; i < persistBackoff && t < cfg.maxRtoNs(); i++) {
            t *= 2;
        }
        return Math.max(cfg.minRtoNs(), Math.min(t, cfg.maxRtoNs()));
    }

    private void onKeepaliveTimeout(final long now) {
        if (!keepalive || !(state == TcpState.ESTABLISHED || state == TcpState.CLOSE_WAIT)) {
            return;
        }
        if (keepProbes >= cfg.keepCount()) {
            fail(Errno.ETIMEDOUT.number());
            return;
        }
        keepProbes++;
        // SEG.SEQ = SND.UNA - 1: outside the peer's window, so it answers with an ACK (RFC 9293 §3.8.4)
        emitSegment(now, TcpSegment.ACK, sndUna - 1, null, 0, 0);
        keepAt = now + cfg.keepIntervalNs();
    }

    // ------------------------------------------------------------------------------------------
    // output
    // ------------------------------------------------------------------------------------------

    /** Send what the send window, congestion window, Nagle and SWS rules allow, then a pending ACK. */
    public void output(final long now) {
        if (state == TcpState.CLOSED || state == TcpState.SYN_SENT || state == TcpState.SYN_RECEIVED) {
            return;
        }
        boolean sent = false;
        if (state != TcpState.TIME_WAIT) {
            final int mss = effectiveMss();
            while (true) {
                final int inFlight = sndNxt - sndUna;
                final int window = Math.min(sndWnd, cwnd);
                final int usable = Math.max(0, window - inFlight);
                final int offset = sndNxt - sendBufSeq;
                final int unsent = sendBuf.length() - offset;
                if (unsent > 0) {
                    final int want = Math.min(Math.min(unsent, mss), usable);
                    final int len = sendBuf.contiguous(offset, want);
                    if (len <= 0) {
                        break;
                    }
                    final boolean full = len == mss;
                    final boolean all = len == unsent;
                    final boolean ringLimited = len < want;
                    if (!full && !ringLimited) {
                        final boolean nagleOk = nodelay || inFlight == 0 || finQueued;
                        // sender SWS avoidance (RFC 9293 §3.8.6.2.1), except when nothing is in flight: then
                        // no ACK will come to open the window further, so send what fits (BSD's persist
                        // timer forces the same out later; we do not wait for it)
                        final boolean swsOk = maxSndWnd > 0 && len >= maxSndWnd / 2 || inFlight == 0;
                        if (!(all && nagleOk) && !swsOk) {
                            break;
                        }
                    }
                    emitData(now, sndNxt, len, false);
                    sent = true;
                    continue;
                }
                if (finQueued && sndNxt == finSeq()) {
                    emitSegment(now, TcpSegment.ACK | TcpSegment.FIN, sndNxt, null, 0, 0);
                    advanceNxt(now, sndNxt + 1);
                    sent = true;
                }
                break;
            }
            if (unsentBytes() > 0 && sndWnd == 0 && sndNxt == sndUna && persistAt == NEVER && rtxAt == NEVER) {
                persistAt = now + persistInterval();
            }
        }
        if (ackNow && !sent) {
            sendAck(now);
        }
    }

    private int unsentBytes() {
        return sendBuf.length() - (sndNxt - sendBufSeq);
    }

    private int finSeq() {
        return sendBufSeq + sendBuf.length();
    }

    /**
     * Emit a data segment of up to {@code len} bytes at {@code seq}, with FIN if it ends at the queued
     * FIN. A retransmission does not move SND.NXT. Returns the payload length sent.
     */
    private int emitData(final long now, final int seq, final int len, final boolean retransmission) {
        final int offset = seq - sendBufSeq;
        final int n = offset >= 0 ? sendBuf.contiguous(offset, Math.min(len, effectiveMss())) : 0;
        int flags = TcpSegment.ACK;
        final boolean withFin = finQueued && seq + n == finSeq() && (retransmission ? SeqNum.gt(sndMax, seq + n)
            : true);
        if (withFin) {
            flags |= TcpSegment.FIN;
        }
        if (n == 0 && !withFin) {
            return 0;
        }
        if (n > 0 && offset + n == sendBuf.length()) {
            flags |= TcpSegment.PSH;
        }
        emitSegment(now, flags, seq, sendBuf.view(), n > 0 ? sendBuf.viewOffset(offset) : 0, n);
        if (retransmission) {
            retransmits++;
            NetEvents.retransmit(localIp, localPort, remoteIp, remotePort, inRecovery ? "fast-recovery" : "timeout", seq,
                n, rtt.rto(), cwnd);
            if (rtxAt == NEVER) {
                rtxAt = now + rtt.rto();
            }
        } else {
            if (!timing && sndNxt == sndMax) {
                timing = true;
                rtSeq = seq;
                rtStart = now;
            }
            advanceNxt(now, seq + n + (withFin ? 1 : 0));
        }
        return n;
    }

    private void advanceNxt(final long now, final int next) {
        sndNxt = next;
        if (SeqNum.gt(sndNxt, sndMax)) {
            sndMax = sndNxt;
        }
        if (rtxAt == NEVER) {
            rtxAt = now + rtt.rto();
        }
        persistAt = NEVER;
    }

    private void sendSyn(final long now, final boolean withAck) {
        tx.clear();
        tx.srcPort = localPort;
        tx.dstPort = remotePort;
        tx.seq = iss;
        tx.flags = TcpSegment.SYN | (withAck ? TcpSegment.ACK : 0);
        tx.ack = rcvNxt;
        tx.window = Math.min(recvBuf.window(), 65535);
        tx.options.mss = localMss;
        if (!withAck || peerOfferedWs) {
            // always offer window scaling in a SYN; in a SYN-ACK only if the peer offered it
            tx.options.windowShift = rcvShift;
        }
        if (withAck ? sackOk : cfg.sack()) {
            tx.options.sackPermitted = true;
        }
        if (withAck ? tsOk : cfg.timestamps()) {
            tx.options.hasTimestamp = true;
            tx.options.tsVal = tsNow(now);
            tx.options.tsEcr = withAck ? tsRecent : 0;
        }
        if (withAck) {
            rcvAdv = rcvNxt + tx.window;
            lastAckSent = rcvNxt;
        }
        sndNxt = iss + 1;
        if (SeqNum.gt(sndNxt, sndMax)) {
            sndMax = sndNxt;
        }
        if (!timing && retries == 0) {
            timing = true;
            rtSeq = iss;
            rtStart = now;
        }
        rtxAt = now + rtt.rto();
        transmit(tx);
    }

    private boolean peerOfferedWs;

    private void sendAck(final long now) {
        emitSegment(now, TcpSegment.ACK, sndNxt, null, 0, 0);
    }

    private void challengeAck(final long now) {
        if (now - challengeWindowStart >= TcpConfig.S) {
            challengeWindowStart = now;
            challengeCount = 0;
        }
        if (challengeCount < cfg.challengeAckPerSecond()) {
            challengeCount++;
            challengeAcks++;
            sendAck(now);
        }
    }

    private void sendReset(final int seq, final int ack, final boolean withAck) {
        tx.clear();
        tx.srcPort = localPort;
        tx.dstPort = remotePort;
        tx.seq = seq;
        tx.ack = ack;
        tx.flags = TcpSegment.RST | (withAck ? TcpSegment.ACK : 0);
        transmit(tx);
    }

    /** Build and transmit one segment with the current ACK, window and options. */
    private void emitSegment(final long now, final int flags, final int seq, final DirectBuffer payload,
        final int payloadOffset, final int payloadLength) {
        tx.clear();
        tx.srcPort = localPort;
        tx.dstPort = remotePort;
        tx.seq = seq;
        tx.flags = flags;
        tx.ack = rcvNxt;
        tx.window = windowField();
        if (tsOk) {
            tx.options.hasTimestamp = true;
            tx.options.tsVal = tsNow(now);
            tx.options.tsEcr = tsRecent;
        }
        if (sackOk && !recvBuf.assembler.isEmpty()) {
            addSackBlocks();
        }
        tx.payload = payload;
        tx.payloadOffset = payloadOffset;
        tx.payloadLength = payloadLength;
        if ((flags & TcpSegment.ACK) != 0) {
            ackNow = false;
            delackAt = NEVER;
            rcvUnackedBytes = 0;
            lastAckSent = rcvNxt;
        }
        transmit(tx);
    }

    private void addSackBlocks() {
        final RecvBuffer.Assembler a = recvBuf.assembler;
        final int rs = a.recentStart();
        final int re = a.recentEnd();
        int recentIndex = -1;
        if (rs >= 0) {
            for (int i = 0; i < a.count(); i++) {
                if (a.start(i) <= rs && a.end(i) >= re) {
                    recentIndex = i;
                    tx.options.addSack(rcvNxt + a.start(i), rcvNxt + a.end(i));
                    break;
                }
            }
        }
        for (int i = 0; i < a.count(); i++) {
            if (i != recentIndex) {
                tx.options.addSack(rcvNxt + a.start(i), rcvNxt + a.end(i));
            }
        }
    }

    /**
     * Payload bytes a data segment sent now may carry: {@link #sndMss} (the peer's MSS less the
     * timestamp option every segment carries) less the SACK option {@link #emitSegment} adds while out-of-order
     * data waits in the receive buffer. The MSS counts no TCP options (RFC 6691 §2, Linux's
     * {@code tcp_current_mss}): a full-sized segment that also carried SACK blocks would exceed the MTU
     * and never leave the interface, and two peers that both hold out-of-order data would each drop the
     * very retransmission that fills the other's hole, for good.
     */
    private int effectiveMss() {
        return Math.max(1, sndMss - sackOptionLength());
    }

    /** Bytes of the SACK option on a segment sent now (as many blocks as fit beside the timestamps). */
    private int sackOptionLength() {
        if (!sackOk || recvBuf.assembler.isEmpty()) {
            return 0;
        }
        final int used = tsOk ? TIMESTAMP_OPTION_LENGTH : 0;
        int blocks = Math.min(recvBuf.assembler.count(), TcpOptions.MAX_SACK_BLOCKS);
        while (blocks > 0 && used + 4 + 8 * blocks > TcpOptions.MAX_LENGTH) {
            blocks--;
        }
        return blocks > 0 ? 4 + 8 * blocks : 0;
    }

    /** The timestamp option with its two NOPs of padding: what {@link #sndMss} leaves room for. */
    private static final int TIMESTAMP_OPTION_LENGTH = 12;

    /** Receiver SWS avoidance threshold (RFC 9293 §3.8.6.2.2): min(buffer / 2, MSS). */
    private int swsThreshold() {
        return Math.min(recvBuf.capacity() / 2, sndMss);
    }

    /**
     * The 16-bit window field: free space, scaled; the right edge never moves left, and moves right
     * only by at least {@link #swsThreshold()} (receiver silly-window avoidance).
     */
    private int windowField() {
        int wnd = scaledWindowFit(recvBuf.window());
        final int candidate = rcvNxt + wnd;
        if (SeqNum.lt(candidate, rcvAdv) || candidate - rcvAdv < swsThreshold()) {
            wnd = Math.max(0, rcvAdv - rcvNxt);
        }
        final int field = Math.min(wnd >>> rcvShift, 65535);
        final int edge = rcvNxt + (field << rcvShift);
        if (SeqNum.gt(edge, rcvAdv)) {
            rcvAdv = edge;
        }
        return field;
    }

    private int scaledWindowFit(final int wnd) {
        return Math.min(wnd, 65535 << rcvShift) >>> rcvShift << rcvShift;
    }

    /** RCV.WND for the acceptability test: what we advertised, at least what fits. */
    private int receiveWindow() {
        return Math.max(recvBuf.window(), rcvAdv - rcvNxt);
    }

    private int tsNow(final long now) {
        return (int)(now / TcpConfig.MS) + tsOffset;
    }

    private void transmit(final TcpRepr seg) {
        segmentsOut++;
        out.transmit(this, seg);
    }

    private void fail(final int errno) {
        error = errno;
        becomeClosed();
    }

    private void becomeClosed() {
        rtxAt = NEVER;
        delackAt = NEVER;
        persistAt = NEVER;
        keepAt = NEVER;
        closeAt = NEVER;
        ackNow = false;
        setState(TcpState.CLOSED);
        events.onReadable(this);
        events.onWritable(this);
    }

    private void setState(final TcpState to) {
        final TcpState from = state;
        if (from != to) {
            state = to;
            events.onStateChange(this, from, to);
        }
    }

    // ------------------------------------------------------------------------------------------
    // accessors and options
    // ------------------------------------------------------------------------------------------

    public TcpState state() {
        return state;
    }

    /** The errno the connection failed with (ECONNREFUSED, ECONNRESET, ETIMEDOUT), or 0. */
    public int error() {
        return error;
    }

    /** The peer's FIN was received and every byte before it has been read. */
    public boolean eof() {
        return finReceived && recvBuf.readable() == 0;
    }

    public boolean finReceived() {
        return finReceived;
    }

    public int readable() {
        return recvBuf.readable();
    }

    /** Free send-buffer space (what a write could queue now). */
    public int writable() {
        return sendBuf.free();
    }

    public int sendQueued() {
        return sendBuf.length();
    }

    public boolean writeShutdown() {
        return finQueued;
    }

    public boolean isPassive() {
        return passive;
    }

    public boolean userClosed() {
        return userClosed;
    }

    public void setNoDelay(final boolean on, final long now) {
        nodelay = on;
        if (on) {
            output(now);
        }
    }

    public boolean noDelay() {
        return nodelay;
    }

    public void setKeepalive(final boolean on, final long now) {
        keepalive = on;
        keepProbes = 0;
        keepAt = on && (state == TcpState.ESTABLISHED || state == TcpState.CLOSE_WAIT) ? now + cfg.keepIdleNs() : NEVER;
    }

    public boolean keepalive() {
        return keepalive;
    }

    public void setSendBufferSize(final int bytes) {
        sendBuf.resize(bytes);
    }

    public void setRecvBufferSize(final int bytes) {
        autotune = false; // an explicit SO_RCVBUF fixes the size, as on Linux
        if (state == TcpState.CLOSED || state == TcpState.SYN_SENT) {
            recvBuf.resize(bytes);
            rcvShift = TcpConfig.shiftFor(bytes);
        } else {
            recvBuf.resize(bytes);
        }
    }

    public int sendBufferSize() {
        return sendBuf.capacity();
    }

    public int recvBufferSize() {
        return recvBuf.capacity();
    }

    public int sndMss() {
        return sndMss;
    }

    /** True while the receive buffer may still grow by autotuning. */
    public boolean autotuning() {
        return autotune;
    }

    /** Times autotuning grew the receive buffer. */
    public long autotuneGrowths() {
        return autotuneGrowths;
    }

    public int cwnd() {
        return cwnd;
    }

    public int ssthresh() {
        return ssthresh;
    }

    public boolean inRecovery() {
        return inRecovery;
    }

    public int sndUna() {
        return sndUna;
    }

    public int sndNxt() {
        return sndNxt;
    }

    public int sndWnd() {
        return sndWnd;
    }

    public int rcvNxt() {
        return rcvNxt;
    }

    public int iss() {
        return iss;
    }

    public int sndShift() {
        return sndShift;
    }

    public int rcvShift() {
        return rcvShift;
    }

    public boolean timestampsEnabled() {
        return tsOk;
    }

    public boolean sackEnabled() {
        return sackOk;
    }

    public long rtoNs() {
        return rtt.rto();
    }

    public long srttNs() {
        return rtt.srtt();
    }

    public long retransmitDeadline() {
        return rtxAt;
    }

    public long persistDeadline() {
        return persistAt;
    }

    public long retransmits() {
        return retransmits;
    }

    public long challengeAcks() {
        return challengeAcks;
    }

    public long pawsDrops() {
        return pawsDrops;
    }

    public long segmentsIn() {
        return segmentsIn;
    }

    public long segmentsOut() {
        return segmentsOut;
    }

    /** Number of out-of-order ranges held (diagnostics and tests). */
    public int outOfOrderRanges() {
        return recvBuf.assembler.count();
    }

    /** Sequence-space snapshot for diagnostics. */
    public String debugState() {
        return this + " una=" + SeqNum.text(sndUna) + " nxt=" + SeqNum.text(sndNxt) + " max=" + SeqNum.text(sndMax)
            + " sndWnd=" + sndWnd + " cwnd=" + cwnd + " mss=" + sndMss + " queued=" + sendBuf.length() + " bufSeq="
            + SeqNum.text(sendBufSeq) + " rcvNxt=" + SeqNum.text(rcvNxt) + " rcvAdv-nxt=" + (rcvAdv - rcvNxt)
            + " readable=" + recvBuf.readable() + " rtxAt=" + rtxAt + " persistAt=" + persistAt + " delackAt=" + delackAt
            + " ackNow=" + ackNow + " ooo=" + recvBuf.assembler.count() + " rcvWindow=" + recvBuf.window()
            + " rcvCap=" + recvBuf.capacity() + " sndCap=" + sendBuf.capacity() + " maxSndWnd=" + maxSndWnd
            + " rcvShift=" + rcvShift + " sndShift=" + sndShift + " finQueued=" + finQueued + " nodelay=" + nodelay
            + " persistBackoff=" + persistBackoff + " retries=" + retries + " inRecovery=" + inRecovery
            + " sacks=" + sackN + " segsIn=" + segmentsIn + " segsOut=" + segmentsOut + " pawsDrops=" + pawsDrops
            + " tsRecent=" + tsRecent;
    }

    @Override
    public String toString() {
        return "tcp " + dev.osvj.net.wire.Addresses.ipv4(localIp) + ":" + localPort + " -> "
            + dev.osvj.net.wire.Addresses.ipv4(remoteIp) + ":" + remotePort + " " + state;
    }
}
