package dev.osvj.virtio.net;

import dev.osvj.virtio.InterruptActor;
import dev.osvj.virtio.InterruptLine;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Inline receive interrupts ({@link InterruptLine}): virtio-net's receive interrupt runs on the host
 * thread that raised it (the device's backend thread here) instead of a mailbox run of the interrupt
 * actor; handlers never overlap; an interrupt that finds a handler running goes through the actor;
 * an inline handler's failure still crashes and restarts the actor, which raises every queue again.
 */
class InlineInterruptTest {
    private static final ActorTestKit TESTKIT = ActorTestKit.create();
    /** The harness's device thread ({@code DeviceAgent} names its thread after the agent). */
    private static final String DEVICE_THREAD = "virtio-net-test";

    @AfterAll
    static void shutdown() {
        TESTKIT.shutdownTestKit();
    }

    private static byte[] frame(final int length, final int seed) {
        return VirtioNetTest.frame(length, seed);
    }

    /** A sink recording each frame, the thread it ran on, and whether two handlers ever overlapped. */
    private static class RecordingSink implements FrameSink {
        final List<byte[]> frames = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();
        final AtomicInteger inside = new AtomicInteger();
        volatile boolean overlapped;

        @Override
        public void onFrame(final MemorySegment buffer, final long offset, final int length) {
            if (inside.incrementAndGet() > 1) {
                overlapped = true;
            }
            try {
                threads.add(Thread.currentThread().getName());
                frames.add(buffer.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE));
                during(frames.size());
            } finally {
                inside.decrementAndGet();
            }
        }

        /** Hook: runs inside the handler for the n-th frame (1-based). */
        void during(final int n) {
        }
    }

    private static void await(final BooleanSupplier condition, final String what) {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out: " + what);
            Thread.yield();
        }
    }

    @Test
    void shouldRunTheReceiveInterruptOnTheRaisingDeviceThreadWithoutTheActor() throws Exception {
        final QueueTransport wire = new QueueTransport();
        try (NetHarness h = new NetHarness(wire, 1500, 32)) {
            final RecordingSink sink = new RecordingSink();
            h.driver.receiveInto(sink);
            final AtomicLong handled = new AtomicLong();
            final ActorRef<InterruptActor.Command> actor = TESTKIT.spawn(InterruptActor.create(h.driver, handled));
            final InterruptLine line = new InterruptLine(actor, 2, h.driver, handled);
            h.driver.interruptLine(line);
            final int frames = 200;
            for (int i = 0; i < frames; i++) {
                wire.inbound.add(frame(60 + i, i));
            }
            await(() -> sink.frames.size() == frames, "all frames received");
            for (int i = 0; i < frames; i++) {
                assertArrayEquals(frame(60 + i, i), sink.frames.get(i), "frame " + i);
            }
            // Every frame was handled on the device's own thread: no actor mailbox run in between.
            assertEquals(List.of(DEVICE_THREAD), sink.threads.stream().distinct().toList());
            assertTrue(line.inlineRuns() > 0);
            assertEquals(line.inlineRuns(), handled.get(), "every receive interrupt ran inline");
            assertFalse(sink.overlapped);
            assertTrue(h.driver.inlineInterrupt(VirtioNet.RX_QUEUE));
            assertFalse(h.driver.inlineInterrupt(VirtioNet.TX_QUEUE), "transmit interrupts stay on the actor");
        }
    }

    @Test
    void shouldSendTheInterruptToTheActorWhileAHandlerRunsAndNeverOverlapHandlers() throws Exception {
        final QueueTransport wire = new QueueTransport();
        try (NetHarness h = new NetHarness(wire, 1500, 32)) {
            final CountDownLatch inHandler = new CountDownLatch(1);
            final CountDownLatch release = new CountDownLatch(1);
            final RecordingSink sink = new RecordingSink() {
                @Override
                void during(final int n) {
                    if (n == 1) {
                        inHandler.countDown();
                        try {
                            assertTrue(release.await(30, TimeUnit.SECONDS));
                        } catch (final InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }
            };
            h.driver.receiveInto(sink);
            final AtomicLong handled = new AtomicLong();
            final ActorRef<InterruptActor.Command> actor = TESTKIT.spawn(InterruptActor.create(h.driver, handled));
            final InterruptLine line = new InterruptLine(actor, 2, h.driver, handled);
            h.driver.interruptLine(line);
            wire.inbound.add(frame(100, 1));
            assertTrue(inHandler.await(30, TimeUnit.SECONDS), "first frame's handler runs (inline, device thread)");
            // The context is taken: an interrupt raised now on this (host) thread must not run here...
            line.notify(VirtioNet.RX_QUEUE);
            assertEquals(1, sink.threads.size());
            // ...it went to the actor, which finds the context taken and tries again later.
            await(() -> line.deferred() > 0, "the actor deferred the interrupt");
            final long inlineBefore = line.inlineRuns();
            release.countDown();
            // Once the inline handler is done, the actor's retry runs the handler itself.
            await(() -> handled.get() > line.inlineRuns(), "the actor handled the deferred interrupt");
            wire.inbound.add(frame(101, 2));
            await(() -> sink.frames.size() == 2, "second frame received");
            assertArrayEquals(frame(101, 2), sink.frames.get(1));
            assertFalse(sink.overlapped, "two handlers never run at once");
            assertTrue(line.inlineRuns() >= inlineBefore);
        }
    }

    @Test
    void shouldRestartTheActorAndRaiseEveryQueueWhenAnInlineHandlerThrows() throws Exception {
        final QueueTransport wire = new QueueTransport();
        try (NetHarness h = new NetHarness(wire, 1500, 32)) {
            final RecordingSink sink = new RecordingSink() {
                @Override
                void during(final int n) {
                    if (n == 1) {
                        throw new IllegalStateException("driver bug (test)");
                    }
                }
            };
            h.driver.receiveInto(sink);
            final AtomicLong handled = new AtomicLong();
            final ActorRef<InterruptActor.Command> actor = TESTKIT.spawn(Behaviors.supervise(
                InterruptActor.create(h.driver, handled)).onFailure(SupervisorStrategy.restart()));
            final InterruptLine line = new InterruptLine(actor, 2, h.driver, handled);
            h.driver.interruptLine(line);
            wire.inbound.add(frame(90, 1));
            await(() -> sink.frames.size() == 1, "first frame reached the handler");
            // The handler died with the receive queue's interrupts off: only the actor's restart, which
            // raises every queue again, gets the next frames delivered.
            for (int i = 2; i <= 20; i++) {
                wire.inbound.add(frame(90 + i, i));
            }
            await(() -> sink.frames.size() == 20, "frames after the failure received");
            for (int i = 2; i <= 20; i++) {
                assertArrayEquals(frame(90 + i, i), sink.frames.get(i - 1), "frame " + i);
            }
        }
    }
}
