package dev.osvj.fleet;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each replica of a fleet runs across cluster nodes: the decision of the placement singleton,
 * as a pure function (no I/O, no clock) so that it is tested on its own.
 *
 * <h2>Rule</h2>
 * With {@code T} replicas in all and {@code N} nodes, no node gets more than {@code ceil(T/N)} (spread
 * evenly). Replicas keep their node when it is still a member and under that bound (a node leaving
 * moves only its own replicas); the others go, in service then replica order, to the node with the
 * fewest replicas in all, ties broken by the fewest replicas of the same service (a service spreads
 * across nodes), then by the node order given.
 */
public final class Placement {
    private Placement() {
    }

    /**
     * @param replicas service name to replica count, in service order.
     * @param nodes    the current members, in a stable order (e.g. sorted addresses); not empty.
     * @param current  the previous placement, instance name to node (nodes that left are ignored).
     * @return instance name ({@code service-i}) to node, in service then replica order.
     */
    public static Map<String, String> place(final Map<String, Integer> replicas, final List<String> nodes,
        final Map<String, String> current) {
        if (nodes.isEmpty()) {
            throw new IllegalArgumentException("no nodes to place on");
        }
        final int total = replicas.values().stream().mapToInt(Integer::intValue).sum();
        final int cap = (total + nodes.size() - 1) / nodes.size();
        final Map<String, Integer> load = new HashMap<>();
        final Map<String, Integer> serviceLoad = new HashMap<>();
        nodes.forEach(n -> load.put(n, 0));
        final Map<String, String> placed = new LinkedHashMap<>();
        final List<String[]> unplaced = new ArrayList<>();
        for (final Map.Entry<String, Integer> s : replicas.entrySet()) {
            for (int i = 0; i < s.getValue(); i++) {
                final String instance = s.getKey() + "-" + i;
                placed.put(instance, null);
                final String was = current.get(instance);
                if (was != null && load.containsKey(was) && load.get(was) < cap) {
                    placed.put(instance, was);
                    load.merge(was, 1, Integer::sum);
                    serviceLoad.merge(s.getKey() + "@" + was, 1, Integer::sum);
                } else {
                    unplaced.add(new String[] {instance, s.getKey()});
                }
            }
        }
        for (final String[] u : unplaced) {
            String best = null;
            for (final String n : nodes) {
                if (best == null || load.get(n) < load.get(best)
                    || load.get(n).equals(load.get(best))
                    && serviceLoad.getOrDefault(u[1] + "@" + n, 0) < serviceLoad.getOrDefault(u[1] + "@" + best, 0)) {
                    best = n;
                }
            }
            placed.put(u[0], best);
            load.merge(best, 1, Integer::sum);
            serviceLoad.merge(u[1] + "@" + best, 1, Integer::sum);
        }
        return placed;
    }
}
