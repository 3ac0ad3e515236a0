package dev.osvj.fleet;

import java.util.List;

/**
 * Control messages between fleet nodes (serialized by {@link FleetSerializer}). Node addresses are
 * strings ({@code host:port}); lists are immutable {@code List.of} or {@code ArrayList}.
 */
public final class FleetProtocol {
    private FleetProtocol() {
    }

    /** Marker of every message that crosses nodes (the serialization binding). */
    public sealed interface Message {
    }

    /** One replica and the node it runs on. */
    public record Assignment(String instance, String service, String node) implements Message {
    }

    /** The placement singleton's decision: every replica of the fleet, each with its node. */
    public record Placements(long version, List<Assignment> assignments) implements Message {
    }

    /** A node's report to the singleton: which instances it runs, and in what state. */
    public record NodeReport(String node, List<String> running, List<String> failed) implements Message {
    }

    /** Ask the singleton to set a service's replica count. */
    public record Scale(String service, int replicas) implements Message {
    }

    /** Registered with Kryo in this order. */
    static final List<Class<?>> MESSAGES = List.of(Assignment.class, Placements.class, NodeReport.class, Scale.class);
}
