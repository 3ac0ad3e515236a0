package dev.osvj.virtio.ring;

/**
 * One direction of virtio notification: a driver's kick (available buffer notification, delivered to
 * the device backend) or a device's interrupt (used buffer notification, delivered to the driver's
 * interrupt actor). Implementations must be cheap and must not block: they unpark a thread or send
 * an actor message. {@link #CONFIG_CHANGE} as the queue index is a configuration change interrupt.
 */
@FunctionalInterface
public interface Notifier {
    /** Queue index of a configuration-change interrupt. */
    int CONFIG_CHANGE = -1;

    /** A notifier that drops notifications (a polled queue). */
    Notifier NONE = queue -> {
    };

    void notify(int queueIndex);
}
