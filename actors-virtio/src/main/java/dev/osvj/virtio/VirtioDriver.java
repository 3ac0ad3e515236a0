package dev.osvj.virtio;

import dev.osvj.virtio.ring.Notifier;
import dev.osvj.virtio.ring.VirtqueueDriver;
import dev.osvj.virtio.ring.VirtqueueLayout;

import java.util.ArrayList;
import java.util.List;

/**
 * The driver side of one virtio device (in the kernel): the initialisation handshake, feature
 * negotiation, queue allocation in guest memory, and the interrupt entry point. Subclasses are the
 * device-type drivers.
 *
 * <p>Initialisation (virtio 1.x "Device Initialization"), {@link #negotiate} and {@link #driverOk}:
 * reset; ACKNOWLEDGE; DRIVER; read the offer; write offer &amp; wanted (VERSION_1 required);
 * FEATURES_OK and read it back (a device that refuses leaves it cleared: the driver sets FAILED);
 * set up the queues; DRIVER_OK.
 *
 * <p>Interrupts: the transport's interrupt notifier is {@link #interruptLine}: by default it calls
 * {@link #onInterrupt} on the device's thread; in the kernel it is an {@link InterruptLine} that sends
 * a message to the driver's {@link InterruptActor} on a vCPU.
 */
public abstract class VirtioDriver implements AutoCloseable {
    /** Entries of each queue's indirect tables (OSv's blk uses up to seg_max descriptors). */
    public static final int INDIRECT_TABLE_ENTRIES = 32;

    protected final String name;
    protected final VirtioTransport transport;
    protected final GuestMemory memory;
    private final List<long[]> allocations = new ArrayList<>();
    private final List<VirtqueueDriver> queues = new java.util.concurrent.CopyOnWriteArrayList<>();
    private long features;
    private volatile Notifier interruptLine = this::onInterrupt;

    protected VirtioDriver(final String name, final VirtioTransport transport, final GuestMemory memory) {
        this.name = name;
        this.transport = transport;
        this.memory = memory;
        transport.interruptHandler(q -> interruptLine.notify(q));
    }

    public String name() {
        return name;
    }

    public VirtioTransport transport() {
        return transport;
    }

    /**
     * True when the interrupt of {@code queue} may run inline, on the host thread that raises it,
     * instead of through the interrupt actor ({@link InterruptLine}): the handler must then only do
     * what an interrupt context may (no blocking on kernel primitives, bounded work) and may be
     * called on any host thread, never two at a time. Default: no queue.
     */
    public boolean inlineInterrupt(final int queue) {
        return false;
    }

    /** Where interrupts go now ({@link #interruptLine(Notifier)}); its {@code toString} describes its state. */
    public Notifier interruptLine() {
        return interruptLine;
    }

    /** Route interrupts through {@code line} (an {@link InterruptLine} to the interrupt actor). */
    public void interruptLine(final Notifier line) {
        interruptLine = line;
    }

    /**
     * Reset the device and negotiate features.
     *
     * @param wanted device-specific and ring features the driver can use; VERSION_1 is added.
     * @return the negotiated features.
     * @throws IllegalStateException when the device refuses (status FAILED is set).
     */
    protected final long negotiate(final long wanted) {
        transport.status(0);
        transport.status(DeviceStatus.ACKNOWLEDGE);
        transport.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
        final long offer = transport.deviceFeatures();
        final long accept = offer & (wanted | VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        if (!VirtioFeatures.has(accept, VirtioFeatures.VERSION_1)) {
            fail("device does not offer VERSION_1 (legacy devices are not supported)");
        }
        transport.driverFeatures(accept);
        transport.status(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
        if ((transport.status() & DeviceStatus.FEATURES_OK) == 0) {
            fail("device refused features " + Long.toHexString(accept));
        }
        features = accept;
        return accept;
    }

    private void fail(final String why) {
        transport.status(transport.status() | DeviceStatus.FAILED);
        throw new IllegalStateException(name + ": " + why);
    }

    public final long features() {
        return features;
    }

    public final boolean hasFeature(final int bit) {
        return VirtioFeatures.has(features, bit);
    }

    /**
     * Allocate queue {@code index} in guest memory (rings plus, with INDIRECT_DESC, one indirect table
     * per descriptor) and give its placement to the device.
     *
     * @param wantedSize the size to use, capped at the device's maximum (a power of two).
     */
    protected final VirtqueueDriver setupQueue(final int index, final int wantedSize) {
        final int size = Math.min(wantedSize, transport.queueMaxSize(index));
        if (!VirtqueueLayout.validSize(size)) {
            throw new IllegalArgumentException(name + ": queue size " + size);
        }
        final boolean indirect = hasFeature(VirtioFeatures.INDIRECT_DESC);
        final long ringBytes = VirtqueueLayout.align(VirtqueueLayout.contiguousBytes(size), GuestMemory.PAGE_SIZE);
        final long tableBytes = indirect ? VirtqueueDriver.indirectBytes(size, INDIRECT_TABLE_ENTRIES) : 0;
        final long base = memory.allocate(ringBytes + tableBytes);
        allocations.add(new long[] {base, ringBytes + tableBytes});
        final VirtqueueLayout.Placement p = VirtqueueLayout.contiguous(base, size);
        final VirtqueueDriver q = new VirtqueueDriver(memory.segment(), index, p,
            hasFeature(VirtioFeatures.EVENT_IDX), indirect ? base + ringBytes : -1, INDIRECT_TABLE_ENTRIES, transport::kick);
        transport.setupQueue(index, size, p.descPa(), p.availPa(), p.usedPa());
        queues.add(q);
        return q;
    }

    /**
     * Drop the queues set up so far from {@link #queues} (before setting them up again after a device
     * reset); their guest memory stays allocated until close.
     */
    protected final void forgetQueues() {
        queues.clear();
    }

    /** True while the device reports DEVICE_NEEDS_RESET (cleared by a recovery that already ran). */
    protected final boolean deviceNeedsReset() {
        return (transport.status() & DeviceStatus.DEVICE_NEEDS_RESET) != 0;
    }

    /**
     * The common part of recovering from DEVICE_NEEDS_RESET (as the blk, net and rng drivers do):
     * negotiate {@code wanted} again, which writes status 0 first so the device forgets its queues, then
     * set up fresh queues 0..n-1 with the sizes of {@code old} (the device must not shrink them). The
     * caller re-posts its buffers and calls {@link #driverOk()}; it holds the locks of the old queues.
     *
     * @return the new queues, in the order of {@code old}.
     */
    protected final VirtqueueDriver[] renegotiateAfterReset(final long wanted, final VirtqueueDriver... old) {
        negotiate(wanted);
        forgetQueues();
        final VirtqueueDriver[] fresh = new VirtqueueDriver[old.length];
        for (int i = 0; i < old.length; i++) {
            fresh[i] = setupQueue(i, old[i].size());
            if (fresh[i].size() != old[i].size()) {
                throw new IllegalStateException(name + ": the device shrank queue " + i + " on reset");
            }
        }
        return fresh;
    }

    /** Guest buffers for the driver's own use (request headers, rx buffers), freed at close. */
    protected final long allocate(final long bytes) {
        final long pa = memory.allocate(bytes);
        allocations.add(new long[] {pa, bytes});
        return pa;
    }

    protected final void driverOk() {
        transport.status(transport.status() | DeviceStatus.DRIVER_OK);
        if ((transport.status() & DeviceStatus.DRIVER_OK) == 0) {
            fail("device did not accept DRIVER_OK (status " + DeviceStatus.describe(transport.status()) + ")");
        }
    }

    /** The driver's queues in index order, for statistics. */
    public final List<VirtqueueDriver> queues() {
        return List.copyOf(queues);
    }

    /**
     * A used buffer notification for {@code queue} (or {@link Notifier#CONFIG_CHANGE}). Runs on the
     * interrupt actor (or the device thread when no actor is wired); must not block.
     */
    public abstract void onInterrupt(int queue);

    /** Feature names for {@code lsdev}. */
    public String featureName(final int bit) {
        return null;
    }

    /** A one-line description for {@code lsdev} ("capacity 64 MiB, ro"): the device's state and counters. */
    public abstract String describe();

    /**
     * What the boot message says of the device (OSv prints e.g. the MAC of a virtio-net device): its
     * identity and configuration, not the counters {@link #describe} adds. Defaults to {@link #describe}.
     */
    public String summary() {
        return describe();
    }

    /** Reset the device and give the driver's guest memory back. */
    @Override
    public void close() {
        transport.status(0);
        for (final long[] a : allocations) {
            memory.free(a[0], a[1]);
        }
        allocations.clear();
        queues.clear();
    }
}
