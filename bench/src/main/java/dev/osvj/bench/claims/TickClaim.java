package dev.osvj.bench.claims;

import dev.osvj.sched.KThread;
import dev.osvj.sched.ThreadAttr;
import org.HdrHistogram.Histogram;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Tickless against a periodic tick: one kernel per mode ({@code osvj.sched.tick = tickless | 100 |
 * 1000}), booted whole and left idle. Over a window it counts the vCPUs' wakeups from halt (each halt
 * ends in one), the timer interrupts, and the CPU time of the kernel's threads; then a kernel thread
 * sleeps 1 ms again and again and the lateness of each wakeup (elapsed minus 1 ms) goes into a
 * histogram. In periodic modes timers fire at tick granularity, so a 1 ms sleep at 100 Hz ends at the
 * next 10 ms tick.
 */
final class TickClaim {
    /** What one mode measured. */
    record Result(String mode, double wakeupsPerSecond, double timerInterruptsPerSecond, double ipisPerSecond,
                  double tasksPerSecond, double kernelCpuPercent,
                  double processCpuPercent, Histogram latenessNanos) {
    }

    static final long SLEEP_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private TickClaim() {
    }

    /**
     * @param tick     {@code tickless}, {@code 100} or {@code 1000}.
     * @param settleMs time after boot before measuring (boot transients).
     * @param windowMs the idle window.
     * @param sleeps   how many 1 ms sleeps to time.
     * @param kernel   when not null, called with the booted kernel after the measurement (the syscall
     *                 claim runs there), before power-off.
     */
    static Result measure(final String name, final String tick, final long settleMs, final long windowMs, final int sleeps,
        final KernelUser kernel) throws Exception {
        try (IdleKernel k = IdleKernel.boot(name, List.of("osvj.sched.tick=" + tick))) {
            Thread.sleep(settleMs);
            final IdleKernel.Snapshot a = k.snapshot();
            Thread.sleep(windowMs);
            final IdleKernel.Snapshot b = k.snapshot();
            final double seconds = (b.nanos() - a.nanos()) / 1e9;
            final Histogram lateness = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
            final KThread sleeper = k.scheduler.spawn(ThreadAttr.named("sleeper"), () -> {
                try {
                    for (int i = 0; i < sleeps; i++) {
                        final long t0 = System.nanoTime();
                        KThread.sleep(SLEEP_NANOS);
                        final long late = System.nanoTime() - t0 - SLEEP_NANOS;
                        lateness.recordValue(Math.clamp(late, 0, lateness.getHighestTrackableValue()));
                    }
                } catch (final InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            if (!sleeper.join(TimeUnit.SECONDS.toNanos(120))) {
                throw new IllegalStateException("the sleeping kernel thread did not finish (tick " + tick + ")");
            }
            if (sleeper.failure() != null) {
                throw new IllegalStateException("the sleeping kernel thread failed (tick " + tick + ")", sleeper.failure());
            }
            if (kernel != null) {
                kernel.use(k);
            }
            return new Result(tick, (b.halts() - a.halts()) / seconds, (b.timerInterrupts() - a.timerInterrupts()) / seconds,
                (b.ipis() - a.ipis()) / seconds, (b.tasks() - a.tasks()) / seconds,
                100.0 * b.threadCpuSince(a) / (b.nanos() - a.nanos()),
                b.processCpu() < 0 ? Double.NaN : 100.0 * (b.processCpu() - a.processCpu()) / (b.nanos() - a.nanos()),
                lateness);
        }
    }

    /** Something to run on a booted kernel before it powers off. */
    @FunctionalInterface
    interface KernelUser {
        void use(IdleKernel kernel) throws Exception;
    }
}
