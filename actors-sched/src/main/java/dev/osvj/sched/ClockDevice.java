package dev.osvj.sched;

/**
 * The clock-event device of a kernel instance (OSv's LAPIC one-shot timer): one deadline per vCPU;
 * when a vCPU's deadline passes, the device raises that vCPU's timer interrupt
 * ({@link Cpu#timerInterrupt()}). The vCPU then fires its expired timers and re-arms the device with its
 * next deadline. In periodic-tick mode the device instead interrupts every vCPU at a fixed rate and
 * ignores deadlines, so timers fire at tick granularity (the A/B for the tickless claim).
 */
abstract class ClockDevice {
    /** No deadline armed. */
    static final long NONE = Long.MAX_VALUE;

    /**
     * Set {@code cpu}'s next deadline (kernel-clock nanoseconds, {@link #NONE} to disarm). Called by the
     * vCPU that owns {@code cpu} only. A deadline in the past interrupts as soon as possible.
     */
    abstract void set(Cpu cpu, long deadlineNanos);

    abstract void start(Cpu[] cpus);

    abstract void stop();
}
