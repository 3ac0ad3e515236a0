package dev.osvj.bench.claims;

import dev.osvj.kernel.KernelClock;
import dev.osvj.sched.KThread;
import dev.osvj.sched.Mutex;
import dev.osvj.sched.SchedConfig;
import dev.osvj.sched.Scheduler;
import dev.osvj.sched.SpinLock;
import dev.osvj.sched.ThreadAttr;
import org.apache.pekko.actor.typed.ActorSystem;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Lock-holder preemption: a spinlock against OSv's lock-free (sleeping) mutex when the hypervisor
 * steals vCPU time, on the same scheduler in the same run.
 *
 * <p>The workload (an improvement on the sched suite's, where every worker contends for one counter,
 * so almost all time is spent waiting for the lock and the figure says more about that convoy than
 * about preemption): four kernel threads, two pinned to each of two vCPUs, repeatedly do real work
 * outside any lock ({@link #OUTSIDE_CHUNKS} chunks), then take one of {@link #LOCKS} locks chosen at
 * random and work inside it ({@link #INSIDE_CHUNKS} chunks) before updating that lock's counter. A chunk
 * is about a microsecond of arithmetic; the {@link SimulatedHypervisor} is consulted between chunks, so
 * a pause hits a lock holder as often as locks are held (about a sixth of the time). With a spinlock a
 * paused holder makes whoever wants its lock on the other vCPU spin, holding that vCPU, until the pause
 * ends; with the mutex the waiter sleeps and its vCPU runs the other thread.
 *
 * <p>Loss is {@code 1 - ops_with_steal / ops_without_steal}; stealing 10% of two vCPUs costs about 0.1
 * by itself, so anything above that is what the lock makes of it.
 */
final class LockHolderClaim {
    static final int LOCKS = 8;
    static final int WORKERS = 4;
    static final int OUTSIDE_CHUNKS = 10;
    static final int INSIDE_CHUNKS = 2;
    /** Iterations of the arithmetic per chunk: about a microsecond on a current x86 core. */
    static final int CHUNK_ITERATIONS = 400;
    private static final AtomicInteger SCHEDULERS = new AtomicInteger();

    private LockHolderClaim() {
    }

    /** Operations per second of one configuration over {@code windowMs}. */
    static double opsPerSecond(final ActorSystem<?> system, final boolean spin, final boolean steal, final long windowMs)
        throws InterruptedException {
        final Scheduler s = Scheduler.create("claims-lhp-" + SCHEDULERS.incrementAndGet(), SchedConfig.defaults(2),
            KernelClock.SYSTEM, null);
        s.start((behavior, name, props) -> system.systemActorOf(behavior, s.name() + "-" + name, props));
        final AtomicBoolean stop = new AtomicBoolean();
        final SimulatedHypervisor hv = new SimulatedHypervisor(2);
        try {
            final SpinLock[] spins = new SpinLock[LOCKS];
            final Mutex[] mutexes = new Mutex[LOCKS];
            final long[] counters = new long[LOCKS * 16]; // one per lock, a cache line apart
            for (int i = 0; i < LOCKS; i++) {
                spins[i] = new SpinLock();
                mutexes[i] = new Mutex();
            }
            final AtomicLongArray ops = new AtomicLongArray(WORKERS * 16);
            final List<KThread> workers = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                final int cpu = w % 2;
                final int slot = w * 16;
                workers.add(s.spawn(ThreadAttr.named("lhp" + w).pinnedTo(cpu), () -> {
                    final SplittableRandom random = new SplittableRandom(slot);
                    long x = slot + 1;
                    long done = 0;
                    while (!stop.get()) {
                        for (int c = 0; c < OUTSIDE_CHUNKS; c++) {
                            x = chunk(x);
                            hv.check(cpu);
                        }
                        final int l = random.nextInt(LOCKS);
                        if (spin) {
                            while (!spins[l].tryLock()) {
                                hv.check(cpu);
                                Thread.onSpinWait();
                            }
                        } else {
                            mutexes[l].lock();
                        }
                        for (int c = 0; c < INSIDE_CHUNKS; c++) {
                            x = chunk(x);
                            hv.check(cpu);
                        }
                        counters[l * 16] += x & 1;
                        if (spin) {
                            spins[l].unlock();
                        } else {
                            mutexes[l].unlock();
                        }
                        ops.lazySet(slot, ++done);
                        KThread.preemptionPoint();
                    }
                }));
            }
            Thread.sleep(Math.min(300, windowMs / 2)); // warm-up
            if (steal) {
                hv.start();
            }
            final long c0 = sum(ops);
            final long t0 = System.nanoTime();
            Thread.sleep(windowMs);
            final long c1 = sum(ops);
            final long t1 = System.nanoTime();
            stop.set(true);
            hv.stop();
            for (final KThread t : workers) {
                if (!t.join(TimeUnit.SECONDS.toNanos(60))) {
                    throw new IllegalStateException("lhp worker did not stop: " + t);
                }
                if (t.failure() != null) {
                    throw new IllegalStateException("lhp worker failed", t.failure());
                }
            }
            return (c1 - c0) * 1e9 / (t1 - t0);
        } finally {
            stop.set(true);
            hv.stop();
            s.stop(Duration.ofSeconds(10));
        }
    }

    private static long sum(final AtomicLongArray ops) {
        long n = 0;
        for (int w = 0; w < WORKERS; w++) {
            n += ops.get(w * 16);
        }
        return n;
    }

    /** About a microsecond of dependent arithmetic (a 64-bit LCG). */
    static long chunk(long x) {
        for (int k = 0; k < CHUNK_ITERATIONS; k++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
        }
        return x;
    }
}
