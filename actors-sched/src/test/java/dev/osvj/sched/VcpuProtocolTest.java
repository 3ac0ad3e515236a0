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
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    /**
     * Every way to raise a vCPU's interrupt bits or pending mask, applied to a halted vCPU, as named
     * steps of {@link HaltedVcpu}. Each must follow the halt protocol: whoever finds the vCPU halted
     * with nothing pending sends the wakeup message, so a halted vCPU never has a pending bit without
     * a message on its way (a bit without one swallows every later setter's IPI, see
     * {@link #shouldWakeAHaltedVcpuForAForeignWakeupAfterABalancerControlRequest}).
     */
    private enum Setter {
        /** A balancer or stop request: {@link Cpu#controlInterrupt()}. */
        CONTROL,
        /** The clock-event device fired: {@link Cpu#timerInterrupt()}. */
        TIMER,
        /** A remote locker asks to take a bound mutex shared: {@link Cpu#requestRevocation}. */
        REVOKE,
        /** A host thread wakes the vCPU's thread: the foreign queue and {@link Cpu#IRQ_FOREIGN}. */
        FOREIGN_WAKE,
        /** A thread of the other vCPU wakes it: the incoming queue and the pending mask. */
        REMOTE_WAKE
    }

    /**
     * A 2-vCPU probe harness whose vCPU 0 runs thread {@code a}, which waits for a kick and counts its
     * runs, and binds a pool of mutexes to vCPU 0 (for {@link Setter#REVOKE}). It tracks the wakeup
     * messages sent to vCPU 0 (IPIs and timer interrupts, counted by the vCPU) against those it has
     * delivered, so the halt protocol's invariant can be checked after every step.
     */
    private final class HaltedVcpu {
        static final int MUTEXES = 64;
        final Harness h = new Harness(2);
        final Cpu cpu = h.s.cpus[0];
        final Mutex[] pool = new Mutex[MUTEXES];
        final AtomicBoolean kick = new AtomicBoolean();
        final AtomicBoolean stop = new AtomicBoolean();
        final java.util.concurrent.atomic.AtomicLong runs = new java.util.concurrent.atomic.AtomicLong();
        final KThread a;
        int revoked;
        long delivered;
        long wakes;

        HaltedVcpu() {
            // The harness consumed the boot IPI (the worker's start) and ran Start in its place.
            delivered = cpu.ipisReceived.get() + cpu.timerWakeups.get();
            for (int i = 0; i < MUTEXES; i++) {
                pool[i] = new Mutex();
            }
            a = h.s.spawn(ThreadAttr.named("a").pinnedTo(0), () -> {
                for (final Mutex m : pool) {
                    m.lock();
                    m.unlock();
                }
                while (!stop.get()) {
                    KThread.waitUntil(() -> kick.get() || stop.get());
                    kick.set(false);
                    runs.incrementAndGet();
                }
            });
            drain();
            for (final Mutex m : pool) {
                assertTrue(m.perVcpuMode(), "bound to vCPU 0");
            }
            assertQuiet("after start");
        }

        /** Wakeup messages sent to vCPU 0 and not yet delivered, plus self-sent resumes. */
        long inFlight() {
            return cpu.ipisReceived.get() + cpu.timerWakeups.get() - delivered
                + (h.vcpus.get(0).selfInbox().hasMessages() ? 1 : 0);
        }

        /** The invariant: a halted vCPU with anything pending has a wakeup message on its way. */
        void assertProtocol(final String step) {
            if ("halted".equals(cpu.stateLabel()) && cpu.attention()) {
                assertTrue(inFlight() > 0, step + ": vCPU 0 halted with a pending interrupt or wakeup and no message"
                    + " on its way (a lost IPI)");
            }
        }

        void apply(final Setter s) {
            switch (s) {
                case CONTROL -> cpu.controlInterrupt();
                case TIMER -> cpu.timerInterrupt();
                case REVOKE -> cpu.requestRevocation(pool[revoked++]);
                case FOREIGN_WAKE -> {
                    kick.set(true);
                    if (a.wakeFrom(null)) {
                        wakes++;
                    }
                }
                case REMOTE_WAKE -> {
                    kick.set(true);
                    if (a.wakeFrom(h.s.cpus[1])) {
                        wakes++;
                    }
                }
            }
            assertProtocol(s.name());
        }

        /** The balancer tick message arrives: {@link Cpu#balance} in the mailbox, without the loop. */
        void balanceTickMessage() {
            h.vcpus.get(0).run(VcpuActor.BalanceTick.TICK);
            assertProtocol("balance tick message");
        }

        /** Deliver every message on its way to vCPU 0 (each runs the loop) until none is left. */
        void drain() {
            final BehaviorTestKit<VcpuActor.Command> kitVcpu = h.vcpus.get(0);
            while (true) {
                if (kitVcpu.selfInbox().hasMessages()) {
                    kitVcpu.run(kitVcpu.selfInbox().receiveMessage());
                } else if (cpu.ipisReceived.get() + cpu.timerWakeups.get() > delivered) {
                    final VcpuActor.Command m = h.probes.get(0).receiveMessage();
                    assertTrue(m == VcpuActor.Ipi.WAKEUP || m == VcpuActor.TimerIrq.FIRED, "a wakeup message: " + m);
                    delivered++;
                    kitVcpu.run(m);
                } else {
                    return;
                }
                assertProtocol("delivery");
            }
        }

        /** Nothing on its way: vCPU 0 halted with nothing pending, a waiting after every wakeup. */
        void assertQuiet(final String what) {
            assertEquals(0, inFlight(), what);
            assertEquals("halted", cpu.stateLabel(), what);
            assertFalse(cpu.attention(), what + ": nothing pending on the halted vCPU");
            assertEquals(ThreadState.WAITING, a.state(), what);
            assertFalse(kick.get(), what + ": a ran after its last wakeup");
            assertEquals(wakes, runs.get(), what + ": a ran once per wakeup");
        }

        void close() {
            stop.set(true);
            if (a.wakeFrom(null)) {
                drain();
            }
            assertEquals(ThreadState.TERMINATED, a.state());
            h.probes.get(0).expectNoMessage(Duration.ofMillis(50));
            h.close();
        }
    }

    /** Run {@code body} on a fresh {@link HaltedVcpu}; its own failure is reported, not the clean-up's. */
    private void withHaltedVcpu(final java.util.function.Consumer<HaltedVcpu> body) {
        final HaltedVcpu v = new HaltedVcpu();
        try {
            body.accept(v);
        } catch (final RuntimeException | Error e) {
            try {
                v.h.s.stop(Duration.ofMillis(1));
            } catch (final RuntimeException | Error ignored) {
                // The test already failed; the scheduler is abandoned.
            }
            throw e;
        }
        v.close();
    }

    /**
     * Each interrupt and wakeup setter alone on a halted vCPU sends exactly the message that runs the
     * loop, which then halts again with nothing pending (the control request failed this before its
     * IPI: a bit left set on a halted vCPU with no message).
     */
    @Test
    void shouldSendAWakeupMessageForEveryInterruptSetterOnAHaltedVcpu() {
        withHaltedVcpu(v -> {
            for (final Setter s : Setter.values()) {
                final long sent = v.cpu.ipisReceived.get() + v.cpu.timerWakeups.get();
                v.apply(s);
                assertEquals(sent + 1, v.cpu.ipisReceived.get() + v.cpu.timerWakeups.get(), s + ": one wakeup message");
                // The hang report's view of the same state (Scheduler.describePendingInterrupts).
                final String pending = v.h.s.describePendingInterrupts().get(0);
                assertTrue(pending.startsWith("vcpu0 halted " + switch (s) {
                    case CONTROL -> "irq=0x4 mask=0x0 foreignQueued=false incomingQueued=[-,-] revocations=false";
                    case TIMER -> "irq=0x1 mask=0x0 foreignQueued=false incomingQueued=[-,-] revocations=false";
                    case REVOKE -> "irq=0x8 mask=0x0 foreignQueued=false incomingQueued=[-,-] revocations=true";
                    case FOREIGN_WAKE -> "irq=0x2 mask=0x0 foreignQueued=true incomingQueued=[-,-] revocations=false";
                    case REMOTE_WAKE -> "irq=0x0 mask=0x2 foreignQueued=false incomingQueued=[-,y] revocations=false";
                }), pending);
                v.drain();
                assertTrue(v.h.s.describePendingInterrupts().get(0).startsWith(
                    "vcpu0 halted irq=0x0 mask=0x0 foreignQueued=false incomingQueued=[-,-] revocations=false"));
                v.assertQuiet(s.name());
            }
            for (int i = 0; i < v.revoked; i++) {
                assertFalse(v.pool[i].perVcpuMode(), "revocation " + i + " converted by the woken vCPU");
            }
        });
    }

    /**
     * Every ordered pair of setters on a halted vCPU, back to back before any message is delivered,
     * with and without a balancer tick message (which runs in the mailbox without the loop) between
     * them: the invariant holds after each step, and delivering what was sent leaves the vCPU halted
     * with nothing pending and the thread run once per wakeup. A setter that raises its bit without
     * the IPI fails at once; one that relies on another's IPI fails when that one was skipped.
     */
    @Test
    void shouldNeverLeaveAHaltedVcpuWithAPendingBitAndNoMessageForAnyPairOfSetters() {
        withHaltedVcpu(v -> {
            for (final Setter first : Setter.values()) {
                for (final Setter second : Setter.values()) {
                    for (final boolean tick : new boolean[] {false, true}) {
                        final String seq = first + (tick ? " tick " : " ") + second;
                        v.apply(first);
                        if (tick) {
                            v.balanceTickMessage();
                        }
                        v.apply(second);
                        v.drain();
                        v.assertQuiet(seq);
                    }
                }
            }
        });
    }

    /**
     * A seeded random walk over the setters, balancer tick messages, single message deliveries (a
     * setter then meets a halted vCPU with a stale message still on its way) and full drains (it meets
     * one with nothing on its way), checking the invariant after every step and the quiet state after
     * every drain.
     */
    @Test
    void shouldKeepTheHaltProtocolOverARandomWalkOfSettersAndDeliveries() {
        withHaltedVcpu(v -> {
            final java.util.Random rnd = new java.util.Random(20261128L);
            final Setter[] setters = Setter.values();
            for (int step = 0; step < 600; step++) {
                final int r = rnd.nextInt(setters.length + 3);
                if (r < setters.length) {
                    final Setter s = setters[r];
                    if (s != Setter.REVOKE || v.revoked < HaltedVcpu.MUTEXES) {
                        v.apply(s);
                    }
                } else if (r == setters.length) {
                    v.balanceTickMessage();
                } else if (r == setters.length + 1) {
                    deliverOne(v);
                } else {
                    // Everything delivered: the next setter meets a halted vCPU with nothing on its way.
                    v.drain();
                    v.assertQuiet("step " + step);
                }
            }
            v.drain();
            v.assertQuiet("after the walk");
        });
    }

    /** Deliver one message on its way to vCPU 0, if any. */
    private static void deliverOne(final HaltedVcpu v) {
        final BehaviorTestKit<VcpuActor.Command> kitVcpu = v.h.vcpus.get(0);
        if (kitVcpu.selfInbox().hasMessages()) {
            kitVcpu.run(kitVcpu.selfInbox().receiveMessage());
        } else if (v.cpu.ipisReceived.get() + v.cpu.timerWakeups.get() > v.delivered) {
            v.delivered++;
            kitVcpu.run(v.h.probes.get(0).receiveMessage());
        }
        v.assertProtocol("delivery");
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
