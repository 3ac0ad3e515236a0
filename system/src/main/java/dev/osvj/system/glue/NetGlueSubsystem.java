package dev.osvj.system.glue;

import com.typesafe.config.Config;
import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.net.NetConfig;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.net.dev.NetDeviceProvider;
import dev.osvj.net.user.UserGateway;
import dev.osvj.net.wire.Addresses;
import dev.osvj.virtio.VirtioDevices;
import dev.osvj.virtio.net.NetDevicePort;
import dev.osvj.virtio.net.PluggableTransport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Connects the virtio-net devices to the network stack ("network devices bound"). Boots after virtio
 * (which publishes {@link VirtioDevices}) and before net (which asks for a {@link NetDeviceProvider}
 * for every non-loopback interface), and publishes that provider:
 *
 * <ul>
 *   <li>an {@code osvj.net.interfaces} entry with {@code backend = virtio} uses the net device named by
 *       its {@code device} key (default: the interface name) from {@code osvj.devices}, adapted by
 *       {@link VirtioNetAdapter} (zero-copy receive from the driver's interrupt actor);</li>
 *   <li>when that device has {@code backend = user}, the provider starts the interface's
 *       {@link UserGateway} (its {@code hostfwd} rules, {@code osvj.net.user.*}) and plugs it into the
 *       device's {@link PluggableTransport} through {@link UserFrameTransport}; attaching hands the
 *       gateway the device's direct receive entry (its frames go straight into the guest's receive
 *       queue) and opts the device into inline transmit (the guest's frames run through the gateway on
 *       the driver's kicking thread), see {@link UserFrameTransport}.</li>
 * </ul>
 *
 * Mistakes are configuration errors named after the interface: an unknown device, a MAC that
 * contradicts the device's, a device used twice, {@code hostfwd} on a device whose backend is not
 * {@code user}, a host port that cannot be bound. With no virtio service (a kernel built without it)
 * nothing is published and the net subsystem reports the missing provider itself. Declares no keys of
 * its own.
 */
public final class NetGlueSubsystem implements Subsystem {
    /** Between {@link Order#VIRTIO} and {@link Order#NET}, after VFS (which does not care). */
    static final int ORDER = 450;

    private final List<UserGateway> gateways = new CopyOnWriteArrayList<>();
    /** The scheduler whose idle vCPUs wait in a gateway's selector (osvj.net.user.vcpu-select), or null. */
    private volatile dev.osvj.sched.Scheduler scheduler;

    @Override
    public String name() {
        return "netglue";
    }

    @Override
    public int order() {
        return ORDER;
    }

    @Override
    public String phase() {
        return "network devices bound";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        // no keys: the net keys are actors-net's, the device keys actors-virtio's
    }

    @Override
    public void boot(final BootContext context) {
        context.services().find(VirtioDevices.class).ifPresent(devices ->
            context.services().provide(NetDeviceProvider.class, new Provider(context, devices)));
    }

    @Override
    public void stop(final KernelContext context) {
        final dev.osvj.sched.Scheduler s = scheduler;
        if (s != null) {
            s.setHaltWait(null); // the vCPUs halt as usual again before the gateway's selector closes
            scheduler = null;
        }
        for (final UserGateway g : gateways) {
            g.close();
        }
        gateways.clear();
    }

    /** The provider the net subsystem calls during its boot, once per virtio interface. */
    private final class Provider implements NetDeviceProvider {
        private final BootContext context;
        private final VirtioDevices devices;
        private final List<String> taken = new CopyOnWriteArrayList<>();

        Provider(final BootContext context, final VirtioDevices devices) {
            this.context = context;
            this.devices = devices;
        }

        @Override
        public NetDevice open(final String name, final String backend, final Config entry) {
            if (!"virtio".equals(backend)) {
                throw new IllegalArgumentException("interface " + name + ": backend " + backend + " is not a virtio device");
            }
            final String device = entry.hasPath("device") && !entry.getString("device").isEmpty()
                ? entry.getString("device") : name;
            final NetDevicePort port = devices.net(device).orElseThrow(() -> new IllegalArgumentException(
                "interface " + name + ": no virtio-net device \"" + device + "\" in osvj.devices (net devices: "
                    + devices.netPorts().stream().map(NetDevicePort::name).toList() + ")"));
            if (taken.contains(device)) {
                throw new IllegalArgumentException("interface " + name + ": device " + device + " is used by another interface");
            }
            final VirtioNetAdapter adapter = new VirtioNetAdapter(name, port, entry.hasPath("mtu") ? entry.getInt("mtu") : port.mtu());
            final String mac = entry.hasPath("mac") ? entry.getString("mac") : "";
            if (!mac.isEmpty() && Addresses.parseMac(mac) != adapter.mac()) {
                throw new IllegalArgumentException("interface " + name + ": mac " + mac + " differs from device " + device
                    + "'s " + Addresses.mac(adapter.mac()) + "; set it on the device (osvj.devices[].mac)");
            }
            final List<NetConfig.HostForward> forwards = entry.hasPath("hostfwd")
                ? entry.getStringList("hostfwd").stream().map(NetConfig.HostForward::parse).toList() : List.of();
            final PluggableTransport user = devices.userTransport(device).orElse(null);
            if (user == null && !forwards.isEmpty()) {
                throw new IllegalArgumentException("interface " + name + ": hostfwd needs device " + device
                    + " to have backend = user");
            }
            if (user != null) {
                final UserGateway gateway;
                try {
                    gateway = UserGateway.start(name, NetConfig.from(context.config()).user(), adapter.mtu(), forwards);
                } catch (final IOException e) {
                    throw new UncheckedIOException(e.getMessage(), e);
                }
                gateways.add(gateway);
                user.attach(new UserFrameTransport(gateway));
                if (gateway.haltWait() != null && scheduler == null) {
                    // osvj.net.user.vcpu-select: idle vCPUs wait in this gateway's selector (the first one only)
                    context.services().find(dev.osvj.sched.Scheduler.class).ifPresent(s -> {
                        if (s.installHaltWait(gateway.haltWait())) {
                            scheduler = s;
                        } else {
                            context.note(name + ": vcpu-select not used: the idle vCPUs wait in another device's halt wait");
                        }
                    });
                }
                context.note(name + ": " + gateway.describe());
            }
            taken.add(device);
            return adapter;
        }
    }
}
