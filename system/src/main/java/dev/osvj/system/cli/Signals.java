package dev.osvj.system.cli;

import sun.misc.Signal;

/**
 * SIGTERM and SIGINT power the kernel off in order (stop hooks in reverse boot order) and the process
 * exits 0, instead of the JVM's default of dying with 128+signal. A second signal while the shutdown
 * runs is ignored; the shutdown's own timeouts bound it.
 */
public final class Signals {
    private Signals() {
    }

    /** Run {@code powerOff} on SIGTERM and SIGINT (on the JVM's signal thread). */
    public static void onTermination(final Runnable powerOff) {
        for (final String name : new String[] {"TERM", "INT"}) {
            try {
                Signal.handle(new Signal(name), s -> powerOff.run());
            } catch (final IllegalArgumentException e) {
                // the signal is reserved on this platform (e.g. INT under some debuggers): keep the default
            }
        }
    }
}
