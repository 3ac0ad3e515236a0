package dev.osvj.bench.sched;

import java.util.concurrent.locks.LockSupport;

/**
 * The JDK baseline of {@code switch.colocated.ratio_vs_virtual_threads}: two virtual threads
 * ping-pong with {@code park}/{@code unpark} on one carrier. Run in a child JVM started with
 * {@code -Djdk.virtualThreadScheduler.parallelism=1} (the property only counts before the first
 * virtual thread of a JVM). Prints nanoseconds per switch.
 *
 * <p>Usage: {@code VirtualThreadPingPong ROUNDS REPEATS}; prints the best of REPEATS.
 */
public final class VirtualThreadPingPong {
    private static volatile int turn;

    private VirtualThreadPingPong() {
    }

    public static void main(final String[] args) throws Exception {
        final long rounds = Long.parseLong(args[0]);
        final int repeats = Integer.parseInt(args[1]);
        double best = Double.MAX_VALUE;
        for (int r = 0; r < repeats; r++) {
            best = Math.min(best, once(rounds));
        }
        System.out.println(best);
    }

    static double once(final long rounds) throws Exception {
        turn = 0;
        final Thread[] ts = new Thread[2];
        final long t0 = System.nanoTime();
        for (int me = 0; me < 2; me++) {
            final int self = me;
            ts[me] = Thread.ofVirtual().unstarted(() -> {
                for (long i = 0; i < rounds; i++) {
                    while (turn != self) {
                        LockSupport.park();
                    }
                    turn = 1 - self;
                    LockSupport.unpark(ts[1 - self]);
                }
            });
        }
        ts[0].start();
        ts[1].start();
        ts[0].join();
        ts[1].join();
        return (System.nanoTime() - t0) / (2.0 * rounds);
    }
}
