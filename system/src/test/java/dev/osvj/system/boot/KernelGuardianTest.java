package dev.osvj.system.boot;

import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.testing.StandaloneKernel;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.testkit.typed.annotations.JUnit5TestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.JUnit5TestKitBuilder;
import org.apache.pekko.actor.testkit.typed.javadsl.TestKitJUnit5Extension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The guardian's protocol: boot order, a failing phase, shutdown order, slow stop hooks. */
@ExtendWith(TestKitJUnit5Extension.class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KernelGuardianTest {
    private static final Duration WAIT = Duration.ofSeconds(20);

    /** One actor system for the class, shut down by the extension after the last test. */
    @JUnit5TestKit
    public ActorTestKit testKit = new JUnit5TestKitBuilder().build();

    /** A subsystem that records its boot and stop into a shared journal. */
    private static final class Recorded implements Subsystem {
        final String name;
        final int order;
        final ConcurrentLinkedQueue<String> journal;
        RuntimeException failBoot;
        CountDownLatch bootGate;
        CountDownLatch stopGate;

        Recorded(final String name, final int order, final ConcurrentLinkedQueue<String> journal) {
            this.name = name;
            this.order = order;
            this.journal = journal;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public int order() {
            return order;
        }

        @Override
        public String phase() {
            return name + " up";
        }

        @Override
        public void boot(final BootContext context) throws Exception {
            if (bootGate != null) {
                bootGate.await(30, TimeUnit.SECONDS);
            }
            journal.add("boot " + name);
            if (failBoot != null) {
                throw failBoot;
            }
            context.note(name + " says hello");
        }

        @Override
        public void stop(final KernelContext context) throws Exception {
            journal.add("stop " + name);
            if (stopGate != null) {
                stopGate.await(30, TimeUnit.SECONDS);
            }
        }
    }

    private ActorRef<KernelGuardian.Command> spawn(final List<Subsystem> subsystems, final TestProbe<KernelEvent> probe,
        final ConcurrentLinkedQueue<String> notes, final Duration stopTimeout) {
        return testKit.spawn(KernelGuardian.create(new StandaloneKernel("test"), subsystems, probe.ref()::tell, notes::add, stopTimeout));
    }

    private static String phaseOf(final KernelEvent e) {
        return ((KernelEvent.PhaseBooted)e).subsystem();
    }

    @Test
    void shouldBootSubsystemsInDeclaredOrderWhateverTheDiscoveryOrder() {
        final ConcurrentLinkedQueue<String> journal = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<String> notes = new ConcurrentLinkedQueue<>();
        final TestProbe<KernelEvent> probe = testKit.createTestProbe();
        spawn(List.of(new Recorded("net", Subsystem.Order.NET, journal), new Recorded("sched", Subsystem.Order.SCHED, journal),
            new Recorded("app", Subsystem.Order.APP, journal), new Recorded("mmu", Subsystem.Order.MMU, journal)),
            probe, notes, WAIT);

        probe.expectMessageClass(KernelEvent.GuardianStarted.class, WAIT);
        assertEquals("sched", phaseOf(probe.receiveMessage(WAIT)));
        assertEquals("mmu", phaseOf(probe.receiveMessage(WAIT)));
        assertEquals("net", phaseOf(probe.receiveMessage(WAIT)));
        final KernelEvent.PhaseBooted last = (KernelEvent.PhaseBooted)probe.receiveMessage(WAIT);
        assertEquals("app", last.subsystem());
        assertEquals("app up", last.phase());
        assertTrue(last.endNanos() >= last.startNanos());
        probe.expectMessageClass(KernelEvent.Booted.class, WAIT);
        assertEquals(List.of("boot sched", "boot mmu", "boot net", "boot app"), List.copyOf(journal));
        assertEquals(List.of("sched says hello", "mmu says hello", "net says hello", "app says hello"), List.copyOf(notes));
    }

    @Test
    void shouldStopBootedSubsystemsInReverseOrderWhenAPhaseFails() {
        final ConcurrentLinkedQueue<String> journal = new ConcurrentLinkedQueue<>();
        final TestProbe<KernelEvent> probe = testKit.createTestProbe();
        final Recorded mmu = new Recorded("mmu", Subsystem.Order.MMU, journal);
        mmu.failBoot = new IllegalStateException("guest memory: cannot map 64G");
        spawn(List.of(new Recorded("sched", Subsystem.Order.SCHED, journal), new Recorded("virtio", Subsystem.Order.VIRTIO, journal),
            mmu, new Recorded("net", Subsystem.Order.NET, journal)), probe, new ConcurrentLinkedQueue<>(), WAIT);

        probe.expectMessageClass(KernelEvent.GuardianStarted.class, WAIT);
        assertEquals("sched", phaseOf(probe.receiveMessage(WAIT)));
        final KernelEvent.BootFailed failed = probe.expectMessageClass(KernelEvent.BootFailed.class, WAIT);
        assertEquals("mmu", failed.subsystem());
        assertEquals("mmu up", failed.phase());
        assertEquals("guest memory: cannot map 64G", failed.cause().getMessage());
        final KernelEvent.SubsystemStopped stopped = probe.expectMessageClass(KernelEvent.SubsystemStopped.class, WAIT);
        assertEquals("sched", stopped.subsystem());
        assertNull(stopped.error());
        probe.expectMessageClass(KernelEvent.Halted.class, WAIT);
        // virtio and net never booted; the failed mmu gets no stop hook.
        assertEquals(List.of("boot sched", "boot mmu", "stop sched"), List.copyOf(journal));
    }

    @Test
    void shouldShutDownInReverseBootOrder() {
        final ConcurrentLinkedQueue<String> journal = new ConcurrentLinkedQueue<>();
        final TestProbe<KernelEvent> probe = testKit.createTestProbe();
        final ActorRef<KernelGuardian.Command> guardian = spawn(List.of(new Recorded("vfs", Subsystem.Order.VFS, journal),
            new Recorded("sched", Subsystem.Order.SCHED, journal), new Recorded("app", Subsystem.Order.APP, journal)),
            probe, new ConcurrentLinkedQueue<>(), WAIT);
        probe.fishForMessage(WAIT, e -> e instanceof KernelEvent.Booted
            ? org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.complete()
            : org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore());

        guardian.tell(KernelGuardian.Shutdown.INSTANCE);
        assertEquals("app", probe.expectMessageClass(KernelEvent.SubsystemStopped.class, WAIT).subsystem());
        assertEquals("vfs", probe.expectMessageClass(KernelEvent.SubsystemStopped.class, WAIT).subsystem());
        assertEquals("sched", probe.expectMessageClass(KernelEvent.SubsystemStopped.class, WAIT).subsystem());
        probe.expectMessageClass(KernelEvent.Halted.class, WAIT);
        probe.expectTerminated(guardian, WAIT);
        assertEquals(List.of("boot sched", "boot vfs", "boot app", "stop app", "stop vfs", "stop sched"), List.copyOf(journal));
    }

    @Test
    void shouldGoOnWithTheNextStopHookWhenOneTimesOut() {
        final ConcurrentLinkedQueue<String> journal = new ConcurrentLinkedQueue<>();
        final TestProbe<KernelEvent> probe = testKit.createTestProbe();
        final Recorded stuck = new Recorded("net", Subsystem.Order.NET, journal);
        stuck.stopGate = new CountDownLatch(1);
        final ActorRef<KernelGuardian.Command> guardian = spawn(List.of(new Recorded("sched", Subsystem.Order.SCHED, journal), stuck),
            probe, new ConcurrentLinkedQueue<>(), Duration.ofMillis(300));
        probe.fishForMessage(WAIT, e -> e instanceof KernelEvent.Booted
            ? org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.complete()
            : org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore());
        try {
            guardian.tell(KernelGuardian.Shutdown.INSTANCE);
            final KernelEvent.SubsystemStopped net = probe.expectMessageClass(KernelEvent.SubsystemStopped.class, WAIT);
            assertEquals("net", net.subsystem());
            assertInstanceOf(TimeoutException.class, net.error());
            assertEquals("sched", probe.expectMessageClass(KernelEvent.SubsystemStopped.class, WAIT).subsystem());
            probe.expectMessageClass(KernelEvent.Halted.class, WAIT);
        } finally {
            stuck.stopGate.countDown();
        }
    }

    @Test
    void shouldFinishThePhaseInProgressThenStopWhenShutdownArrivesDuringBoot() {
        final ConcurrentLinkedQueue<String> journal = new ConcurrentLinkedQueue<>();
        final TestProbe<KernelEvent> probe = testKit.createTestProbe();
        final Recorded slow = new Recorded("mmu", Subsystem.Order.MMU, journal);
        slow.bootGate = new CountDownLatch(1);
        final ActorRef<KernelGuardian.Command> guardian = spawn(List.of(new Recorded("sched", Subsystem.Order.SCHED, journal), slow,
            new Recorded("app", Subsystem.Order.APP, journal)), probe, new ConcurrentLinkedQueue<>(), WAIT);
        probe.expectMessageClass(KernelEvent.GuardianStarted.class, WAIT);
        assertEquals("sched", phaseOf(probe.receiveMessage(WAIT)));
        guardian.tell(KernelGuardian.Shutdown.INSTANCE);
        slow.bootGate.countDown();
        assertEquals("mmu", phaseOf(probe.receiveMessage(WAIT)));
        assertEquals("mmu", probe.expectMessageClass(KernelEvent.SubsystemStopped.class, WAIT).subsystem());
        assertEquals("sched", probe.expectMessageClass(KernelEvent.SubsystemStopped.class, WAIT).subsystem());
        probe.expectMessageClass(KernelEvent.Halted.class, WAIT);
        assertEquals(List.of("boot sched", "boot mmu", "stop mmu", "stop sched"), List.copyOf(journal));
    }
}
