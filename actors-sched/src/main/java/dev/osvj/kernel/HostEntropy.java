package dev.osvj.kernel;

import java.security.SecureRandom;

/**
 * The host's entropy for every kernel instance in this JVM: one {@link SecureRandom}, created and seeded
 * at first use instead of at every boot (tens of microseconds each). The JDK's default generator
 * (NativePRNG on Linux: the host's {@code /dev/urandom} mixed with SHA1PRNG) is thread-safe, and each
 * read gets fresh unpredictable bytes whichever kernel reads it; {@code setSeed} supplements and never
 * replaces its seed, so one kernel cannot make another's reads predictable. Used by devfs's
 * {@code /dev/random}, the virtio-rng devices and the network stacks' hash keys and DHCP ids, as every
 * guest of a host reads the host's one {@code /dev/urandom}.
 */
public final class HostEntropy {
    private HostEntropy() {
    }

    /** The JVM's one generator. */
    public static SecureRandom shared() {
        return Holder.SHARED;
    }

    private static final class Holder {
        static final SecureRandom SHARED = new SecureRandom();
    }
}
