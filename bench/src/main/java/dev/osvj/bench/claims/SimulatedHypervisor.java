package dev.osvj.bench.claims;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;

/**
 * A hypervisor that steals vCPU time, for the lock-holder-preemption claim. It pauses one random vCPU
 * at a time for a random 1-10 ms, then lets all run for four times as long, so with two vCPUs each
 * loses 10% of its time. Java cannot stop a carrier thread from outside, so the workload cooperates:
 * it calls {@link #check} between short (about a microsecond) chunks of work, inside and outside its
 * critical sections, and a paused vCPU's carrier stays there until the pause ends. Because checks are
 * evenly spaced in time, a pause lands inside a critical section as often as the lock is held.
 *
 * <p>A paused carrier spins rather than parks: under a real hypervisor the physical CPU of a preempted
 * vCPU runs someone else, so the guest's other vCPUs do not get it. A parked carrier would hand its host
 * core to the other vCPU's carrier (on a 2-core host with other load, a real gain), and the "steal"
 * would make the workload faster instead of slower.
 *
 * <p>Roles: one hypervisor thread writes {@code pausedUntil[cpu]}; the vCPUs' carriers read it
 * (volatile array elements).
 */
final class SimulatedHypervisor implements Runnable {
    private final AtomicLongArray pausedUntil;
    private final SplittableRandom random = new SplittableRandom(42);
    private volatile boolean running = true;
    private Thread thread;

    SimulatedHypervisor(final int cpus) {
        this.pausedUntil = new AtomicLongArray(cpus);
    }

    /** Called by vCPU {@code cpu}'s running thread between chunks of work: parks while the vCPU is paused. */
    void check(final int cpu) {
        while (pausedUntil.get(cpu) > System.nanoTime()) {
            Thread.onSpinWait();
        }
    }

    void start() {
        thread = Thread.ofPlatform().daemon().name("simulated-hypervisor").start(this);
    }

    @Override
    public void run() {
        while (running) {
            final int cpu = random.nextInt(pausedUntil.length());
            final long pause = TimeUnit.MICROSECONDS.toNanos(random.nextLong(1_000, 10_001));
            pausedUntil.set(cpu, System.nanoTime() + pause);
            LockSupport.parkNanos(pause);
            LockSupport.parkNanos(4 * pause);
        }
    }

    void stop() throws InterruptedException {
        running = false;
        for (int i = 0; i < pausedUntil.length(); i++) {
            pausedUntil.set(i, 0);
        }
        if (thread != null) {
            LockSupport.unpark(thread);
            thread.join(TimeUnit.SECONDS.toMillis(30));
        }
    }
}
