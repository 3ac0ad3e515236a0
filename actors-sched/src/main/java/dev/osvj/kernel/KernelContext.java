package dev.osvj.kernel;

import com.typesafe.config.Config;
import dev.osvj.kernel.console.ConsoleCommands;
import dev.osvj.kernel.log.KernelLog;
import dev.osvj.kernel.trace.Tracepoints;

/** What a subsystem sees of the kernel instance it belongs to, for the instance's whole life. */
public interface KernelContext {
    /** The instance's name (its ActorSystem's name). */
    String name();

    /** The validated, resolved configuration (reference.conf, then conf/, then --set and -D). */
    Config config();

    /** The kernel log ({@code dmesg}). */
    KernelLog log();

    ConsoleCommands commands();

    Tracepoints tracepoints();

    /** The kernel's clock; tests inject their own. */
    KernelClock clock();

    /** Services subsystems publish for each other and for the kernel API. */
    Services services();

    /** Monotonic nanoseconds at which the boot began. */
    long bootStartNanos();

    /** Ask for an orderly shutdown (poweroff); returns at once, the shutdown runs elsewhere. */
    void powerOff(int exitCode);
}
