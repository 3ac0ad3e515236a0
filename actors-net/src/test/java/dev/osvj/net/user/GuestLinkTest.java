package dev.osvj.net.user;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cable between the guest NIC and the gateway ({@link GuestLink}): gateway frames written straight
 * into the guest (direct receive) with the ring as the in-order fallback, and guest frames processed on
 * the transmitting thread or queued when the stack is busy, never re-entering the stack.
 */
class GuestLinkTest {
    private static final long WAIT_S = 30;

    /** Frame {@code i}: its first byte is {@code i}. */
    private static UnsafeBuffer frame(final int i) {
        final byte[] f = new byte[60];
        f[0] = (byte)i;
        for (int k = 1; k < f.length; k++) {
            f[k] = (byte)(i * 31 + k);
        }
        return new UnsafeBuffer(f);
    }

    /** A guest NIC receive entry with {@code room} buffers; records the first byte of every frame it took. */
    private static final class Receiver implements UserGateway.GuestReceiver {
        final List<Integer> taken = new CopyOnWriteArrayList<>();
        final List<Boolean> mayWaits = new CopyOnWriteArrayList<>();
        final AtomicInteger room = new AtomicInteger();
        final AtomicInteger noRoom = new AtomicInteger();

        @Override
        public int offer(final org.agrona.DirectBuffer buffer, final int offset, final int length, final boolean mayWait) {
            mayWaits.add(mayWait);
            if (room.get() == 0) {
                noRoom.incrementAndGet();
                return NO_ROOM;
            }
            room.decrementAndGet();
            taken.add((int)buffer.getByte(offset));
            return TAKEN;
        }
    }

    @Test
    void shouldWriteGatewayFramesIntoTheGuestDirectlyAndKeepOrderThroughTheRingWhenItHasNoRoom() {
        final GuestLink link = new GuestLink(1500, true);
        final Receiver guest = new Receiver();
        link.directReceive(guest);
        final AtomicInteger wakes = new AtomicInteger();
        link.guestEnd().setRxNotifier(wakes::incrementAndGet);
        guest.room.set(3);
        assertFalse(link.guestEnd().mayHaveFrames(), "nothing sent yet: the NIC's backend need not poll");
        for (int i = 0; i < 3; i++) {
            assertTrue(link.gatewayEnd().transmit(frame(i), 0, 60));
        }
        assertFalse(link.guestEnd().mayHaveFrames(), "frames that went straight into the guest leave none to poll");
        assertTrue(link.gatewayEnd().transmit(frame(3), 0, 60));
        assertTrue(link.guestEnd().mayHaveFrames(), "the frame the guest had no room for waits on the ring");
        assertEquals(List.of(0, 1, 2), guest.taken, "straight into the guest while it had buffers");
        assertEquals(1, guest.noRoom.get());
        assertEquals(1, wakes.get(), "frame 3 is kept on the ring and the guest's poller woken");
        // the guest posted buffers again, but frame 3 still waits: later frames queue behind it
        guest.room.set(100);
        for (int i = 4; i < 8; i++) {
            assertTrue(link.gatewayEnd().transmit(frame(i), 0, 60));
        }
        assertEquals(List.of(0, 1, 2), guest.taken);
        assertEquals(3, link.toGuestDirect());
        assertEquals(5, link.toGuestRing());
        // the NIC's backend polls the ring: nothing lost, in order
        final List<Integer> polled = new CopyOnWriteArrayList<>();
        assertEquals(5, link.guestEnd().poll((b, o, l) -> polled.add((int)b.getByte(o)), 100));
        assertEquals(List.of(3, 4, 5, 6, 7), polled);
        assertFalse(link.guestEnd().mayHaveFrames(), "drained: the backend may park until the next notification");
        // drained: direct again
        assertTrue(link.gatewayEnd().transmit(frame(8), 0, 60));
        assertEquals(List.of(0, 1, 2, 8), guest.taken);
        assertEquals(0, link.guestEnd().droppedFrames());
        assertTrue(guest.mayWaits.stream().allMatch(w -> w), "a plain (host) sender may wait");
    }

    @Test
    void shouldRunGuestFramesOnTheTransmittingThreadOrQueueThemInOrderWhileTheStackIsBusy() throws Exception {
        final GuestLink link = new GuestLink(1500, true);
        final List<Integer> processed = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();
        link.gatewayEnd().deliverInline((b, o, l) -> {
            processed.add((int)b.getByte(o));
            threads.add(Thread.currentThread().getName());
        });
        final AtomicInteger queuedWakes = new AtomicInteger();
        link.setOnQueued(queuedWakes::incrementAndGet);
        final AtomicInteger after = new AtomicInteger();
        link.setAfterFrame(after::incrementAndGet);
        assertTrue(link.guestEnd().transmit(frame(0), 0, 60));
        assertEquals(List.of(0), processed, "processed inline");
        assertEquals(1, after.get());
        // another thread (the loop) holds the stack: the transmitter does not wait, it queues
        final CountDownLatch locked = new CountDownLatch(1);
        final CountDownLatch unlock = new CountDownLatch(1);
        final Thread loop = Thread.ofPlatform().name("loop").start(() -> {
            link.lockStack();
            try {
                locked.countDown();
                unlock.await(WAIT_S, TimeUnit.SECONDS);
            } catch (final InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                link.unlockStack();
            }
        });
        assertTrue(locked.await(WAIT_S, TimeUnit.SECONDS));
        assertTrue(link.guestEnd().transmit(frame(1), 0, 60));
        assertTrue(link.guestEnd().transmit(frame(2), 0, 60));
        assertEquals(List.of(0), processed, "not processed while the loop holds the stack");
        assertEquals(2, link.framesQueued());
        // every queued frame wakes the loop (cheap while it is awake): a once-per-burst flag could be left
        // set over a ring a drain had just emptied, and the next frame would wait for the loop's tick
        assertEquals(2, queuedWakes.get(), "a wake per queued frame");
        assertTrue(link.hasQueued());
        unlock.countDown();
        loop.join();
        // the next inline transmit runs the queued frames first, then its own
        assertTrue(link.guestEnd().transmit(frame(3), 0, 60));
        assertEquals(List.of(0, 1, 2, 3), processed);
        assertFalse(link.hasQueued());
        assertEquals(2, link.framesInline());
        final String self = Thread.currentThread().getName();
        assertTrue(threads.stream().allMatch(self::equals), threads.toString());
    }

    @Test
    void shouldQueueAFrameTheGuestSendsFromInsideTheGatewaysOwnCallInsteadOfReenteringTheStack() {
        final GuestLink link = new GuestLink(1500, true);
        final List<Integer> processed = new CopyOnWriteArrayList<>();
        final AtomicInteger depth = new AtomicInteger();
        final AtomicInteger maxDepth = new AtomicInteger();
        final Receiver guest = new Receiver();
        guest.room.set(100);
        link.directReceive(guest);
        link.gatewayEnd().deliverInline((b, o, l) -> {
            maxDepth.accumulateAndGet(depth.incrementAndGet(), Math::max);
            final int i = b.getByte(o);
            processed.add(i);
            if (i == 0) {
                // the gateway answers the guest (into its queue, without waiting: an inline transmitter
                // never blocks), and the guest, whose interrupt ran inline, transmits at once
                link.gatewayEnd().transmit(frame(50), 0, 60);
                link.guestEnd().transmit(frame(1), 0, 60);
            }
            depth.decrementAndGet();
        });
        assertTrue(link.guestEnd().transmit(frame(0), 0, 60));
        // the nested frame is queued, not run inside the stack's call: the transmitter runs it after it let
        // go of the stack lock (its release looks for frames queued meanwhile), at depth 1 again
        assertEquals(List.of(0, 1), processed);
        assertEquals(1, maxDepth.get(), "the nested frame is not run inside the stack's call");
        assertEquals(List.of(false), guest.mayWaits, "an inline transmitter never waits for the guest NIC");
        assertFalse(link.hasQueued());
        assertTrue(link.guestEnd().transmit(frame(2), 0, 60));
        assertEquals(List.of(0, 1, 2), processed);
        assertEquals(1, maxDepth.get());
    }
}
