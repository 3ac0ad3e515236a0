package dev.osvj.fleet;

/**
 * One row of the fleet table.
 *
 * @param bootMillis   wall time of the instance's boot (configuration to "Booted up"), ms; NaN until booted.
 * @param uptimeMillis ms since the instance booted; 0 until then.
 * @param address      the instance's address on its network, or "-".
 * @param detail       why an instance failed, or its exit; "" otherwise.
 * @param restarts     how many times the fleet's restart policy booted this replica again.
 */
public record InstanceStatus(String name, String service, String node, InstanceState state, String address,
    double bootMillis, long uptimeMillis, String detail, int restarts) {
}
