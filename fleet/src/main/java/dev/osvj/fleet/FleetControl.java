package dev.osvj.fleet;

import java.util.List;

/**
 * What {@link ControlServer} serves: the fleet deployed in this JVM ({@link #local}) or a cluster's
 * fleet, reached through its placement singleton ({@code ClusterNode}).
 */
interface FleetControl {
    /** One row per instance of the fleet. */
    List<InstanceStatus> status() throws InterruptedException;

    /**
     * Set {@code service} to {@code replicas}.
     *
     * @return the status line's text after "ok " ({@code "scaled web to 3"}).
     * @throws IllegalArgumentException for a usage error (unknown service, a count out of range).
     * @throws IllegalStateException    when the fleet could not do it (stopping, no answer).
     */
    String scale(String service, int replicas) throws InterruptedException;

    /** Stop the fleet (returns at once; the stop happens after the reply). */
    void stop();

    /** The fleet of a {@link FleetManager} in this JVM; {@code onStop} ends the deploy command. */
    static FleetControl local(final FleetManager manager, final Runnable onStop) {
        return new FleetControl() {
            @Override
            public List<InstanceStatus> status() {
                return manager.status();
            }

            @Override
            public String scale(final String service, final int replicas) throws InterruptedException {
                manager.scale(service, replicas);
                return "scaled " + service + " to " + replicas;
            }

            @Override
            public void stop() {
                onStop.run();
            }
        };
    }
}
