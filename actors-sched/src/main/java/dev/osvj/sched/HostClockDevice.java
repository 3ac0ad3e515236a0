package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * The clock-event device on the host: one daemon platform thread per kernel instance that sleeps
 * ({@code parkNanos}) until the earliest armed vCPU deadline and then raises those vCPUs' timer
 * interrupts. Tickless (default): only armed deadlines wake it; arming an earlier deadline than the
 * one it sleeps towards unparks it. Periodic ({@code osvj.sched.tick = 100 | 1000}): it interrupts
 * every vCPU every {@code 1/hz} seconds whatever is armed.
 *
 * <p>Ordering (Dekker): {@link #set} stores the deadline, then reads {@code sleepingUntil}; the device
 * stores {@code sleepingUntil}, then re-reads every deadline before parking. Both sides use volatile
 * accesses, so either the setter sees the device's sleep horizon and unparks it, or the device sees
 * the new deadline.
 */
final class HostClockDevice extends ClockDevice implements Runnable {
    private static final VarHandle DEADLINES = MethodHandles.arrayElementVarHandle(long[].class);

    private final KernelClock clock;
    private final String threadName;
    private final long periodNanos;
    private Cpu[] cpus;
    private long[] deadlines;
    private Thread thread;
    private volatile long sleepingUntil = NONE;
    private volatile boolean running;

    /**
     * @param tickHz 0 for tickless one-shot deadlines, otherwise the periodic tick rate.
     */
    HostClockDevice(final KernelClock clock, final String threadName, final int tickHz) {
        this.clock = clock;
        this.threadName = threadName;
        this.periodNanos = tickHz == 0 ? 0 : 1_000_000_000L / tickHz;
    }

    @Override
    void start(final Cpu[] cpus) {
        this.cpus = cpus;
        this.deadlines = new long[cpus.length];
        java.util.Arrays.fill(deadlines, NONE);
        running = true;
        thread = new Thread(this, threadName);
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    void stop() {
        running = false;
        if (thread != null) {
            LockSupport.unpark(thread);
        }
    }

    @Override
    void set(final Cpu cpu, final long deadlineNanos) {
        if (periodNanos != 0) {
            return; // periodic mode: the tick checks the timer set
        }
        final long old = (long)DEADLINES.getVolatile(deadlines, cpu.id);
        if (old == deadlineNanos) {
            return;
        }
        DEADLINES.setVolatile(deadlines, cpu.id, deadlineNanos);
        if (deadlineNanos < sleepingUntil) {
            LockSupport.unpark(thread);
        }
    }

    @Override
    public void run() {
        if (periodNanos != 0) {
            runPeriodic();
        } else {
            runTickless();
        }
    }

    private void runTickless() {
        while (running) {
            final long now = clock.monotonicNanos();
            long min = NONE;
            for (int i = 0; i < cpus.length; i++) {
                final long d = (long)DEADLINES.getVolatile(deadlines, i);
                if (d <= now) {
                    DEADLINES.compareAndSet(deadlines, i, d, NONE);
                    cpus[i].timerInterrupt();
                } else if (d < min) {
                    min = d;
                }
            }
            sleepingUntil = min;
            boolean due = false;
            for (int i = 0; i < cpus.length; i++) {
                if ((long)DEADLINES.getVolatile(deadlines, i) < min) {
                    due = true;
                }
            }
            if (due) {
                continue;
            }
            if (min == NONE) {
                LockSupport.park(this);
            } else {
                LockSupport.parkNanos(this, min - clock.monotonicNanos());
            }
            sleepingUntil = NONE;
        }
    }

    private void runPeriodic() {
        long next = clock.monotonicNanos() + periodNanos;
        while (running) {
            final long now = clock.monotonicNanos();
            if (now < next) {
                LockSupport.parkNanos(this, next - now);
                continue;
            }
            next += periodNanos;
            if (next < now) {
                next = now + periodNanos; // fell behind (host overloaded): do not burst
            }
            for (final Cpu cpu : cpus) {
                cpu.timerInterrupt();
            }
        }
    }
}
