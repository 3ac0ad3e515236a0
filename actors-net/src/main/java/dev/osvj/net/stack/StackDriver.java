package dev.osvj.net.stack;

import java.util.concurrent.locks.LockSupport;

/**
 * Drives a stack from plain threads: the device receive context ("interrupt thread": polls every
 * interface, then runs the flow consumers woken meanwhile) and the timer tick; in layered mode a
 * second thread is the receive stage. Used by tests and benchmarks and where no actor system runs;
 * the kernel drives stacks with actors instead ({@code NetSubsystem}). Device notifiers unpark the
 * receive thread, so an idle driver sleeps until a frame arrives or the next tick.
 */
public final class StackDriver implements AutoCloseable {
    /** Timer tick: TCP timers (delayed ACK, RTO...) fire with this granularity. */
    public static final long TICK_NS = 5_000_000L;
    private final NetStack stack;
    private final Thread rx;
    private final Thread stage;
    private volatile boolean running = true;

    public StackDriver(final NetStack stack, final String name) {
        this.stack = stack;
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
        long nextTick = stack.now() + TICK_NS;
        while (running) {
            int work = 0;
            for (final NetInterface i : stack.interfaces()) {
                work += stack.pollInterface(i, 64);
            }
            work += stack.runDeferredFlows();
            final long now = stack.now();
            if (now - nextTick >= 0) {
                stack.poll(now);
                nextTick = now + TICK_NS;
            }
            if (work == 0) {
                LockSupport.parkNanos(this, Math.max(1, nextTick - stack.now()));
            }
        }
    }

    private void stageLoop() {
        while (running) {
            if (stack.runReceiveStage(256) == 0) {
                LockSupport.parkNanos(this, TICK_NS);
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
