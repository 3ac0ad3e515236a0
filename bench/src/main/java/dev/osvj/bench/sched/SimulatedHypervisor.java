package dev.osvj.bench.sched;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * A simulated hypervisor for the lock-holder-preemption experiment: {@link HypervisorCore}'s decisions
 * (pCPUs, time slices, the neighbour, halts) applied to a guest whose vCPUs call {@link #check} between
 * small pieces of work, on a thread of its own.
 *
 * <h2>Roles and memory ordering</h2>
 * <ul>
 *   <li>The running kernel thread of vCPU {@code v} (one at a time per vCPU, all on v's carrier) calls
 *       {@link #check}: a volatile read of {@code granted[v]} and an opaque increment of
 *       {@code progress[v]} when granted (its only writer). Without a grant it records its carrier,
 *       sets {@code want[v]} (volatile), unparks the hypervisor thread and parks its carrier until
 *       {@code granted[v]} is set: a descheduled vCPU uses no host core, so the host's cores are the
 *       pCPUs (the experiment uses no more pCPUs than the host has cores).</li>
 *   <li>The hypervisor thread is the only writer of {@code granted}: set (volatile) and then unpark the
 *       vCPU's carrier to grant; clear to revoke, which the vCPU sees at its next check (a few hundred
 *       nanoseconds later at most, inside a critical section as often as outside one).</li>
 * </ul>
 * Per-vCPU slots are {@link #STRIDE} elements apart (128 bytes) so that vCPUs do not share cache lines.
 *
 * <p>{@link #stop} grants every vCPU for good, so nothing stays parked after a measurement.
 */
final class SimulatedHypervisor implements HypervisorCore.Actions {
    private static final int STRIDE = 16;

    private final HypervisorCore core;
    private final int vcpus;
    private final AtomicIntegerArray granted;
    private final AtomicIntegerArray want;
    private final AtomicLongArray progress;
    private final AtomicReferenceArray<Thread> carriers;
    private final long[] progressSeen;
    private volatile boolean running = true;
    private final Thread thread;

    SimulatedHypervisor(final String name, final int pcpus, final int vcpus, final double neighbourShare,
        final long seed) {
        this.vcpus = vcpus;
        this.core = new HypervisorCore(pcpus, vcpus, neighbourShare, seed, System.nanoTime());
        granted = new AtomicIntegerArray(vcpus * STRIDE);
        want = new AtomicIntegerArray(vcpus * STRIDE);
        progress = new AtomicLongArray(vcpus * STRIDE);
        carriers = new AtomicReferenceArray<>(vcpus);
        progressSeen = new long[vcpus];
        thread = Thread.ofPlatform().daemon().name(name).unstarted(this::loop);
        thread.start();
    }

    /** Called by vCPU {@code vcpu}'s running thread between pieces of work: returns once it holds a pCPU. */
    void check(final int vcpu) {
        final int i = vcpu * STRIDE;
        if (granted.get(i) != 0) {
            progress.setOpaque(i, progress.getPlain(i) + 1);
            return;
        }
        waitForPcpu(vcpu, i);
    }

    /** Whether vCPU {@code vcpu} holds a pCPU now (a volatile read; the answer can change at once). */
    boolean holdsPcpu(final int vcpu) {
        return granted.get(vcpu * STRIDE) != 0;
    }

    private void waitForPcpu(final int vcpu, final int i) {
        // A pinned kernel thread runs only on its vCPU's carrier, so this is the carrier to unpark.
        carriers.set(vcpu, Thread.currentThread());
        // Ask again after every wakeup that finds no grant: a grant can be taken back (a halt seen
        // while this carrier was still waking up) before this vCPU noticed it; asking is idempotent.
        while (granted.get(i) == 0) {
            want.set(i, 1);
            LockSupport.unpark(thread);
            LockSupport.park(this);
        }
        progress.setOpaque(i, progress.getPlain(i) + 1);
    }

    private void loop() {
        while (running) {
            final long deadline;
            synchronized (core) {
                final long now = System.nanoTime();
                for (int v = 0; v < vcpus; v++) {
                    if (want.get(v * STRIDE) != 0 && want.getAndSet(v * STRIDE, 0) != 0) {
                        core.request(v, now);
                    }
                    progressSeen[v] = progress.getOpaque(v * STRIDE);
                }
                deadline = core.advance(now, progressSeen, this);
            }
            final long wait = deadline - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(this, Math.min(wait, TimeUnit.MILLISECONDS.toNanos(100)));
            }
        }
    }

    @Override
    public void grant(final int vcpu) {
        granted.set(vcpu * STRIDE, 1);
        final Thread carrier = carriers.get(vcpu);
        if (carrier != null) {
            LockSupport.unpark(carrier);
        }
    }

    @Override
    public void revoke(final int vcpu) {
        if (running) {
            granted.set(vcpu * STRIDE, 0);
        }
    }

    /** Totals so far: per vCPU granted and waiting nanoseconds, and the neighbour's, at one instant. */
    Stats stats() {
        synchronized (core) {
            final long now = System.nanoTime();
            long g = 0;
            long w = 0;
            for (int v = 0; v < vcpus; v++) {
                g += core.grantedNs(v, now);
                w += core.waitingNs(v, now);
            }
            return new Stats(now, g, w, core.neighbourNs(now), carrierCpuNanos());
        }
    }

    /**
     * Host CPU time of the vCPUs' carriers so far (every vCPU starts without a pCPU, so each registers
     * its carrier at its first check; one not yet registered counts 0), or -1 when the JVM does not
     * measure thread CPU time.
     */
    private long carrierCpuNanos() {
        final ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        if (!mx.isThreadCpuTimeSupported() || !mx.isThreadCpuTimeEnabled()) {
            return -1;
        }
        long sum = 0;
        for (int v = 0; v < vcpus; v++) {
            final Thread t = carriers.get(v);
            if (t == null) {
                continue;
            }
            final long ns = mx.getThreadCpuTime(t.threadId());
            if (ns < 0) {
                return -1;
            }
            sum += ns;
        }
        return sum;
    }

    /**
     * Totals at {@code atNanos}: vCPU time holding a pCPU, vCPU time waiting for one (steal), and the
     * neighbour's pCPU time, all summed over vCPUs, nanoseconds; the carriers' host CPU time (-1 if
     * unknown).
     */
    record Stats(long atNanos, long grantedNs, long waitingNs, long neighbourNs, long carrierCpuNs) {
    }

    int vcpus() {
        return vcpus;
    }

    int pcpus() {
        return core.pcpus();
    }

    /** Grant every vCPU for good and end the hypervisor thread. */
    void stop() throws InterruptedException {
        running = false;
        LockSupport.unpark(thread);
        thread.join(TimeUnit.SECONDS.toMillis(30));
        for (int v = 0; v < vcpus; v++) {
            grant(v);
        }
    }
}
