package dev.osvj.net.tcp;

/**
 * SipHash-2-4 (Aumasson and Bernstein, 2012) over up to two 64-bit words: the keyed pseudo-random
 * function behind the RFC 6528 ISN, the SYN-cookie MAC and the flow classifier's bucket hash. A
 * keyed hash means an attacker who does not know the 128-bit key can neither predict ISNs nor craft
 * 4-tuples that pile into one hash bucket. Allocation-free; thread-safe (immutable key).
 */
public final class SipHash {
    private final long k0;
    private final long k1;

    public SipHash(final long k0, final long k1) {
        this.k0 = k0;
        this.k1 = k1;
    }

    /** A hash with a key from a new {@link java.security.SecureRandom}. */
    public static SipHash random() {
        return random(new java.security.SecureRandom());
    }

    /** A hash with a key drawn from {@code random} (a stack shares one per kernel). */
    public static SipHash random(final java.security.SecureRandom random) {
        return new SipHash(random.nextLong(), random.nextLong());
    }

    /** SipHash-2-4 of the 16-byte message {@code m0 || m1} (little-endian words, as the reference). */
    public long hash(final long m0, final long m1) {
        long v0 = k0 ^ 0x736f6d6570736575L;
        long v1 = k1 ^ 0x646f72616e646f6dL;
        long v2 = k0 ^ 0x6c7967656e657261L;
        long v3 = k1 ^ 0x7465646279746573L;
        // message word 0
        v3 ^= m0;
        for (int i = 0; i < 2; i++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        v0 ^= m0;
        // message word 1
        v3 ^= m1;
        for (int i = 0; i < 2; i++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        v0 ^= m1;
        // final word: length (16) in the top byte, no remaining bytes
        final long b = 16L << 56;
        v3 ^= b;
        for (int i = 0; i < 2; i++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        v0 ^= b;
        v2 ^= 0xff;
        for (int i = 0; i < 4; i++) {
            v0 += v1; v1 = Long.rotateLeft(v1, 13); v1 ^= v0; v0 = Long.rotateLeft(v0, 32);
            v2 += v3; v3 = Long.rotateLeft(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Long.rotateLeft(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Long.rotateLeft(v1, 17); v1 ^= v2; v2 = Long.rotateLeft(v2, 32);
        }
        return v0 ^ v1 ^ v2 ^ v3;
    }

    /** The hash of an IPv4 4-tuple (addresses and ports) plus an extra word. */
    public long hashTuple(final int localIp, final int localPort, final int remoteIp, final int remotePort,
        final int extra) {
        return hash(((long)localIp << 32) | (remoteIp & 0xFFFF_FFFFL),
            ((long)localPort << 48) | ((long)(remotePort & 0xFFFF) << 32) | (extra & 0xFFFF_FFFFL));
    }
}
