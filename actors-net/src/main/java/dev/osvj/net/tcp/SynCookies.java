package dev.osvj.net.tcp;

/**
 * SYN cookies: when a listener's SYN queue is full, the SYN-ACK's ISN itself carries what the
 * connection needs, so no state is kept until the handshake's ACK returns with ISN + 1.
 *
 * <pre>
 *  31      27 26  24 23                                               0
 * +----------+------+--------------------------------------------------+
 * | t (5 bit)| mss  |  MAC: 24 bits of SipHash(key; 4-tuple, peer ISN,  |
 * | 64 s/tick| index|       t, mss index)                              |
 * +----------+------+--------------------------------------------------+
 * </pre>
 *
 * A cookie is valid for the current and the previous tick (64 to 128 seconds). When the SYN carried a
 * timestamp, the peer's window-scale shift and SACK-permitted are encoded in the low 6 bits of our
 * TSval and come back in TSecr ({@link #encodeTsOptions}, as Linux does); without timestamps the
 * connection runs without window scaling and SACK. Thread-safe.
 */
public final class SynCookies {
    /** The MSS values a cookie can carry (3 bits). A peer's MSS is rounded down to one of these. */
    static final int[] MSS_TABLE = {536, 1220, 1360, 1440, 1460, 4312, 8960, 65495};
    static final long TICK_NS = 64L * 1_000_000_000L;
    private final SipHash hash;

    public SynCookies(final SipHash hash) {
        this.hash = hash;
    }

    static int mssIndex(final int mss) {
        int idx = 0;
        for (int i = 0; i < MSS_TABLE.length; i++) {
            if (MSS_TABLE[i] <= mss) {
                idx = i;
            }
        }
        return idx;
    }

    private int mac(final int t, final int idx, final int localIp, final int localPort, final int remoteIp,
        final int remotePort, final int peerIsn) {
        final long inner = hash.hashTuple(localIp, localPort, remoteIp, remotePort, peerIsn);
        return (int)(hash.hash(inner, ((long)t << 8) | idx)) & 0xFF_FFFF;
    }

    /** The cookie ISN for a SYN from the peer with ISN {@code peerIsn} and MSS {@code peerMss}. */
    public int encode(final long now, final int localIp, final int localPort, final int remoteIp, final int remotePort,
        final int peerIsn, final int peerMss) {
        final int t = (int)(now / TICK_NS) & 0x1F;
        final int idx = mssIndex(peerMss);
        return (t << 27) | (idx << 24) | mac(t, idx, localIp, localPort, remoteIp, remotePort, peerIsn);
    }

    /**
     * Check the cookie echoed in an ACK ({@code ack - 1}) for the peer's {@code seq - 1}.
     *
     * @return the MSS the cookie carries, or -1 when it is not a valid, recent cookie.
     */
    public int decode(final long now, final int localIp, final int localPort, final int remoteIp, final int remotePort,
        final int peerIsn, final int cookie) {
        final int t = cookie >>> 27;
        final int idx = (cookie >>> 24) & 0x7;
        final int nowT = (int)(now / TICK_NS) & 0x1F;
        final int age = (nowT - t) & 0x1F;
        if (age > 1) {
            return -1;
        }
        if ((cookie & 0xFF_FFFF) != mac(t, idx, localIp, localPort, remoteIp, remotePort, peerIsn)) {
            return -1;
        }
        return MSS_TABLE[idx];
    }

    /** Put the peer's window shift (-1 none) and SACK-permitted into the low 6 bits of our TSval. */
    public static int encodeTsOptions(final int tsVal, final int windowShift, final boolean sack) {
        final int ws = windowShift < 0 ? 0xF : windowShift;
        return (tsVal & ~0x3F) | 0x20 | (sack ? 0x10 : 0) | ws;
    }

    /** The window shift from an echoed TSecr, or -1 (none, or no options encoded). */
    public static int decodeWindowShift(final int tsEcr) {
        if ((tsEcr & 0x20) == 0) {
            return -1;
        }
        final int ws = tsEcr & 0xF;
        return ws == 0xF ? -1 : ws;
    }

    public static boolean decodeSack(final int tsEcr) {
        return (tsEcr & 0x30) == 0x30;
    }
}
