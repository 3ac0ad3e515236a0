package dev.osvj.net.stack;

import java.util.concurrent.locks.LockSupport;

/**
 * Drives a stack from plain threads: the device receive context ("interrupt thread": polls every
 * interface, then runs the flow consumers woken meanwhile) and the timer tick; in layered mode a
 * second thread is the receive stage. Used by tests and benchmarks and where no actor system runs;
 * the kernel drives stacks with actors instead ({@code NetSubsystem}). Device notifiers unpark the
 * receive thread, so an idle driver sleeps until a frame arrives or the next tick.
 *
 * <p>Nothing on the receive path waits for the tick: a frame wakes the receive thread (device
 * notifier), a segment queued into a flow's net channel wakes the blocked reader or the epoll waiter
 * directly, or is drained by this thread in the same loop ({@link NetStack#runDeferredFlows}). The
 * tick only runs TCP's timers, so its length bounds timer precision (delayed ACK, RTO), not latency;
 * {@link NetCounters.Counter#TCP_CHANNEL_BY_TIMER} counts segments the tick found still queued (0 when
 * every wakeup arrived). Tests pass a huge tick to prove that.
 */
public final class StackDriver implements AutoCloseable {
    /** Default timer tick, nanoseconds: TCP timers (delayed ACK, RTO...) fire with this granularity. */
    public static final long TICK_NS = 5_000_000L;
    private final NetStack stack;
    private final long tickNs;
    private final Thread rx;
    private final Thread stage;
    private volatile boolean running = true;

    public StackDriver(final NetStack stack, final String name) {
        this(stack, name, TICK_NS);
    }

    /**
     * @param tickNs the timer tick in nanoseconds (&gt; 0): how often TCP timers are checked.
     */
    public StackDriver(final NetStack stack, final String name, final long tickNs) {
        if (tickNs <= 0) {
            throw new IllegalArgumentException("tick must be positive: " + tickNs);
        }
        this.stack = stack;
        this.tickNs = tickNs;
        this.rx = new Thread(this::rxLoop, name + "-rx");
        this.rx.setDaemon(true);
        for (final NetInterface i : stack.interfaces()) {
            i.device().setRxNotifier(() -> LockSupport.unpark(rx));
        }
        if (!stack.settings().netChannels()) {
            stage = new Thread(this::stageLoop, name + "-stage");
            stage.setDaemon(true);
            stack.setReceiveStageNotifier(() -> LockSupport.unpark(stage));
        } else {
            stage = null;
        }
        rx.start();
        if (stage != null) {
            stage.start();
        }
    }

    private void rxLoop() {
        long nextTick = stack.now() + tickNs;
        while (running) {
            int work = 0;
            for (final NetInterface i : stack.interfaces()) {
                work += stack.pollInterface(i, 64);
            }
            work += stack.runDeferredFlows();
            final long now = stack.now();
            if (now - nextTick >= 0) {
                stack.poll(now);
                nextTick = now + tickNs;
            }
            if (work == 0) {
                LockSupport.parkNanos(this, Math.max(1, nextTick - stack.now()));
            }
        }
    }

    private void stageLoop() {
        while (running) {
            if (stack.runReceiveStage(256) == 0) {
                LockSupport.parkNanos(this, tickNs); // the notifier unparks it when a frame is queued
            }
        }
    }

    @Override
    public void close() {
        running = false;
        LockSupport.unpark(rx);
        if (stage != null) {
            LockSupport.unpark(stage);
        }
        try {
            rx.join(5000);
            if (stage != null) {
                stage.join(5000);
            }
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
