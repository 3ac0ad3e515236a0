package dev.osvj.fleet;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.SingletonActor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * One machine of a fleet across machines: a Pekko Cluster member (Artery TCP, ActorSystem
 * {@code osvj-fleet}) with a {@link NodeAgent} that runs the instances placed on it through a local
 * {@link FleetManager}, and a share of the {@link PlacementSingleton} (Pekko runs it on the oldest
 * member and moves it when that member leaves).
 *
 * <pre>
 *   node A (oldest)                      node B                       node C
 *   PlacementSingleton ──Placements──▶ NodeAgent ─▶ FleetManager     NodeAgent ─▶ FleetManager
 *        ▲   (Kryo, FleetSerializer)        │  switch NET ◀══trunk══▶ switch NET (aeron:udp)
 *        └── Receptionist listing of the agents (a node that is downed leaves the listing)
 * </pre>
 *
 * A node that crashes is marked unreachable by the failure detector and downed by Pekko's split-brain
 * resolver ({@code keep-majority}); its agent leaves the listing and the singleton places its replicas
 * on the others. Every node loads the same fleet file (the singleton uses its own node's copy).
 *
 * <h2>One network across nodes</h2>
 * Each node runs the switch of every {@code vswitch} network listening on {@code aeron:udp} at its own
 * address; the agents tell each other their switch endpoints ({@link FleetProtocol.SwitchEndpoints}, on
 * every membership change and every 2 s), and of each pair of nodes the one whose address sorts first
 * joins the other's switch as a trunk: the switches form a full mesh with split horizon (vswitch
 * module). A replica's address and MAC depend only on its name ({@link FleetConfig#addressSlot}, the
 * vswitch MAC hash of the instance name), so a replica re-placed on another node keeps both; the
 * switches forget the MACs of a trunk that went away, flood frames to them meanwhile, and learn the
 * replica on its new trunk from its first frame. A client keeps using the replica's address and
 * reconnects (its TCP connection died with the old kernel).
 *
 * <h2>Control</h2>
 * {@link #control()} is the fleet as {@code bin/osvj fleet} sees it through this node: status, scale and
 * stop go to the singleton (ask, 30 s), which answers from the agents' latest reports (sent after
 * each change and every 2 s) and re-places after a scale.
 *
 * <h2>A singleton that moves</h2>
 * The singleton's state is not kept by the singleton alone. The replica counts last set by
 * {@code scale} and the singleton's epoch are a {@link FleetProtocol.FleetState} in Pekko Distributed
 * Data ({@link FleetStore#distributed}): a {@code scale} is stored with WriteMajority before it is
 * placed and answered ok, so it survives the singleton's node dying before any node received the
 * placement. Every {@link FleetProtocol.Placements} carries the epoch, a version and the counts; every
 * agent keeps the newest one it received and sends them with each {@link FleetProtocol.NodeReport},
 * whose rows say what runs on that node. A new singleton (its node died or left, or it restarted after
 * a failure) reads the stored state (ReadMajority, retried until a majority answers) and places nothing
 * until it has a report from every agent of the listing (agents report on every membership change and
 * every 2 s; {@link #SEED_WAIT} at most). It then takes the stored counts (else the newest reported
 * placement's, else the fleet file's for a new cluster), takes the reported instances as the previous
 * placement, stores an epoch one above every epoch it saw (WriteMajority), and places: a replica on a
 * live node stays where it is, only the replicas of nodes that are gone are placed again. Agents order
 * placements by (epoch, version) and ignore older ones, so a successor that took over on the
 * {@link #SEED_WAIT} fallback, with a version below what a silent node had, still wins, and a
 * singleton that learns of a larger epoch from a report stops placing.
 */
public final class ClusterNode implements AutoCloseable {
    /** The ActorSystem name every node uses (part of the seed address). */
    public static final String SYSTEM = "osvj-fleet";

    static final ServiceKey<FleetProtocol.Message> AGENTS = ServiceKey.create(FleetProtocol.Message.class, "osvj-fleet-agent");
    /** How often agents re-send their switch endpoints and status reports. */
    static final Duration TICK = Duration.ofSeconds(2);
    /** How long a control request waits for the singleton. */
    static final Duration ASK_TIMEOUT = Duration.ofSeconds(30);
    /**
     * The longest a new singleton waits for a report from every agent before it places with the reports
     * it has (an agent that does not report, e.g. unreachable but not yet downed, must not stall it).
     */
    static final Duration SEED_WAIT = TICK.multipliedBy(3);

    private final ActorSystem<Void> system;
    private final FleetManager manager;
    private final ExecutorService applier;
    private final ExecutorService trunker;
    private final ActorRef<FleetProtocol.Message> singleton;

    private ClusterNode(final ActorSystem<Void> system, final FleetManager manager, final ExecutorService applier,
        final ExecutorService trunker, final ActorRef<FleetProtocol.Message> singleton) {
        this.system = system;
        this.manager = manager;
        this.applier = applier;
        this.trunker = trunker;
        this.singleton = singleton;
    }

    /**
     * How a node joins and watches the others.
     *
     * @param minNodes       members the cluster waits for before any is Up (and so before the first
     *                       placement): avoids booting everything on the first node and moving it.
     * @param failureTimeout heartbeat silence tolerated before a node is unreachable (Pekko's
     *                       {@code acceptable-heartbeat-pause}); nodes that also run kernels on few cores
     *                       need more than Pekko's 3 s.
     */
    public record Settings(int minNodes, Duration failureTimeout) {
        public static final Settings DEFAULT = new Settings(1, Duration.ofSeconds(10));
    }

    /** The Pekko configuration of a node bound to {@code host:port} that joins through {@code seeds} (host:port each). */
    static Config pekkoConfig(final String host, final int port, final List<String> seeds, final Settings settings) {
        final List<String> seedNodes = seeds.stream().map(s -> "\"pekko://" + SYSTEM + "@" + s + "\"").toList();
        return ConfigFactory.parseString("""
            pekko {
              loglevel = WARNING
              stdout-loglevel = OFF
              # A node shares its cores with kernels: on a loaded host the logger can be slow to start.
              logger-startup-timeout = 30s
              actor.provider = cluster
              actor.serializers.osvj-fleet-kryo = "dev.osvj.fleet.FleetSerializer"
              actor.serialization-bindings { "dev.osvj.fleet.FleetProtocol$Message" = osvj-fleet-kryo }
              remote.artery {
                transport = tcp
                canonical.hostname = "%s"
                canonical.port = %d
              }
              cluster {
                seed-nodes = [%s]
                min-nr-of-members = %d
                failure-detector.acceptable-heartbeat-pause = %dms
                downing-provider-class = "org.apache.pekko.cluster.sbr.SplitBrainResolverProvider"
                split-brain-resolver.active-strategy = keep-majority
                split-brain-resolver.stable-after = 3s
                jmx.enabled = off
              }
              coordinated-shutdown.run-by-jvm-shutdown-hook = off
              jvm-shutdown-hooks = off
            }
            """.formatted(host, port, String.join(", ", seedNodes), settings.minNodes(),
                settings.failureTimeout().toMillis())).withFallback(ConfigFactory.load());
    }

    /**
     * Start a node and join the cluster.
     *
     * @param events lines about placements, instances and trunks (printed by {@code osvj node}); called
     *               on actor, applier and trunk threads.
     */
    public static ClusterNode start(final String host, final int port, final List<String> seeds, final FleetConfig fleet,
        final Settings settings, final Consumer<String> events) {
        final String node = host + ":" + port;
        final FleetManager manager = new FleetManager(fleet, node, host, r -> events.accept(DeployCommand.bootLine(r)));
        final Map<String, String> endpoints;
        try {
            endpoints = manager.switchEndpoints();
        } catch (final RuntimeException e) {
            try {
                manager.stopAll();
            } catch (final InterruptedException stop) {
                Thread.currentThread().interrupt();
            }
            throw e;
        }
        endpoints.forEach((net, ep) -> events.accept("node " + node + ": switch " + fleet.name() + "." + net + " on udp " + ep));
        final ExecutorService applier = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon()
            .name("fleet-applier").unstarted(r));
        final ExecutorService trunker = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon()
            .name("fleet-trunks").unstarted(r));
        final java.util.concurrent.CompletableFuture<ActorRef<FleetProtocol.Message>> proxy = new java.util.concurrent.CompletableFuture<>();
        final Behavior<Void> root = Behaviors.setup(ctx -> {
            // every node runs the Distributed Data replicator: the singleton's majority writes need the others'
            final FleetStore store = FleetStore.distributed(ctx.getSystem(), fleet.name());
            final ActorRef<FleetProtocol.Message> single = ClusterSingleton.get(ctx.getSystem()).init(SingletonActor.of(
                Behaviors.supervise(PlacementSingleton.create(fleet, settings.minNodes(), store, events))
                    .onFailure(SupervisorStrategy.restart()),
                "placement"));
            proxy.complete(single);
            ctx.spawn(NodeAgent.create(manager, applier, trunker, endpoints, single, events), "agent");
            return Behaviors.empty();
        });
        final ActorSystem<Void> system = ActorSystem.create(root, SYSTEM, pekkoConfig(host, port, seeds, settings));
        return new ClusterNode(system, manager, applier, trunker, proxy.join());
    }

    public FleetManager manager() {
        return manager;
    }

    public ActorSystem<Void> system() {
        return system;
    }

    /** The cluster's fleet, for a {@link ControlServer} on this node. */
    FleetControl control() {
        final ActorRefResolver resolver = ActorRefResolver.get(system);
        return new FleetControl() {
            private FleetProtocol.ControlReply ask(final java.util.function.Function<String, FleetProtocol.Message> request)
                throws InterruptedException {
                try {
                    return AskPattern.<FleetProtocol.Message, FleetProtocol.ControlReply>ask(singleton,
                        replyTo -> request.apply(resolver.toSerializationFormat(replyTo)), ASK_TIMEOUT, system.scheduler())
                        .toCompletableFuture().get();
                } catch (final java.util.concurrent.ExecutionException e) {
                    throw new IllegalStateException("the placement singleton did not answer: " + e.getCause());
                }
            }

            @Override
            public List<InstanceStatus> status() throws InterruptedException {
                final FleetProtocol.ControlReply r = ask(FleetProtocol.Status::new);
                return r.rows().stream().map(ControlServer::parseRow).toList();
            }

            @Override
            public String scale(final String service, final int replicas) throws InterruptedException {
                final FleetProtocol.ControlReply r = ask(to -> new FleetProtocol.Scale(service, replicas, to));
                if (r.status().startsWith("usage: ")) {
                    throw new IllegalArgumentException(r.status().substring("usage: ".length()));
                }
                if (!r.status().startsWith("ok ")) {
                    throw new IllegalStateException(r.status());
                }
                return r.status().substring(3);
            }

            @Override
            public void stop() {
                try {
                    ask(FleetProtocol.StopFleet::new);
                } catch (final InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (final IllegalStateException e) {
                    system.terminate(); // no singleton: this node at least leaves
                }
            }
        };
    }

    /** Leave the cluster, stop this node's instances. */
    @Override
    public void close() throws InterruptedException {
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get();
        } catch (final java.util.concurrent.ExecutionException e) {
            // terminated anyway
        }
        applier.shutdownNow();
        trunker.shutdownNow();
        manager.stopAll();
    }

    /** {@code host:port} of an agent reference ({@code pekko://osvj-fleet@host:port/user/agent#id}). */
    static String nodeOf(final String serializedRef) {
        final int at = serializedRef.indexOf('@');
        final int slash = serializedRef.indexOf('/', at);
        return at < 0 || slash < 0 ? serializedRef : serializedRef.substring(at + 1, slash);
    }

    /** The agents of a receptionist listing, by node address (sorted). */
    static Map<String, ActorRef<FleetProtocol.Message>> byNode(final ActorRefResolver resolver,
        final Receptionist.Listing listing) {
        final Map<String, ActorRef<FleetProtocol.Message>> out = new java.util.TreeMap<>();
        for (final ActorRef<FleetProtocol.Message> a : listing.getServiceInstances(AGENTS)) {
            out.put(nodeOf(resolver.toSerializationFormat(a)), a);
        }
        return out;
    }

    /** A receptionist listing, adapted (local only, never serialized). */
    record AgentsChanged(Receptionist.Listing listing) implements FleetProtocol.Message {
    }

    /**
     * The placement decision maker, one per cluster: on every change of the set of agents or of a
     * replica count it computes {@link Placement#place} (keeping what can stay) and sends the whole
     * placement to every agent; it answers control requests from the agents' reports. It starts
     * unseeded and places nothing until {@link #trySeed} took over the state the store and the agents
     * hold and stored its epoch (see "A singleton that moves" in {@link ClusterNode}).
     *
     * <p>States: reading the store (retried every {@link #TICK} until a majority answers) and waiting
     * for the agents' reports, then storing the new epoch ({@code seeding}), then seeded. A scale
     * received before it is seeded waits, and is stored and answered after the seeding. A seeded
     * singleton stores every scale's counts (WriteMajority) before it places them and answers ok.
     */
    static final class PlacementSingleton extends AbstractBehavior<FleetProtocol.Message> {
        /** Local only: {@link #SEED_WAIT} passed since this singleton started. */
        private enum SeedWaitOver implements FleetProtocol.Message {
            INSTANCE
        }

        /** Local only: try the store again after a read or write that did not reach a majority. */
        private enum RetryStore implements FleetProtocol.Message {
            INSTANCE
        }

        /** Local only: the store's answer to the read of a new singleton ({@code state} null when it failed). */
        private record StateRead(java.util.Optional<FleetProtocol.FleetState> state, Throwable failure)
            implements FleetProtocol.Message {
        }

        /** Local only: the new epoch's state is stored (or {@code failure}). */
        private record SeedStored(FleetProtocol.FleetState state, Throwable failure) implements FleetProtocol.Message {
        }

        /** Local only: a scale's counts are stored (or {@code failure}). */
        private record ScaleStored(FleetProtocol.Scale scale, Throwable failure) implements FleetProtocol.Message {
        }

        private final FleetConfig fleet;
        private final int minNodes;
        private final Consumer<String> events;
        private final FleetStore store;
        private final org.apache.pekko.actor.typed.javadsl.TimerScheduler<FleetProtocol.Message> timers;
        private final ActorRefResolver resolver;
        /** Replica count per service, in the fleet file's service order. */
        private final Map<String, Integer> replicas = new LinkedHashMap<>();
        /** The latest report of each node that reported to this singleton (nodes not in {@link #agents} are ignored). */
        private final Map<String, FleetProtocol.NodeReport> reports = new HashMap<>();
        /** Scales received before the seeding: stored and answered once seeded. */
        private final List<FleetProtocol.Scale> scalesBeforeSeed = new ArrayList<>();
        private Map<String, ActorRef<FleetProtocol.Message>> agents = new java.util.TreeMap<>();
        private Map<String, String> current = new HashMap<>();
        /** The store's state as read at the start; null until a majority answered. */
        private java.util.Optional<FleetProtocol.FleetState> stored;
        private long epoch;
        private long version;
        private boolean seeding;
        private boolean seeded;
        private boolean seedWaitOver;
        /** A node reported a placement of a larger epoch: a newer singleton places, this one no longer does. */
        private boolean superseded;
        /** After {@code stop}: the nodes leave one by one, nothing is placed any more. */
        private boolean stopping;

        private PlacementSingleton(final ActorContext<FleetProtocol.Message> ctx, final FleetConfig fleet, final int minNodes,
            final FleetStore store, final org.apache.pekko.actor.typed.javadsl.TimerScheduler<FleetProtocol.Message> timers,
            final Consumer<String> events) {
            super(ctx);
            this.fleet = fleet;
            this.minNodes = minNodes;
            this.store = store;
            this.timers = timers;
            this.events = events;
            this.resolver = ActorRefResolver.get(ctx.getSystem());
            fleet.services().forEach(s -> replicas.put(s.name(), s.replicas()));
            final ActorRef<Receptionist.Listing> adapter = ctx.messageAdapter(Receptionist.Listing.class, AgentsChanged::new);
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(AGENTS, adapter));
            readStore();
        }

        /**
         * @param minNodes agents to wait for before the first placement of a new cluster (a successor
         *                 singleton, which finds placements in the reports, and later changes are placed
         *                 at once).
         * @param store    where the fleet's epoch and replica counts are kept across singletons.
         */
        static Behavior<FleetProtocol.Message> create(final FleetConfig fleet, final int minNodes, final FleetStore store,
            final Consumer<String> events) {
            return Behaviors.withTimers(timers -> {
                timers.startSingleTimer(SeedWaitOver.INSTANCE, SEED_WAIT);
                return Behaviors.setup(ctx -> new PlacementSingleton(ctx, fleet, minNodes, store, timers, events));
            });
        }

        @Override
        public Receive<FleetProtocol.Message> createReceive() {
            return newReceiveBuilder()
                .onMessage(AgentsChanged.class, this::onAgents)
                .onMessage(FleetProtocol.NodeReport.class, this::onReport)
                .onMessageEquals(SeedWaitOver.INSTANCE, this::onSeedWaitOver)
                .onMessageEquals(RetryStore.INSTANCE, this::onRetryStore)
                .onMessage(StateRead.class, this::onStateRead)
                .onMessage(SeedStored.class, this::onSeedStored)
                .onMessage(ScaleStored.class, this::onScaleStored)
                .onMessage(FleetProtocol.Scale.class, this::onScale)
                .onMessage(FleetProtocol.Status.class, this::onStatus)
                .onMessage(FleetProtocol.StopFleet.class, this::onStop)
                .build();
        }

        private void readStore() {
            getContext().pipeToSelf(store.read(), StateRead::new);
        }

        private Behavior<FleetProtocol.Message> onStateRead(final StateRead r) {
            if (r.failure() != null) {
                events.accept("placement singleton: " + r.failure().getMessage() + "; trying again");
                timers.startSingleTimer(RetryStore.INSTANCE, TICK);
                return this;
            }
            stored = r.state();
            trySeed();
            return this;
        }

        private Behavior<FleetProtocol.Message> onRetryStore() {
            if (stored == null) {
                readStore();
            } else {
                trySeed();
            }
            return this;
        }

        private Behavior<FleetProtocol.Message> onAgents(final AgentsChanged changed) {
            agents = byNode(resolver, changed.listing());
            events.accept("placement singleton: " + agents.size() + " node agent(s) " + agents.keySet());
            if (!seeded) {
                trySeed();
            } else if (!agents.isEmpty() && !stopping) {
                place();
            }
            return this;
        }

        private Behavior<FleetProtocol.Message> onSeedWaitOver() {
            seedWaitOver = true;
            trySeed();
            return this;
        }

        private static boolean newer(final FleetProtocol.NodeReport r, final FleetProtocol.NodeReport than) {
            return than == null || FleetProtocol.isNewer(r.epoch(), r.version(), than.epoch(), than.version());
        }

        /**
         * Take over the fleet's state and place, once the store answered and every agent has reported
         * (or {@link #SEED_WAIT} passed): the replica counts stored (else those of the newest placement
         * any agent received, else the fleet file's, with at least {@code minNodes} agents first), what
         * each agent runs as the previous placement (so that nothing running on a live node moves), and
         * an epoch one above every epoch seen, stored before the first placement.
         */
        private void trySeed() {
            if (seeded || seeding || stopping || stored == null || agents.isEmpty()
                || !seedWaitOver && !reports.keySet().containsAll(agents.keySet())) {
                return;
            }
            FleetProtocol.NodeReport newest = null;
            for (final String node : agents.keySet()) {
                final FleetProtocol.NodeReport r = reports.get(node);
                if (r != null && newer(r, newest)) {
                    newest = r;
                }
            }
            long maxEpoch = stored.map(FleetProtocol.FleetState::epoch).orElse(0L);
            for (final FleetProtocol.NodeReport r : reports.values()) {
                maxEpoch = Math.max(maxEpoch, r.epoch());
            }
            final long seen = newest == null ? 0 : newest.version();
            if (stored.isEmpty() && seen == 0 && agents.size() < minNodes) {
                return; // a new cluster: wait for its first members
            }
            final List<String> counts = stored.map(FleetProtocol.FleetState::replicas)
                .orElse(seen > 0 ? newest.replicas() : List.of());
            for (final String kv : counts) {
                final int eq = kv.lastIndexOf('=');
                final String service = kv.substring(0, eq);
                if (replicas.containsKey(service)) {
                    replicas.put(service, Integer.parseInt(kv.substring(eq + 1)));
                }
            }
            final FleetProtocol.FleetState state = new FleetProtocol.FleetState(maxEpoch + 1, counts());
            version = seen;
            seeding = true;
            events.accept("placement singleton: epoch " + state.epoch() + " takes over placement v" + seen + " ("
                + reports.keySet().stream().filter(agents::containsKey).count() + " of " + agents.size()
                + " nodes reported, stored state " + stored.map(FleetProtocol.FleetState::toString).orElse("none") + ")");
            getContext().pipeToSelf(store.write(state), (ok, failure) -> new SeedStored(state, failure));
        }

        private Behavior<FleetProtocol.Message> onSeedStored(final SeedStored s) {
            seeding = false;
            if (s.failure() != null) {
                events.accept("placement singleton: " + s.failure().getMessage() + "; trying again");
                timers.startSingleTimer(RetryStore.INSTANCE, TICK);
                return this;
            }
            epoch = s.state().epoch();
            current = running();
            seeded = true;
            events.accept("placement singleton: took over placement v" + version + " in epoch " + epoch + ", replicas "
                + replicas + ", running " + current);
            if (!agents.isEmpty() && !stopping) {
                place();
            }
            final List<FleetProtocol.Scale> waiting = new ArrayList<>(scalesBeforeSeed);
            scalesBeforeSeed.clear();
            waiting.forEach(this::onScale);
            return this;
        }

        /** The replica counts as {@code SERVICE=N} in service order. */
        private List<String> counts() {
            final List<String> counts = new ArrayList<>();
            replicas.forEach((service, n) -> counts.add(service + "=" + n));
            return counts;
        }

        /** Instance name to the node it is on, from the reports of the current agents (a live instance wins over a down one). */
        private Map<String, String> running() {
            final Map<String, String> out = new HashMap<>();
            final Set<String> live = new HashSet<>();
            for (final String node : agents.keySet()) {
                final FleetProtocol.NodeReport r = reports.get(node);
                if (r == null) {
                    continue;
                }
                for (final String line : r.rows()) {
                    final InstanceStatus row = ControlServer.parseRow(line);
                    final boolean up = !row.state().isDown();
                    if (!out.containsKey(row.name()) || up && !live.contains(row.name())) {
                        out.put(row.name(), node);
                        if (up) {
                            live.add(row.name());
                        }
                    }
                }
            }
            return out;
        }

        private void place() {
            if (superseded) {
                return;
            }
            current = Placement.place(replicas, new ArrayList<>(agents.keySet()), current);
            version++;
            final List<FleetProtocol.Assignment> assignments = new ArrayList<>();
            current.forEach((instance, node) -> assignments.add(new FleetProtocol.Assignment(instance,
                instance.substring(0, instance.lastIndexOf('-')), node)));
            events.accept("placement v" + version + " on " + agents.keySet() + ": " + current);
            final FleetProtocol.Placements placements = new FleetProtocol.Placements(epoch, version, assignments, counts());
            agents.values().forEach(a -> a.tell(placements));
        }

        private Behavior<FleetProtocol.Message> onReport(final FleetProtocol.NodeReport r) {
            reports.put(r.node(), r);
            if (!seeded) {
                trySeed();
            } else if (r.epoch() > epoch && !superseded) {
                superseded = true;
                events.accept("placement singleton: epoch " + epoch + " superseded by epoch " + r.epoch()
                    + " (reported by " + r.node() + "): this one places no more");
            }
            return this;
        }

        private void reply(final String replyTo, final String status, final List<String> rows) {
            resolver.<FleetProtocol.Message>resolveActorRef(replyTo).tell(new FleetProtocol.ControlReply(status, rows));
        }

        private Behavior<FleetProtocol.Message> onScale(final FleetProtocol.Scale s) {
            final FleetConfig.ServiceSpec spec = fleet.service(s.service()).orElse(null);
            if (spec == null) {
                reply(s.replyTo(), "usage: no service named " + s.service() + "; services: "
                    + String.join(", ", replicas.keySet()), List.of());
                return this;
            }
            final FleetConfig.NetworkSpec net = fleet.network(spec.network()).orElse(null);
            if (s.replicas() < 0 || s.replicas() > 1000 || net != null && s.replicas() > fleet.addressBlock(net)) {
                reply(s.replyTo(), "usage: expected a replica count 0.." + (net == null ? 1000 : Math.min(1000, fleet.addressBlock(net)))
                    + " for " + s.service() + ", got " + s.replicas(), List.of());
                return this;
            }
            if (stopping) {
                reply(s.replyTo(), "the fleet is stopping", List.of());
                return this;
            }
            if (superseded) {
                reply(s.replyTo(), "a newer placement singleton took over: scale again", List.of());
                return this;
            }
            if (!seeded) {
                scalesBeforeSeed.add(s); // answered once the takeover is stored
                return this;
            }
            replicas.put(s.service(), s.replicas());
            getContext().pipeToSelf(store.write(new FleetProtocol.FleetState(epoch, counts())),
                (ok, failure) -> new ScaleStored(s, failure));
            return this;
        }

        /**
         * A scale's counts are on a majority of the nodes (a successor will read them): place, answer ok.
         * When the write failed the count stays set here (it may still spread from this node's replica,
         * and is placed with the next placement) but the answer is an error, as nothing is promised.
         */
        private Behavior<FleetProtocol.Message> onScaleStored(final ScaleStored s) {
            if (s.failure() != null) {
                reply(s.scale().replyTo(), "scale " + s.scale().service() + " to " + s.scale().replicas()
                    + " not confirmed: " + s.failure().getMessage() + " (it may still take effect; scale again)", List.of());
                return this;
            }
            if (!agents.isEmpty() && !stopping) {
                place();
            }
            reply(s.scale().replyTo(), "ok scaled " + s.scale().service() + " to " + s.scale().replicas()
                + " (placement v" + version + ", epoch " + epoch + ")", List.of());
            return this;
        }

        private Behavior<FleetProtocol.Message> onStatus(final FleetProtocol.Status s) {
            final List<InstanceStatus> rows = new ArrayList<>();
            reports.forEach((node, r) -> {
                if (agents.containsKey(node)) {
                    r.rows().forEach(l -> rows.add(ControlServer.parseRow(l)));
                }
            });
            final List<String> names = new ArrayList<>(replicas.keySet());
            rows.sort(java.util.Comparator.comparingInt((InstanceStatus r) -> names.indexOf(r.service()))
                .thenComparing(r -> r.name().length()).thenComparing(InstanceStatus::name));
            reply(s.replyTo(), "ok", rows.stream().map(ControlServer::row).toList());
            return this;
        }

        private Behavior<FleetProtocol.Message> onStop(final FleetProtocol.StopFleet s) {
            reply(s.replyTo(), "ok stopping", List.of());
            stopping = true;
            scalesBeforeSeed.forEach(w -> reply(w.replyTo(), "the fleet is stopping", List.of()));
            scalesBeforeSeed.clear();
            events.accept("fleet stop: every node stops its instances and leaves");
            final FleetProtocol.Shutdown shutdown = new FleetProtocol.Shutdown(version);
            agents.values().forEach(a -> a.tell(shutdown));
            return this;
        }
    }

    /**
     * A node's agent: registered with the receptionist; applies the placements meant for its node
     * through the local fleet manager on a separate thread (boots block; an actor must not); reports
     * its rows to the singleton; joins the switches of the nodes after it as trunks (on the trunk
     * thread: joining waits for the link).
     */
    static final class NodeAgent extends AbstractBehavior<FleetProtocol.Message> {
        private enum Tick implements FleetProtocol.Message {
            INSTANCE
        }

        private final FleetManager manager;
        private final ExecutorService applier;
        private final ExecutorService trunker;
        private final ActorRef<FleetProtocol.Message> singleton;
        private final Consumer<String> events;
        private final String self;
        private final List<String> ownEndpoints = new ArrayList<>();
        private final ActorRefResolver resolver;
        private Map<String, ActorRef<FleetProtocol.Message>> peers = new java.util.TreeMap<>();
        /** Other nodes' switch endpoints (network to host:port), as they told them. */
        private final Map<String, Map<String, String>> peerSwitches = new HashMap<>();
        /** The newest placement for this node not yet taken by the applier (older ones are skipped). */
        private final java.util.concurrent.atomic.AtomicReference<Set<String>> latest = new java.util.concurrent.atomic.AtomicReference<>();
        /**
         * The newest placement received: version and replica counts, reported to the singleton so that a
         * successor continues from them. Written by the actor, read by the applier thread's reports.
         */
        private volatile FleetProtocol.Placements newest = new FleetProtocol.Placements(0, 0, List.of(), List.of());

        private NodeAgent(final ActorContext<FleetProtocol.Message> ctx, final FleetManager manager,
            final ExecutorService applier, final ExecutorService trunker, final Map<String, String> endpoints,
            final ActorRef<FleetProtocol.Message> singleton, final Consumer<String> events) {
            super(ctx);
            this.manager = manager;
            this.applier = applier;
            this.trunker = trunker;
            this.singleton = singleton;
            this.events = events;
            this.resolver = ActorRefResolver.get(ctx.getSystem());
            this.self = nodeOf(resolver.toSerializationFormat(ctx.getSelf()));
            endpoints.forEach((net, ep) -> ownEndpoints.add(net + "=" + ep));
            ctx.getSystem().receptionist().tell(Receptionist.register(AGENTS, ctx.getSelf()));
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(AGENTS,
                ctx.messageAdapter(Receptionist.Listing.class, AgentsChanged::new)));
        }

        static Behavior<FleetProtocol.Message> create(final FleetManager manager, final ExecutorService applier,
            final ExecutorService trunker, final Map<String, String> endpoints, final ActorRef<FleetProtocol.Message> singleton,
            final Consumer<String> events) {
            return Behaviors.withTimers(timers -> {
                timers.startTimerWithFixedDelay(Tick.INSTANCE, TICK);
                return Behaviors.setup(ctx -> new NodeAgent(ctx, manager, applier, trunker, endpoints, singleton, events));
            });
        }

        @Override
        public Receive<FleetProtocol.Message> createReceive() {
            return newReceiveBuilder()
                .onMessage(FleetProtocol.Placements.class, this::onPlacements)
                .onMessage(AgentsChanged.class, this::onAgents)
                .onMessage(FleetProtocol.SwitchEndpoints.class, this::onSwitchEndpoints)
                .onMessage(FleetProtocol.Shutdown.class, this::onShutdown)
                .onMessageEquals(Tick.INSTANCE, this::onTick)
                .build();
        }

        private Behavior<FleetProtocol.Message> onAgents(final AgentsChanged changed) {
            final Map<String, ActorRef<FleetProtocol.Message>> now = byNode(resolver, changed.listing());
            now.remove(self);
            for (final String gone : new ArrayList<>(peerSwitches.keySet())) {
                if (!now.containsKey(gone)) {
                    final Map<String, String> eps = peerSwitches.remove(gone);
                    trunker.execute(() -> manager.removeTrunks(eps));
                }
            }
            peers = now;
            tellEndpoints();
            report(); // a membership change may have moved the singleton: tell the new one at once
            return this;
        }

        private void tellEndpoints() {
            if (!ownEndpoints.isEmpty()) {
                final FleetProtocol.SwitchEndpoints mine = new FleetProtocol.SwitchEndpoints(self, List.copyOf(ownEndpoints));
                peers.values().forEach(p -> p.tell(mine));
            }
        }

        private Behavior<FleetProtocol.Message> onSwitchEndpoints(final FleetProtocol.SwitchEndpoints e) {
            if (!peers.containsKey(e.node())) {
                return this; // not (or no longer) a member
            }
            final Map<String, String> eps = new java.util.TreeMap<>();
            for (final String kv : e.endpoints()) {
                final int eq = kv.indexOf('=');
                eps.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
            final Map<String, String> before = peerSwitches.put(e.node(), eps);
            if (before != null && !before.equals(eps)) {
                trunker.execute(() -> manager.removeTrunks(before)); // the node restarted: new switches
            }
            if (self.compareTo(e.node()) < 0) {
                trunker.execute(() -> manager.addTrunks(eps).forEach(line -> events.accept("node " + self + ": " + line)));
            }
            return this;
        }

        private Behavior<FleetProtocol.Message> onTick() {
            tellEndpoints();
            report();
            return this;
        }

        private void report() {
            final FleetProtocol.Placements p = newest;
            singleton.tell(new FleetProtocol.NodeReport(self, manager.status().stream().map(ControlServer::row).toList(),
                p.epoch(), p.version(), p.replicas()));
        }

        /**
         * Apply a placement newer than the newest this agent has ({@link FleetProtocol#isNewer}: epoch,
         * then version); an older one, from a singleton that a newer one replaced, is ignored.
         */
        private Behavior<FleetProtocol.Message> onPlacements(final FleetProtocol.Placements p) {
            final FleetProtocol.Placements had = newest;
            if (!FleetProtocol.isNewer(p.epoch(), p.version(), had.epoch(), had.version())) {
                events.accept("node " + self + ": ignored stale placement v" + p.version() + " of epoch " + p.epoch()
                    + " (has v" + had.version() + " of epoch " + had.epoch() + ")");
                return this;
            }
            newest = new FleetProtocol.Placements(p.epoch(), p.version(), List.of(), p.replicas());
            final Set<String> mine = new LinkedHashSet<>();
            for (final FleetProtocol.Assignment a : p.assignments()) {
                if (a.node().equals(self)) {
                    mine.add(a.instance());
                }
            }
            latest.set(mine);
            applier.execute(() -> {
                final Set<String> newest = latest.getAndSet(null);
                if (newest == null) {
                    return; // a later task already applied a newer placement
                }
                try {
                    manager.runExactly(newest);
                    events.accept("node " + self + " runs " + manager.status().stream()
                        .filter(r -> r.state() == InstanceState.RUNNING).map(InstanceStatus::name).sorted().toList());
                    report();
                } catch (final InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (final RuntimeException e) {
                    events.accept("node " + self + ": placement v" + p.version() + " not applied: " + e);
                }
            });
            return this;
        }

        private Behavior<FleetProtocol.Message> onShutdown(final FleetProtocol.Shutdown s) {
            // the agent stays registered: the others are stopping too, nothing is re-placed
            final org.apache.pekko.actor.typed.ActorSystem<Void> system = getContext().getSystem();
            applier.execute(() -> {
                try {
                    manager.stopAll();
                } catch (final InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                events.accept("node " + self + ": stopped by the fleet");
                system.terminate();
            });
            return this;
        }
    }
}
