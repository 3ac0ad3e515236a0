package dev.osvj.net.tcp;

/**
 * The retransmission timeout of RFC 6298: SRTT and RTTVAR from RTT samples (alpha 1/8, beta 1/4),
 * RTO = SRTT + max(G, 4 * RTTVAR) clamped to [min, max], doubled by each timeout (backoff) until a new
 * sample arrives. Karn's rule (no samples from retransmitted segments) is the caller's job. Times in
 * nanoseconds; G (clock granularity) is 1 ms.
 */
final class RttEstimator {
    static final long GRANULARITY_NS = 1_000_000L;

    private final long minRto;
    private final long maxRto;
    private long srtt = -1;
    private long rttvar;
    private long rto;
    private int backoff;

    RttEstimator(final long initialRto, final long minRto, final long maxRto) {
        this.minRto = minRto;
        this.maxRto = maxRto;
        this.rto = Math.max(minRto, Math.min(initialRto, maxRto));
    }

    void sample(final long rttNs) {
        final long r = Math.max(0, rttNs);
        if (srtt < 0) {
            srtt = r;
            rttvar = r / 2;
        } else {
            rttvar = (3 * rttvar + Math.abs(srtt - r)) / 4;
            srtt = (7 * srtt + r) / 8;
        }
        rto = Math.max(minRto, Math.min(maxRto, srtt + Math.max(GRANULARITY_NS, 4 * rttvar)));
        backoff = 0;
    }

    /** The current timeout including backoff. */
    long rto() {
        long r = rto;
        for (int i = 0; i < backoff && r < maxRto; i++) {
            r *= 2;
        }
        return Math.min(r, maxRto);
    }

    void backOff() {
        if (backoff < 30) {
            backoff++;
        }
    }

    int backoffCount() {
        return backoff;
    }

    long srtt() {
        return srtt;
    }

    long rttvar() {
        return rttvar;
    }
}
