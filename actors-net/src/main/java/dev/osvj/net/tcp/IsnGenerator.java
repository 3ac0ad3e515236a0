package dev.osvj.net.tcp;

/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport,
 * secretkey), where M is a clock ticking every 4 microseconds and F is a keyed pseudo-random function
 * (here {@link SipHash}-2-4 with a random 128-bit key). The clock keeps a reused 4-tuple's ISNs
 * increasing; the keyed hash makes them unpredictable off-path. Thread-safe.
 */
public final class IsnGenerator {
    private final SipHash hash;

    public IsnGenerator(final SipHash hash) {
        this.hash = hash;
    }

    public int isn(final long nowNs, final int localIp, final int localPort, final int remoteIp, final int remotePort) {
        return (int)(nowNs / 4000L) + (int)hash.hashTuple(localIp, localPort, remoteIp, remotePort, 0);
    }
}
