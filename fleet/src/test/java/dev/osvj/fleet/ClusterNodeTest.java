package dev.osvj.fleet;

import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.wire.Addresses;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
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
 * the placement singleton spreads three echo replicas one per node, on one virtual network whose
 * switches (one per node, all on the network's fixed {@code udp-port}) are joined by UDP trunks. A
 * client kernel in this JVM, on the switch of a node X that does not host the singleton, is served by
 * the replicas on the other two nodes through the trunks. {@code scale web 5} through the third node Y
 * places two more replicas. Then the node hosting the singleton is killed (SIGKILL): the singleton's
 * successor takes over the scaled count (5, not the file's 3) and what runs where from the nodes'
 * reports, so only the dead node's replicas boot again (on X and Y, same addresses: the client is
 * served again) and no replica of X or Y is stopped or rebooted. {@code osvj fleet status|stop}
 * through the survivors reach the whole cluster. The scale is answered only once stored on a majority
 * (Distributed Data), and the successor reads it back. A {@code mode = process} replica, {@code solo-0},
 * a child JVM of its node on that node's switch (aeron:ipc), serves the client through the trunks; it
 * runs exactly once throughout (a child whose node was killed powers off, see
 * {@link ProcessInstanceMain}), and none is left after {@code fleet stop}.
 */
class ClusterNodeTest {
    private static final Pattern RUNS = Pattern.compile("^node (\\S+) runs \\[(.*)]$");
    private static final Pattern SWITCH = Pattern.compile("^node (\\S+): switch cl\\.back on udp (\\S+)$");
    private static final Pattern CONTROL = Pattern.compile("^node (\\S+): control on (\\S+):(\\d+) .*$");
    private static final Pattern PLACEMENT = Pattern.compile("^placement v(\\d+) on .*$");
    private static final Pattern TOOK_OVER = Pattern.compile("^placement singleton: took over placement v(\\d+) .*$");
    private static final Pattern BOOTED = Pattern.compile("^(\\S+)\\s+booted in .*$");

    @TempDir
    Path dir;

    /** The latest "node X runs [...]" of each node. */
    private final Map<String, Set<String>> runs = new ConcurrentHashMap<>();
    /** Every "node X runs [...]" of each node, in order. */
    private final Map<String, List<Set<String>>> runsHistory = new ConcurrentHashMap<>();
    /** Each node's switch endpoint and control port. */
    private final Map<String, String> switches = new ConcurrentHashMap<>();
    private final Map<String, Integer> controls = new ConcurrentHashMap<>();
    /** The node whose log shows the singleton's placements (the newest one to print one). */
    private volatile String singletonNode;
    /** Per node: the placement version a successor singleton there took over (see {@link #TOOK_OVER}). */
    private final Map<String, Long> tookOver = new ConcurrentHashMap<>();
    /** Per node: the instances it booted once {@link #counting} was set. */
    private final Map<String, List<String>> bootedSince = new ConcurrentHashMap<>();
    private volatile boolean counting;

    private Process node(final String bind, final String seed, final Path fleet, final String logName) throws IOException {
        final Process p = new ProcessBuilder(ProcessInstance.osvjCommand(List.of("node", "--fleet", fleet.toString(),
            "--bind", bind, "--seed", seed, "--min-nodes", "3", "--control-port", "0"))).redirectErrorStream(true).start();
        final Path log = dir.resolve(logName);
        Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                 PrintStream out = new PrintStream(Files.newOutputStream(log), true, StandardCharsets.UTF_8)) {
                String line;
                while ((line = in.readLine()) != null) {
                    out.println(line);
                    System.out.println(logName + ": " + line);
                    final Matcher sw = SWITCH.matcher(line);
                    if (sw.matches()) {
                        switches.put(sw.group(1), sw.group(2));
                    }
                    final Matcher ctl = CONTROL.matcher(line);
                    if (ctl.matches()) {
                        controls.put(ctl.group(1), Integer.parseInt(ctl.group(3)));
                    }
                    if (PLACEMENT.matcher(line).matches()) {
                        singletonNode = bind;
                    }
                    final Matcher took = TOOK_OVER.matcher(line);
                    if (took.matches()) {
                        tookOver.put(bind, Long.parseLong(took.group(1)));
                    }
                    final Matcher booted = BOOTED.matcher(line);
                    if (booted.matches() && counting) {
                        bootedSince.computeIfAbsent(bind, k -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(booted.group(1));
                    }
                    final Matcher m = RUNS.matcher(line);
                    if (m.matches()) {
                        final Set<String> names = new TreeSet<>();
                        for (final String n : m.group(2).split(",\\s*")) {
                            if (!n.isBlank()) {
                                names.add(n.trim());
                            }
                        }
                        runs.put(m.group(1), names);
                        runsHistory.computeIfAbsent(m.group(1), k -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(names);
                    }
                }
            } catch (final IOException e) {
                // the node died
            }
        });
        return p;
    }

    /** Whether the web replicas {@code all} run on {@code nodes}, each once, at most {@code maxPerNode} per node. */
    private boolean placed(final Set<String> nodes, final Set<String> all, final int maxPerNode) {
        final Set<String> union = new TreeSet<>();
        int total = 0;
        for (final String n : nodes) {
            final Set<String> r = new TreeSet<>(runs.getOrDefault(n, Set.of()));
            r.removeIf(name -> !name.startsWith("web-"));
            if (r.size() > maxPerNode) {
                return false;
            }
            union.addAll(r);
            total += r.size();
        }
        return union.equals(all) && total == all.size();
    }

    /** A kernel in this JVM on the switch at {@code endpoint} (over aeron:udp), with {@code address} on eth0. */
    private static Kernel client(final String endpoint, final String address) throws Exception {
        final com.typesafe.config.Config config = ConfigFactory.parseString("""
            osvj {
              name = cl-client
              cpus = 1
              memory = 16M
              app { name = echo, args = ["7"] }
              console.enabled = false
              devices = [ { type = net, backend = vswitch, switch = "cl.back", channel = "aeron:udp?endpoint=%s" } ]
              net.interfaces = [
                { name = lo, backend = loopback, address = "127.0.0.1", netmask = "255.0.0.0", mtu = 65536 }
                { name = eth0, backend = virtio, device = eth0, dhcp = false, address = "%s", netmask = "255.255.255.0" }
              ]
            }
            """.formatted(endpoint, address)).withFallback(ConfigFactory.defaultReferenceUnresolved()).resolve();
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        return Kernel.boot(config, subsystems, tracepoints, new PrintStream(java.io.OutputStream.nullOutputStream()), KernelClock.SYSTEM);
    }

    /** One echo exchange with {@code ip}:7 (5 s per step); false on any failure (the caller retries). */
    private static boolean echoes(final Sockets s, final String ip, final String text) {
        final int fd = s.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        try {
            s.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_SNDTIMEO, 5_000);
            s.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 5_000);
            if (s.connect(fd, Addresses.parseIpv4(ip), 7) != 0) {
                return false;
            }
            final byte[] msg = text.getBytes(StandardCharsets.US_ASCII);
            if (s.send(fd, msg, 0, msg.length, 0) != msg.length) {
                return false;
            }
            final byte[] got = new byte[msg.length];
            int at = 0;
            while (at < got.length) {
                final int n = s.recv(fd, got, at, got.length - at, 0);
                if (n <= 0) {
                    return false;
                }
                at += n;
            }
            return java.util.Arrays.equals(msg, got);
        } finally {
            s.close(fd);
        }
    }

    private List<InstanceStatus> status(final String node) throws IOException {
        final ControlClient.Reply r = ControlClient.send(node.substring(0, node.indexOf(':')), controls.get(node), "status", 60_000);
        assertTrue(r.ok(), r.status());
        return r.rows();
    }

    /** Whether status through {@code node} shows {@code n} web replicas and solo-0, all running on {@code on}. */
    private boolean running(final String node, final int n, final Set<String> on) throws IOException {
        final List<InstanceStatus> rows = status(node);
        return rows.size() == n + 1 && rows.stream().filter(r -> r.service().equals("web")).count() == n
            && rows.stream().anyMatch(r -> r.name().equals("solo-0"))
            && rows.stream().allMatch(r -> r.state() == InstanceState.RUNNING && on.contains(r.node()));
    }

    /** The live processes of the process-mode replica solo-0 (child kernels of any node). */
    private long soloProcesses() {
        final String conf = dir.resolve("work").resolve("solo-0.conf").toString();
        return ProcessHandle.allProcesses().filter(ProcessHandle::isAlive).filter(h -> {
            try { // /proc/PID/cmdline: NUL-separated arguments (ProcessHandle.Info truncates long command lines)
                return java.util.Arrays.asList(new String(Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "cmdline")),
                    StandardCharsets.UTF_8).split("\0")).contains(conf);
            } catch (final IOException | RuntimeException e) {
                return false; // gone meanwhile
            }
        }).count();
    }

    private String addressIn(final String via, final String instance) throws IOException {
        return status(via).stream().filter(r -> r.name().equals(instance)).findFirst().orElseThrow().address();
    }

    /** A UDP port free on 127.0.0.1, .2 and .3 a moment ago: every node's switch listens on it. */
    private static int udpPortFreeOnEveryNode() throws IOException {
        for (int attempt = 0; ; attempt++) {
            final int port = FleetTesting.freeUdpPort("127.0.0.1");
            try (java.net.DatagramSocket b = new java.net.DatagramSocket(new java.net.InetSocketAddress("127.0.0.2", port));
                 java.net.DatagramSocket c = new java.net.DatagramSocket(new java.net.InetSocketAddress("127.0.0.3", port))) {
                return port;
            } catch (final java.net.BindException e) {
                if (attempt == 20) {
                    throw e;
                }
            }
        }
    }

    private boolean runningEverywhere(final String via, final int n, final Set<String> on) {
        try {
            return running(via, n, on);
        } catch (final IOException e) {
            return false;
        }
    }

    private static String addressOf(final String instance) {
        return "10.77.0." + (10 + Integer.parseInt(instance.substring(instance.indexOf('-') + 1)));
    }

    @Test
    void shouldKeepScaledCountsAndLiveReplicasWhenTheSingletonsNodeDiesAndServeClientsThroughTheSwitches() throws Exception {
        final int udpPort = udpPortFreeOnEveryNode();
        final Path fleet = dir.resolve("fleet-cluster.conf");
        Files.writeString(fleet, """
            osvj.fleet {
              name = cl
              networks = [ { name = back, subnet = "10.77.0.0/24", backend = vswitch, udp-port = %d } ]
              work-dir = "%s"
              services = [
                { name = web, app = echo, args = ["7"], cpus = 1, memory = 16M, replicas = 3, network = back }
                { name = solo, app = echo, args = ["7"], cpus = 1, memory = 16M, replicas = 1, network = back, mode = process }
              ]
            }
            """.formatted(udpPort, dir.resolve("work")));
        final String a = "127.0.0.1:" + freePort("127.0.0.1");
        final String b = "127.0.0.2:" + freePort("127.0.0.2");
        final String c = "127.0.0.3:" + freePort("127.0.0.3");
        final Map<String, Process> nodes = new java.util.LinkedHashMap<>();
        Kernel client = null;
        try {
            nodes.put(a, node(a, a, fleet, "node-a.log"));
            nodes.put(b, node(b, a, fleet, "node-b.log"));
            nodes.put(c, node(c, a, fleet, "node-c.log"));
            final Set<String> three = Set.of("web-0", "web-1", "web-2");
            await("one replica on each of the three nodes", () -> placed(Set.of(a, b, c), three, 1));
            await("switch endpoints and control ports", () -> switches.size() == 3 && controls.size() == 3);
            for (final String n : List.of(a, b, c)) {
                assertEquals(n.substring(0, n.indexOf(':')) + ":" + udpPort, switches.get(n), "the network's fixed udp-port on " + n);
            }
            final String s = singletonNode;
            final List<String> others = new ArrayList<>(List.of(a, b, c));
            others.remove(s);
            final String x = others.get(0);
            final String y = others.get(1);
            await("status through " + x + ": three replicas running on three nodes", () -> runningEverywhere(x, 3, Set.of(a, b, c)));

            // a client on x's switch reaches the replicas on y and on the singleton's node through the trunks
            client = client(switches.get(x), "10.77.0.250");
            final Sockets sockets = client.services().require(Sockets.class);
            final String onY = runs.get(y).stream().filter(n -> n.startsWith("web-")).findFirst().orElseThrow();
            await("echo from " + onY + " on " + y, () -> echoes(sockets, addressOf(onY), "y"));
            final String onS = runs.get(s).stream().filter(n -> n.startsWith("web-")).findFirst().orElseThrow();
            await("echo from " + onS + " on " + s, () -> echoes(sockets, addressOf(onS), "s"));

            // the process-mode replica (a child JVM of its node, on the node's switch over aeron:ipc) through the trunks
            final String soloAddress = addressIn(x, "solo-0");
            await("echo from the process-mode replica solo-0 at " + soloAddress, () -> echoes(sockets, soloAddress, "solo"));
            assertEquals(1, soloProcesses());

            // control through y: a usage error, then a scale placed across the three nodes
            final ControlClient.Reply bad = ControlClient.send(host(y), controls.get(y), "scale nope 1", 60_000);
            assertTrue(bad.usageError(), bad.status());
            final ControlClient.Reply scaled = ControlClient.send(host(y), controls.get(y), "scale web 5", 60_000);
            assertTrue(scaled.ok() && scaled.status().startsWith("ok scaled web to 5"), scaled.status());
            final Set<String> five = Set.of("web-0", "web-1", "web-2", "web-3", "web-4");
            await("five replicas, at most two per node", () -> placed(Set.of(a, b, c), five, 2));
            await("status through x: five replicas running", () -> runningEverywhere(x, 5, Set.of(a, b, c)));
            await("echo from the new replica web-4", () -> echoes(sockets, addressOf("web-4"), "new"));

            // the singleton's node dies: its successor keeps the count of 5 and moves nothing that runs on x or y
            final Set<String> keptX = Set.copyOf(runs.get(x));
            final Set<String> keptY = Set.copyOf(runs.get(y));
            final Set<String> lost = Set.copyOf(runs.get(s));
            final int historyX = runsHistory.get(x).size();
            final int historyY = runsHistory.get(y).size();
            counting = true;
            nodes.get(s).destroyForcibly();
            assertTrue(nodes.get(s).waitFor(60, TimeUnit.SECONDS));
            await("the dead node's replicas " + lost + " re-placed on " + x + " and " + y, () -> placed(Set.of(x, y), five, 3));
            await("a successor singleton took over a placement", () -> tookOver.getOrDefault(x, 0L) > 0 || tookOver.getOrDefault(y, 0L) > 0);
            await("status through x: five replicas running on x and y", () -> runningEverywhere(x, 5, Set.of(x, y)));
            final List<String> rebooted = new ArrayList<>();
            rebooted.addAll(bootedSince.getOrDefault(x, List.of()));
            rebooted.addAll(bootedSince.getOrDefault(y, List.of()));
            assertEquals(new TreeSet<>(lost), new TreeSet<>(rebooted), "only the dead node's replicas booted again: " + bootedSince);
            assertEquals(lost.size(), rebooted.size(), "each once: " + bootedSince);
            for (final Set<String> later : runsHistory.get(x).subList(historyX, runsHistory.get(x).size())) {
                assertTrue(later.containsAll(keptX), x + " kept running " + keptX + ", then ran " + later);
            }
            for (final Set<String> later : runsHistory.get(y).subList(historyY, runsHistory.get(y).size())) {
                assertTrue(later.containsAll(keptY), y + " kept running " + keptY + ", then ran " + later);
            }
            final String moved = lost.stream().filter(n -> n.startsWith("web-")).findFirst().orElseThrow();
            await("echo from " + moved + " again at " + addressOf(moved) + " on its new node",
                () -> echoes(sockets, addressOf(moved), "after"));

            // solo-0 runs once: if it was on the dead node, that child powered off (its node is gone) and it booted again
            await("one solo-0 process", () -> soloProcesses() == 1);
            await("echo from solo-0 after the node died" + (lost.contains("solo-0") ? " (re-placed)" : ""),
                () -> echoes(sockets, soloAddress, "solo-after"));

            assertEquals(0, new picocli.CommandLine(new FleetCommand()).execute("status", "--host", host(y),
                "--port", Integer.toString(controls.get(y))), "bin/osvj fleet status --host " + host(y));
            final ControlClient.Reply stop = ControlClient.send(host(x), controls.get(x), "stop", 60_000);
            assertEquals("ok stopping", stop.status());
            assertTrue(nodes.get(x).waitFor(90, TimeUnit.SECONDS), "x left after fleet stop");
            assertTrue(nodes.get(y).waitFor(90, TimeUnit.SECONDS), "y left after fleet stop");
            assertEquals(0, nodes.get(x).exitValue());
            assertEquals(0, nodes.get(y).exitValue());
            await("no solo-0 process after fleet stop", () -> soloProcesses() == 0);
        } finally {
            if (client != null) {
                client.powerOff(0);
                client.awaitPoweredOff(java.time.Duration.ofSeconds(30));
            }
            for (final Process p : nodes.values()) {
                p.destroy();
            }
            for (final Process p : nodes.values()) {
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
        }
    }

    private static String host(final String node) {
        return node.substring(0, node.indexOf(':'));
    }
}
