package dev.osvj.fleet;

/**
 * One kernel instance of a service, in this JVM or in a child process. {@link #start} boots it and
 * returns once it runs or has failed (it never throws for a failure of the instance itself: the
 * failure is its state); {@link #stop} powers it off in order and waits.
 */
interface Instance {
    String name();

    String service();

    /** Boot; returns when RUNNING or FAILED. */
    void start() throws InterruptedException;

    /** Orderly poweroff; returns when STOPPED (or FAILED if it could not stop in order). */
    void stop() throws InterruptedException;

    InstanceStatus status();
}
