package dev.osvj.bench.sched;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The simulated hypervisor's decisions at explicit instants (nanoseconds from 0). */
class HypervisorCoreTest {
    private static final long MS = 1_000_000L;

    /** Records grants and revokes and keeps what each vCPU may do. */
    private static final class Recorder implements HypervisorCore.Actions {
        final Set<Integer> running = new HashSet<>();
        final List<String> log = new ArrayList<>();

        @Override
        public void grant(final int vcpu) {
            assertTrue(running.add(vcpu), "granted twice: " + vcpu);
            log.add("+" + vcpu);
        }

        @Override
        public void revoke(final int vcpu) {
            assertTrue(running.remove(vcpu), "revoked while not running: " + vcpu);
            log.add("-" + vcpu);
        }
    }

    @Test
    void shouldGrantFreePcpusAtOnceInRequestOrder() {
        final HypervisorCore core = new HypervisorCore(2, 4, 0, 1, 0);
        final Recorder r = new Recorder();
        for (int v = 3; v >= 0; v--) {
            core.request(v, 0);
        }
        core.advance(0, new long[4], r);
        assertEquals(List.of("+3", "+2"), r.log);
        assertTrue(core.isQueued(1) && core.isQueued(0));
    }

    @Test
    void shouldTimeSliceMoreVcpusThanPcpusSoThatEveryVcpuRunsAndNeverMoreThanThePcpus() {
        final HypervisorCore core = new HypervisorCore(2, 5, 0, 7, 0);
        final Recorder r = new Recorder();
        final long[] progress = new long[5];
        for (int v = 0; v < 5; v++) {
            core.request(v, 0);
        }
        long now = 0;
        long next = core.advance(now, progress, r);
        final long end = 2_000 * MS;
        while (now < end) {
            // Every running vCPU makes progress between two looks, so none counts as halted.
            now = Math.min(next, now + 50_000);
            for (final int v : r.running) {
                progress[v]++;
            }
            next = core.advance(now, progress, r);
            assertTrue(r.running.size() <= 2, "more vCPUs than pCPUs running: " + r.running);
            assertEquals(2, r.running.size(), "a pCPU idles while vCPUs wait");
        }
        long total = 0;
        for (int v = 0; v < 5; v++) {
            final long g = core.grantedNs(v, now);
            total += g;
            // Each of 5 vCPUs gets about 2/5 of the time; FIFO with 1-10 ms slices keeps it within 20%.
            assertTrue(Math.abs(g - end * 2 / 5) < end * 2 / 5 / 5, "vCPU " + v + " ran " + g);
            assertEquals(now, g + core.waitingNs(v, now), "a busy vCPU either runs or waits");
        }
        assertEquals(2 * now, total);
    }

    @Test
    void shouldPreemptASliceOnlyWhenSomeoneWaitsAndNotBefore1Ms() {
        final HypervisorCore core = new HypervisorCore(1, 2, 0, 3, 0);
        final Recorder r = new Recorder();
        final long[] progress = new long[2];
        core.request(0, 0);
        long next = core.advance(0, progress, r);
        assertTrue(next >= MS && next <= 10 * MS, "slice end " + next);
        // Nobody waits: the slice is renewed, vCPU 0 keeps the pCPU.
        progress[0]++;
        next = core.advance(next, progress, r);
        assertEquals(List.of("+0"), r.log);
        // vCPU 1 asks just after a renewal: it waits for the end of that slice.
        final long asked = next - 1;
        progress[0]++;
        core.request(1, asked);
        core.advance(asked, progress, r);
        assertEquals(List.of("+0"), r.log);
        progress[0]++;
        core.advance(next, progress, r);
        assertEquals(List.of("+0", "-0", "+1"), r.log);
        assertTrue(core.isQueued(0), "a preempted vCPU still wants to run");
    }

    @Test
    void shouldTakeAHaltedVcpusPcpuForAWaitingOne() {
        final HypervisorCore core = new HypervisorCore(1, 2, 0, 5, 0);
        final Recorder r = new Recorder();
        final long[] progress = new long[2];
        core.request(0, 0);
        core.advance(0, progress, r);
        core.request(1, 10_000);
        // Not yet seen running since its grant (its carrier may still be waking up): not halted.
        core.advance(HypervisorCore.HALT_NS + 5_000, progress, r);
        assertEquals(List.of("+0"), r.log);
        // It runs, then stops calling in (its guest halted): after HALT_NS its pCPU goes to vCPU 1,
        // well before the end of its slice (at least 1 ms).
        progress[0]++;
        final long ran = HypervisorCore.HALT_NS + 10_000;
        final long next = core.advance(ran, progress, r);
        assertTrue(next <= ran + HypervisorCore.HALT_NS, "the halt check is due by " + next);
        core.advance(ran + HypervisorCore.HALT_NS - 1, progress, r);
        assertEquals(List.of("+0"), r.log);
        core.advance(ran + HypervisorCore.HALT_NS, progress, r);
        assertEquals(List.of("+0", "-0", "+1"), r.log);
        assertFalse(core.isQueued(0), "a halted vCPU is not queued until it asks");
        assertFalse(core.holdsPcpu(0));
    }

    @Test
    void shouldGiveTheNeighbourItsShareInBurstsOf1To10MsAndPreemptTheVcpuThere() {
        final HypervisorCore core = new HypervisorCore(2, 2, 0.1, 11, 0);
        final Recorder r = new Recorder();
        final long[] progress = new long[2];
        core.request(0, 0);
        core.request(1, 0);
        long now = 0;
        long next = core.advance(now, progress, r);
        final long end = 10_000 * MS;
        int bursts = 0;
        boolean inBurst = false;
        long burstStart = 0;
        while (now < end) {
            now = next;
            for (final int v : r.running) {
                progress[v]++;
            }
            // A revoked vCPU asks again at once, as a busy guest does at its next check.
            for (int v = 0; v < 2; v++) {
                if (!r.running.contains(v) && !core.isQueued(v)) {
                    core.request(v, now);
                }
            }
            next = core.advance(now, progress, r);
            final boolean neighbour = core.onPcpu(0) == HypervisorCore.NEIGHBOUR || core.onPcpu(1) == HypervisorCore.NEIGHBOUR;
            if (neighbour && !inBurst) {
                bursts++;
                burstStart = now;
                assertEquals(1, r.running.size(), "the neighbour's pCPU is not the guest's");
            } else if (!neighbour && inBurst) {
                final long length = now - burstStart;
                assertTrue(length >= MS && length <= 10 * MS, "burst of " + length);
            }
            inBurst = neighbour;
        }
        final double share = core.neighbourNs(now) / (2.0 * now);
        assertTrue(Math.abs(share - 0.1) < 0.02, "neighbour share " + share);
        assertTrue(bursts > 100, bursts + " bursts");
        // Work conserving: the guest got every pCPU-nanosecond the neighbour did not take.
        assertEquals(2 * now, core.grantedNs(0, now) + core.grantedNs(1, now) + core.neighbourNs(now), 2 * MS);
    }
}
