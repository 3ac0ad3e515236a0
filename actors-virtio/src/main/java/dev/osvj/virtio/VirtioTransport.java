package dev.osvj.virtio;

import dev.osvj.virtio.ring.Notifier;

/**
 * The driver's view of one device: its registers, as the virtio-mmio transport lays them out
 * (device id, feature words, status, queue setup, notify, config space), without the MMIO. The
 * in-process implementation is the device itself ({@link VirtioDevice}); the vhost-user style one
 * forwards each register access to a backend in another process over a UNIX socket.
 *
 * <p>Only the driver thread calls these (initialisation and kicks); {@link #kick} must not block.
 * The device reports through the interrupt {@link Notifier}, from its own thread.
 */
public interface VirtioTransport extends AutoCloseable {
    DeviceType type();

    /** Feature bits the device offers. */
    long deviceFeatures();

    /** Feature bits the driver accepts (a subset of the offer); only before FEATURES_OK. */
    void driverFeatures(long features);

    /** Feature bits accepted, as the device recorded them. */
    long negotiatedFeatures();

    int status();

    /** Write the status; 0 resets the device. */
    void status(int status);

    int queueCount();

    /** Largest queue size the device supports for queue {@code queue} (a power of two). */
    int queueMaxSize(int queue);

    /**
     * Tell the device where queue {@code queue} lives (before DRIVER_OK).
     *
     * @throws IllegalArgumentException when the device refuses the placement.
     */
    void setupQueue(int queue, int size, long descPa, long availPa, long usedPa);

    /** Available buffer notification for {@code queue}. Never blocks. */
    void kick(int queue);

    /** Where the device sends used buffer and config-change notifications. */
    void interruptHandler(Notifier handler);

    /** Changes whenever the device changes its config space (read config until it is stable). */
    int configGeneration();

    /** Read {@code width} (1, 2, 4 or 8) little-endian bytes of the config space at {@code offset}. */
    long readConfig(int offset, int width);

    /** Where the device lives, for {@code lsdev}: "in-process", "child JVM pid 1234". */
    String location();

    @Override
    void close();
}
