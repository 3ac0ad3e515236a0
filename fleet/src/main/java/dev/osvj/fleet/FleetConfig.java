package dev.osvj.fleet;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigException;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.system.config.KernelConfigLoader;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A validated fleet configuration ({@code conf/fleet-*.conf}): the networks and the services, each with
 * its application, vCPUs, memory, replica count, network and mode. The defaults and the meaning of
 * every key are in {@code dev/osvj/fleet/fleet-defaults.conf}.
 *
 * <pre>{@code
 * osvj.fleet {
 *   name = demo
 *   networks = [ { name = front, subnet = "10.0.1.0/24", backend = none } ]
 *   services = [
 *     { name = cache, app = memcached, args = ["-m", "16"], cpus = 1, memory = 64M, replicas = 2,
 *       network = front, mode = in-jvm }
 *   ]
 * }
 * }</pre>
 *
 * {@link #load} reports every problem at once with key path, expected and got
 * ({@code osvj.fleet.services[0].cpus: expected an integer 1..64, got "two"}), including the kernel
 * configuration each service's instances would get, so nothing boots while one instance could not.
 */
public record FleetConfig(String name, int controlPort, Path workDir, List<NetworkSpec> networks,
    List<ServiceSpec> services) {

    /** Where a service's instances run. */
    public enum Mode {
        /** A kernel instance inside the fleet's JVM, with its own ActorSystem. */
        IN_JVM("in-jvm"),
        /** A {@code bin/osvj run} child process. */
        PROCESS("process");

        private final String word;

        Mode(final String word) {
            this.word = word;
        }

        public String word() {
            return word;
        }

        static Mode of(final String word) {
            return byWord(values(), Mode::word, word);
        }
    }

    /** The constant of {@code values} whose configuration word is {@code word} (validated before: never absent). */
    private static <E> E byWord(final E[] values, final java.util.function.Function<E, String> wordOf, final String word) {
        for (final E e : values) {
            if (wordOf.apply(e).equals(word)) {
                return e;
            }
        }
        throw new IllegalArgumentException(word);
    }

    /**
     * A virtual network: instances on it get static addresses from {@code subnet}.
     *
     * @param udpPort the UDP port of the network's switch on each cluster node, at the node's bind
     *                address (trunks from the other nodes, instances joining from afar); 0 = a free port
     *                chosen when the node starts.
     */
    public record NetworkSpec(String name, int subnetAddress, int prefixLength, String backend, int udpPort) {
        /** First host number handed out: .1 stays free for a gateway. */
        static final int FIRST_HOST = 10;

        /** The address of the instance with fleet-wide index {@code k} on this network, dotted quad. */
        public String addressOf(final int k) {
            return IpText.format(subnetAddress + FIRST_HOST + k);
        }

        /** How many instances the subnet has addresses for. */
        public int capacity() {
            return (int)Math.max(0, (1L << (32 - prefixLength)) - FIRST_HOST - 1);
        }

        public String netmask() {
            return IpText.format(prefixLength == 0 ? 0 : -1 << (32 - prefixLength));
        }
    }

    /** What the fleet does when one of a service's instances goes down without being asked to. */
    public enum Restart {
        /** Leave it down (FAILED or STOPPED) until the next change to its service. */
        NEVER("never"),
        /** Boot it again when it FAILED (boot failure, application failure, non-zero poweroff, process died). */
        ON_FAILURE("on-failure"),
        /** Boot it again whenever it went down, exit 0 included. */
        ALWAYS("always");

        private final String word;

        Restart(final String word) {
            this.word = word;
        }

        public String word() {
            return word;
        }

        static Restart of(final String word) {
            return byWord(values(), Restart::word, word);
        }
    }

    /**
     * A service: {@code replicas} instances named {@code name-0, name-1, ...}.
     *
     * @param restart           when a replica that went down by itself is booted again.
     * @param restartBackoff    the delay before the first restart of a replica; each further restart in
     *                          a row doubles it.
     * @param restartBackoffMax the longest delay; a replica that ran at least this long before going
     *                          down starts again from {@code restartBackoff}.
     */
    public record ServiceSpec(String name, String app, List<String> args, int cpus, long memoryBytes,
        int replicas, String network, Mode mode, boolean standby, Config settings, Restart restart,
        Duration restartBackoff, Duration restartBackoffMax) {

        public ServiceSpec withReplicas(final int n) {
            return new ServiceSpec(name, app, args, cpus, memoryBytes, n, network, mode, standby, settings, restart,
                restartBackoff, restartBackoffMax);
        }
    }

    /**
     * The host slot (0-based, {@link NetworkSpec#addressOf}) of replica {@code replica} of {@code service}
     * on its network: the network's slots are cut into one equal block per service on it (in service
     * order), and replica {@code r} takes slot {@code r} of its service's block. The address depends
     * only on the fleet file and the replica's name, so it is the same on every node of a cluster and
     * moves with the replica when it is re-placed. -1 without a network.
     */
    public int addressSlot(final ServiceSpec service, final int replica) {
        final NetworkSpec net = network(service.network()).orElse(null);
        if (net == null) {
            return -1;
        }
        final List<ServiceSpec> on = services.stream().filter(s -> s.network().equals(net.name())).toList();
        return on.indexOf(service(service.name()).orElseThrow()) * addressBlock(net) + replica;
    }

    /** How many addresses each service on {@code net} has: its capacity split evenly between them. */
    public int addressBlock(final NetworkSpec net) {
        final long on = services.stream().filter(s -> s.network().equals(net.name())).count();
        return on == 0 ? net.capacity() : (int)(net.capacity() / on);
    }

    static final String ROOT = "osvj.fleet";
    static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9-]{0,29}");
    static final Pattern FLEET_NAME = Pattern.compile("[A-Za-z][A-Za-z0-9-]{0,39}");
    static final Pattern CIDR = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})/(\\d{1,2})");

    /** Defaults of one element of {@code services} (documented in fleet-defaults.conf). */
    static final Config SERVICE_DEFAULTS = ConfigFactory.parseString(
        "args = [], cpus = 1, memory = 64M, replicas = 1, network = \"\", mode = in-jvm, standby = true, settings = {}, "
            + "restart = never, restart-backoff = 1s, restart-backoff-max = 1m");
    static final Config NETWORK_DEFAULTS = ConfigFactory.parseString("backend = none, udp-port = 0");

    public FleetConfig {
        networks = List.copyOf(networks);
        services = List.copyOf(services);
    }

    public Optional<ServiceSpec> service(final String serviceName) {
        return services.stream().filter(s -> s.name().equals(serviceName)).findFirst();
    }

    public Optional<NetworkSpec> network(final String networkName) {
        return networks.stream().filter(n -> n.name().equals(networkName)).findFirst();
    }

    /** The same fleet with {@code service} at {@code replicas} instances. */
    public FleetConfig withReplicas(final String service, final int replicas) {
        final List<ServiceSpec> changed = new ArrayList<>();
        for (final ServiceSpec s : services) {
            changed.add(s.name().equals(service) ? s.withReplicas(replicas) : s);
        }
        return new FleetConfig(name, controlPort, workDir, networks, changed);
    }

    /** The declared shape of {@code osvj.fleet}. */
    static ConfigSpec spec() {
        final ConfigSpec spec = new ConfigSpec(ROOT);
        spec.string(ROOT + ".name", FLEET_NAME, "a name of letters, digits and '-' (at most 40)");
        spec.integer(ROOT + ".control.port", 0, 65_535);
        spec.string(ROOT + ".work-dir");
        spec.objectList(ROOT + ".networks", n -> {
            n.string("name", NAME, "a name of letters, digits and '-' (at most 30)");
            n.string("subnet", CIDR, "an IPv4 subnet such as \"10.0.1.0/24\"");
            n.oneOf("backend", "none", "vswitch");
            n.integer("udp-port", 0, 65_535);
        });
        spec.objectList(ROOT + ".services", s -> {
            s.string("name", NAME, "a name of letters, digits and '-' (at most 30)");
            s.string("app");
            s.stringList("args");
            s.integer("cpus", 1, 64);
            s.bytes("memory", 8L << 20, 64L << 30);
            s.integer("replicas", 0, 1000);
            s.string("network");
            s.oneOf("mode", "in-jvm", "process");
            s.bool("standby");
            s.oneOf("restart", "never", "on-failure", "always");
            s.duration("restart-backoff", Duration.ofMillis(1), Duration.ofHours(1));
            s.duration("restart-backoff-max", Duration.ofMillis(1), Duration.ofHours(1));
            s.rule("settings", (c, p, shown, out) -> {
                if (!(c.getValue(p) instanceof ConfigObject)) {
                    out.add(new ConfigProblem(shown, "expected an object of kernel keys below osvj, got "
                        + ConfigSpec.show(c.getValue(p))));
                }
            });
        });
        return spec;
    }

    /** Parse, fill defaults and validate {@code file}; throws with every problem found. */
    public static FleetConfig load(final Path file, final List<Subsystem> subsystems) throws ConfigException {
        if (!Files.isRegularFile(file)) {
            throw new ConfigException(file.toString(), "no such fleet configuration file");
        }
        final Config parsed;
        try {
            parsed = ConfigFactory.parseFile(file.toFile(),
                ConfigParseOptions.defaults().setSyntax(ConfigSyntax.CONF).setAllowMissing(false)).resolve();
        } catch (final com.typesafe.config.ConfigException e) {
            throw new ConfigException(file.toString(), e.getMessage());
        }
        return parse(parsed, subsystems);
    }

    /** Validate an already parsed fleet configuration (the {@code osvj.fleet} subtree and nothing else). */
    public static FleetConfig parse(final Config raw, final List<Subsystem> subsystems)
        throws ConfigException {
        final List<ConfigProblem> problems = new ArrayList<>();
        for (final Map.Entry<String, ConfigValue> e : raw.entrySet()) {
            if (!e.getKey().startsWith(ROOT + ".")) {
                problems.add(new ConfigProblem(e.getKey(), "unknown key; a fleet configuration has only osvj.fleet.* keys"));
            }
        }
        final Config config = withElementDefaults(raw).withFallback(defaults()).resolve();
        problems.addAll(spec().validate(config));
        if (!problems.isEmpty()) {
            throw new ConfigException(sorted(problems));
        }
        final List<NetworkSpec> networks = new ArrayList<>();
        final Set<String> names = new HashSet<>();
        final List<? extends Config> netList = config.getConfigList(ROOT + ".networks");
        for (int i = 0; i < netList.size(); i++) {
            final Config n = netList.get(i);
            final String at = ROOT + ".networks[" + i + "]";
            final NetworkSpec net = network(n, at, problems);
            if (net != null && !names.add(net.name())) {
                problems.add(new ConfigProblem(at + ".name", "expected a unique network name, got \"" + net.name() + "\" twice"));
            }
            if (net != null && net.udpPort() != 0) {
                if (!net.backend().equals("vswitch")) {
                    problems.add(new ConfigProblem(at + ".udp-port", "expected 0 for a network with backend = "
                        + net.backend() + " (only a vswitch network has a switch to listen), got " + net.udpPort()));
                }
                for (final NetworkSpec other : networks) {
                    if (other.udpPort() == net.udpPort()) {
                        problems.add(new ConfigProblem(at + ".udp-port", "expected a port no other network uses, got "
                            + net.udpPort() + " (also network " + other.name() + ")"));
                    }
                }
            }
            if (net != null) {
                networks.add(net);
            }
        }
        final List<ServiceSpec> services = new ArrayList<>();
        final Set<String> serviceNames = new HashSet<>();
        final List<? extends Config> svcList = config.getConfigList(ROOT + ".services");
        for (int i = 0; i < svcList.size(); i++) {
            final Config s = svcList.get(i);
            final String at = ROOT + ".services[" + i + "]";
            final ServiceSpec svc = new ServiceSpec(s.getString("name"), s.getString("app"), s.getStringList("args"),
                s.getInt("cpus"), s.getBytes("memory"), s.getInt("replicas"), s.getString("network"),
                Mode.of(s.getString("mode")), s.getBoolean("standby"), s.getConfig("settings"),
                Restart.of(s.getString("restart")), s.getDuration("restart-backoff"), s.getDuration("restart-backoff-max"));
            if (svc.restartBackoffMax().compareTo(svc.restartBackoff()) < 0) {
                problems.add(new ConfigProblem(at + ".restart-backoff-max", "expected at least restart-backoff ("
                    + s.getString("restart-backoff") + "), got " + s.getString("restart-backoff-max")));
            }
            if (!serviceNames.add(svc.name())) {
                problems.add(new ConfigProblem(at + ".name", "expected a unique service name, got \"" + svc.name() + "\" twice"));
            }
            if (!svc.network().isEmpty() && networks.stream().noneMatch(n -> n.name().equals(svc.network()))) {
                problems.add(new ConfigProblem(at + ".network", "expected \"\" or one of the networks ["
                    + String.join(", ", networks.stream().map(NetworkSpec::name).toList()) + "], got \"" + svc.network() + "\""));
            }
            services.add(svc);
        }
        for (final NetworkSpec n : networks) {
            final List<ServiceSpec> on = services.stream().filter(s -> s.network().equals(n.name())).toList();
            final int block = on.isEmpty() ? n.capacity() : n.capacity() / on.size();
            for (final ServiceSpec s : on) {
                if (s.replicas() > block) {
                    problems.add(new ConfigProblem(ROOT + ".networks", "network " + n.name() + " has addresses for "
                        + block + " instances of each of its " + on.size() + " services, service " + s.name() + " has "
                        + s.replicas() + " replicas"));
                }
            }
        }
        final Path workDir = Path.of(config.getString(ROOT + ".work-dir"));
        final FleetConfig fleet = new FleetConfig(config.getString(ROOT + ".name"), config.getInt(ROOT + ".control.port"),
            workDir, networks, services);
        if (problems.isEmpty()) {
            // Each service's instances must boot: validate the kernel configuration they will get.
            for (int i = 0; i < services.size(); i++) {
                final ServiceSpec svc = services.get(i);
                final Config kernel;
                try {
                    kernel = InstanceConfigs.kernelConfig(fleet, svc, 0, 0);
                } catch (final ConfigException e) {
                    for (final ConfigProblem p : e.problems()) {
                        problems.add(new ConfigProblem(ROOT + ".services[" + i + "] (kernel " + p.path() + ")", p.message()));
                    }
                    continue;
                }
                for (final ConfigProblem p : KernelConfigLoader.spec(subsystems).validate(kernel)) {
                    problems.add(new ConfigProblem(ROOT + ".services[" + i + "] (kernel " + p.path() + ")", p.message()));
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(sorted(problems));
        }
        return fleet;
    }

    private static NetworkSpec network(final Config n, final String at, final List<ConfigProblem> problems) {
        final var m = CIDR.matcher(n.getString("subnet"));
        if (!m.matches()) {
            return null; // reported by the spec
        }
        int address = 0;
        for (int b = 1; b <= 4; b++) {
            final int octet = Integer.parseInt(m.group(b));
            if (octet > 255) {
                problems.add(new ConfigProblem(at + ".subnet", "expected an IPv4 subnet such as \"10.0.1.0/24\", got \""
                    + n.getString("subnet") + "\""));
                return null;
            }
            address = address << 8 | octet;
        }
        final int prefix = Integer.parseInt(m.group(5));
        if (prefix < 8 || prefix > 29) {
            problems.add(new ConfigProblem(at + ".subnet", "expected a prefix length 8..29, got /" + prefix));
            return null;
        }
        final int mask = -1 << (32 - prefix);
        if ((address & ~mask) != 0) {
            problems.add(new ConfigProblem(at + ".subnet", "expected a network address (host bits zero), got \""
                + n.getString("subnet") + "\""));
            return null;
        }
        return new NetworkSpec(n.getString("name"), address, prefix, n.getString("backend"), n.getInt("udp-port"));
    }

    /** Element defaults filled in so that each list element is complete before validation. */
    private static Config withElementDefaults(final Config raw) {
        Config out = raw;
        out = fillList(out, ROOT + ".services", SERVICE_DEFAULTS);
        out = fillList(out, ROOT + ".networks", NETWORK_DEFAULTS);
        return out;
    }

    private static Config fillList(final Config raw, final String path, final Config defaults) {
        if (!raw.hasPath(path) || !(raw.getValue(path) instanceof com.typesafe.config.ConfigList list)) {
            return raw;
        }
        final List<Object> filled = new ArrayList<>();
        for (final ConfigValue v : list) {
            filled.add(v instanceof ConfigObject o ? o.withFallback(defaults.root()).unwrapped() : v.unwrapped());
        }
        return raw.withValue(path, com.typesafe.config.ConfigValueFactory.fromIterable(filled));
    }

    static Config defaults() {
        return ConfigFactory.parseResources(FleetConfig.class, "fleet-defaults.conf",
            ConfigParseOptions.defaults().setAllowMissing(false));
    }

    private static List<ConfigProblem> sorted(final List<ConfigProblem> problems) {
        final List<ConfigProblem> out = new ArrayList<>(problems);
        out.sort(null);
        return out;
    }
}
