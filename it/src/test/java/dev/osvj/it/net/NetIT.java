package dev.osvj.it.net;

import dev.osvj.it.OsvjProcess;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the network end-to-end tests share: commands, configuration files, console polling, echo. */
final class NetIT {
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
    static String consoleUntil(final OsvjProcess osvj, final String command, final Predicate<String> match)
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
