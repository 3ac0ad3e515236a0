package dev.osvj.bench.sched;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The hypervisor driven by its thread, with platform threads standing in for vCPUs. */
class SimulatedHypervisorTest {
    @Test
    void shouldRunEveryVcpuOfAnOvercommittedGuestAndReleaseThemAllOnStop() throws Exception {
        final int vcpus = 3;
        final SimulatedHypervisor hv = new SimulatedHypervisor("test-hypervisor", 1, vcpus, 0.1, 9);
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLongArray checks = new AtomicLongArray(vcpus);
        final List<Thread> threads = new ArrayList<>();
        for (int v = 0; v < vcpus; v++) {
            final int vcpu = v;
            threads.add(Thread.ofPlatform().daemon().name("test-vcpu" + v).start(() -> {
                while (!stop.get()) {
                    hv.check(vcpu);
                    checks.incrementAndGet(vcpu);
                }
            }));
        }
        // Time slices of at most 10 ms and a FIFO queue: every vCPU gets the one pCPU again and again.
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        boolean all;
        do {
            all = true;
            for (int v = 0; v < vcpus; v++) {
                all &= checks.get(v) > 1_000;
            }
            Thread.onSpinWait();
        } while (!all && System.nanoTime() < deadline);
        assertTrue(all, "every vCPU ran: " + checks);
        final SimulatedHypervisor.Stats s = hv.stats();
        assertTrue(s.grantedNs() > 0 && s.waitingNs() > 0, "overcommitted vCPUs run and wait: " + s);
        stop.set(true);
        hv.stop();
        for (final Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(t.isAlive(), t + " stayed parked after stop");
        }
    }
}
