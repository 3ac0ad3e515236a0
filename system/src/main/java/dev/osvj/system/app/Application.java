package dev.osvj.system.app;

import dev.osvj.kernel.KernelContext;

import java.util.List;

/**
 * The one application a kernel instance runs ({@code osvj.app.name}), like OSv's command line.
 * Implementations are listed in {@code META-INF/services/dev.osvj.system.app.Application}.
 */
public interface Application {
    /** The {@code osvj.app.name} that selects it. */
    String name();

    /** One line for documentation and errors. */
    String description();

    /**
     * Start the application after the boot; returns once it is running (it runs on kernel threads of
     * its own). Throwing reports the failure and powers the kernel off with exit code 1.
     */
    void start(KernelContext kernel, List<String> args) throws Exception;

    /**
     * Stop the application at poweroff, before any other subsystem stops (the application boots
     * last): close its sockets and files and end its threads, so nothing of it touches the network
     * stack or guest memory after they are gone. Must return within a few seconds.
     */
    default void stop(final KernelContext kernel) throws Exception {
    }
}
