package dev.osvj.fleet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.osvj.fleet.FleetTesting.await;
import static dev.osvj.fleet.FleetTesting.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three fleet nodes as separate JVMs bound to 127.0.0.1, 127.0.0.2 and 127.0.0.3 form a Pekko Cluster;
 * the placement singleton spreads three replicas one per node; killing one node's process (SIGKILL)
 * re-places its replica on the other two.
 */
class ClusterNodeTest {
    private static final Pattern RUNS = Pattern.compile("^node (\\S+) runs \\[(.*)]$");

    @TempDir
    Path dir;

    /** The latest "node X runs [...]" of each node. */
    private final Map<String, Set<String>> runs = new ConcurrentHashMap<>();

    private Process node(final String bind, final String seed, final Path fleet, final String logName) throws IOException {
        final Process p = new ProcessBuilder(ProcessInstance.osvjCommand(List.of("node", "--fleet", fleet.toString(),
            "--bind", bind, "--seed", seed, "--min-nodes", "3"))).redirectErrorStream(true).start();
        final Path log = dir.resolve(logName);
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                 PrintStream out = new PrintStream(Files.newOutputStream(log), true, StandardCharsets.UTF_8)) {
                String line;
                while ((line = in.readLine()) != null) {
                    out.println(line);
                    System.out.println(logName + ": " + line);
                    final Matcher m = RUNS.matcher(line);
                    if (m.matches()) {
                        final Set<String> names = new TreeSet<>();
                        for (final String n : m.group(2).split(",\\s*")) {
                            if (!n.isBlank()) {
                                names.add(n.trim());
                            }
                        }
                        runs.put(m.group(1), names);
                    }
                }
            } catch (final IOException e) {
                // the node died
            }
        });
        return p;
    }

    private boolean placed(final Set<String> nodes, final Set<String> all, final int maxPerNode) {
        final Set<String> union = new TreeSet<>();
        int total = 0;
        for (final String n : nodes) {
            final Set<String> r = runs.getOrDefault(n, Set.of());
            if (r.size() > maxPerNode) {
                return false;
            }
            union.addAll(r);
            total += r.size();
        }
        return union.equals(all) && total == all.size();
    }

    @Test
    void shouldSpreadReplicasOverNodesAndReplaceThoseOfAKilledNode() throws Exception {
        final Path fleet = dir.resolve("fleet-cluster.conf");
        Files.writeString(fleet, """
            osvj.fleet {
              name = cluster
              services = [ { name = cl, app = echo, cpus = 1, memory = 16M, replicas = 3 } ]
            }
            """);
        final String a = "127.0.0.1:" + freePort("127.0.0.1");
        final String b = "127.0.0.2:" + freePort("127.0.0.2");
        final String c = "127.0.0.3:" + freePort("127.0.0.3");
        final List<Process> nodes = new ArrayList<>();
        try {
            nodes.add(node(a, a, fleet, "node-a.log"));
            nodes.add(node(b, a, fleet, "node-b.log"));
            nodes.add(node(c, a, fleet, "node-c.log"));
            final Set<String> all = Set.of("cl-0", "cl-1", "cl-2");
            await("one replica on each of the three nodes", () -> placed(Set.of(a, b, c), all, 1));

            final Set<String> lost = runs.get(c);
            assertEquals(1, lost.size(), runs.toString());
            nodes.get(2).destroyForcibly();
            assertTrue(nodes.get(2).waitFor(60, TimeUnit.SECONDS));
            await("the killed node's replica re-placed on the others", () -> placed(Set.of(a, b), all, 2));
            assertTrue(runs.get(a).size() + runs.get(b).size() == 3 && (runs.get(a).containsAll(lost) || runs.get(b).containsAll(lost)),
                runs.toString());
        } finally {
            for (final Process p : nodes) {
                p.destroy();
            }
            for (final Process p : nodes) {
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
        }
    }
}
