package dev.osvj.fleet;

import sun.misc.Signal;

import java.util.Optional;

/**
 * The main class of a {@link ProcessInstance}'s child JVM: {@code dev.osvj.system.cli.Main} (so
 * {@code run CONF}, as {@code bin/osvj run}), plus a watch on the fleet process that started it
 * ({@value #PARENT_PID_PROPERTY}). When that process ends without stopping its children first (it was
 * killed, e.g. a cluster node's SIGKILL), the child raises SIGTERM on itself: the kernel powers off in
 * order and exits, instead of running on as an orphan with a re-placed replica's address (and, on a
 * vswitch network, a switch port whose media driver is gone).
 *
 * <p>The watch is {@link ProcessHandle#onExit()} of a process that is not a child of this one, which
 * the JDK polls on its process reaper thread (every 300 ms at first, the interval growing to at most
 * 5 s): the child notices within a few seconds. A parent that is already gone when the child starts
 * is seen at once.
 */
final class ProcessInstanceMain {
    /**
     * The system property with the pid of the fleet process to follow (not below {@code osvj.}: the
     * kernel validates those as configuration keys; cleared before the kernel reads its configuration).
     */
    static final String PARENT_PID_PROPERTY = "dev.osvj.fleet.parent-pid";

    private ProcessInstanceMain() {
    }

    public static void main(final String[] args) {
        final String pid = System.getProperty(PARENT_PID_PROPERTY, "");
        System.clearProperty(PARENT_PID_PROPERTY);
        if (!pid.isEmpty()) {
            final Optional<ProcessHandle> parent = ProcessHandle.of(Long.parseLong(pid));
            if (parent.isEmpty()) {
                System.err.println("osvj: the fleet process " + pid + " is gone; not booting");
                System.exit(1);
            }
            parent.get().onExit().thenRun(() -> {
                System.err.println("osvj: the fleet process " + pid + " exited; powering off");
                Signal.raise(new Signal("TERM"));
            });
        }
        dev.osvj.system.cli.Main.main(args);
    }
}
