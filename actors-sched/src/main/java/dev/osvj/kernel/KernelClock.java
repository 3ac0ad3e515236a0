package dev.osvj.kernel;

/** The kernel's time source: monotonic for deadlines and intervals, real time for dates. */
public interface KernelClock {
    /** Monotonic nanoseconds, arbitrary origin. */
    long monotonicNanos();

    /** Nanoseconds since the Unix epoch. */
    long realtimeNanos();

    /** The host's clocks. */
    KernelClock SYSTEM = new KernelClock() {
        @Override
        public long monotonicNanos() {
            return System.nanoTime();
        }

        @Override
        public long realtimeNanos() {
            final java.time.Instant now = java.time.Instant.now();
            return now.getEpochSecond() * 1_000_000_000L + now.getNano();
        }
    };
}
