package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.BehaviorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vCPU actor protocol: IPIs are messages sent only when the pending mask was empty and the
 * target halted; the balancer tick migrates by OSv's rule and never moves pinned threads; blocked
 * carriers are reported. The vCPUs run either as probes plus {@link BehaviorTestKit}s (the loop runs
 * synchronously on the test thread) or as real actors on {@link ManualTime}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VcpuProtocolTest {
    private static final Duration QUIET = Duration.ofMillis(200);

    private final ActorTestKit kit = ActorTestKit.create("vcpu-protocol", ManualTime.config()
        .withFallback(com.typesafe.config.ConfigFactory.load()));
    private final ManualTime manualTime = ManualTime.get(kit.system());

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    /** A scheduler whose vCPU actors are probes; the loops are driven by behaviour test kits. */
    private final class Harness {
        final ManualClock clock = new ManualClock();
        final Scheduler s;
        final List<TestProbe<VcpuActor.Command>> probes = new ArrayList<>();
        final List<BehaviorTestKit<VcpuActor.Command>> vcpus = new ArrayList<>();

        @SuppressWarnings("unchecked")
        Harness(final int cpus) {
            s = Scheduler.create(SchedTestSupport.kernelName("probe"), SchedConfig.defaults(cpus).withIdleSpin(Duration.ZERO),
                clock, null);
            for (int i = 0; i < cpus; i++) {
                probes.add(kit.createTestProbe());
            }
            s.start((behavior, name, props) -> probes.get(Integer.parseInt(name.substring(name.indexOf('-') + 1))).ref());
            for (int i = 0; i < cpus; i++) {
                vcpus.add(BehaviorTestKit.create(VcpuActor.create(s.cpus[i], null)));
                // Boot: the worker's start was a foreign wakeup of a halted vCPU (one IPI), then Start.
                probes.get(i).expectMessage(VcpuActor.Ipi.WAKEUP);
                probes.get(i).expectMessage(VcpuActor.Start.BOOT);
                vcpus.get(i).run(VcpuActor.Start.BOOT);
            }
        }

        void close() {
            s.stop(Duration.ofMillis(1));
            for (final BehaviorTestKit<VcpuActor.Command> v : vcpus) {
                v.run(VcpuActor.Stop.REQUEST);
            }
            for (final Cpu cpu : s.cpus) {
                assertTrue(cpu.stopped.isDone());
            }
        }
    }

    @Test
    void shouldSendAWakeupIpiOnlyWhenThePendingMaskWasEmpty() {
        final Harness h = new Harness(2);
        try {
            final AtomicBoolean go = new AtomicBoolean();
            final KThread a = h.s.spawn(ThreadAttr.named("a").pinnedTo(0), () -> KThread.waitUntil(go::get));
            h.probes.get(0).expectMessage(VcpuActor.Ipi.WAKEUP);
            final KThread b = h.s.spawn(ThreadAttr.named("b").pinnedTo(0), () -> KThread.waitUntil(go::get));
            h.probes.get(0).expectNoMessage(QUIET); // the foreign bit was already pending
            h.vcpus.get(0).run(VcpuActor.Ipi.WAKEUP);
            assertEquals(ThreadState.WAITING, a.state());
            assertEquals(ThreadState.WAITING, b.state());

            // A thread on vCPU 1 wakes both: one IPI to the halted vCPU 0, the second wakeup rides along.
            final KThread waker = h.s.spawn(ThreadAttr.named("waker").pinnedTo(1), () -> {
                go.set(true);
                a.wake();
                b.wake();
            });
            h.probes.get(1).expectMessage(VcpuActor.Ipi.WAKEUP);
            h.vcpus.get(1).run(VcpuActor.Ipi.WAKEUP);
            assertEquals(ThreadState.TERMINATED, waker.state());
            h.probes.get(0).expectMessage(VcpuActor.Ipi.WAKEUP);
            h.probes.get(0).expectNoMessage(QUIET);
            assertEquals(1, h.s.cpus[1].ipisSent);
            assertEquals(ThreadState.WAKING, a.state());
            h.vcpus.get(0).run(VcpuActor.Ipi.WAKEUP);
            assertEquals(ThreadState.TERMINATED, a.state());
            assertEquals(ThreadState.TERMINATED, b.state());
            assertEquals("halted", h.s.cpuStats().get(0).state());
        } finally {
            h.close();
        }
    }

    /**
     * The balancer raises the control interrupt from a load published before the vCPU halted, and
     * its tick runs in the mailbox without the loop that clears the bit: a halted vCPU with the bit
     * left set must still be woken by the next foreign wakeup (before the fix the control bit was
     * raised without an IPI, the wakeup found the word non-empty and sent none either, and the thread
     * stayed WAKING on a halted vCPU for good).
     */
    @Test
    void shouldWakeAHaltedVcpuForAForeignWakeupAfterABalancerControlRequest() {
        final Harness h = new Harness(1);
        try {
            final AtomicBoolean go = new AtomicBoolean();
            final KThread a = h.s.spawn(ThreadAttr.named("a").pinnedTo(0), () -> KThread.waitUntil(go::get));
            h.probes.get(0).expectMessage(VcpuActor.Ipi.WAKEUP);
            h.vcpus.get(0).run(VcpuActor.Ipi.WAKEUP);
            assertEquals(ThreadState.WAITING, a.state());
            assertEquals("halted", h.s.cpuStats().get(0).state());

            // The balancer's control request reaches the halted vCPU, and so does its tick.
            h.s.cpus[0].controlInterrupt();
            h.vcpus.get(0).run(VcpuActor.BalanceTick.TICK);
            h.probes.get(0).expectMessage(VcpuActor.Ipi.WAKEUP);
            h.vcpus.get(0).run(VcpuActor.Ipi.WAKEUP);
            assertEquals("halted", h.s.cpuStats().get(0).state());
            assertTrue(h.vcpus.get(0).selfInbox().getAllReceived().isEmpty(), "no extra trip through the mailbox");

            // A host thread wakes a: the halted vCPU gets an IPI and runs it to the end.
            go.set(true);
            assertTrue(a.wake());
            h.probes.get(0).expectMessage(VcpuActor.Ipi.WAKEUP);
            h.vcpus.get(0).run(VcpuActor.Ipi.WAKEUP);
            assertEquals(ThreadState.TERMINATED, a.state());
        } finally {
            h.close();
        }
    }

    @Test
    void shouldMigrateTheLastQueuedThreadOnABalanceTick() {
        final Harness h = new Harness(2);
        try {
            final AtomicBoolean stop = new AtomicBoolean();
            final Runnable burn = () -> {
                while (!stop.get()) {
                    h.clock.advance(50_000);
                    KThread.preemptionPoint();
                }
            };
            final List<KThread> hogs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                hogs.add(h.s.newThread(ThreadAttr.named("hog" + i), burn));
            }
            final KThread pinned = h.s.newThread(ThreadAttr.named("pinned").pinnedTo(0), burn);
            h.s.spawn(ThreadAttr.named("starter").pinnedTo(0), () -> {
                hogs.forEach(KThread::start);
                pinned.start();
            });
            h.probes.get(0).expectMessage(VcpuActor.Ipi.WAKEUP);
            // Runs the starter, then the hogs until the mailbox budget sends the loop back to the mailbox.
            h.vcpus.get(0).run(VcpuActor.Ipi.WAKEUP);
            assertEquals(VcpuActor.Resume.CONTINUE, h.vcpus.get(0).selfInbox().receiveMessage());
            assertEquals(4, h.s.cpus[0].load());
            assertEquals(0, h.s.cpus[1].load());

            // 0 < 4 - 1: the last migratable queued hog goes to the halted vCPU 1, with an IPI.
            h.vcpus.get(0).run(VcpuActor.BalanceTick.TICK);
            h.probes.get(1).expectMessage(VcpuActor.Ipi.WAKEUP);
            assertEquals(1, hogs.stream().filter(t -> t.cpuId() == 1).count());
            assertEquals(ThreadState.WAKING, hogs.stream().filter(t -> t.cpuId() == 1).findFirst().orElseThrow().state());
            assertEquals(3, h.s.cpus[0].load());

            // vCPU 1 has not drained it yet (load 0 < 3 - 1): a second move, and no second IPI since
            // vCPU 1's pending mask is still set.
            h.vcpus.get(0).run(VcpuActor.BalanceTick.TICK);
            assertEquals(2, hogs.stream().filter(t -> t.cpuId() == 1).count());
            h.probes.get(1).expectNoMessage(QUIET);
            assertEquals(2, h.s.cpus[0].load());

            // vCPU 1 imports both and runs them until its mailbox budget.
            h.vcpus.get(1).run(VcpuActor.Ipi.WAKEUP);
            assertEquals(VcpuActor.Resume.CONTINUE, h.vcpus.get(1).selfInbox().receiveMessage());
            assertEquals(2, h.s.cpus[1].load());
            assertEquals(2, h.s.cpus[1].migrationsIn);

            // 2 against 2: OSv's rule moves nothing; the pinned thread never moved.
            h.vcpus.get(0).run(VcpuActor.BalanceTick.TICK);
            h.vcpus.get(1).run(VcpuActor.BalanceTick.TICK);
            assertEquals(2, hogs.stream().filter(t -> t.cpuId() == 1).count());
            assertEquals(0, pinned.cpuId());
            assertEquals(0, pinned.migrations());
            stop.set(true);
        } finally {
            h.close();
        }
    }

    @Test
    void shouldSpreadHogsEveryBalanceIntervalButNeverMovePinnedThreads() {
        final ManualClock clock = new ManualClock();
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2), clock);
        final AtomicBoolean stop = new AtomicBoolean();
        boolean stopped;
        try {
            final List<KThread> free = new ArrayList<>();
            final List<KThread> pinned = new ArrayList<>();
            final Runnable burn = () -> {
                while (!stop.get()) {
                    clock.advance(50_000);
                    KThread.preemptionPoint();
                }
            };
            for (int i = 0; i < 4; i++) {
                free.add(s.newThread(ThreadAttr.named("free" + i), burn));
            }
            for (int i = 0; i < 2; i++) {
                pinned.add(s.newThread(ThreadAttr.named("pinned" + i).pinnedTo(0), burn));
            }
            SchedTestSupport.join(s.spawn(ThreadAttr.named("starter").pinnedTo(0), () -> {
                free.forEach(KThread::start);
                pinned.forEach(KThread::start);
            }));
            SchedTestSupport.await("all on vCPU 0", () -> s.cpus[0].load() == 6);
            for (int i = 1; i <= 6; i++) {
                manualTime.timePasses(Duration.ofMillis(100));
                final long period = i;
                SchedTestSupport.await("balance period " + i + " handled", () -> java.util.Arrays.stream(s.cpus)
                    .allMatch(c -> c.ticksScheduled.get() >= period && c.ticksDelivered.get() == c.balanceTicks));
                SchedTestSupport.await("migrations settled", () -> free.stream().noneMatch(t -> t.state() == ThreadState.WAKING));
            }
            // 6 on vCPU 0: moves while min < load - 1, so 3 free threads end on vCPU 1.
            assertEquals(3, free.stream().filter(t -> t.cpuId() == 1).count());
            for (final KThread p : pinned) {
                assertEquals(0, p.cpuId());
                assertEquals(0, p.migrations());
            }
            assertEquals(3, s.cpus[0].load());
            assertEquals(3, s.cpus[1].load());
        } finally {
            stop.set(true);
            stopped = s.stop(Duration.ofSeconds(10));
        }
        assertTrue(stopped, "vCPUs stopped");
    }

    @Test
    void shouldReportAKernelThreadThatBlocksItsCarrierOnce() throws Exception {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(1)
            .withBlockedCarrierThreshold(Duration.ofMillis(50)), KernelClock.SYSTEM);
        try {
            final CountDownLatch release = new CountDownLatch(1);
            final KThread t = s.spawn("blocker", () -> {
                try {
                    release.await(); // a JDK park on the carrier: the whole vCPU stands still
                } catch (final InterruptedException e) {
                    throw new AssertionError(e);
                }
            });
            SchedTestSupport.await("report", () -> s.blockedCarrierReports() >= 1);
            final String report = s.lastBlockedCarrierReport();
            assertTrue(report.contains("'blocker'"), report);
            assertTrue(report.contains("CountDownLatch.await"), report);
            release.countDown();
            SchedTestSupport.join(t);
            assertEquals(1, s.blockedCarrierReports());
        } finally {
            assertTrue(s.stop(Duration.ofSeconds(10)));
        }
    }
}
