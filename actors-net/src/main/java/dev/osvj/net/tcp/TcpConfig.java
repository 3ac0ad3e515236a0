package dev.osvj.net.tcp;

/**
 * TCP settings of a stack (the {@code osvj.net.tcp.*} keys). All times in nanoseconds, sizes in bytes.
 *
 * @param sendBuffer       default SO_SNDBUF (OSv: 32 KiB).
 * @param recvBuffer       default SO_RCVBUF (OSv: 64 KiB); also sets the window-scale shift offered.
 * @param initialRtoNs     RTO before the first RTT sample (RFC 6298 §2.1: 1 s).
 * @param minRtoNs         lower bound of the RTO (RFC 6298 says 1 s; Linux and gVisor use 200 ms).
 * @param maxRtoNs         upper bound of the RTO after backoff (RFC 6298 allows >= 60 s).
 * @param maxRetries       retransmissions of one segment before the connection fails with ETIMEDOUT.
 * @param synRetries       SYN (or SYN-ACK) retransmissions before connect fails with ETIMEDOUT.
 * @param delayedAckNs     how long an ACK for in-order data may wait (0 = ACK every segment at once).
 * @param timeWaitNs       TIME_WAIT duration, 2*MSL.
 * @param finWait2Ns       how long an orphaned connection waits in FIN_WAIT_2 for the peer's FIN.
 * @param keepIdleNs       idle time before the first keepalive probe (SO_KEEPALIVE).
 * @param keepIntervalNs   time between unanswered keepalive probes.
 * @param keepCount        unanswered probes before the connection fails with ETIMEDOUT.
 * @param sack             offer and accept SACK (RFC 2018).
 * @param timestamps       offer and accept timestamps (RFC 7323).
 * @param synBacklog       half-open connections per listener before SYN cookies (or drops) start.
 * @param synCookies       answer SYNs with cookies when the SYN queue is full (otherwise drop them).
 * @param challengeAckPerSecond at most this many RFC 5961 challenge ACKs per second per connection.
 * @param recvBufferMax    receive-buffer autotuning ceiling (Linux's {@code tcp_rmem[2]}): a connection
 *                         whose buffer was not set explicitly starts at {@code recvBuffer} and doubles
 *                         while the peer fills the advertised window and the application keeps up
 *                         (see {@link TcpConnection}); the window-scale shift offered covers it. At most
 *                         {@code recvBuffer}: no autotuning.
 */
public record TcpConfig(int sendBuffer, int recvBuffer, long initialRtoNs, long minRtoNs, long maxRtoNs,
    int maxRetries, int synRetries, long delayedAckNs, long timeWaitNs, long finWait2Ns, long keepIdleNs,
    long keepIntervalNs, int keepCount, boolean sack, boolean timestamps, int synBacklog, boolean synCookies,
    int challengeAckPerSecond, int recvBufferMax) {

    public static final long MS = 1_000_000L;
    public static final long S = 1_000_000_000L;

    /** The defaults of reference.conf. */
    public static TcpConfig defaults() {
        return new TcpConfig(32 * 1024, 64 * 1024, S, 200 * MS, 60 * S, 15, 6, 40 * MS, 60 * S, 60 * S,
            7200 * S, 75 * S, 9, true, true, 128, true, 100, 4 * 1024 * 1024);
    }

    /**
     * These settings with a socket's buffer sizes. A receive size other than this config's default was
     * set explicitly (SO_RCVBUF): as on Linux, that turns autotuning off for the socket.
     */
    public TcpConfig withBuffers(final int send, final int recv) {
        return new TcpConfig(send, recv, initialRtoNs, minRtoNs, maxRtoNs, maxRetries, synRetries, delayedAckNs,
            timeWaitNs, finWait2Ns, keepIdleNs, keepIntervalNs, keepCount, sack, timestamps, synBacklog, synCookies,
            challengeAckPerSecond, recv == recvBuffer ? recvBufferMax : recv);
    }

    public TcpConfig withOptions(final boolean withSack, final boolean withTimestamps) {
        return new TcpConfig(sendBuffer, recvBuffer, initialRtoNs, minRtoNs, maxRtoNs, maxRetries, synRetries,
            delayedAckNs, timeWaitNs, finWait2Ns, keepIdleNs, keepIntervalNs, keepCount, withSack, withTimestamps,
            synBacklog, synCookies, challengeAckPerSecond, recvBufferMax);
    }

    public TcpConfig withDelayedAck(final long ns) {
        return new TcpConfig(sendBuffer, recvBuffer, initialRtoNs, minRtoNs, maxRtoNs, maxRetries, synRetries, ns,
            timeWaitNs, finWait2Ns, keepIdleNs, keepIntervalNs, keepCount, sack, timestamps, synBacklog, synCookies,
            challengeAckPerSecond, recvBufferMax);
    }

    public TcpConfig withSynBacklog(final int backlog, final boolean cookies) {
        return new TcpConfig(sendBuffer, recvBuffer, initialRtoNs, minRtoNs, maxRtoNs, maxRetries, synRetries,
            delayedAckNs, timeWaitNs, finWait2Ns, keepIdleNs, keepIntervalNs, keepCount, sack, timestamps, backlog,
            cookies, challengeAckPerSecond, recvBufferMax);
    }

    public TcpConfig withKeepalive(final long idleNs, final long intervalNs, final int count) {
        return new TcpConfig(sendBuffer, recvBuffer, initialRtoNs, minRtoNs, maxRtoNs, maxRetries, synRetries,
            delayedAckNs, timeWaitNs, finWait2Ns, idleNs, intervalNs, count, sack, timestamps, synBacklog, synCookies,
            challengeAckPerSecond, recvBufferMax);
    }

    public TcpConfig withRto(final long initialNs, final long minNs, final long maxNs) {
        return new TcpConfig(sendBuffer, recvBuffer, initialNs, minNs, maxNs, maxRetries, synRetries, delayedAckNs,
            timeWaitNs, finWait2Ns, keepIdleNs, keepIntervalNs, keepCount, sack, timestamps, synBacklog, synCookies,
            challengeAckPerSecond, recvBufferMax);
    }

    /** These settings with receive-buffer autotuning up to {@code max} bytes ({@code <= recvBuffer}: off). */
    public TcpConfig withRecvBufferMax(final int max) {
        return new TcpConfig(sendBuffer, recvBuffer, initialRtoNs, minRtoNs, maxRtoNs, maxRetries, synRetries,
            delayedAckNs, timeWaitNs, finWait2Ns, keepIdleNs, keepIntervalNs, keepCount, sack, timestamps, synBacklog,
            synCookies, challengeAckPerSecond, max);
    }

    /** True when a connection's receive buffer may grow beyond {@link #recvBuffer} (autotuning). */
    public boolean autotune() {
        return recvBufferMax > recvBuffer;
    }

    /** The window-scale shift a connection with these settings offers: enough for the largest buffer it may grow to. */
    public int offeredShift() {
        return shiftFor(Math.max(recvBuffer, recvBufferMax));
    }

    /** The smallest window-scale shift that lets {@code buffer} bytes be advertised (RFC 7323). */
    public static int shiftFor(final int buffer) {
        int shift = 0;
        while (shift < 14 && (65535L << shift) < buffer) {
            shift++;
        }
        return shift;
    }
}
