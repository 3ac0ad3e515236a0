package dev.osvj.fleet;

import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static dev.osvj.fleet.FleetTesting.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A node agent (manual time, a probe as the singleton, a fleet manager with no services): it applies a
 * placement only when it is newer by (epoch, version) than the newest it has, so a placement from a
 * singleton that a newer one replaced (a larger version in an older epoch) never undoes a newer one,
 * and it reports the newest one's epoch, version and counts.
 */
class NodeAgentTest {
    private final ActorTestKit kit = ActorTestKit.create(ManualTime.config());
    private final ManualTime time = ManualTime.get(kit.system());
    private final List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final ExecutorService applier = Executors.newSingleThreadExecutor();
    private final ExecutorService trunker = Executors.newSingleThreadExecutor();

    @AfterEach
    void shutdown() {
        kit.shutdownTestKit();
        applier.shutdownNow();
        trunker.shutdownNow();
    }

    @Test
    void shouldIgnoreAPlacementOfAnOlderEpochEvenWithALargerVersion() throws Exception {
        final FleetManager manager = new FleetManager(FleetTesting.fleet("osvj.fleet.services = []"), "local", r -> { });
        final TestProbe<FleetProtocol.Message> singleton = kit.createTestProbe(FleetProtocol.Message.class);
        final var agent = kit.spawn(ClusterNode.NodeAgent.create(manager, applier, trunker, Map.of(), singleton.ref(), events::add));
        agent.tell(new FleetProtocol.Placements(2, 1, List.of(), List.of("web=0")));
        agent.tell(new FleetProtocol.Placements(1, 9, List.of(), List.of("web=7")));
        await("the stale placement ignored", () -> events.stream().anyMatch(e -> e.contains("ignored stale placement v9 of epoch 1 (has v1 of epoch 2)")));
        agent.tell(new FleetProtocol.Placements(2, 1, List.of(), List.of("web=5")));
        await("the repeated placement ignored", () -> events.stream().anyMatch(e -> e.contains("ignored stale placement v1 of epoch 2")));
        time.timePasses(ClusterNode.TICK);
        final List<FleetProtocol.Message> reports = singleton.fishForMessage(java.time.Duration.ofSeconds(20), m ->
            m instanceof FleetProtocol.NodeReport r && r.epoch() == 2
                ? org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.complete()
                : org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore());
        final FleetProtocol.NodeReport r = (FleetProtocol.NodeReport)reports.get(reports.size() - 1);
        assertEquals(1, r.version());
        assertEquals(List.of("web=0"), r.replicas(), "the newest placement's counts, not the stale or repeated ones'");
    }
}
