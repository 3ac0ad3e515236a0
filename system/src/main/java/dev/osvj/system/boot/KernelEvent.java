package dev.osvj.system.boot;

/** What the kernel guardian reports while it boots and stops subsystems. */
public sealed interface KernelEvent {
    /** The actor system is up and the guardian has spawned the subsystem supervisors. */
    record GuardianStarted(long nanos) implements KernelEvent {
    }

    /** A subsystem's boot phase finished; times are the kernel clock's monotonic nanoseconds. */
    record PhaseBooted(String subsystem, String phase, long startNanos, long endNanos) implements KernelEvent {
    }

    /** A boot phase failed: the boot stops, already booted subsystems are stopped in reverse. */
    record BootFailed(String subsystem, String phase, Throwable cause) implements KernelEvent {
    }

    /** Every subsystem booted. */
    record Booted(long endNanos) implements KernelEvent {
    }

    /** A subsystem's stop hook ran ({@code error} is null when it succeeded). */
    record SubsystemStopped(String subsystem, Throwable error) implements KernelEvent {
    }

    /** Every booted subsystem was stopped; the actor system terminates next. */
    record Halted() implements KernelEvent {
    }
}
