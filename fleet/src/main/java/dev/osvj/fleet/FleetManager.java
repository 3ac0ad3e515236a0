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
 * the boot of the current one. A standby whose name is no longer next is closed.
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
 * scale-down stops the highest. Each network hands out the lowest free host slot and takes it back when
 * its instance is removed. Instances that failed or stopped stay in the table, not counted as replicas,
 * until the next change to their service removes them.
 */
public final class FleetManager {
    private final String node;
    private final Consumer<InstanceStatus> onBooted;
    private final List<Instance> instances = new CopyOnWriteArrayList<>();
    private final Map<Instance, Slot> slots = new HashMap<>();
    private final Map<String, BitSet> addressSlots = new HashMap<>();
    /** Per service: the ActorSystem being created ahead for its next replica (see {@link KernelStandby}). */
    private final Map<String, Standby> standbys = new HashMap<>();
    private final ExecutorService standbyMaker = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon()
        .name("fleet-standby").unstarted(r));
    private FleetConfig config;
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
        this.config = config;
        this.node = node;
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
        if (net != null) {
            final int others = (int)instances.stream()
                .filter(i -> !i.service().equals(service) && !i.status().state().isDown()
                    && config.service(i.service()).map(x -> x.network().equals(net.name())).orElse(false)).count();
            if (others + replicas > net.capacity()) {
                throw new IllegalArgumentException("network " + net.name() + " has addresses for " + net.capacity()
                    + " instances, " + others + " are used by other services");
            }
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
        standbys.values().forEach(FleetManager::discard);
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

    /** The name of the replica whose ActorSystem is being created ahead for {@code service}, or null (tests). */
    synchronized String standbyName(final String service) {
        final Standby st = standbys.get(service);
        return st == null ? null : st.name();
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
            boot(s, replica);
        }
        prepareStandby(s);
    }

    /** Create ahead the ActorSystem of {@code s}'s next replica (lowest free index), unless it exists. */
    private void prepareStandby(final FleetConfig.ServiceSpec s) {
        if (stopped || !s.standby() || s.mode() != FleetConfig.Mode.IN_JVM) {
            return;
        }
        final BitSet used = new BitSet();
        instances.stream().filter(i -> i.service().equals(s.name())).forEach(i -> used.set(slots.get(i).replica()));
        final int next = used.nextClearBit(0);
        final String name = InstanceConfigs.instanceName(s, next);
        final Standby existing = standbys.get(s.name());
        if (existing != null && existing.name().equals(name)) {
            return;
        }
        if (existing != null) {
            discard(existing);
        }
        final Config kernel;
        try {
            kernel = InstanceConfigs.kernelConfig(config, s, next, 0);
        } catch (final ConfigException e) {
            return; // validated at load; the boot reports it
        }
        standbys.put(s.name(), new Standby(name, CompletableFuture.supplyAsync(() -> KernelStandby.prepare(name, kernel), standbyMaker)));
    }

    /** The standby being created for {@code name} (the instance's boot waits for it), or null. */
    private CompletableFuture<KernelStandby> takeStandby(final FleetConfig.ServiceSpec s, final String name) {
        final Standby st = standbys.get(s.name());
        if (st == null || !st.name().equals(name)) {
            return null;
        }
        standbys.remove(s.name());
        return st.future();
    }

    private static void discard(final Standby st) {
        st.future().thenAccept(KernelStandby::close);
    }

    private void boot(final FleetConfig.ServiceSpec s, final int replica) throws InterruptedException {
        final String name = InstanceConfigs.instanceName(s, replica);
        final FleetConfig.NetworkSpec net = config.network(s.network()).orElse(null);
        int addressSlot = -1;
        String address = "-";
        if (net != null) {
            final BitSet taken = addressSlots.computeIfAbsent(net.name(), k -> new BitSet());
            addressSlot = taken.nextClearBit(0);
            taken.set(addressSlot);
            address = net.addressOf(addressSlot);
        }
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
                yield new InJvmInstance(name, s.name(), node, address, kernel, takeStandby(s, name));
            }
            case PROCESS -> new ProcessInstance(name, s.name(), node, address, keys, config.workDir());
        };
        slots.put(instance, new Slot(replica, net == null ? null : net.name(), addressSlot));
        instances.add(instance);
        instance.start();
        onBooted.accept(instance.status());
    }

    /** The switch host, with the switch of {@code net} running (started on first use). */
    private SwitchHost switchHost(final FleetConfig.NetworkSpec net) {
        if (switches == null) {
            switches = SwitchHost.start();
        }
        final String name = InstanceConfigs.switchName(config, net);
        if (switches.switches().stream().noneMatch(sw -> sw.name().equals(name))) {
            switches.startSwitch(SwitchSpec.of(name));
        }
        return switches;
    }

    /** The switch of network {@code network}, once an instance has joined it (tests, the status of ports). */
    Optional<VSwitch> networkSwitch(final String network) {
        final String name = config.network(network).map(n -> InstanceConfigs.switchName(config, n)).orElse("");
        return switches == null ? Optional.empty() : switches.switches().stream().filter(sw -> sw.name().equals(name)).findFirst();
    }

    private void remove(final Instance i) {
        instances.remove(i);
        final Slot slot = slots.remove(i);
        if (slot != null && slot.network() != null) {
            addressSlots.get(slot.network()).clear(slot.address());
        }
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
