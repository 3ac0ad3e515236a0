package dev.osvj.fleet;

import java.util.List;

/**
 * Control messages between fleet nodes (serialized by {@link FleetSerializer}: every class in
 * {@link #MESSAGES} is registered with Kryo in that order). Node addresses are strings
 * ({@code host:port}); actor references travel as their serialization format ({@code replyTo},
 * resolved with Pekko's {@code ActorRefResolver}); status rows travel in the {@link ControlServer}
 * row format; lists are immutable {@code List.of} or {@code ArrayList}.
 *
 * <pre>
 *   singleton ── Placements (epoch, version, assignments, replica counts) ──▶ every agent
 *   agent     ── NodeReport (rows, newest placement's epoch, version and counts; after a change,
 *                            on a membership change, every 2 s) ──▶ singleton
 *   agent     ── SwitchEndpoints (on membership change, every 2 s) ──▶ every other agent
 *   control   ── Scale | Status | StopFleet (replyTo) ──▶ singleton ── ControlReply ──▶ replyTo
 *   singleton ── Shutdown ───────────────────▶ every agent (after StopFleet)
 *   singleton ── FleetState (epoch, replica counts) ──▶ Distributed Data, WriteMajority
 *                (before it places as a new singleton, before it answers a scale ok)
 * </pre>
 *
 * <h2>Ordering placements: (epoch, version)</h2>
 * Each singleton incarnation has an epoch, one more than the largest it read (ReadMajority) from the
 * stored {@link FleetState} and from the nodes' reports, stored with WriteMajority before its first
 * placement: of two singletons the later one has the larger epoch (their majorities intersect), even
 * when it took over without hearing every node. Placements order by epoch, then version
 * ({@link #isNewer}); an agent applies only a placement newer than the newest it has, so a stale
 * singleton's placement never undoes a newer one.
 */
public final class FleetProtocol {
    private FleetProtocol() {
    }

    /** Marker of the messages of the fleet's actors (the serialization binding of those that cross nodes). */
    public interface Message {
    }

    /** One replica and the node it runs on. */
    public record Assignment(String instance, String service, String node) implements Message {
    }

    /**
     * The placement singleton's decision: every replica of the fleet, each with its node, and the
     * replica counts it was computed from ({@code SERVICE=N} per service, in service order: the counts
     * last set by {@code scale}, which the agents keep and report so that a successor singleton
     * continues from them).
     *
     * @param epoch   the deciding singleton's epoch (see the class comment); 0 = none yet.
     * @param version increases with every decision of a singleton (a successor continues from the
     *                newest version the nodes report, but its larger epoch orders it first in any case).
     */
    public record Placements(long epoch, long version, List<Assignment> assignments, List<String> replicas)
        implements Message {
    }

    /**
     * Whether a placement {@code (epoch, version)} is newer than {@code (newestEpoch, newestVersion)}:
     * a larger epoch, or the same epoch and a larger version.
     */
    static boolean isNewer(final long epoch, final long version, final long newestEpoch, final long newestVersion) {
        return epoch != newestEpoch ? epoch > newestEpoch : version > newestVersion;
    }

    /**
     * The fleet's desired state, kept in Pekko Distributed Data (an {@code LWWRegister}, written with
     * WriteMajority by the singleton, read with ReadMajority by its successor): the newest singleton
     * epoch and the replica counts ({@code SERVICE=N} in service order) that {@code scale} set. A
     * {@code scale} is answered ok only once its counts are stored on a majority of the nodes, so a
     * successor reads them even when no node received the placement.
     */
    public record FleetState(long epoch, List<String> replicas) implements Message {
    }

    /**
     * A node's report to the singleton: a status row per instance it has ({@link ControlServer} format),
     * and the newest placement it received: its epoch and version (0 = none yet) and replica counts
     * ({@code SERVICE=N}, as in {@link Placements}). A new singleton seeds itself from these.
     */
    public record NodeReport(String node, List<String> rows, long epoch, long version, List<String> replicas)
        implements Message {
    }

    /** Ask the singleton to set a service's replica count; answered with a {@link ControlReply}. */
    public record Scale(String service, int replicas, String replyTo) implements Message {
    }

    /** Ask the singleton for the fleet's rows (the nodes' latest reports); answered with a {@link ControlReply}. */
    public record Status(String replyTo) implements Message {
    }

    /** Ask the singleton to stop the fleet: every node stops its instances and leaves. */
    public record StopFleet(String replyTo) implements Message {
    }

    /** The singleton's answer: a {@link ControlServer} status line and data lines. */
    public record ControlReply(String status, List<String> rows) implements Message {
    }

    /** The singleton to every agent: stop the instances and leave the cluster. */
    public record Shutdown(long version) implements Message {
    }

    /**
     * A node's switches, to the other agents: {@code NETWORK=HOST:PORT} per vswitch network. The node
     * whose address sorts first of a pair joins the other's switch as a trunk.
     */
    public record SwitchEndpoints(String node, List<String> endpoints) implements Message {
    }

    /** Registered with Kryo in this order (append only: both ends must agree). */
    static final List<Class<?>> MESSAGES = List.of(Assignment.class, Placements.class, NodeReport.class, Scale.class,
        Status.class, StopFleet.class, ControlReply.class, Shutdown.class, SwitchEndpoints.class, FleetState.class);
}
