package dev.osvj.virtio;

/**
 * The device status field (virtio 1.x, "Device Status Field"), written by the driver in this order
 * during initialisation and read back to see what the device accepted:
 *
 * <pre>
 *   0 (reset) -> ACKNOWLEDGE -> DRIVER -> [features] -> FEATURES_OK -> [re-read: still set?]
 *             -> [queues, config] -> DRIVER_OK
 *   any time: driver sets FAILED (gave up); device sets DEVICE_NEEDS_RESET (it hit an error)
 *   writing 0 resets the device
 * </pre>
 */
public final class DeviceStatus {
    public static final int ACKNOWLEDGE = 1;
    public static final int DRIVER = 2;
    public static final int DRIVER_OK = 4;
    public static final int FEATURES_OK = 8;
    public static final int DEVICE_NEEDS_RESET = 64;
    public static final int FAILED = 128;

    private DeviceStatus() {
    }

    public static String describe(final int status) {
        if (status == 0) {
            return "RESET";
        }
        final StringBuilder b = new StringBuilder();
        append(b, status, ACKNOWLEDGE, "ACKNOWLEDGE");
        append(b, status, DRIVER, "DRIVER");
        append(b, status, FEATURES_OK, "FEATURES_OK");
        append(b, status, DRIVER_OK, "DRIVER_OK");
        append(b, status, DEVICE_NEEDS_RESET, "NEEDS_RESET");
        append(b, status, FAILED, "FAILED");
        return b.toString();
    }

    private static void append(final StringBuilder b, final int status, final int bit, final String name) {
        if ((status & bit) != 0) {
            if (!b.isEmpty()) {
                b.append('|');
            }
            b.append(name);
        }
    }
}
