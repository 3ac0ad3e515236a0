package dev.osvj.virtio;

import com.typesafe.config.Config;
import dev.osvj.virtio.blk.BlockDevice;
import dev.osvj.virtio.net.NetDevicePort;
import dev.osvj.virtio.net.PluggableTransport;
import dev.osvj.virtio.rng.VirtioRngDriver;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The virtio devices of a kernel instance, published as a service by {@link VirtioSubsystem}: the
 * VFS finds its disks here ({@link #blockDevices}), the network stack its interfaces
 * ({@link #netPorts}) and, for the backends that another subsystem supplies after virtio ({@code user}:
 * actors-net's gateway, {@code vswitch}: a virtual switch port), the {@link PluggableTransport} that
 * subsystem attaches its transport to ({@link #pluggable}); {@code lsdev} lists them. Immutable after boot.
 */
public final class VirtioDevices {
    /**
     * One device: its driver (kernel side) and transport (the device, or the link to its process), its
     * {@code backend} value and configuration element ({@code osvj.devices[i]} with the type's defaults
     * merged in, keys relative to the element), and for a net device with a pluggable backend its
     * attach point ({@code null} otherwise).
     */
    public record Entry(String name, DeviceType type, VirtioDriver driver, VirtioTransport transport,
        AtomicLong interruptsHandled, String backend, Config options, PluggableTransport pluggable) {
    }

    private final List<Entry> entries;

    public VirtioDevices(final List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    public List<Entry> all() {
        return entries;
    }

    public List<BlockDevice> blockDevices() {
        return entries.stream().filter(e -> e.driver() instanceof BlockDevice).map(e -> (BlockDevice)e.driver()).toList();
    }

    public Optional<BlockDevice> block(final String name) {
        return blockDevices().stream().filter(b -> b.name().equals(name)).findFirst();
    }

    public List<NetDevicePort> netPorts() {
        return entries.stream().filter(e -> e.driver() instanceof NetDevicePort).map(e -> (NetDevicePort)e.driver()).toList();
    }

    public Optional<NetDevicePort> net(final String name) {
        return netPorts().stream().filter(n -> n.name().equals(name)).findFirst();
    }

    /** The attach point of a {@code backend = user} interface, for actors-net's gateway. */
    public Optional<PluggableTransport> userTransport(final String name) {
        return entries.stream().filter(e -> e.name().equals(name) && e.pluggable() != null && "user".equals(e.backend()))
            .map(Entry::pluggable).findFirst();
    }

    /** The attach point of device {@code name} when its backend is a pluggable one. */
    public Optional<PluggableTransport> pluggable(final String name) {
        return entries.stream().filter(e -> e.name().equals(name) && e.pluggable() != null)
            .map(Entry::pluggable).findFirst();
    }

    /** The devices whose pluggable backend is {@code backend}, in configuration order. */
    public List<Entry> pluggableOf(final String backend) {
        return entries.stream().filter(e -> e.pluggable() != null && backend.equals(e.backend())).toList();
    }

    public Optional<VirtioRngDriver> entropy() {
        return entries.stream().filter(e -> e.driver() instanceof VirtioRngDriver).map(e -> (VirtioRngDriver)e.driver())
            .findFirst();
    }
}
