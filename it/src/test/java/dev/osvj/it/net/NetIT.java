package dev.osvj.it.net;

import dev.osvj.it.OsvjProcess;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the network end-to-end tests share: commands, configuration files, console polling, echo, a free
 * host port, {@code passt} as the stream backend's gateway, and network namespaces for the tap backend.
 */
public final class NetIT {
    static final Duration BOOT = Duration.ofMinutes(3);
    static final Duration STEP = Duration.ofSeconds(60);

    private NetIT() {
    }

    /** Run a command to completion (60 s at most); fails with its output unless it exits 0. */
    static String run(final String... command) throws IOException, InterruptedException {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", command) + " hung");
        assertEquals(0, p.exitValue(), () -> String.join(" ", command) + ": " + out);
        return out;
    }

    /** A configuration file for one instance with the given body (HOCON, inside {@code osvj { }}). */
    static Path conf(final Path dir, final String body) throws IOException {
        final Path conf = dir.resolve("net-it.conf");
        Files.writeString(conf, "osvj {\n" + body + "\n}\n");
        return conf;
    }

    /** Boot and wait for the application's command line. */
    static OsvjProcess boot(final Path conf) throws Exception {
        final OsvjProcess osvj = OsvjProcess.start(java.util.Map.of(), "run", conf.toString());
        osvj.awaitOut(l -> l.startsWith("Booted up in"), BOOT);
        osvj.awaitOut(l -> l.startsWith("Cmdline: "), STEP);
        return osvj;
    }

    /** Type {@code command} on the console until a line matching {@code match} appears (60 s at most). */
    public static String consoleUntil(final OsvjProcess osvj, final String command, final Predicate<String> match)
        throws Exception {
        final long deadline = System.nanoTime() + STEP.toNanos();
        while (System.nanoTime() < deadline) {
            osvj.type(command);
            final String line = osvj.pollOut(match, Duration.ofSeconds(2));
            if (line != null) {
                return line;
            }
        }
        throw new AssertionError("no line matching after typing " + command + " for " + STEP + "\nstdout: "
            + osvj.stdout() + "\nstderr: " + osvj.stderr());
    }

    /**
     * A real client or peer the test needs ({@code memccapable}, {@code wrk}...): when it is not on PATH the
     * test fails under {@code CI=true} (CI installs everything, see .ci/test) and is skipped elsewhere,
     * with one loud line naming the Debian package.
     */
    static void requireTool(final String command, final String debianPackage) {
        for (final String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, command))) {
                return;
            }
        }
        final String line = "*** " + command + " is not installed (Debian package " + debianPackage
            + "): .ci/test installs it when run as root ***";
        if ("true".equals(System.getenv("CI"))) {
            Assertions.fail(line);
        }
        System.err.println(line);
        Assumptions.abort(line);
    }

    /** A TCP port free on the host's loopback right now. */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /**
     * A running {@code passt} (Debian package) in the foreground, the gateway of the {@code stream} backend:
     * its UNIX socket {@link #socket()}, DHCP handing out 10.0.2.15/24 with gateway 10.0.2.2, and a TCP
     * port forward from host {@code 127.0.0.1:hostPort} to the guest's {@code guestPort}. Closing stops it.
     */
    record Passt(Process process, Path socket) implements AutoCloseable {
        /**
         * Start passt under {@code dir} and wait (30 s at most) until its socket listens: passt prints
         * "UNIX domain socket bound" after bind() and "You can now start qemu" after listen().
         */
        static Passt start(final Path dir, final int hostPort, final int guestPort) throws Exception {
            // passt drops root privileges (to nobody): its socket directory must be reachable and writable for it
            final Path shared = Files.createDirectory(dir.resolve("shared"));
            Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            final Path sock = shared.resolve("passt.sock");
            final Process passt = new ProcessBuilder("passt", "-f", "-e", "-1", "-s", sock.toString(),
                "-a", "10.0.2.15", "-n", "24", "-g", "10.0.2.2", "-t", hostPort + ":" + guestPort, "-u", "none")
                .redirectErrorStream(true).start();
            try {
                awaitLine(passt, "You can now start qemu");
            } catch (final Exception | AssertionError e) {
                passt.destroy();
                throw e;
            }
            return new Passt(passt, sock);
        }

        /** The {@code osvj.devices} entry that connects a virtio-net device to this passt. */
        String device() {
            return "{ type = net, backend = stream, address = \"unix:" + socket + "\" }";
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            process.waitFor(10, TimeUnit.SECONDS);
        }

        /** Wait (30 s at most) for a line containing {@code text} on the process's output; keep draining it. */
        private static void awaitLine(final Process p, final String text) throws Exception {
            final CompletableFuture<Boolean> seen = new CompletableFuture<>();
            final StringBuilder all = new StringBuilder();
            Thread.ofPlatform().daemon().name("passt-output").start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        synchronized (all) {
                            all.append(line).append('\n');
                        }
                        if (line.contains(text)) {
                            seen.complete(true);
                        }
                    }
                } catch (final Exception e) {
                    seen.completeExceptionally(e);
                }
                seen.complete(false);
            });
            if (!seen.get(30, TimeUnit.SECONDS)) {
                synchronized (all) {
                    throw new AssertionError("passt did not start: no \"" + text + "\" in:\n" + all);
                }
            }
        }
    }

    /**
     * A network namespace the test creates ({@code ip netns add}) and deletes on close, so the tap
     * backend's private addresses exist only in there and the host's interfaces are never touched.
     */
    record Namespace(String name) implements AutoCloseable {
        static Namespace create(final String name) throws IOException, InterruptedException {
            run("ip", "netns", "add", name);
            return new Namespace(name);
        }

        /** Run a command inside the namespace ({@code ip netns exec}); its output, failing unless it exits 0. */
        String exec(final String... command) throws IOException, InterruptedException {
            final String[] all = new String[command.length + 4];
            all[0] = "ip";
            all[1] = "netns";
            all[2] = "exec";
            all[3] = name;
            System.arraycopy(command, 0, all, 4, command.length);
            return run(all);
        }

        /**
         * Once the kernel has created its TAP {@code ifname} in here: give Linux's end {@code address}
         * (CIDR) and bring it up.
         */
        void upLinuxEnd(final String ifname, final String address) throws IOException, InterruptedException {
            run("ip", "-n", name, "addr", "add", address, "dev", ifname);
            run("ip", "-n", name, "link", "set", ifname, "up");
        }

        @Override
        public void close() throws IOException, InterruptedException {
            run("ip", "netns", "del", name);
        }
    }

    /** Send {@code text} over a host TCP connection and read as many bytes back. */
    static String echo(final InetSocketAddress to, final String text) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(to, 30_000);
            s.setSoTimeout(60_000);
            final byte[] b = text.getBytes(StandardCharsets.UTF_8);
            s.getOutputStream().write(b);
            final byte[] back = s.getInputStream().readNBytes(b.length);
            return new String(back, StandardCharsets.UTF_8);
        }
    }
}
