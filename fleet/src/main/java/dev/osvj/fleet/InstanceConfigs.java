package dev.osvj.fleet;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import dev.osvj.kernel.config.ConfigException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The kernel configuration of one instance of a service: the service's {@code settings} below
 * {@code osvj}, then the fleet's own keys on top (name, vCPUs, memory, application, no console), then
 * the network attachment, over every module's {@code reference.conf}.
 *
 * <p>Network attachment by backend: {@code none} assigns the address (shown in the table) and attaches
 * nothing; {@code vswitch} adds {@code {type = net, backend = vswitch, switch = FLEET.NETWORK}} to
 * {@code osvj.devices} (plus {@code channel = aeron:ipc} and the fleet's {@code aeron-dir} for a
 * separate process) and an {@code eth0} interface with the static address after {@code lo}.
 */
final class InstanceConfigs {
    private InstanceConfigs() {
    }

    /** {@code <service>-<replica>}: also the instance's ActorSystem name. */
    static String instanceName(final FleetConfig.ServiceSpec service, final int replica) {
        return service.name() + "-" + replica;
    }

    /**
     * The instance's own keys (not yet over the reference configuration): what a separate process
     * gets in its generated file.
     *
     * @param addressIndex the instance's host slot on its network (ignored without a network).
     */
    static Config instanceKeys(final FleetConfig fleet, final FleetConfig.ServiceSpec service, final int replica,
        final int addressIndex) {
        return instanceKeys(fleet, service, replica, addressIndex, "");
    }

    /** The name of the switch of {@code network} in a fleet's JVM (switch names are JVM-wide). */
    static String switchName(final FleetConfig fleet, final FleetConfig.NetworkSpec network) {
        return fleet.name() + "." + network.name();
    }

    /**
     * As {@link #instanceKeys(FleetConfig, FleetConfig.ServiceSpec, int, int)}; {@code aeronDir} is the
     * fleet's switch host's media driver directory, which a separate-process instance joins the switch
     * through ({@code channel = aeron:ipc}); "" for an instance in the fleet's JVM.
     */
    static Config instanceKeys(final FleetConfig fleet, final FleetConfig.ServiceSpec service, final int replica,
        final int addressIndex, final String aeronDir) {
        final Map<String, Object> own = new LinkedHashMap<>();
        own.put("name", instanceName(service, replica));
        own.put("cpus", service.cpus());
        own.put("memory", service.memoryBytes());
        own.put("app", Map.of("name", service.app(), "args", service.args()));
        own.put("console", Map.of("enabled", false));
        Config keys = ConfigFactory.parseMap(Map.of("osvj", own));
        final Config settings = service.settings().atPath("osvj");
        final FleetConfig.NetworkSpec net = fleet.network(service.network()).orElse(null);
        if (net != null && net.backend().equals("vswitch")) {
            final List<Object> devices = new ArrayList<>(settings.hasPath("osvj.devices")
                ? settings.getList("osvj.devices").unwrapped() : List.of());
            final Map<String, Object> device = new LinkedHashMap<>(Map.of("type", "net", "backend", "vswitch",
                "switch", switchName(fleet, net)));
            if (!aeronDir.isEmpty()) {
                device.put("channel", "aeron:ipc");
                device.put("aeron-dir", aeronDir);
            }
            devices.add(device);
            final List<Object> interfaces = new ArrayList<>(List.of(Map.of("name", "lo", "backend", "loopback",
                "address", "127.0.0.1", "netmask", "255.0.0.0", "mtu", 65_536)));
            interfaces.add(Map.of("name", "eth0", "backend", "virtio", "device", "eth0", "dhcp", false,
                "address", net.addressOf(addressIndex), "netmask", net.netmask()));
            keys = keys.withValue("osvj.devices", ConfigValueFactory.fromIterable(devices))
                .withValue("osvj.net.interfaces", ConfigValueFactory.fromIterable(interfaces));
        }
        return keys.withFallback(settings);
    }

    /**
     * The whole kernel configuration of the instance, resolved over every reference.conf (not yet validated).
     *
     * <p>The reference configuration is resolved once per JVM ({@link Reference}), not with every
     * instance: resolving the merge of Pekko's and every module's reference.conf allocated about
     * 0.8 MiB and threw a dozen exceptions per instance, twice per boot (the instance and the standby
     * created ahead for the next one). The result is the same as resolving the whole merge because the
     * instance's keys all lie below {@code osvj} and no osvj reference.conf refers to another key (a
     * substitution there would see the reference's value, not the instance's; InstanceConfigsTest
     * compares both ways).
     */
    static Config kernelConfig(final FleetConfig fleet, final FleetConfig.ServiceSpec service, final int replica,
        final int addressIndex) throws ConfigException {
        try {
            return instanceKeys(fleet, service, replica, addressIndex).withFallback(Reference.RESOLVED).resolve();
        } catch (final com.typesafe.config.ConfigException e) {
            throw new ConfigException("settings", e.getMessage());
        }
    }

    /** Every module's reference.conf (the class path's), resolved at first use. */
    private static final class Reference {
        static final Config RESOLVED = ConfigFactory.defaultReferenceUnresolved().resolve();
    }

    /** The instance's keys as a HOCON file body. */
    static String render(final Config instanceKeys) {
        return "# Generated by the osvj fleet manager for one instance; see conf/README.md.\n"
            + instanceKeys.root().render(ConfigRenderOptions.defaults().setOriginComments(false).setJson(false));
    }
}
