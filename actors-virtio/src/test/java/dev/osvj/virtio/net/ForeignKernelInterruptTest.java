package dev.osvj.virtio.net;

import dev.osvj.kernel.KernelClock;
import dev.osvj.sched.KThread;
import dev.osvj.sched.SchedConfig;
import dev.osvj.sched.Scheduler;
import dev.osvj.sched.ThreadAttr;
import dev.osvj.virtio.InterruptActor;
import dev.osvj.virtio.InterruptLine;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Inline receive interrupts raised on kernel threads ({@link InterruptLine} built with its kernel's
 * {@link Scheduler}): a kernel thread of <em>another</em> kernel in the JVM (a vswitch inline transmit
 * forwarding its guest's frame into this one) runs the handler inline, as a host thread does; a kernel
 * thread of the driver's own kernel still goes through the interrupt actor, and so does every kernel
 * thread for a line built without a kernel. And deferred inline interrupts
 * ({@link InterruptLine#deferInline}): raised inside a scope, they run when it closes, not before.
 */
class ForeignKernelInterruptTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final AtomicInteger KERNELS = new AtomicInteger();

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    private static Scheduler kernel() {
        final Scheduler s = Scheduler.create("irq-k" + KERNELS.incrementAndGet(), SchedConfig.defaults(1), KernelClock.SYSTEM,
            null);
        s.start((b, n, p) -> KIT.spawn(b, s.name() + "-" + n, p));
        return s;
    }

    /** Raise {@code line}'s receive interrupt on a new kernel thread of {@code on}, and wait for that thread. */
    private static void raiseOn(final Scheduler on, final InterruptLine line, final List<String> raisers) throws Exception {
        final CompletableFuture<Void> done = new CompletableFuture<>();
        final KThread t = on.spawn(ThreadAttr.named("raiser"), () -> {
            raisers.add(Thread.currentThread().getName());
            line.notify(VirtioNet.RX_QUEUE);
            done.complete(null);
        });
        done.get(30, TimeUnit.SECONDS);
        assertTrue(t.join(TimeUnit.SECONDS.toNanos(30)));
    }

    /** A sink that records the carrier thread each handler run happened on. */
    private static final class Threads implements FrameSink {
        final List<String> names = new CopyOnWriteArrayList<>();

        @Override
        public void onFrame(final java.lang.foreign.MemorySegment buffer, final long offset, final int length) {
            names.add(Thread.currentThread().getName());
        }
    }

    /** An interrupt line (actor and inline) for {@code h}'s driver, built with {@code kernel} (or none), installed. */
    private static InterruptLine line(final NetHarness h, final AtomicLong handled, final Scheduler kernel) {
        final ActorRef<InterruptActor.Command> actor = KIT.spawn(InterruptActor.create(h.driver, handled));
        final InterruptLine line = new InterruptLine(actor, 2, h.driver, handled, kernel);
        h.driver.interruptLine(line);
        return line;
    }

    private static void awaitHandled(final AtomicLong handled, final long count) {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (handled.get() < count) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + count + " interrupts, " + handled.get());
            Thread.onSpinWait();
        }
    }

    @Test
    void shouldRunTheHandlerInlineOnAnotherKernelsThreadButNotOnItsOwn() throws Exception {
        final Scheduler own = kernel();
        final Scheduler other = kernel();
        final QueueTransport wire = new QueueTransport();
        try (NetHarness h = new NetHarness(wire, 1500, 32)) {
            final Threads sink = new Threads();
            h.driver.receiveInto(sink);
            final AtomicLong handled = new AtomicLong();
            final InterruptLine line = line(h, handled, own);
            final List<String> raisers = new CopyOnWriteArrayList<>();

            raiseOn(other, line, raisers);
            // Inline, on the other kernel's thread, before notify returned: no actor involved.
            assertEquals(1, line.inlineRuns(), line.toString());
            assertEquals(1, handled.get());

            raiseOn(own, line, raisers);
            awaitHandled(handled, 2); // the actor ran it
            assertEquals(1, line.inlineRuns(), "the driver's own kernel thread does not run it inline: " + line);
        } finally {
            own.stop(Duration.ofSeconds(30));
            other.stop(Duration.ofSeconds(30));
        }
    }

    @Test
    void shouldSendAKernelThreadsInterruptToTheActorWhenTheLineHasNoKernel() throws Exception {
        final Scheduler other = kernel();
        final QueueTransport wire = new QueueTransport();
        try (NetHarness h = new NetHarness(wire, 1500, 32)) {
            h.driver.receiveInto(new Threads());
            final AtomicLong handled = new AtomicLong();
            final InterruptLine line = line(h, handled, null);
            raiseOn(other, line, new CopyOnWriteArrayList<>());
            awaitHandled(handled, 1);
            assertEquals(0, line.inlineRuns(), line.toString());
        } finally {
            other.stop(Duration.ofSeconds(30));
        }
    }

    @Test
    void shouldRunAnInterruptRaisedInADeferralScopeWhenTheScopeClosesAndCoalesceItMeanwhile() throws Exception {
        final QueueTransport wire = new QueueTransport();
        try (NetHarness h = new NetHarness(wire, 1500, 32)) {
            final Threads sink = new Threads();
            h.driver.receiveInto(sink);
            final AtomicLong handled = new AtomicLong();
            final InterruptLine line = line(h, handled, null);
            final int outer = InterruptLine.deferInline();
            line.notify(VirtioNet.RX_QUEUE);
            final int inner = InterruptLine.deferInline();
            line.notify(VirtioNet.RX_QUEUE); // pending already: coalesced with the deferred one
            InterruptLine.runDeferred(inner);
            assertEquals(0, line.inlineRuns(), "nothing runs while the outer scope is open: " + line);
            assertEquals(0, handled.get());
            InterruptLine.runDeferred(outer);
            assertEquals(1, line.inlineRuns(), "run once, on this thread, when the scope closed: " + line);
            assertEquals(1, handled.get());
            line.notify(VirtioNet.RX_QUEUE); // outside any scope: at once, as before
            assertEquals(2, line.inlineRuns(), line.toString());
        }
    }
}
