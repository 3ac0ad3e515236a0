package dev.osvj.bench.sched;

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
import java.util.concurrent.locks.LockSupport;

/**
 * The sched suite's lock-holder-preemption experiment: how much of its throughput a spinlock and
 * OSv's sleeping mutex keep when a simulated hypervisor steals vCPU time, with everything but the lock
 * kind held equal.
 *
 * <h2>What is equal between the two cases</h2>
 * <ul>
 *   <li><b>Work.</b> Four kernel threads, two pinned to each of two vCPUs, loop: {@link #OUTSIDE_CHUNKS}
 *       chunks of arithmetic outside any lock, then one of {@link #LOCKS} shared counters chosen at
 *       random, locked, {@link #INSIDE_CHUNKS} chunks inside, increment, unlock. A chunk is a fixed
 *       {@link #CHUNK_ITERATIONS} iterations, so an operation is the same work whatever the lock.</li>
 *   <li><b>Pauses.</b> One {@link PauseSchedule} generated from a fixed seed is replayed, relative to the
 *       start of the measured window, in both steal runs: the same vCPUs are paused at the same
 *       offsets for the same lengths (1-10 ms, one vCPU at a time, then four times as long with all
 *       running: 10% of each of two vCPUs).</li>
 *   <li><b>How a pause bites.</b> The running thread of a paused vCPU stops at its next
 *       {@link Hypervisor#check} (between chunks, inside critical sections as often as outside) and
 *       <em>spins</em> there until the pause ends: under a real hypervisor the physical CPU of a
 *       preempted vCPU runs someone else, so the guest's other vCPU does not get it. (The earlier
 *       version parked the carrier, which handed its host core to the other vCPU on a 2-core machine,
 *       and the mutex case came out faster with steal than without.)</li>
 * </ul>
 * Both conditions of one lock kind run on one scheduler with the same threads, in alternating windows
 * (ABBA ABBA...), so a shared host's drifting load hits both alike.
 *
 * <p>The only difference left is what a waiter does while a holder is paused: spin (holding its vCPU,
 * the other thread of that vCPU cannot run) or sleep (its vCPU runs the other thread).
 *
 * <p>Loss is {@code 1 - ops_with_steal / ops_without_steal}. The steal alone costs about 0.1 of the
 * capacity, so a lock that only loses the stolen time scores about 0.1; the spinlock also loses the
 * other vCPU's time spent spinning behind a paused holder.
 */
public final class LockHolderPreemption {
    public static final int CPUS = 2;
    static final int WORKERS = 4;
    static final int LOCKS = 4;
    static final int OUTSIDE_CHUNKS = 8;
    static final int INSIDE_CHUNKS = 2;
    /** Iterations of a 64-bit LCG per chunk: about a microsecond on a current x86 core. */
    static final int CHUNK_ITERATIONS = 400;
    /** Counters a cache line apart. */
    private static final int PAD = 16;
    private static final AtomicInteger SCHEDULERS = new AtomicInteger();

    /** The lock kind under test. */
    public enum Kind { SPINLOCK, MUTEX }

    private LockHolderPreemption() {
    }

    /**
     * Pauses to replay: pause {@code i} stops vCPU {@code cpu[i]} from {@code startNs[i]} for
     * {@code lengthNs[i]} (offsets from the start of the window, nanoseconds). Immutable.
     */
    public record PauseSchedule(int[] cpu, long[] startNs, long[] lengthNs) {
        /**
         * Pauses of 1-10 ms on one random vCPU at a time, each followed by four times its length with
         * every vCPU running, covering {@code windowNs}: each of {@code cpus} = 2 vCPUs loses 10%.
         */
        public static PauseSchedule generate(final long seed, final int cpus, final long windowNs) {
            final SplittableRandom random = new SplittableRandom(seed);
            final List<long[]> pauses = new ArrayList<>();
            long t = 0;
            while (t < windowNs) {
                final long length = TimeUnit.MICROSECONDS.toNanos(random.nextLong(1_000, 10_001));
                pauses.add(new long[] {random.nextInt(cpus), t, length});
                t += 5 * length;
            }
            final int[] cpu = new int[pauses.size()];
            final long[] start = new long[pauses.size()];
            final long[] length = new long[pauses.size()];
            for (int i = 0; i < cpu.length; i++) {
                cpu[i] = (int)pauses.get(i)[0];
                start[i] = pauses.get(i)[1];
                length[i] = pauses.get(i)[2];
            }
            return new PauseSchedule(cpu, start, length);
        }

        /** The fraction of {@code cpus} vCPUs' time over {@code windowNs} that the schedule takes. */
        public double stealFraction(final int cpus, final long windowNs) {
            long total = 0;
            for (int i = 0; i < startNs.length; i++) {
                total += Math.max(0, Math.min(lengthNs[i], windowNs - startNs[i]));
            }
            return (double)total / ((double)windowNs * cpus);
        }
    }

    /**
     * Replays a {@link PauseSchedule} from {@link #begin}. Roles: the hypervisor thread writes
     * {@code pausedUntil[cpu]} (absolute {@code System.nanoTime()}); each vCPU's running kernel thread
     * reads its own element in {@link #check} (volatile array elements).
     */
    static final class Hypervisor implements Runnable {
        private final PauseSchedule schedule;
        private final AtomicLongArray pausedUntil = new AtomicLongArray(CPUS);
        private volatile boolean running;
        private long t0;
        private Thread thread;

        Hypervisor(final PauseSchedule schedule) {
            this.schedule = schedule;
        }

        /** A paused vCPU's running thread stays here, spinning, until the pause ends. */
        void check(final int cpu) {
            while (pausedUntil.get(cpu) > System.nanoTime()) {
                Thread.onSpinWait();
            }
        }

        /** Start replaying the schedule with offset 0 at {@code startNanos} (after {@link #stop}, again). */
        void begin(final long startNanos) {
            t0 = startNanos;
            running = true;
            thread = Thread.ofPlatform().daemon().name("simulated-hypervisor").start(this);
        }

        @Override
        public void run() {
            for (int i = 0; i < schedule.startNs().length && running; i++) {
                final long start = t0 + schedule.startNs()[i];
                long wait;
                while (running && (wait = start - System.nanoTime()) > 0) {
                    LockSupport.parkNanos(wait);
                }
                pausedUntil.set(schedule.cpu()[i], start + schedule.lengthNs()[i]);
            }
        }

        /** End the replay: no vCPU stays paused. */
        void stop() throws InterruptedException {
            running = false;
            if (thread != null) {
                LockSupport.unpark(thread);
                thread.join(TimeUnit.SECONDS.toMillis(30));
                thread = null;
            }
            for (int i = 0; i < CPUS; i++) {
                pausedUntil.set(i, 0);
            }
        }
    }

    /** Throughput of one lock kind without and with steal (operations per second). */
    public record Result(double opsPerSecondNoSteal, double opsPerSecondSteal) {
        /** {@code 1 - steal / no steal}. */
        public double loss() {
            return 1 - opsPerSecondSteal / opsPerSecondNoSteal;
        }
    }

    /** One line describing the workload, for benchmark details. */
    public static String workload() {
        return WORKERS + " threads on " + CPUS + " vCPUs, " + LOCKS + " locks, " + INSIDE_CHUNKS + " work chunks inside / "
            + OUTSIDE_CHUNKS + " outside each lock, about 10% steal in 1-10 ms pauses";
    }

    /**
     * Run {@code kind} on one scheduler and measure {@code rounds} pairs of windows of
     * {@code windowMs}, one without steal and one replaying {@code schedule} (which should cover
     * {@code windowMs}), in the order ABBA ABBA...: on a shared host whose load drifts over seconds,
     * interleaving gives both conditions the same background instead of one period each.
     */
    public static Result measure(final ActorSystem<?> system, final Kind kind, final PauseSchedule schedule,
        final long windowMs, final int rounds) throws InterruptedException {
        final Scheduler s = Scheduler.create("bench-lhp-" + SCHEDULERS.incrementAndGet(), SchedConfig.defaults(CPUS),
            KernelClock.SYSTEM, null);
        s.start((behavior, name, props) -> system.systemActorOf(behavior, s.name() + "-" + name, props));
        final AtomicBoolean stop = new AtomicBoolean();
        final Hypervisor hv = new Hypervisor(schedule);
        try {
            final SpinLock[] spins = new SpinLock[LOCKS];
            final Mutex[] mutexes = new Mutex[LOCKS];
            for (int i = 0; i < LOCKS; i++) {
                spins[i] = new SpinLock();
                mutexes[i] = new Mutex();
            }
            final long[] counters = new long[LOCKS * PAD];
            final AtomicLongArray ops = new AtomicLongArray(WORKERS * PAD);
            final List<KThread> workers = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                final int cpu = w % CPUS;
                final int slot = w * PAD;
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
                        if (kind == Kind.SPINLOCK) {
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
                        counters[l * PAD] += 1 + (x & 1);
                        if (kind == Kind.SPINLOCK) {
                            spins[l].unlock();
                        } else {
                            mutexes[l].unlock();
                        }
                        ops.lazySet(slot, ++done);
                        KThread.preemptionPoint();
                    }
                }));
            }
            Thread.sleep(300); // warm-up: JIT, tau-scale transients
            final long[] opsAndNanos = new long[4]; // no steal: ops, ns; steal: ops, ns
            for (int i = 0; i < 2 * rounds; i++) {
                final boolean steal = (i % 4 == 1) || (i % 4 == 2);
                final long c0 = sum(ops);
                final long t0 = System.nanoTime();
                if (steal) {
                    hv.begin(t0);
                }
                Thread.sleep(windowMs);
                final long c1 = sum(ops);
                final long t1 = System.nanoTime();
                if (steal) {
                    hv.stop();
                }
                opsAndNanos[steal ? 2 : 0] += c1 - c0;
                opsAndNanos[steal ? 3 : 1] += t1 - t0;
            }
            stop.set(true);
            for (final KThread t : workers) {
                if (!t.join(TimeUnit.SECONDS.toNanos(60))) {
                    throw new IllegalStateException("lhp worker did not stop: " + t);
                }
                if (t.failure() != null) {
                    throw new IllegalStateException("lhp worker failed", t.failure());
                }
            }
            return new Result(opsAndNanos[0] * 1e9 / opsAndNanos[1], opsAndNanos[2] * 1e9 / opsAndNanos[3]);
        } finally {
            stop.set(true);
            hv.stop();
            s.stop(Duration.ofSeconds(10));
        }
    }

    private static long sum(final AtomicLongArray ops) {
        long n = 0;
        for (int w = 0; w < WORKERS; w++) {
            n += ops.get(w * PAD);
        }
        return n;
    }

    /** One chunk of dependent arithmetic. */
    static long chunk(long x) {
        for (int k = 0; k < CHUNK_ITERATIONS; k++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
        }
        return x;
    }
}
