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
 * The placement singleton on its own (one local ActorSystem, probes as the node agents, manual time):
 * a new singleton places nothing until it has heard every agent, then continues from what they report
 * (the newest placement's replica counts and version, what runs where), so that a singleton that moved
 * keeps scaled counts and moves no replica of a live node; a new cluster starts from the fleet file.
 */
class PlacementSingletonTest {
    private final ActorTestKit kit = ActorTestKit.create(ManualTime.config());
    private final ManualTime time = ManualTime.get(kit.system());
    private final ActorRefResolver resolver = ActorRefResolver.get(kit.system());
    private final List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();

    @AfterEach
    void shutdown() {
        kit.shutdownTestKit();
    }

    private ActorRef<FleetProtocol.Message> singleton(final int replicas, final int minNodes) throws Exception {
        final FleetConfig fleet = FleetTesting.fleet("osvj.fleet.services = [ { name = web, app = echo, replicas = "
            + replicas + " }, { name = db, app = echo, replicas = 1 } ]");
        return kit.spawn(ClusterNode.PlacementSingleton.create(fleet, minNodes, events::add));
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
        final ActorRef<FleetProtocol.Message> singleton = singleton(3, 3);
        final TestProbe<FleetProtocol.Message> b = agent();
        final TestProbe<FleetProtocol.Message> c = agent();
        awaitAgents(2);
        // b and c survived a node that ran web-2 and web-3; the dead singleton had scaled web to 5 (v7)
        singleton.tell(new FleetProtocol.NodeReport(node(b), List.of(row("web-0", b, InstanceState.RUNNING),
            row("web-4", b, InstanceState.RUNNING), row("db-0", b, InstanceState.RUNNING)), 7, List.of("web=5", "db=1")));
        b.expectNoMessage(Duration.ofMillis(200)); // c has not reported yet: nothing is placed
        // a scale that reaches the successor before it took over is applied over the counts it takes over
        final TestProbe<FleetProtocol.Message> control = kit.createTestProbe(FleetProtocol.Message.class);
        singleton.tell(new FleetProtocol.Scale("db", 2, resolver.toSerializationFormat(control.ref())));
        final FleetProtocol.ControlReply early = control.expectMessageClass(FleetProtocol.ControlReply.class);
        assertTrue(early.status().startsWith("ok scaled db to 2"), early.status());
        singleton.tell(new FleetProtocol.NodeReport(node(c), List.of(row("web-1", c, InstanceState.RUNNING),
            row("web-3", c, InstanceState.FAILED)), 7, List.of("web=5", "db=1")));

        final FleetProtocol.Placements p = b.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(p, c.expectMessageClass(FleetProtocol.Placements.class));
        assertEquals(8, p.version(), "the successor continues the version numbers");
        assertEquals(List.of("web=5", "db=2"), p.replicas(), "the scaled counts, not the file's 3 and 1");
        final Map<String, String> placed = byInstance(p);
        assertEquals(List.of("db-0", "db-1", "web-0", "web-1", "web-2", "web-3", "web-4"), new ArrayList<>(placed.keySet()));
        assertEquals(node(b), placed.get("web-0"));
        assertEquals(node(b), placed.get("web-4"));
        assertEquals(node(b), placed.get("db-0"));
        assertEquals(node(c), placed.get("web-1"));
        assertEquals(node(c), placed.get("web-3"), "a replica down on a live node stays there (its restart policy's business)");
        assertTrue(events.stream().anyMatch(e -> e.startsWith("placement singleton: took over placement v7 (2 of 2 nodes reported)")),
            events.toString());

        // status answers from the reports; a later scale is placed at once, from the taken-over state
        singleton.tell(new FleetProtocol.Status(resolver.toSerializationFormat(control.ref())));
        assertEquals(5, control.expectMessageClass(FleetProtocol.ControlReply.class).rows().size());
        singleton.tell(new FleetProtocol.Scale("web", 6, resolver.toSerializationFormat(control.ref())));
        assertTrue(control.expectMessageClass(FleetProtocol.ControlReply.class).status().startsWith("ok scaled web to 6 (placement v9)"));
        final FleetProtocol.Placements next = b.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(List.of("web=6", "db=2"), next.replicas());
        final Map<String, String> after = byInstance(next);
        placed.forEach((instance, node) -> assertEquals(node, after.get(instance), instance + " stays"));
        assertEquals(8, after.size());
    }

    @Test
    void shouldStartANewClusterFromTheFleetFileOnceMinNodesReported() throws Exception {
        final ActorRef<FleetProtocol.Message> singleton = singleton(3, 2);
        final TestProbe<FleetProtocol.Message> a = agent();
        awaitAgents(1);
        singleton.tell(new FleetProtocol.NodeReport(node(a), List.of(), 0, List.of()));
        a.expectNoMessage(Duration.ofMillis(200)); // one node of the two the cluster waits for
        final TestProbe<FleetProtocol.Message> b = agent();
        awaitAgents(2);
        singleton.tell(new FleetProtocol.NodeReport(node(b), List.of(), 0, List.of()));
        final FleetProtocol.Placements p = a.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(1, p.version());
        assertEquals(List.of("web=3", "db=1"), p.replicas());
        assertEquals(4, p.assignments().size());
    }

    @Test
    void shouldPlaceWithTheReportsItHasWhenAnAgentStaysSilent() throws Exception {
        final ActorRef<FleetProtocol.Message> singleton = singleton(3, 1);
        final TestProbe<FleetProtocol.Message> b = agent();
        final TestProbe<FleetProtocol.Message> silent = agent();
        awaitAgents(2);
        singleton.tell(new FleetProtocol.NodeReport(node(b), List.of(row("web-0", b, InstanceState.RUNNING)), 4,
            List.of("web=2", "db=0")));
        b.expectNoMessage(Duration.ofMillis(200));
        time.timePasses(ClusterNode.SEED_WAIT);
        final FleetProtocol.Placements p = b.expectMessageClass(FleetProtocol.Placements.class);
        assertEquals(5, p.version());
        assertEquals(List.of("web=2", "db=0"), p.replicas());
        assertEquals(node(b), byInstance(p).get("web-0"));
        silent.expectMessageClass(FleetProtocol.Placements.class);
    }
}
