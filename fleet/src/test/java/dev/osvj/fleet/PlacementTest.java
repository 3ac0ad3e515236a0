package dev.osvj.fleet;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The placement rule: even spread, services spread across nodes, only a leaving node's replicas move. */
class PlacementTest {
    private static Map<String, Integer> replicas(final Object... pairs) {
        final Map<String, Integer> m = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put((String)pairs[i], (Integer)pairs[i + 1]);
        }
        return m;
    }

    private static Map<String, Long> load(final Map<String, String> placed) {
        final Map<String, Long> l = new LinkedHashMap<>();
        placed.values().forEach(n -> l.merge(n, 1L, Long::sum));
        return l;
    }

    @Test
    void shouldSpreadEvenlyAndSpreadEachServiceAcrossNodes() {
        final Map<String, String> p = Placement.place(replicas("cache", 3, "web", 3), List.of("a", "b", "c"), Map.of());
        assertEquals(Map.of("a", 2L, "b", 2L, "c", 2L), load(p));
        assertEquals(List.of("a", "b", "c"), List.of(p.get("cache-0"), p.get("cache-1"), p.get("cache-2")));
        assertEquals(3, p.entrySet().stream().filter(e -> e.getKey().startsWith("web")).map(Map.Entry::getValue).distinct().count());
    }

    @Test
    void shouldMoveOnlyTheReplicasOfANodeThatLeft() {
        final Map<String, String> before = Placement.place(replicas("svc", 6), List.of("a", "b", "c"), Map.of());
        final Map<String, String> after = Placement.place(replicas("svc", 6), List.of("a", "c"), before);
        assertEquals(Map.of("a", 3L, "c", 3L), load(after));
        for (final Map.Entry<String, String> e : before.entrySet()) {
            if (!e.getValue().equals("b")) {
                assertEquals(e.getValue(), after.get(e.getKey()), e.getKey() + " moved although its node stayed");
            }
        }
        assertTrue(after.values().stream().noneMatch("b"::equals));
    }

    @Test
    void shouldRebalanceWhenANodeJoinsAndRefuseNoNodes() {
        final Map<String, String> one = Placement.place(replicas("svc", 4), List.of("a"), Map.of());
        final Map<String, String> two = Placement.place(replicas("svc", 4), List.of("a", "b"), one);
        assertEquals(Map.of("a", 2L, "b", 2L), load(two));
        assertThrows(IllegalArgumentException.class, () -> Placement.place(replicas("svc", 1), List.of(), Map.of()));
    }
}
