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
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.SingletonActor;

import java.util.ArrayList;
import java.util.HashMap;
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
 *        ▲   (Kryo, FleetSerializer)        │
 *        └── Receptionist listing of the agents (a node that is downed leaves the listing)
 * </pre>
 *
 * A node that crashes is marked unreachable by the failure detector and downed by Pekko's split-brain
 * resolver ({@code keep-majority}); its agent leaves the listing and the singleton places its replicas
 * on the others. Every node loads the same fleet file (the singleton uses its own node's copy).
 */
public final class ClusterNode implements AutoCloseable {
    /** The ActorSystem name every node uses (part of the seed address). */
    public static final String SYSTEM = "osvj-fleet";

    static final ServiceKey<FleetProtocol.Message> AGENTS = ServiceKey.create(FleetProtocol.Message.class, "osvj-fleet-agent");

    private final ActorSystem<Void> system;
    private final FleetManager manager;
    private final ExecutorService applier;

    private ClusterNode(final ActorSystem<Void> system, final FleetManager manager, final ExecutorService applier) {
        this.system = system;
        this.manager = manager;
        this.applier = applier;
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
    public record Settings(int minNodes, java.time.Duration failureTimeout) {
        public static final Settings DEFAULT = new Settings(1, java.time.Duration.ofSeconds(10));
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
     * @param events lines about placements and instances (printed by {@code osvj node}); called on
     *               actor and applier threads.
     */
    public static ClusterNode start(final String host, final int port, final List<String> seeds, final FleetConfig fleet,
        final Settings settings, final Consumer<String> events) {
        final String node = host + ":" + port;
        final FleetManager manager = new FleetManager(fleet, node, r -> events.accept(DeployCommand.bootLine(r)));
        final ExecutorService applier = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon()
            .name("fleet-applier").unstarted(r));
        final Behavior<Void> root = Behaviors.setup(ctx -> {
            ctx.spawn(NodeAgent.create(manager, applier, events), "agent");
            ClusterSingleton.get(ctx.getSystem()).init(SingletonActor.of(
                Behaviors.supervise(PlacementSingleton.create(fleet, settings.minNodes(), events))
                    .onFailure(SupervisorStrategy.restart()),
                "placement"));
            return Behaviors.empty();
        });
        final ActorSystem<Void> system = ActorSystem.create(root, SYSTEM, pekkoConfig(host, port, seeds, settings));
        return new ClusterNode(system, manager, applier);
    }

    public FleetManager manager() {
        return manager;
    }

    public ActorSystem<Void> system() {
        return system;
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
        manager.stopAll();
    }

    /** {@code host:port} of an agent reference ({@code pekko://osvj-fleet@host:port/user/agent#id}). */
    static String nodeOf(final String serializedRef) {
        final int at = serializedRef.indexOf('@');
        final int slash = serializedRef.indexOf('/', at);
        return at < 0 || slash < 0 ? serializedRef : serializedRef.substring(at + 1, slash);
    }

    /**
     * The placement decision maker, one per cluster: on every change of the set of agents it computes
     * {@link Placement#place} (keeping what can stay) and sends the whole placement to every agent.
     */
    static final class PlacementSingleton extends AbstractBehavior<PlacementSingleton.Command> {
        sealed interface Command {
        }

        record AgentsChanged(Receptionist.Listing listing) implements Command {
        }

        private final FleetConfig fleet;
        private final int minNodes;
        private final Consumer<String> events;
        private final ActorRefResolver resolver;
        private Map<String, String> current = new HashMap<>();
        private long version;

        private PlacementSingleton(final ActorContext<Command> ctx, final FleetConfig fleet, final int minNodes,
            final Consumer<String> events) {
            super(ctx);
            this.fleet = fleet;
            this.minNodes = minNodes;
            this.events = events;
            this.resolver = ActorRefResolver.get(ctx.getSystem());
            final ActorRef<Receptionist.Listing> adapter = ctx.messageAdapter(Receptionist.Listing.class, AgentsChanged::new);
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(AGENTS, adapter));
        }

        /** @param minNodes agents to wait for before the first placement (later changes are placed at once). */
        static Behavior<Command> create(final FleetConfig fleet, final int minNodes, final Consumer<String> events) {
            return Behaviors.setup(ctx -> new PlacementSingleton(ctx, fleet, minNodes, events));
        }

        @Override
        public Receive<Command> createReceive() {
            return newReceiveBuilder().onMessage(AgentsChanged.class, this::onAgents).build();
        }

        private Behavior<Command> onAgents(final AgentsChanged changed) {
            final Set<ActorRef<FleetProtocol.Message>> agents = changed.listing().getServiceInstances(AGENTS);
            if (agents.isEmpty() || version == 0 && agents.size() < minNodes) {
                return this;
            }
            final Map<String, ActorRef<FleetProtocol.Message>> byNode = new java.util.TreeMap<>();
            for (final ActorRef<FleetProtocol.Message> a : agents) {
                byNode.put(nodeOf(resolver.toSerializationFormat(a)), a);
            }
            final Map<String, Integer> replicas = new LinkedHashMap<>();
            fleet.services().forEach(s -> replicas.put(s.name(), s.replicas()));
            current = Placement.place(replicas, new ArrayList<>(byNode.keySet()), current);
            version++;
            final List<FleetProtocol.Assignment> assignments = new ArrayList<>();
            current.forEach((instance, node) -> assignments.add(new FleetProtocol.Assignment(instance,
                instance.substring(0, instance.lastIndexOf('-')), node)));
            events.accept("placement v" + version + " on " + byNode.keySet() + ": " + current);
            final FleetProtocol.Placements placements = new FleetProtocol.Placements(version, assignments);
            byNode.values().forEach(a -> a.tell(placements));
            return this;
        }
    }

    /**
     * A node's agent: registered with the receptionist; applies the placements meant for its node
     * through the local fleet manager on a separate thread (boots block; an actor must not).
     */
    static final class NodeAgent extends AbstractBehavior<FleetProtocol.Message> {
        private final FleetManager manager;
        private final ExecutorService applier;
        private final Consumer<String> events;
        private final String self;
        /** The newest placement for this node not yet taken by the applier (older ones are skipped). */
        private final java.util.concurrent.atomic.AtomicReference<Set<String>> latest = new java.util.concurrent.atomic.AtomicReference<>();

        private NodeAgent(final ActorContext<FleetProtocol.Message> ctx, final FleetManager manager,
            final ExecutorService applier, final Consumer<String> events) {
            super(ctx);
            this.manager = manager;
            this.applier = applier;
            this.events = events;
            this.self = nodeOf(ActorRefResolver.get(ctx.getSystem()).toSerializationFormat(ctx.getSelf()));
            ctx.getSystem().receptionist().tell(Receptionist.register(AGENTS, ctx.getSelf()));
        }

        static Behavior<FleetProtocol.Message> create(final FleetManager manager, final ExecutorService applier,
            final Consumer<String> events) {
            return Behaviors.setup(ctx -> new NodeAgent(ctx, manager, applier, events));
        }

        @Override
        public Receive<FleetProtocol.Message> createReceive() {
            return newReceiveBuilder().onMessage(FleetProtocol.Placements.class, this::onPlacements).build();
        }

        private Behavior<FleetProtocol.Message> onPlacements(final FleetProtocol.Placements p) {
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
                } catch (final InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (final RuntimeException e) {
                    events.accept("node " + self + ": placement v" + p.version() + " not applied: " + e);
                }
            });
            return this;
        }
    }
}
