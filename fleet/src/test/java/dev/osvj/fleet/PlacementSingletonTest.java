package dev.osvj.fleet;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The placement singleton on its own (one local ActorSystem, probes as the node agents, manual time, an
 * in-memory {@link FleetStore} shared by the singletons of a test as Distributed Data is by a cluster's):
 * a new singleton places nothing until it has heard every agent, then continues from the stored counts
 * and what the agents report (the newest placement's version, what runs where) in a larger epoch, so
 * that a singleton that moved keeps scaled counts (even one whose placement reached no node) and moves
 * no replica of a live node; a new cluster starts from the fleet file.
 */
class PlacementSingletonTest {
    private final ActorTestKit kit = ActorTestKit.create(ManualTime.config());
    private final ManualTime time = ManualTime.get(kit.system());
    private final ActorRefResolver resolver = ActorRefResolver.get(kit.system());
    private final List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final FleetStore store = FleetStore.inMemory();

    @AfterEach
    void shutdown() {
        kit.shutdownTestKit();
    }

    private ActorRef<FleetProtocol.Message> singleton(final int replicas, final int minNodes) throws Exception {
        final FleetConfig fleet = FleetTesting.fleet("osvj.fleet.services = [ { name = web, app = echo, replicas = "
            + replicas + " }, { name = db, app = echo, replicas = 1 } ]");
        return kit.spawn(ClusterNode.PlacementSingleton.create(fleet, minNodes, store, events::add));
    }

    /** A probe registered as a node agent; its node name is what the singleton keys it by. */
    private TestProbe<FleetProtocol.Message> agent() {
        final TestProbe<FleetProtocol.Message> p = kit.createTestProbe(FleetProtocol.Message.class);
        final TestProbe<Receptionist.Registered> ack = kit.createTestProbe(Receptionist.Registered.class);
        kit.system().receptionist().tell(Receptionist.register(ClusterNode.AGENTS, p.ref(), ack.ref()));
        ack.receiveMessage();
        return p;
    }

    /**
     * Wait until the singleton has seen a receptionist listing of {@code n} agents: its subscription
     * and the agents' registrations race with the reports the test sends it, so a report must not be
     * sent before the singleton knows every agent the test registered.
     */
    private void awaitAgents(final int n) {
        final String prefix = "placement singleton: " + n + " node agent(s) ";
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (events.stream().noneMatch(e -> e.startsWith(prefix))) {
            assertTrue(System.nanoTime() < deadline, "the singleton never saw " + n + " agents: " + events);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
    }

    private String node(final TestProbe<FleetProtocol.Message> agent) {
        return ClusterNode.nodeOf(resolver.toSerializationFormat(agent.ref()));
    }

    private String row(final String instance, final TestProbe<FleetProtocol.Message> agent, final InstanceState state) {
        return ControlServer.row(new InstanceStatus(instance, instance.substring(0, instance.lastIndexOf('-')), node(agent),
            state, "-", 1.0, 1000, "", 0));
    }

    private static Map<String, String> byInstance(final FleetProtocol.Placements p) {
        final Map<String, String> out = new TreeMap<>();
        p.assignments().forEach(a -> out.put(a.instance(), a.node()));
        return out;
    }

    @Test
    void shouldTakeOverScaledCountsAndLeaveLiveReplicasWhereTheyRun() throws Exception {
        // the dead singleton (epoch 1) had scaled web to 5 and stored it; b and c survived a node that ran web-2 and web-3
        store.write(new FleetProtocol.FleetState(1, List.of("web=5", "db=1")));
        final ActorRef<FleetProtocol.Message> singleton = singleton(3, 3);
        final TestProbe<FleetProtocol.Message> b = agent();
        final TestProbe<FleetProtocol.Message> c = agent();
        awaitAgents(2);
        singleton.tell(new FleetProtocol.NodeReport(node(b), List.of(row("web-0", b, InstanceState.RUNNING),
            row("web-4", b, InstanceState.RUNNING), row("db-0", b, InstanceState.RUNNING)), 1, 7, List.of("web=5", "db=1")));
        b.expectNoMessage(Duration.ofMillis(200)); // c has not reported yet: nothing is placed
        // a scale that reaches the successor before it took over waits, then is stored, placed and answered
        final TestProbe<FleetProtocol.Message> control = kit.createTestProbe(FleetProtocol.Message.class);
        singleton.tell(new FleetProtocol.Scale("db", 2, resolver.toSerializationFormat(control.ref())));
        control.expectNoMessage(Duration.ofMillis(200));
        singleton.tell(new FleetProtocol.NodeReport(node(c), List.of(row("web-1", c, InstanceState.RUNNING),
            row("web-3", c, InstanceState.FAILED)), 1, 7, List.of("web=5", "db=1")));

        final FleetProtocol.Placements p = b.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(p, c.expectMessageClass(FleetProtocol.Placements.class));
        assertEquals(2, p.epoch(), "a successor singleton has the next epoch");
        assertEquals(8, p.version(), "the successor continues the version numbers");
        assertEquals(List.of("web=5", "db=1"), p.replicas(), "the scaled count, not the file's 3");
        final Map<String, String> placed = byInstance(p);
        assertEquals(List.of("db-0", "web-0", "web-1", "web-2", "web-3", "web-4"), new ArrayList<>(placed.keySet()));
        assertEquals(node(b), placed.get("web-0"));
        assertEquals(node(b), placed.get("web-4"));
        assertEquals(node(b), placed.get("db-0"));
        assertEquals(node(c), placed.get("web-1"));
        assertEquals(node(c), placed.get("web-3"), "a replica down on a live node stays there (its restart policy's business)");
        assertTrue(events.stream().anyMatch(e -> e.startsWith("placement singleton: epoch 2 takes over placement v7 (2 of 2 nodes reported")),
            events.toString());
        final FleetProtocol.ControlReply early = control.expectMessageClass(FleetProtocol.ControlReply.class);
        assertEquals("ok scaled db to 2 (placement v9, epoch 2)", early.status());
        final FleetProtocol.Placements withDb = b.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(List.of("web=5", "db=2"), withDb.replicas());
        assertEquals(new FleetProtocol.FleetState(2, List.of("web=5", "db=2")), store.read().toCompletableFuture().join().orElseThrow());

        // status answers from the reports; a later scale is placed at once, from the taken-over state
        singleton.tell(new FleetProtocol.Status(resolver.toSerializationFormat(control.ref())));
        assertEquals(5, control.expectMessageClass(FleetProtocol.ControlReply.class).rows().size());
        singleton.tell(new FleetProtocol.Scale("web", 6, resolver.toSerializationFormat(control.ref())));
        assertTrue(control.expectMessageClass(FleetProtocol.ControlReply.class).status().startsWith("ok scaled web to 6 (placement v10"));
        final FleetProtocol.Placements next = b.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(List.of("web=6", "db=2"), next.replicas());
        final Map<String, String> after = byInstance(next);
        byInstance(withDb).forEach((instance, node) -> assertEquals(node, after.get(instance), instance + " stays"));
        assertEquals(8, after.size());
    }

    @Test
    void shouldKeepAScaleAnsweredOkWhosePlacementReachedNoNodeBeforeTheSingletonDied() throws Exception {
        final ActorRef<FleetProtocol.Message> first = singleton(3, 1);
        final TestProbe<FleetProtocol.Message> b = agent();
        awaitAgents(1);
        singleton1Seeded(first, b);
        final TestProbe<FleetProtocol.Message> control = kit.createTestProbe(FleetProtocol.Message.class);
        first.tell(new FleetProtocol.Scale("web", 4, resolver.toSerializationFormat(control.ref())));
        assertEquals("ok scaled web to 4 (placement v2, epoch 1)", control.expectMessageClass(FleetProtocol.ControlReply.class).status());
        // the singleton's node dies before any node applied or reported v2: b still reports v1 and the file's counts
        kit.stop(first);
        events.clear();
        final ActorRef<FleetProtocol.Message> second = singleton(3, 1);
        awaitAgents(1);
        second.tell(new FleetProtocol.NodeReport(node(b), List.of(), 1, 1, List.of("web=3", "db=1")));
        final FleetProtocol.Placements p = fishPlacements(b, 2);
        assertEquals(List.of("web=4", "db=1"), p.replicas(), "the scale answered ok is not lost");
        assertEquals(5, p.assignments().size());
    }

    /** The first singleton of a new one-node cluster, seeded by {@code agent}'s empty report: placement v1 in epoch 1. */
    private void singleton1Seeded(final ActorRef<FleetProtocol.Message> singleton, final TestProbe<FleetProtocol.Message> agent) {
        singleton.tell(new FleetProtocol.NodeReport(node(agent), List.of(), 0, 0, List.of()));
        final FleetProtocol.Placements p = agent.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(1, p.epoch());
        assertEquals(1, p.version());
        assertEquals(List.of("web=3", "db=1"), p.replicas());
    }

    /** The next placement of {@code epoch} that {@code agent} receives (earlier epochs' are skipped). */
    private static FleetProtocol.Placements fishPlacements(final TestProbe<FleetProtocol.Message> agent, final long epoch) {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            final FleetProtocol.Placements p = agent.expectMessageClass(FleetProtocol.Placements.class,
                Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            if (p.epoch() == epoch) {
                return p;
            }
        }
    }

    @Test
    void shouldStartANewClusterFromTheFleetFileOnceMinNodesReported() throws Exception {
        final ActorRef<FleetProtocol.Message> singleton = singleton(3, 2);
        final TestProbe<FleetProtocol.Message> a = agent();
        awaitAgents(1);
        singleton.tell(new FleetProtocol.NodeReport(node(a), List.of(), 0, 0, List.of()));
        a.expectNoMessage(Duration.ofMillis(200)); // one node of the two the cluster waits for
        final TestProbe<FleetProtocol.Message> b = agent();
        awaitAgents(2);
        singleton.tell(new FleetProtocol.NodeReport(node(b), List.of(), 0, 0, List.of()));
        final FleetProtocol.Placements p = a.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(1, p.epoch());
        assertEquals(1, p.version());
        assertEquals(List.of("web=3", "db=1"), p.replicas());
        assertEquals(4, p.assignments().size());
    }

    @Test
    void shouldPlaceWithTheReportsItHasWhenAnAgentStaysSilentInANewerEpochThanTheSilentAgentsPlacement() throws Exception {
        // the dead singleton's epoch 3 stored web=2; the silent agent got its v9, b only its v4
        store.write(new FleetProtocol.FleetState(3, List.of("web=2", "db=0")));
        final ActorRef<FleetProtocol.Message> singleton = singleton(3, 1);
        final TestProbe<FleetProtocol.Message> b = agent();
        final TestProbe<FleetProtocol.Message> silent = agent();
        awaitAgents(2);
        singleton.tell(new FleetProtocol.NodeReport(node(b), List.of(row("web-0", b, InstanceState.RUNNING)), 3, 4,
            List.of("web=2", "db=0")));
        b.expectNoMessage(Duration.ofMillis(200));
        time.timePasses(ClusterNode.SEED_WAIT);
        final FleetProtocol.Placements p = b.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(5, p.version(), "below the silent agent's v9...");
        assertEquals(4, p.epoch(), "...but in a newer epoch, so the agents take it");
        assertTrue(FleetProtocol.isNewer(p.epoch(), p.version(), 3, 9));
        assertEquals(List.of("web=2", "db=0"), p.replicas());
        assertEquals(node(b), byInstance(p).get("web-0"));
        silent.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(4, store.read().toCompletableFuture().join().orElseThrow().epoch(), "the epoch is stored before placing");

        // a report of a larger epoch: a newer singleton exists, this one stops placing
        singleton.tell(new FleetProtocol.NodeReport(node(silent), List.of(), 5, 1, List.of("web=2", "db=0")));
        final TestProbe<FleetProtocol.Message> control = kit.createTestProbe(FleetProtocol.Message.class);
        awaitEvent("placement singleton: epoch 4 superseded by epoch 5");
        singleton.tell(new FleetProtocol.Scale("web", 1, resolver.toSerializationFormat(control.ref())));
        assertEquals("a newer placement singleton took over: scale again",
            control.expectMessageClass(FleetProtocol.ControlReply.class).status());
        b.expectNoMessage(Duration.ofMillis(200));
        assertEquals(4, store.read().toCompletableFuture().join().orElseThrow().epoch(), "a superseded singleton stores nothing");
    }

    /** A store whose writes fail while {@code failing} is set, as Distributed Data does without a majority. */
    private static final class FlakyStore implements FleetStore {
        final FleetStore inner = FleetStore.inMemory();
        volatile boolean failing = true;

        @Override
        public java.util.concurrent.CompletionStage<java.util.Optional<FleetProtocol.FleetState>> read() {
            return inner.read();
        }

        @Override
        public java.util.concurrent.CompletionStage<Void> write(final FleetProtocol.FleetState state) {
            return failing ? java.util.concurrent.CompletableFuture.failedFuture(new IllegalStateException("no majority"))
                : inner.write(state);
        }
    }

    @Test
    void shouldPlaceNothingUntilItsEpochIsStoredAndAnswerAnUnstoredScaleWithAnError() throws Exception {
        final FlakyStore flaky = new FlakyStore();
        final FleetConfig fleet = FleetTesting.fleet("osvj.fleet.services = [ { name = web, app = echo, replicas = 3 }, "
            + "{ name = db, app = echo, replicas = 1 } ]");
        final ActorRef<FleetProtocol.Message> singleton = kit.spawn(ClusterNode.PlacementSingleton.create(fleet, 1, flaky,
            events::add));
        final TestProbe<FleetProtocol.Message> a = agent();
        awaitAgents(1);
        singleton.tell(new FleetProtocol.NodeReport(node(a), List.of(), 0, 0, List.of()));
        awaitEvent("placement singleton: no majority; trying again");
        a.expectNoMessage(Duration.ofMillis(200)); // the epoch is not stored: nothing is placed
        flaky.failing = false;
        time.timePasses(ClusterNode.TICK);
        final FleetProtocol.Placements p = a.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(1, p.epoch());
        flaky.failing = true;
        final TestProbe<FleetProtocol.Message> control = kit.createTestProbe(FleetProtocol.Message.class);
        singleton.tell(new FleetProtocol.Scale("web", 4, resolver.toSerializationFormat(control.ref())));
        final String status = control.expectMessageClass(FleetProtocol.ControlReply.class).status();
        assertTrue(status.startsWith("scale web to 4 not confirmed: ") && status.endsWith("(it may still take effect; scale again)"),
            status);
        a.expectNoMessage(Duration.ofMillis(200)); // not placed either
    }

    @Test
    void shouldOrderPlacementsByEpochThenVersion() {
        assertTrue(FleetProtocol.isNewer(2, 1, 1, 9));
        assertTrue(FleetProtocol.isNewer(1, 10, 1, 9));
        assertTrue(!FleetProtocol.isNewer(1, 9, 1, 9));
        assertTrue(!FleetProtocol.isNewer(1, 12, 2, 1));
        assertTrue(FleetProtocol.isNewer(1, 1, 0, 0));
    }

    private void awaitEvent(final String prefix) {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (events.stream().noneMatch(e -> e.startsWith(prefix))) {
            assertTrue(System.nanoTime() < deadline, "no event " + prefix + ": " + events);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
        }
    }
}
