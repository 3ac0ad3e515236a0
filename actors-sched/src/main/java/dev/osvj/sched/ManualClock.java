package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A kernel clock that only moves when told to: tests drive time with {@link #advance(long)}, and the
 * schedulers built on it get a clock-event device that fires vCPU deadlines synchronously inside
 * {@code advance}, as a real timer interrupt would. A CPU-bound kernel thread "burns" virtual time by
 * advancing the clock and then hitting a preemption point, which makes fairness measurable exactly on
 * a loaded host.
 *
 * <p>Thread-safe; {@code advance} may be called from any thread, including kernel threads.
 */
public final class ManualClock implements KernelClock {
    private final AtomicLong now;
    private final long realtimeOffset;
    private final CopyOnWriteArrayList<Device> devices = new CopyOnWriteArrayList<>();

    /** A clock starting at monotonic {@code startNanos}. */
    public ManualClock(final long startNanos) {
        this.now = new AtomicLong(startNanos);
        this.realtimeOffset = 1_700_000_000_000_000_000L - startNanos;
    }

    public ManualClock() {
        this(1_000_000_000L);
    }

    @Override
    public long monotonicNanos() {
        return now.get();
    }

    @Override
    public long realtimeNanos() {
        return now.get() + realtimeOffset;
    }

    /** Move time forward by {@code nanos} and fire every vCPU deadline that passed. */
    public void advance(final long nanos) {
        if (nanos < 0) {
            throw new IllegalArgumentException("time only moves forward: " + nanos);
        }
        final long t = now.addAndGet(nanos);
        for (final Device d : devices) {
            d.fireDue(t);
        }
    }

    /** Move time forward to {@code nanos} (no-op when already later). */
    public void advanceTo(final long nanos) {
        final long cur = now.get();
        if (nanos > cur) {
            advance(nanos - cur);
        }
    }

    Device newDevice(final int tickHz) {
        final Device d = new Device(tickHz);
        devices.add(d);
        return d;
    }

    /** The clock-event device of one scheduler on this clock. */
    final class Device extends ClockDevice {
        private final long periodNanos;
        private Cpu[] cpus;
        private AtomicLong[] deadlines;
        private long nextTick;

        Device(final int tickHz) {
            this.periodNanos = tickHz == 0 ? 0 : 1_000_000_000L / tickHz;
        }

        @Override
        void start(final Cpu[] cpus) {
            final AtomicLong[] d = new AtomicLong[cpus.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = new AtomicLong(NONE);
            }
            this.deadlines = d;
            this.nextTick = now.get() + periodNanos;
            this.cpus = cpus;
        }

        @Override
        void stop() {
            devices.remove(this);
        }

        @Override
        void set(final Cpu cpu, final long deadlineNanos) {
            if (periodNanos != 0) {
                return;
            }
            deadlines[cpu.id].set(deadlineNanos);
            if (deadlineNanos <= now.get()) {
                fireDue(now.get());
            }
        }

        void fireDue(final long t) {
            final Cpu[] cs = cpus;
            if (cs == null) {
                return;
            }
            if (periodNanos != 0) {
                synchronized (this) {
                    while (nextTick <= t) {
                        nextTick += periodNanos;
                        for (final Cpu c : cs) {
                            c.timerInterrupt();
                        }
                    }
                }
                return;
            }
            for (int i = 0; i < cs.length; i++) {
                final long d = deadlines[i].get();
                if (d <= t && deadlines[i].compareAndSet(d, NONE)) {
                    cs[i].timerInterrupt();
                }
            }
        }
    }
}
