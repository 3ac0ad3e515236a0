package dev.osvj.fleet;

/**
 * The life of one instance, as the live table shows it.
 *
 * <pre>
 *   BOOTING ──booted──▶ RUNNING ──stop──▶ STOPPING ──▶ STOPPED
 *      │                   │
 *      └──boot failed──▶ FAILED ◀──app exited non-zero / process died
 * </pre>
 */
public enum InstanceState {
    BOOTING, RUNNING, STOPPING, STOPPED, FAILED;

    /** True for the states a replica count does not include (the instance is gone or going). */
    public boolean isDown() {
        return this == STOPPING || this == STOPPED || this == FAILED;
    }
}
