package dev.osvj.fleet;

import dev.osvj.system.cli.ContributedCommand;
import dev.osvj.system.cli.Signals;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * {@code osvj node --fleet FLEET_CONF --seed HOST:PORT... [--bind HOST:PORT] [--min-nodes N] [--failure-timeout MS]
 * [--control-port P]}: join (or, as the first seed, form) a Pekko Cluster of fleet nodes and run the
 * replicas the placement singleton puts here, until SIGTERM/SIGINT or {@code osvj fleet stop}. Every
 * node is given the same fleet file. The node serves {@code osvj fleet --host BIND_HOST --port P} for the
 * whole cluster. Exit 2 for a bad fleet or address, 1 when the control port or a switch's
 * {@code udp-port} is taken.
 */
@Command(name = "node", mixinStandardHelpOptions = true,
    description = "Run a fleet node: join the cluster through a seed and run the replicas placed here.")
public final class NodeCommand implements ContributedCommand {
    @Option(names = "--fleet", required = true, paramLabel = "FLEET_CONF", description = "Fleet configuration (the same on every node).")
    Path fleetConf;

    @Option(names = "--seed", required = true, paramLabel = "HOST:PORT", description = "A seed node (repeatable); the first seed forms the cluster.")
    List<String> seeds = new ArrayList<>();

    @Option(names = "--bind", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:25520",
        description = "Where this node's Artery TCP listens (default 127.0.0.1:25520).")
    String bind;

    @Option(names = "--min-nodes", paramLabel = "N", defaultValue = "1",
        description = "Members to wait for before the first placement (default 1).")
    int minNodes;

    @Option(names = "--failure-timeout", paramLabel = "MS", defaultValue = "10000",
        description = "Heartbeat silence in ms before a node counts as unreachable (default 10000).")
    long failureTimeoutMs;

    @Option(names = "--control-port", paramLabel = "P", defaultValue = "-1",
        description = "Control endpoint port on the bind host for 'osvj fleet --host HOST' (default: osvj.fleet.control.port; 0 = any free port).")
    int controlPort;

    @Override
    public Integer call() throws Exception {
        final FleetConfig fleet = DeployCommand.loadOrReport(fleetConf);
        if (fleet == null) {
            return 2;
        }
        for (final String a : concat(bind, seeds)) {
            if (!a.matches("[A-Za-z0-9.-]+:\\d{1,5}")) {
                System.err.println("osvj node: expected HOST:PORT, got \"" + a + "\"");
                return 2;
            }
        }
        final int colon = bind.lastIndexOf(':');
        final CountDownLatch stop = new CountDownLatch(1);
        Signals.onTermination(stop::countDown);
        final ClusterNode node;
        try {
            node = ClusterNode.start(bind.substring(0, colon), Integer.parseInt(bind.substring(colon + 1)),
                seeds, fleet, new ClusterNode.Settings(Math.max(1, minNodes), java.time.Duration.ofMillis(Math.max(1000, failureTimeoutMs))),
                line -> {
                    synchronized (System.out) {
                        System.out.println(line);
                    }
                });
        } catch (final IllegalStateException e) { // a switch's fixed udp-port is taken
            System.err.println("osvj node: " + e.getMessage());
            return 1;
        }
        System.out.println("node " + bind + ": joining " + seeds);
        final ControlServer control;
        try {
            control = ControlServer.start(java.net.InetAddress.getByName(bind.substring(0, colon)),
                controlPort >= 0 ? controlPort : fleet.controlPort(), node.control());
        } catch (final java.io.IOException e) {
            System.err.println("osvj node: cannot serve the control endpoint on " + bind.substring(0, colon) + ":"
                + (controlPort >= 0 ? controlPort : fleet.controlPort()) + ": " + e.getMessage());
            node.close();
            return 1;
        }
        System.out.println("node " + bind + ": control on " + bind.substring(0, colon) + ":" + control.port()
            + " (osvj fleet status|scale SERVICE N|stop --host " + bind.substring(0, colon) + " --port " + control.port() + ")");
        node.system().getWhenTerminated().whenComplete((d, e) -> stop.countDown());
        stop.await();
        System.out.println("node " + bind + ": leaving");
        control.close();
        node.close();
        return 0;
    }

    private static List<String> concat(final String first, final List<String> rest) {
        final List<String> all = new ArrayList<>();
        all.add(first);
        all.addAll(rest);
        return all;
    }
}
