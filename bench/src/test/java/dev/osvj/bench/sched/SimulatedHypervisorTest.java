package dev.osvj.bench.sched;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
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

    @Test
    void shouldGiveAnIdleVcpusPcpuToAWaitingOneSoThatAHaltedWaiterFreesItForTheHolder() throws Exception {
        // One pCPU, two vCPUs: vCPU 0 runs, then stops calling in (its only thread asleep, as on the mutex).
        final SimulatedHypervisor hv = new SimulatedHypervisor("test-hypervisor-halt", 1, 2, 0, 5);
        final CountDownLatch idle = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final Thread v0 = Thread.ofPlatform().daemon().name("test-vcpu0").start(() -> {
            for (int i = 0; i < 1_000; i++) {
                hv.check(0);
            }
            idle.countDown();
            try {
                release.await();
            } catch (final InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertTrue(idle.await(60, TimeUnit.SECONDS), "vCPU 0 got the pCPU");
        // vCPU 1 asks: the idle vCPU 0 has halted and must give the only pCPU back.
        final CountDownLatch ran = new CountDownLatch(1);
        final Thread v1 = Thread.ofPlatform().daemon().name("test-vcpu1").start(() -> {
            hv.check(1);
            ran.countDown();
        });
        assertTrue(ran.await(60, TimeUnit.SECONDS), "the waiting vCPU got the halted vCPU's pCPU");
        assertTrue(hv.holdsPcpu(1), "vCPU 1 holds the pCPU");
        assertFalse(hv.holdsPcpu(0), "the halted vCPU 0 gave it back");
        release.countDown();
        hv.stop();
        v0.join(TimeUnit.SECONDS.toMillis(30));
        v1.join(TimeUnit.SECONDS.toMillis(30));
        assertFalse(v0.isAlive() || v1.isAlive(), "threads ended");
    }
}
