package dev.osvj.bench.sched;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The decisions of the simulated hypervisor of the lock-holder-preemption experiment, with time passed
 * in (no clock, no threads), so its policy can be tested at explicit instants; {@link SimulatedHypervisor}
 * drives it from a thread.
 *
 * <h2>Model</h2>
 * {@code pcpus} physical CPUs run {@code vcpus} guest vCPUs and a neighbour (another tenant's vCPU):
 * <ul>
 *   <li>A vCPU runs guest code only while it holds a pCPU. One that wants to run and has none waits in
 *       one FIFO run queue; a free pCPU goes to the head at once (work conserving).</li>
 *   <li>Each grant is a slice of 1-10 ms (uniform, from the seeded random source). When it ends and a
 *       vCPU waits, the holder is preempted to the tail of the queue, wherever the guest was (inside a
 *       critical section or not: the hypervisor cannot tell); when nobody waits it gets a new slice.</li>
 *   <li>A vCPU that halts (its guest has nothing to run, so it stops calling in) gives its pCPU back:
 *       its progress counter not moving for {@link #HALT_NS} while a vCPU waits counts as a halt, as
 *       KVM's halt polling keeps a pCPU for up to 200 us after HLT (only once it has run since its
 *       grant: a vCPU whose carrier is still waking up has not halted). It is not queued again until it
 *       asks.</li>
 *   <li>The neighbour takes {@code neighbourShare} of the total pCPU capacity in bursts of 1-10 ms on one
 *       random pCPU, each followed by an idle gap of {@code burst * (1 / (neighbourShare * pcpus) - 1)}
 *       (for 2 pCPUs and 10%: four times the burst). A burst preempts the vCPU on its pCPU at once (to the
 *       tail of the queue); that pCPU is the guest's again when the burst ends. The neighbour's schedule
 *       comes from its own seeded source, so it is the same in every run with the same seed.</li>
 * </ul>
 *
 * <h2>Accounting</h2>
 * Per vCPU: time holding a pCPU ({@link #grantedNs}) and time waiting in the queue ({@link #waitingNs},
 * what a Linux guest reports as steal); the neighbour's time ({@link #neighbourNs}).
 *
 * <p>Not thread-safe: the driver calls every method under one lock.
 */
final class HypervisorCore {
    /** A granted vCPU whose progress did not move for this long, while another waits, has halted. */
    static final long HALT_NS = 200_000L;
    static final long MIN_SLICE_NS = 1_000_000L;
    static final long MAX_SLICE_NS = 10_000_000L;
    /** Marks a pCPU held by the neighbour. */
    static final int NEIGHBOUR = -2;
    private static final int FREE = -1;
    private static final long NEVER = Long.MAX_VALUE;

    /** What the driver does when the core decides. */
    interface Actions {
        /** {@code vcpu} may run guest code now. */
        void grant(int vcpu);

        /** {@code vcpu} must stop at its next check. */
        void revoke(int vcpu);
    }

    private final int pcpus;
    private final int vcpus;
    private final double neighbourShare;
    private final SplittableRandom slices;
    private final SplittableRandom neighbour;
    /** Per pCPU: the vCPU on it, {@link #FREE} or {@link #NEIGHBOUR}; the end of its slice or burst. */
    private final int[] on;
    private final long[] until;
    /** Per vCPU: its pCPU or -1; queued; since when in its current state; progress seen and when it moved. */
    private final int[] pcpuOf;
    private final boolean[] queued;
    private final long[] since;
    private final long[] lastProgress;
    private final long[] progressMovedAt;
    /** Per vCPU: its progress moved since its last grant (a vCPU still waking up has not halted). */
    private final boolean[] ranSinceGrant;
    private final long[] granted;
    private final long[] waiting;
    private final ArrayDeque<Integer> runQueue = new ArrayDeque<>();
    private long neighbourTotal;
    private long neighbourNext;
    private long neighbourEnd = NEVER;
    private int neighbourPcpu = -1;
    private long burstStart;

    HypervisorCore(final int pcpus, final int vcpus, final double neighbourShare, final long seed, final long now) {
        if (pcpus < 1 || vcpus < 1 || neighbourShare < 0 || neighbourShare * pcpus > 1) {
            throw new IllegalArgumentException("pcpus " + pcpus + ", vcpus " + vcpus + ", neighbour " + neighbourShare);
        }
        this.pcpus = pcpus;
        this.vcpus = vcpus;
        this.neighbourShare = neighbourShare;
        this.slices = new SplittableRandom(seed);
        this.neighbour = new SplittableRandom(seed * 31 + 7);
        on = new int[pcpus];
        until = new long[pcpus];
        Arrays.fill(on, FREE);
        pcpuOf = new int[vcpus];
        Arrays.fill(pcpuOf, -1);
        queued = new boolean[vcpus];
        since = new long[vcpus];
        Arrays.fill(since, now);
        lastProgress = new long[vcpus];
        Arrays.fill(lastProgress, -1);
        progressMovedAt = new long[vcpus];
        ranSinceGrant = new boolean[vcpus];
        granted = new long[vcpus];
        waiting = new long[vcpus];
        // The first burst comes after one gap, so that a window starts with the guest on every pCPU.
        neighbourNext = neighbourShare > 0 ? now + gapAfter(nextBurstLength()) : NEVER;
    }

    /** {@code vcpu} wants to run: queue it unless it holds a pCPU or waits already. */
    void request(final int vcpu, final long now) {
        if (pcpuOf[vcpu] >= 0 || queued[vcpu]) {
            return;
        }
        since[vcpu] = now;
        queued[vcpu] = true;
        runQueue.addLast(vcpu);
    }

    /**
     * Apply everything due at {@code now}: neighbour bursts, halts, slice ends, then fill free pCPUs from
     * the queue. {@code progress[v]} is vCPU {@code v}'s check counter as the driver read it.
     *
     * @return the next instant something is due (absolute, same clock as {@code now}).
     */
    long advance(final long now, final long[] progress, final Actions actions) {
        // The neighbour's burst ends, or starts.
        if (neighbourPcpu >= 0 && now >= neighbourEnd) {
            neighbourTotal += neighbourEnd - burstStart;
            on[neighbourPcpu] = FREE;
            neighbourPcpu = -1;
            neighbourEnd = NEVER;
        }
        if (neighbourPcpu < 0 && now >= neighbourNext) {
            final long length = nextBurstLength();
            final int p = neighbour.nextInt(pcpus);
            if (on[p] >= 0) {
                preempt(on[p], now, actions);
            }
            on[p] = NEIGHBOUR;
            neighbourPcpu = p;
            burstStart = now;
            until[p] = now + length;
            neighbourEnd = now + length;
            neighbourNext = neighbourEnd + gapAfter(length);
        }
        // Halts: only matter when someone waits for the pCPU.
        for (int v = 0; v < vcpus; v++) {
            if (progress[v] != lastProgress[v]) {
                lastProgress[v] = progress[v];
                progressMovedAt[v] = now;
                ranSinceGrant[v] = pcpuOf[v] >= 0;
            } else if (pcpuOf[v] >= 0 && ranSinceGrant[v] && !runQueue.isEmpty()
                && now - progressMovedAt[v] >= HALT_NS) {
                release(v, now, actions);
            }
        }
        // Slice ends.
        for (int p = 0; p < pcpus; p++) {
            if (on[p] >= 0 && now >= until[p]) {
                if (runQueue.isEmpty()) {
                    until[p] = now + nextSlice();
                } else {
                    preempt(on[p], now, actions);
                }
            }
        }
        // Work conserving: every free pCPU to the head of the queue.
        for (int p = 0; p < pcpus && !runQueue.isEmpty(); p++) {
            if (on[p] == FREE) {
                final int v = runQueue.pollFirst();
                queued[v] = false;
                waiting[v] += now - since[v];
                since[v] = now;
                pcpuOf[v] = p;
                on[p] = v;
                until[p] = now + nextSlice();
                progressMovedAt[v] = now;
                lastProgress[v] = progress[v];
                ranSinceGrant[v] = false;
                actions.grant(v);
            }
        }
        long next = neighbourPcpu >= 0 ? neighbourEnd : neighbourNext;
        for (int p = 0; p < pcpus; p++) {
            if (on[p] >= 0) {
                next = Math.min(next, until[p]);
                if (!runQueue.isEmpty()) {
                    next = Math.min(next, progressMovedAt[on[p]] + HALT_NS);
                }
            }
        }
        return next;
    }

    private void preempt(final int v, final long now, final Actions actions) {
        release(v, now, actions);
        request(v, now);
    }

    private void release(final int v, final long now, final Actions actions) {
        final int p = pcpuOf[v];
        on[p] = FREE;
        pcpuOf[v] = -1;
        granted[v] += now - since[v];
        since[v] = now;
        actions.revoke(v);
    }

    /** Time {@code vcpu} held a pCPU up to {@code now}. */
    long grantedNs(final int vcpu, final long now) {
        return granted[vcpu] + (pcpuOf[vcpu] >= 0 ? now - since[vcpu] : 0);
    }

    /** Time {@code vcpu} waited in the queue up to {@code now}: its steal. */
    long waitingNs(final int vcpu, final long now) {
        return waiting[vcpu] + (queued[vcpu] ? now - since[vcpu] : 0);
    }

    /** Time the neighbour held a pCPU up to {@code now}. */
    long neighbourNs(final long now) {
        return neighbourTotal + (neighbourPcpu >= 0 ? now - burstStart : 0);
    }

    /** The vCPU on {@code pcpu}, -1 when free, {@link #NEIGHBOUR} when the neighbour has it. */
    int onPcpu(final int pcpu) {
        return on[pcpu];
    }

    boolean holdsPcpu(final int vcpu) {
        return pcpuOf[vcpu] >= 0;
    }

    boolean isQueued(final int vcpu) {
        return queued[vcpu];
    }

    int pcpus() {
        return pcpus;
    }

    int vcpus() {
        return vcpus;
    }

    double neighbourShare() {
        return neighbourShare;
    }

    private long nextSlice() {
        return slices.nextLong(MIN_SLICE_NS, MAX_SLICE_NS + 1);
    }

    private long nextBurstLength() {
        return neighbour.nextLong(MIN_SLICE_NS, MAX_SLICE_NS + 1);
    }

    private long gapAfter(final long burst) {
        return Math.round(burst * (1 / (neighbourShare * pcpus) - 1));
    }
}
