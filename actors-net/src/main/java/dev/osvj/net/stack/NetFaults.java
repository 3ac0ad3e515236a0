package dev.osvj.net.stack;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Fault injection into the stack's receive contexts, for supervision tests: an armed {@link Point}
 * makes the next pass through it throw {@link InjectedFault}, which crashes whatever actor runs that
 * code, so its supervisor's restart is exercised under real traffic (DESIGN.md §1: "a crashed driver
 * or channel actor is restarted by its supervisor; the kernel keeps running").
 *
 * <p>What a crash costs: the frame or segment in hand is lost, as if the NIC had dropped it; TCP
 * retransmits it. Nothing that was acknowledged is lost, because a segment is acknowledged only after
 * TCP has processed it, and the crash happens before that.
 *
 * <p>Cost when disarmed: one plain read of an {@link AtomicIntegerArray} element per check, on the
 * receive path (per frame) and per flow-actor drain. Any thread may arm; the receive contexts check.
 */
public final class NetFaults {
    /** Where a fault can be injected. */
    public enum Point {
        /**
         * The stack's receive path, at the start of a frame ({@code NetStack}'s frame handler): crashes the
         * interface's receive context, which is the virtio-net driver's interrupt actor for a virtio
         * interface (inline delivery) or the stack's own interface actor for a polled device.
         */
        RECEIVE,
        /** A flow's net-channel actor, after it took a segment from the channel and before TCP saw it. */
        FLOW_ACTOR
    }

    /** The exception an armed point throws: a simulated kernel bug. */
    public static final class InjectedFault extends RuntimeException {
        private static final long serialVersionUID = 1L;

        InjectedFault(final Point point) {
            super("injected fault at " + point, null, false, false);
        }
    }

    private final AtomicIntegerArray armed = new AtomicIntegerArray(Point.values().length);
    private final AtomicLongArray fired = new AtomicLongArray(Point.values().length);

    /** Make the next {@code times} passes through {@code point} throw. */
    public void arm(final Point point, final int times) {
        armed.addAndGet(point.ordinal(), times);
    }

    /** Faults thrown at {@code point} so far. */
    public long fired(final Point point) {
        return fired.get(point.ordinal());
    }

    /** Faults armed at {@code point} and not thrown yet. */
    public int pending(final Point point) {
        return armed.get(point.ordinal());
    }

    /** Throw when {@code point} is armed (consumes one arming). */
    void check(final Point point) {
        final int i = point.ordinal();
        int n;
        while ((n = armed.get(i)) > 0) {
            if (armed.compareAndSet(i, n, n - 1)) {
                fired.incrementAndGet(i);
                throw new InjectedFault(point);
            }
        }
    }
}
