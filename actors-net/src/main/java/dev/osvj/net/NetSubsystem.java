package dev.osvj.net;

import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.pcap.PcapWriter;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.net.dev.LoopbackDevice;
import dev.osvj.net.dhcp.DhcpClient;
import dev.osvj.net.dev.NetDevice;
import dev.osvj.net.dev.NetDeviceProvider;
import dev.osvj.net.kernel.NetActors;
import dev.osvj.net.kernel.NetCommands;
import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.wire.Addresses;

/**
 * The network subsystem ("Network initialized"): builds the stack from {@code osvj.net.*}, opens the
 * interfaces (loopback here; other backends through a {@link NetDeviceProvider} service), spawns the
 * actors that drive the stack (interface interrupt actors, the timer tick, the layered receive stage,
 * the net-channel actors' supervisor), records frames into the kernel's pcap when one is set,
 * starts a DHCP client actor for each {@code dhcp = true} interface, publishes {@link Sockets} (the
 * socket API the kernel API calls directly) and {@link NetStack}, and registers {@code ifconfig}, {@code route}, {@code arp} and {@code netstat}.
 * Its tracepoints are {@link NetEvents}' ({@code --trace 'net.*'}).
 *
 * <p>Supervision: the interface actors and the net-channel actors are restarted when they crash (at
 * most 10 times a minute each); a restarted one drains what its crashed predecessor left. For a
 * virtio interface the receive path runs on the virtio-net driver's interrupt actor, which the virtio
 * subsystem supervises. {@link NetStack#faults()} injects such crashes for tests.
 */
public final class NetSubsystem implements Subsystem {
    @Override
    public String name() {
        return "net";
    }

    @Override
    public int order() {
        return Order.NET;
    }

    @Override
    public String phase() {
        return "Network initialized";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        NetConfig.declare(spec);
    }

    @Override
    public void declareTracepoints(final Tracepoints tracepoints) {
        for (final Class<? extends jdk.jfr.Event> e : NetEvents.ALL) {
            tracepoints.declare(e);
        }
    }

    @Override
    public void boot(final BootContext context) {
        final NetConfig config = NetConfig.from(context.config());
        final NetStack stack = new NetStack(config.settings(), context.clock()::monotonicNanos);
        context.services().find(PcapWriter.class).ifPresent(w -> stack.setPcap(w, context.clock()::realtimeNanos));
        stack.setWarnings(m -> context.log().append("WARN", "net", m));
        final java.util.List<NetInterface> dhcp = new java.util.ArrayList<>();
        final java.util.List<NetConfig.InterfaceConfig> dhcpConfig = new java.util.ArrayList<>();
        for (final NetConfig.InterfaceConfig i : config.interfaces()) {
            final boolean loopback = "loopback".equals(i.backend());
            final NetDevice device;
            if (loopback) {
                device = new LoopbackDevice(i.mtu());
            } else {
                final NetDeviceProvider provider = context.services().find(NetDeviceProvider.class)
                    .orElseThrow(() -> new IllegalStateException("interface " + i.name() + ": no device provider for"
                        + " backend " + i.backend() + " (the virtio-net driver is not part of this kernel)"));
                device = provider.open(i.name(), i.backend(), i.entry());
            }
            final NetInterface ifc = stack.addInterface(device, loopback, i.address(), i.netmask(), i.gateway());
            context.note(ifc.name() + ": " + (ifc.address() == 0 ? "no address" + (i.dhcp() ? " (dhcp)" : "")
                : Addresses.ipv4(ifc.address()) + "/" + Addresses.prefixLength(ifc.netmask())) + ", mtu " + ifc.mtu());
            if (i.dhcp()) {
                dhcp.add(ifc);
                dhcpConfig.add(i);
            }
        }
        NetActors.start(context.actorContext(), stack, config.tick());
        final DhcpClient.Settings dhcpSettings = new DhcpClient.Settings(config.dhcp().initialTimeout().toNanos(),
            Math.max(config.dhcp().initialTimeout().toNanos(), config.dhcp().maxTimeout().toNanos()),
            config.dhcp().attempts());
        for (int k = 0; k < dhcp.size(); k++) {
            final NetConfig.InterfaceConfig i = dhcpConfig.get(k);
            NetActors.startDhcp(context.actorContext(), stack, dhcp.get(k), dhcpSettings, i.fallbackAddress(),
                i.fallbackNetmask(), i.gateway(), context.log());
        }
        context.services().provide(NetStack.class, stack);
        context.services().provide(Sockets.class, stack.sockets());
        for (final ConsoleCommand c : NetCommands.all(stack)) {
            context.commands().register(c);
        }
        context.note("receive path: " + (config.settings().netChannels() ? "net channels" : "layered"));
    }

    @Override
    public void stop(final KernelContext context) {
        // the actors stop with the supervisor; sockets die with the instance
    }
}
