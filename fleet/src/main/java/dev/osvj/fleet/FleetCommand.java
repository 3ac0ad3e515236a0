package dev.osvj.fleet;

import dev.osvj.system.cli.ContributedCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code osvj fleet status|stop|scale SERVICE N [--host H] [--port P]}: one request to a running fleet's
 * control endpoint ({@link ControlServer}): a deployed fleet on 127.0.0.1, or any node of a cluster
 * (its {@code --bind} address), which answers for the whole cluster. Exit 0 on success, 1 when no fleet answers or the fleet reports an
 * error, 2 for a usage error (unknown service, bad count, bad words).
 */
@Command(name = "fleet", mixinStandardHelpOptions = true,
    description = "Control a running fleet: status | stop | scale SERVICE N.")
public final class FleetCommand implements ContributedCommand {
    @Parameters(arity = "1..3", paramLabel = "ACTION", description = "status, stop, or scale SERVICE N.")
    List<String> words = new ArrayList<>();

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "7070",
        description = "The fleet's control port (default 7070).")
    int port;

    @Option(names = "--host", paramLabel = "HOST", defaultValue = "127.0.0.1",
        description = "Where the control endpoint is: 127.0.0.1 for a deployed fleet, a node's address for a cluster (default 127.0.0.1).")
    String host;

    @Option(names = "--timeout", paramLabel = "MS", defaultValue = "300000",
        description = "How long to wait for the reply in ms (a scale waits for the boots; default 300000).")
    int timeoutMs;

    @Override
    public Integer call() {
        final String verb = words.get(0);
        final boolean known = verb.equals("status") && words.size() == 1 || verb.equals("stop") && words.size() == 1
            || verb.equals("scale") && words.size() == 3;
        if (!known) {
            System.err.println("osvj fleet: expected status, stop or scale SERVICE N, got: " + String.join(" ", words));
            return 2;
        }
        final ControlClient.Reply reply;
        try {
            reply = ControlClient.send(host, port, String.join(" ", words), timeoutMs);
        } catch (final IOException e) {
            System.err.println("osvj fleet: no fleet answers on " + host + ":" + port + " (" + e.getMessage() + ")");
            return 1;
        }
        if (!reply.ok()) {
            System.err.println("osvj fleet: " + reply.status());
            return reply.usageError() ? 2 : 1;
        }
        if (verb.equals("stop")) {
            System.out.println("fleet on " + host + ":" + port + ": stopping");
        } else {
            if (!reply.status().equals("ok")) {
                System.out.println(reply.status().substring(3));
            }
            System.out.print(FleetTable.format("fleet on " + host + ":" + port, reply.rows()));
        }
        return 0;
    }
}
