package dev.osvj.fleet;

import dev.osvj.system.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.osvj.fleet.FleetTesting.await;
import static dev.osvj.fleet.FleetTesting.freePort;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code osvj deploy} and {@code osvj fleet} through the CLI entry point, against each other over the control endpoint. */
class DeployCommandTest {
    @TempDir
    Path dir;

    private static boolean answers(final int port) {
        try {
            return ControlClient.send(port, "status", 5_000).ok();
        } catch (final Exception e) {
            return false;
        }
    }

    @Test
    void shouldDeployScaleReportAndStopAFleetWithExitCodes() throws Exception {
        final Path conf = dir.resolve("fleet-test.conf");
        Files.writeString(conf, """
            osvj.fleet {
              name = clitest
              networks = [ { name = front, subnet = "10.7.0.0/24" } ]
              services = [ { name = cli-echo, app = echo, replicas = 1, memory = 16M, network = front } ]
            }
            """);
        final int port = freePort("127.0.0.1");
        final CompletableFuture<Integer> deploy = CompletableFuture.supplyAsync(
            () -> Main.execute("deploy", conf.toString(), "--port", Integer.toString(port), "--refresh", "50"));
        await("the control endpoint", () -> answers(port) || deploy.isDone());
        await("cli-echo-0 booted", () -> {
            try {
                return ControlClient.send(port, "status", 5_000).rows().stream()
                    .anyMatch(r -> r.name().equals("cli-echo-0") && r.state() != InstanceState.BOOTING);
            } catch (final Exception e) {
                return false;
            }
        });
        assertEquals(InstanceState.RUNNING, ControlClient.send(port, "status", 5_000).rows().get(0).state(),
            ControlClient.send(port, "status", 5_000).toString());
        final String p = Integer.toString(port);
        assertEquals(0, Main.execute("fleet", "status", "--port", p));
        assertEquals(0, Main.execute("fleet", "scale", "cli-echo", "3", "--port", p));
        final ControlClient.Reply status = ControlClient.send(port, "status", 5_000);
        assertEquals(3, status.rows().size(), status.toString());
        assertEquals("10.7.0.12", status.rows().get(2).address());
        assertTrue(status.rows().stream().allMatch(r -> r.state() == InstanceState.RUNNING), status.toString());
        assertEquals(2, Main.execute("fleet", "scale", "nope", "1", "--port", p));
        assertEquals(2, Main.execute("fleet", "scale", "cli-echo", "--port", p));
        assertEquals(2, Main.execute("fleet", "reboot", "--port", p));
        assertEquals("usage: scale SERVICE N", ControlClient.send(port, "scale cli-echo x", 5_000).status());
        assertEquals(0, Main.execute("fleet", "stop", "--port", p));
        assertEquals(0, deploy.get(120, TimeUnit.SECONDS));
        assertEquals(1, Main.execute("fleet", "status", "--port", p));
    }

    @Test
    void shouldExitTwoOnAnInvalidFleetAndOneWhenThePortIsTaken() throws Exception {
        final Path bad = dir.resolve("bad.conf");
        Files.writeString(bad, "osvj.fleet.services = [ { name = x, app = echo, cpus = 0 } ]\n");
        assertEquals(2, Main.execute("deploy", bad.toString()));
        assertEquals(2, Main.execute("deploy", dir.resolve("missing.conf").toString()));
        final Path good = dir.resolve("good.conf");
        Files.writeString(good, "osvj.fleet.services = []\n");
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertEquals(1, Main.execute("deploy", good.toString(), "--port", Integer.toString(taken.getLocalPort())));
        }
    }
}
