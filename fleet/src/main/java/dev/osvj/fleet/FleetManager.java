package dev.osvj.fleet;

import com.typesafe.config.Config;
import dev.osvj.kernel.config.ConfigException;
import dev.osvj.system.boot.KernelStandby;
import dev.osvj.vswitch.SwitchHost;
import dev.osvj.vswitch.SwitchSpec;
import dev.osvj.vswitch.VSwitch;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * Runs a fleet on this host: boots each service's replicas (in this JVM or as child processes, per
 * service), scales a service up or down, stops everything, and reports a status row per instance.
 *
 * <h2>Threads</h2>
 * Changes ({@link #deploy}, {@link #scale}, {@link #stopAll}) are serialised by the manager's monitor
 * and run on the caller's thread (a boot blocks its caller until the instance runs or fails);
 * {@link #status} never waits for them: the instance list is copy-on-write and an instance is listed
 * (BOOTING) before its boot starts.
 *
 * <h2>Standby ActorSystems</h2>
 * For an in-JVM service with {@code standby = true}, after each change the manager creates, on its
 * {@code fleet-standby} thread, the ActorSystem of the replica it would boot next (the lowest free
 * index); that boot then adopts it instead of creating one. The creation of the next system overlaps
 * the boot of the current one; a change that boots several replicas (a {@code scale} up by more than
 * one) starts creating each next replica's system as soon as the current boot has taken its own, so
 * every replica of the batch boots from a standby.
 *
 * <p>A standby whose replica is no longer next is kept, not closed: a service scaled up and down
 * again needs it once more (scaling 0 to 1 and back prepares {@code s-1} then {@code s-0}; the next
 * cycle finds {@code s-1} ready), so a scale cycle creates at most the one system its next boot needs
 * instead of creating two and closing one. A service keeps at most {@link #STANDBYS_PER_SERVICE}
 * standbys (each an idle ActorSystem with its scheduler thread); preparing another closes the
 * oldest.
 *
 * <h2>Virtual switches</h2>
 * A network with {@code backend = vswitch} is a switch of the vswitch module named
 * {@code FLEET.NETWORK}, on one {@link SwitchHost} (embedded Aeron media driver) the manager starts at
 * the first instance that joins one and closes after {@link #stopAll}. In-JVM instances join over
 * {@code aeron:ipc} in this JVM; separate processes over {@code aeron:ipc} through the host's Aeron
 * directory.
 *
 * <h2>Names and addresses</h2>
 * Replica {@code i} of service {@code s} is {@code s-i}; a scale-up takes the lowest free indices and a
 * scale-down stops the highest. A replica's address is a function of its name
 * ({@link FleetConfig#addressSlot}), the same on every node of a cluster. Instances that failed or
 * stopped stay in the table, not counted as replicas, until the next change to their service removes
 * them, or until their service's restart policy boots them again.
 *
 * <h2>Restart policy</h2>
 * An instance that goes down without a stop request (see {@link FleetConfig.Restart}) is booted again
 * under the same name and address after a backoff (the service's {@code restart-backoff}, doubled for
 * each restart in a row, at most {@code restart-backoff-max}; a replica that ran at least the maximum
 * starts from the base again), on the manager's {@code fleet-restart} thread, unless it was removed,
 * replaced or scaled away meanwhile.
 *
 * <h2>Switches across nodes</h2>
 * A manager created with a switch host address ({@link #FleetManager(FleetConfig, String, String, Consumer)},
 * what a cluster node does) starts its networks' switches listening on {@code aeron:udp} at that host
 * (on the network's {@code udp-port}, or a free port for 0), and joins the switches of other nodes as trunks ({@link #addTrunks}), so the switches of one network
 * on every node form one L2 segment (a full mesh, see the vswitch module's {@code VSwitch}).
 */
public final class FleetManager {
    private final String node;
    private final Consumer<InstanceStatus> onBooted;
    private final List<Instance> instances = new CopyOnWriteArrayList<>();
    private final Map<Instance, Slot> slots = new HashMap<>();
    /** Per instance name: restarts in a row (for the backoff) and in all (for the table). */
    private final Map<String, int[]> restarts = new HashMap<>();
    private final java.util.concurrent.ScheduledExecutorService restarter = Executors.newSingleThreadScheduledExecutor(
        r -> Thread.ofPlatform().daemon().name("fleet-restart").unstarted(r));
    /** The address the switches listen on for other nodes' trunks ({@code "127.0.0.2"}), or null (one host). */
    private final String switchUdpHost;
    /** Standbys a service keeps at most: its next replica's and the one before. */
    static final int STANDBYS_PER_SERVICE = 2;
    /**
     * Per service, by instance name, oldest first: the ActorSystems created ahead for its replicas (see
     * {@link KernelStandby}), among them the next replica's.
     */
    private final Map<String, LinkedHashMap<String, Standby>> standbys = new HashMap<>();
    /** Standbys created and standbys closed unused, since the start (tests, the fleet bench). */
    private int standbysCreated;
    private int standbysClosed;
    private final ExecutorService standbyMaker = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon()
        .name("fleet-standby").unstarted(r));
    private volatile FleetConfig config;
    private boolean stopped;
    /** The fleet's virtual switches (one per {@code backend = vswitch} network), started on first use. */
    private SwitchHost switches;

    private record Standby(String name, CompletableFuture<KernelStandby> future) {
    }

    private record Slot(int replica, String network, int address) {
    }

    /**
     * @param node     the name of this host in the table ({@code local}, or the cluster node's address).
     * @param onBooted told about every instance once its boot has ended (RUNNING or FAILED); called on
     *                 the booting thread.
     */
    public FleetManager(final FleetConfig config, final String node, final Consumer<InstanceStatus> onBooted) {
        this(config, node, null, onBooted);
    }

    /**
     * A manager whose switches also listen on {@code aeron:udp} at {@code switchUdpHost} (an address of
     * this host that the other nodes reach), for trunks between nodes; null = aeron:ipc only.
     */
    public FleetManager(final FleetConfig config, final String node, final String switchUdpHost,
        final Consumer<InstanceStatus> onBooted) {
        this.config = config;
        this.node = node;
        this.switchUdpHost = switchUdpHost;
        this.onBooted = onBooted;
    }

    public FleetConfig config() {
        return config;
    }

    /** Boot every service at its configured replica count. */
    public synchronized void deploy() throws InterruptedException {
        for (final FleetConfig.ServiceSpec s : config.services()) {
            reconcile(s);
        }
    }

    /**
     * Set {@code service} to {@code replicas} running instances: boots or stops the difference.
     *
     * @throws IllegalArgumentException for an unknown service or a count outside 0..1000 or beyond the
     *                                  addresses of its network.
     */
    public synchronized void scale(final String service, final int replicas) throws InterruptedException {
        final FleetConfig.ServiceSpec s = config.service(service)
            .orElseThrow(() -> new IllegalArgumentException("no service named " + service + "; services: "
                + String.join(", ", config.services().stream().map(FleetConfig.ServiceSpec::name).toList())));
        if (replicas < 0 || replicas > 1000) {
            throw new IllegalArgumentException("expected a replica count 0..1000, got " + replicas);
        }
        if (stopped) {
            throw new IllegalStateException("the fleet is stopping");
        }
        final FleetConfig.NetworkSpec net = config.network(s.network()).orElse(null);
        if (net != null && replicas > config.addressBlock(net)) {
            throw new IllegalArgumentException("network " + net.name() + " has addresses for " + config.addressBlock(net)
                + " instances of each of its services");
        }
        config = config.withReplicas(service, replicas);
        reconcile(config.service(service).orElseThrow());
    }

    /**
     * Run exactly {@code names} ({@code service-i}) on this host: stop the instances not named, boot the
     * named ones not running (a cluster node applies the placement singleton's decision this way).
     * Unknown services are skipped.
     */
    public synchronized void runExactly(final java.util.Set<String> names) throws InterruptedException {
        if (stopped) {
            return;
        }
        for (final Instance i : new ArrayList<>(instances)) {
            final InstanceState st = i.status().state();
            if (!names.contains(i.name()) || st.isDown() && st != InstanceState.STOPPING) {
                if (!st.isDown()) {
                    i.stop();
                }
                remove(i);
            }
        }
        final List<String> wanted = new ArrayList<>(names);
        wanted.sort(Comparator.comparingInt((String n) -> serviceIndex(n.substring(0, Math.max(0, n.lastIndexOf('-')))))
            .thenComparingInt(FleetManager::replicaOf));
        for (final String n : wanted) {
            if (instance(n) != null) {
                continue;
            }
            final int dash = n.lastIndexOf('-');
            final FleetConfig.ServiceSpec s = dash <= 0 ? null : config.service(n.substring(0, dash)).orElse(null);
            if (s != null) {
                boot(s, replicaOf(n));
            }
        }
        config.services().forEach(this::prepareStandby);
    }

    /** Stop every instance (highest replica first per service, services in reverse order). */
    public synchronized void stopAll() throws InterruptedException {
        stopped = true;
        restarter.shutdownNow();
        standbys.values().forEach(pool -> pool.values().forEach(this::discard));
        standbys.clear();
        standbyMaker.shutdown();
        final List<Instance> all = new ArrayList<>(instances);
        all.sort(Comparator.comparingInt((Instance i) -> serviceIndex(i.service())).thenComparingInt(i -> slots.get(i).replica())
            .reversed());
        for (final Instance i : all) {
            if (!i.status().state().isDown() || i.status().state() == InstanceState.STOPPING) {
                i.stop();
            }
        }
        if (switches != null) {
            switches.close();
            switches = null;
        }
    }

    /** One row per instance, in service then replica order. */
    public List<InstanceStatus> status() {
        final List<Instance> all = new ArrayList<>(instances);
        final List<InstanceStatus> rows = new ArrayList<>();
        for (final Instance i : all) {
            rows.add(i.status());
        }
        rows.sort(Comparator.comparingInt((InstanceStatus r) -> serviceIndex(r.service())).thenComparingInt(r -> replicaOf(r.name())));
        return rows;
    }

    /**
     * The last console lines of an in-JVM instance (its boot chart among them), oldest first; empty for
     * an unknown instance or a separate process (whose console is {@code WORK_DIR/<instance>.log}).
     */
    public List<String> console(final String name) {
        return instance(name) instanceof InJvmInstance i ? i.consoleLines() : List.of();
    }

    /**
     * The name of the next replica of {@code service} (the lowest free index) if its ActorSystem is
     * being created ahead or ready, else null (tests).
     */
    synchronized String standbyName(final String service) {
        final LinkedHashMap<String, Standby> pool = standbys.get(service);
        final FleetConfig.ServiceSpec s = config.service(service).orElse(null);
        if (pool == null || s == null) {
            return null;
        }
        final String next = InstanceConfigs.instanceName(s, nextReplica(s));
        return pool.containsKey(next) ? next : null;
    }

    /** The instance names whose ActorSystems {@code service} keeps ahead, oldest first (tests). */
    synchronized List<String> standbyNames(final String service) {
        final LinkedHashMap<String, Standby> pool = standbys.get(service);
        return pool == null ? List.of() : List.copyOf(pool.keySet());
    }

    /** {@code {standbys created, standbys closed unused}} since the manager started (tests, benchmarks). */
    public synchronized int[] standbyCounts() {
        return new int[] {standbysCreated, standbysClosed};
    }

    /** The instance named {@code name}, for tests and in-JVM tools. */
    Instance instance(final String name) {
        return instances.stream().filter(i -> i.name().equals(name)).findFirst().orElse(null);
    }

    private void reconcile(final FleetConfig.ServiceSpec s) throws InterruptedException {
        // Failed and stopped instances of this service leave the table and give back their slots.
        for (final Instance i : new ArrayList<>(instances)) {
            if (i.service().equals(s.name()) && i.status().state().isDown() && i.status().state() != InstanceState.STOPPING) {
                remove(i);
            }
        }
        final List<Instance> live = new ArrayList<>(instances.stream().filter(i -> i.service().equals(s.name())).toList());
        live.sort(Comparator.comparingInt(i -> slots.get(i).replica()));
        for (int n = live.size(); n > s.replicas(); n--) {
            final Instance victim = live.remove(n - 1);
            victim.stop();
            remove(victim);
        }
        final BitSet used = new BitSet();
        live.forEach(i -> used.set(slots.get(i).replica()));
        for (int n = live.size(); n < s.replicas(); n++) {
            final int replica = used.nextClearBit(0);
            used.set(replica);
            // Scaling by more than one: the next replica's ActorSystem is created while this one boots.
            boot(s, replica, null, n + 1 < s.replicas() ? used.nextClearBit(0) : -1);
        }
        prepareStandby(s);
    }

    /** The lowest replica index of {@code s} with no instance in the table. */
    private int nextReplica(final FleetConfig.ServiceSpec s) {
        final BitSet used = new BitSet();
        instances.stream().filter(i -> i.service().equals(s.name())).forEach(i -> used.set(slots.get(i).replica()));
        return used.nextClearBit(0);
    }

    /** Create ahead the ActorSystem of {@code s}'s next replica (lowest free index), unless it exists. */
    private void prepareStandby(final FleetConfig.ServiceSpec s) {
        prepareStandby(s, nextReplica(s));
    }

    /**
     * Create ahead the ActorSystem of {@code s}'s replica {@code next}, unless the service keeps it
     * already; beyond {@link #STANDBYS_PER_SERVICE}, the service's oldest standby is closed.
     */
    private void prepareStandby(final FleetConfig.ServiceSpec s, final int next) {
        if (stopped || !s.standby() || s.mode() != FleetConfig.Mode.IN_JVM) {
            return;
        }
        final String name = InstanceConfigs.instanceName(s, next);
        final LinkedHashMap<String, Standby> pool = standbys.computeIfAbsent(s.name(), k -> new LinkedHashMap<>());
        if (pool.containsKey(name)) {
            return;
        }
        final Config kernel;
        try {
            kernel = InstanceConfigs.kernelConfig(config, s, next, 0);
        } catch (final ConfigException e) {
            return; // validated at load; the boot reports it
        }
        while (pool.size() >= STANDBYS_PER_SERVICE) {
            final var oldest = pool.entrySet().iterator();
            discard(oldest.next().getValue());
            oldest.remove();
        }
        pool.put(name, new Standby(name, CompletableFuture.supplyAsync(() -> KernelStandby.prepare(name, kernel), standbyMaker)));
        standbysCreated++;
    }

    /** The standby kept for {@code name} (the instance's boot waits for it if it is still being created), or null. */
    private CompletableFuture<KernelStandby> takeStandby(final FleetConfig.ServiceSpec s, final String name) {
        final LinkedHashMap<String, Standby> pool = standbys.get(s.name());
        final Standby st = pool == null ? null : pool.remove(name);
        return st == null ? null : st.future();
    }

    /** Close {@code st} once created (it was not used). */
    private void discard(final Standby st) {
        standbysClosed++;
        st.future().thenAccept(KernelStandby::close);
    }

    private void boot(final FleetConfig.ServiceSpec s, final int replica) throws InterruptedException {
        boot(s, replica, null, -1);
    }

    /**
     * Boot replica {@code replica} of {@code s}, in {@code replacing}'s row of the table when not null;
     * with {@code ahead >= 0}, the ActorSystem of replica {@code ahead} (the next one the caller boots)
     * starts being created once this boot took its own standby, so the two overlap.
     */
    private void boot(final FleetConfig.ServiceSpec s, final int replica, final Instance replacing, final int ahead)
        throws InterruptedException {
        final String name = InstanceConfigs.instanceName(s, replica);
        final FleetConfig.NetworkSpec net = config.network(s.network()).orElse(null);
        final int addressSlot = config.addressSlot(s, replica);
        final String address = net == null ? "-" : net.addressOf(addressSlot);
        final String aeronDir = net != null && net.backend().equals("vswitch") ? switchHost(net).aeronDir() : "";
        final Config keys = InstanceConfigs.instanceKeys(config, s, replica, Math.max(0, addressSlot), aeronDir);
        final Instance instance = switch (s.mode()) {
            case IN_JVM -> {
                Config kernel;
                try {
                    kernel = InstanceConfigs.kernelConfig(config, s, replica, Math.max(0, addressSlot));
                } catch (final ConfigException e) {
                    throw new IllegalStateException("validated at load: " + e.getMessage(), e);
                }
                final CompletableFuture<KernelStandby> standby = takeStandby(s, name);
                if (ahead >= 0) {
                    prepareStandby(s, ahead);
                }
                yield new InJvmInstance(name, s.name(), node, address, kernel, standby);
            }
            case PROCESS -> new ProcessInstance(name, s.name(), node, address, keys, config.workDir());
        };
        slots.put(instance, new Slot(replica, net == null ? null : net.name(), addressSlot));
        final int row = replacing == null ? -1 : instances.indexOf(replacing);
        if (row >= 0) {
            instances.set(row, instance); // one atomic swap: the table never misses the replica
            slots.remove(replacing);
        } else {
            instances.add(instance);
        }
        final int[] count = restarts.get(name);
        ((AbstractInstance)instance).watch(this::onDown, count == null ? 0 : count[1]);
        instance.start();
        onBooted.accept(instance.status());
    }

    /** Any thread: {@code i} went down by itself; schedule its restart if its service's policy says so. */
    private void onDown(final Instance i, final long ranNanos) {
        final FleetConfig.ServiceSpec s = config.service(i.service()).orElse(null);
        if (s == null || s.restart() == FleetConfig.Restart.NEVER
            || s.restart() == FleetConfig.Restart.ON_FAILURE && i.status().state() != InstanceState.FAILED) {
            return;
        }
        final long delayNs;
        synchronized (restarts) {
            final int[] count = restarts.computeIfAbsent(i.name(), k -> new int[2]);
            final long maxNs = s.restartBackoffMax().toNanos();
            if (ranNanos >= maxNs) {
                count[0] = 0;
            }
            delayNs = Math.min(maxNs, s.restartBackoff().toNanos() << Math.min(count[0], 30));
            count[0]++;
        }
        try {
            restarter.schedule(() -> restart(i), delayNs, java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (final java.util.concurrent.RejectedExecutionException stopping) {
            // the fleet is stopping
        }
    }

    /** Restart thread: boot {@code i}'s replica again if it is still wanted and still down. */
    private synchronized void restart(final Instance i) {
        if (stopped || !instances.contains(i) || !i.status().state().isDown() || i.status().state() == InstanceState.STOPPING) {
            return;
        }
        final FleetConfig.ServiceSpec s = config.service(i.service()).orElse(null);
        final int replica = slots.get(i).replica();
        if (s == null || replica >= s.replicas()) {
            return;
        }
        synchronized (restarts) {
            restarts.computeIfAbsent(i.name(), k -> new int[2])[1]++;
        }
        try {
            boot(s, replica, i, -1);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The switch host, with the switch of {@code net} running (started on first use). */
    private SwitchHost switchHost(final FleetConfig.NetworkSpec net) {
        if (switches == null) {
            switches = SwitchHost.start();
        }
        final String name = InstanceConfigs.switchName(config, net);
        if (switches.switches().stream().noneMatch(sw -> sw.name().equals(name))) {
            if (switchUdpHost == null) {
                switches.startSwitch(SwitchSpec.of(name));
            } else {
                final String endpoint = switchUdpHost + ":" + net.udpPort();
                try {
                    switches.startSwitch(SwitchSpec.of(name).withUdp(endpoint));
                } catch (final RuntimeException e) { // Aeron: the driver could not bind (port taken, no such address)
                    throw new IllegalStateException("switch " + name + " cannot listen on udp " + endpoint + ": "
                        + e.getMessage(), e);
                }
            }
        }
        return switches;
    }

    /**
     * Start the switch of every {@code vswitch} network now and return where each listens for trunks:
     * network name to {@code host:port} (empty without a switch host address or vswitch networks).
     */
    public synchronized Map<String, String> switchEndpoints() {
        final Map<String, String> out = new java.util.TreeMap<>();
        if (switchUdpHost == null || stopped) {
            return out;
        }
        for (final FleetConfig.NetworkSpec net : config.networks()) {
            if (net.backend().equals("vswitch")) {
                switchHost(net);
                final VSwitch sw = networkSwitch(net.name()).orElseThrow();
                final long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
                while (sw.udpEndpoint().isEmpty() && System.nanoTime() - deadline < 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
                }
                out.put(net.name(), sw.udpEndpoint());
            }
        }
        return out;
    }

    /**
     * Join the switches of another node as trunks: {@code peer} maps network name to that node's
     * switch endpoint ({@link #switchEndpoints} there). Blocks while links come up; a network this node
     * does not run, or a trunk that exists already, is skipped.
     *
     * @return lines about trunks added or refused (for the node's log).
     */
    public List<String> addTrunks(final Map<String, String> peer) {
        final List<String> out = new ArrayList<>();
        for (final Map.Entry<String, String> e : peer.entrySet()) {
            final VSwitch sw;
            synchronized (this) {
                sw = stopped ? null : networkSwitch(e.getKey()).orElse(null);
            }
            if (sw == null) {
                continue;
            }
            try {
                if (sw.addTrunk(e.getValue())) {
                    out.add("switch " + sw.name() + ": trunk to " + e.getValue());
                }
            } catch (final RuntimeException ex) {
                out.add("switch " + sw.name() + ": no trunk to " + e.getValue() + ": " + ex.getMessage());
            }
        }
        return out;
    }

    /** Drop the trunks to another node's switches ({@code peer}: network to endpoint), if any. */
    public void removeTrunks(final Map<String, String> peer) {
        for (final Map.Entry<String, String> e : peer.entrySet()) {
            final VSwitch sw;
            synchronized (this) {
                sw = stopped ? null : networkSwitch(e.getKey()).orElse(null);
            }
            if (sw != null) {
                sw.removeTrunk(e.getValue());
            }
        }
    }

    /** The switch of network {@code network}, once an instance has joined it (tests, the status of ports). */
    Optional<VSwitch> networkSwitch(final String network) {
        final String name = config.network(network).map(n -> InstanceConfigs.switchName(config, n)).orElse("");
        return switches == null ? Optional.empty() : switches.switches().stream().filter(sw -> sw.name().equals(name)).findFirst();
    }

    private void remove(final Instance i) {
        instances.remove(i);
        slots.remove(i);
    }

    private int serviceIndex(final String service) {
        final List<FleetConfig.ServiceSpec> all = config.services();
        for (int k = 0; k < all.size(); k++) {
            if (all.get(k).name().equals(service)) {
                return k;
            }
        }
        return all.size();
    }

    private static int replicaOf(final String instanceName) {
        final int dash = instanceName.lastIndexOf('-');
        try {
            return Integer.parseInt(instanceName.substring(dash + 1));
        } catch (final NumberFormatException e) {
            return 0;
        }
    }
}
