package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The wake-affine rule ({@link KThread#wakeSync}, {@link Cpu#pullAffine}): a sync wakeup from a thread on
 * vCPU 0 of a thread sleeping on halted vCPU 1 runs the sleeper on vCPU 0, without an IPI, unless the
 * sleeper is pinned, waits with a timer, the wakeup is a plain one, or the rule is off; and sync wakeups
 * between threads that move lose no wakeup.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WakeAffineTest {
    private static final long JOIN_NS = TimeUnit.SECONDS.toNanos(60);
    private final ActorTestKit kit = ActorTestKit.create("wake-affine-test");

    @AfterAll
    void shutdown() {
        kit.shutdownTestKit();
    }

    private Scheduler start(final boolean affine) {
        final Scheduler s = SchedTestSupport.start(kit, SchedConfig.defaults(2).withIdleSpin(Duration.ZERO),
            KernelClock.SYSTEM);
        s.setWakeAffine(affine);
        return s;
    }

    private record Outcome(int cpuAfter, long pulls, long ipis) {
    }

    private static long ipisReceived(final Scheduler s) {
        return s.cpuStats().stream().mapToLong(CpuStats::ipisReceived).sum();
    }

    /**
     * A sleeper on vCPU 1 (pinned or not; waiting with or without a timer) woken once, after vCPU 1 halted,
     * by a thread pinned to vCPU 0 ({@code sync}: {@link WaitRecord#wakeSync}, else {@link WaitRecord#wake}).
     */
    private Outcome wakeOnce(final Scheduler s, final boolean pinned, final boolean timed, final boolean sync) {
        final AtomicReference<WaitRecord> record = new AtomicReference<>();
        final AtomicInteger cpuAfter = new AtomicInteger(-1);
        final KThread sleeper = s.spawn("sleeper", () -> {
            KThread.pinCurrent(1);
            if (!pinned) {
                KThread.migrateEnable(); // on vCPU 1, free to move
            }
            final WaitRecord r = new WaitRecord();
            record.set(r);
            if (timed) {
                KThread.waitFor(TimeUnit.SECONDS.toNanos(60), r);
            } else {
                KThread.waitFor(r);
            }
            cpuAfter.set(KThread.current().cpuId());
        });
        final long pullsBefore = s.affinePulls();
        final long[] ipisBefore = new long[1];
        final KThread waker = s.spawn(ThreadAttr.named("waker").pinnedTo(0), () -> {
            while (record.get() == null || sleeper.state() != ThreadState.WAITING
                || !"halted".equals(s.cpuStats().get(1).state())) {
                Thread.onSpinWait();
                KThread.preemptionPoint();
            }
            ipisBefore[0] = ipisReceived(s);
            if (sync) {
                record.get().wakeSync();
            } else {
                record.get().wake();
            }
        });
        assertTrue(waker.join(JOIN_NS), "the waker ended");
        assertTrue(sleeper.join(JOIN_NS), "the sleeper was woken and ended");
        return new Outcome(cpuAfter.get(), s.affinePulls() - pullsBefore, ipisReceived(s) - ipisBefore[0]);
    }

    @Test
    void shouldRunASyncWokenThreadOfAHaltedVcpuOnTheWakersVcpuWithoutAnIpi() {
        final Scheduler s = start(true);
        try {
            final Outcome o = wakeOnce(s, false, false, true);
            assertEquals(0, o.cpuAfter(), "ran on the waker's vCPU");
            assertEquals(1, o.pulls());
            assertEquals(0, o.ipis(), "vCPU 1 was not woken");
        } finally {
            s.stop(Duration.ofSeconds(10));
        }
    }

    @Test
    void shouldLeaveTheThreadOnItsVcpuForAPlainWakeupAPinnedThreadATimedWaitOrWithTheRuleOff() {
        final Scheduler s = start(true);
        try {
            assertEquals(new Outcome(1, 0, 1), withoutIpiCountAbove1(wakeOnce(s, false, false, false)), "plain wake()");
            assertEquals(new Outcome(1, 0, 1), withoutIpiCountAbove1(wakeOnce(s, true, false, true)), "pinned");
            assertEquals(new Outcome(1, 0, 1), withoutIpiCountAbove1(wakeOnce(s, false, true, true)),
                "a timer armed on vCPU 1");
            s.setWakeAffine(false);
            assertEquals(new Outcome(1, 0, 1), withoutIpiCountAbove1(wakeOnce(s, false, false, true)), "rule off");
        } finally {
            s.stop(Duration.ofSeconds(10));
        }
    }

    /** The halted vCPU got at least one IPI (its clock may add more): count it as one. */
    private static Outcome withoutIpiCountAbove1(final Outcome o) {
        return new Outcome(o.cpuAfter(), o.pulls(), Math.min(1, o.ipis()));
    }

    @Test
    void shouldLoseNoWakeupBetweenUnpinnedThreadsThatWakeEachOtherSync() {
        final Scheduler s = start(true);
        try {
            final int rounds = 5000;
            final AtomicInteger turn = new AtomicInteger();
            @SuppressWarnings("unchecked")
            final AtomicReference<WaitRecord>[] slot = new AtomicReference[] {new AtomicReference<>(),
                new AtomicReference<>()};
            final AtomicInteger done = new AtomicInteger();
            final KThread[] players = new KThread[2];
            for (int p = 0; p < 2; p++) {
                final int me = p;
                players[p] = s.spawn("player-" + p, () -> {
                    KThread.pinCurrent(me);
                    KThread.migrateEnable();
                    for (int k = 0; k < rounds; k++) {
                        while (turn.get() % 2 != me) {
                            final WaitRecord r = new WaitRecord();
                            slot[me].set(r);
                            if (turn.get() % 2 == me) { // Dekker with the other's turn store and slot read
                                break;
                            }
                            KThread.waitFor(r);
                        }
                        turn.incrementAndGet();
                        final WaitRecord other = slot[1 - me].getAndSet(null);
                        if (other != null) {
                            other.wakeSync();
                        }
                        done.incrementAndGet();
                    }
                });
            }
            for (final KThread t : players) {
                assertTrue(t.join(JOIN_NS), "no lost wakeup: " + done.get() + " of " + 2 * rounds + " turns");
            }
            assertEquals(2 * rounds, done.get());
            assertEquals(2 * rounds, turn.get());
        } finally {
            s.stop(Duration.ofSeconds(10));
        }
    }
}
