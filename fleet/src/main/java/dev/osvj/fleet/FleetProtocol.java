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
 *   singleton ── Placements (assignments, replica counts) ──▶ every agent
 *   agent     ── NodeReport (rows, newest placement's version and counts; after a change,
 *                            on a membership change, every 2 s) ──▶ singleton
 *   agent     ── SwitchEndpoints (on membership change, every 2 s) ──▶ every other agent
 *   control   ── Scale | Status | StopFleet (replyTo) ──▶ singleton ── ControlReply ──▶ replyTo
 *   singleton ── Shutdown ───────────────────▶ every agent (after StopFleet)
 * </pre>
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
     * @param version increases with every decision, across singletons (a successor continues from the
     *                newest version the nodes report).
     */
    public record Placements(long version, List<Assignment> assignments, List<String> replicas) implements Message {
    }

    /**
     * A node's report to the singleton: a status row per instance it has ({@link ControlServer} format),
     * and the newest placement it received: its version (0 = none yet) and replica counts
     * ({@code SERVICE=N}, as in {@link Placements}). A new singleton seeds itself from these.
     */
    public record NodeReport(String node, List<String> rows, long version, List<String> replicas) implements Message {
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
        Status.class, StopFleet.class, ControlReply.class, Shutdown.class, SwitchEndpoints.class);
}
