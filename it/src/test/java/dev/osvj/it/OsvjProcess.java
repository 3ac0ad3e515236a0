package dev.osvj.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * {@code bin/osvj} as a real child process, the way a user starts it: stdout and stderr collected line
 * by line, stdin writable, waits on output with a deadline instead of sleeping.
 */
public final class OsvjProcess implements AutoCloseable {
    public static final Path HOME = Path.of(System.getProperty("osvj.home", "..")).toAbsolutePath().normalize();

    private final Process process;
    private final List<String> out = new ArrayList<>();
    private final List<String> err = new ArrayList<>();
    private final Writer stdin;
    private final Thread outPump;
    private final Thread errPump;

    private OsvjProcess(final Process process) {
        this.process = process;
        this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        outPump = pump(new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)), out);
        errPump = pump(new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8)), err);
    }

    /**
     * Start {@code bin/osvj ARGS} with the default java (17 on this machine kind) first on PATH and no
     * JAVA_HOME, as on a fresh machine.
     */
    public static OsvjProcess start(final Map<String, String> extraEnv, final String... args) throws IOException {
        final List<String> command = new ArrayList<>();
        command.add(HOME.resolve("bin/osvj").toString());
        command.addAll(List.of(args));
        final ProcessBuilder pb = new ProcessBuilder(command).directory(HOME.toFile());
        final Map<String, String> env = pb.environment();
        env.remove("JAVA_HOME");
        final Path oldJava = olderJdk();
        if (oldJava != null) {
            env.put("PATH", oldJava.resolve("bin") + ":" + env.getOrDefault("PATH", "/usr/bin:/bin"));
        }
        env.putAll(extraEnv);
        return new OsvjProcess(pb.start());
    }

    /** A JDK older than 25 in /usr/lib/jvm (the machine's default java 17), or null. */
    static Path olderJdk() throws IOException {
        final Path jvm = Path.of("/usr/lib/jvm");
        if (!Files.isDirectory(jvm)) {
            return null;
        }
        try (var dirs = Files.list(jvm)) {
            return dirs.filter(d -> Files.isExecutable(d.resolve("bin/java")))
                .filter(d -> d.getFileName().toString().matches(".*(-17-|-11-|-21-|openjdk-17).*"))
                .sorted().findFirst().orElse(null);
        }
    }

    private static Thread pump(final BufferedReader reader, final List<String> sink) {
        return Thread.ofPlatform().daemon().start(() -> {
            try (reader) {
                String line;
                while ((line = reader.readLine()) != null) {
                    synchronized (sink) {
                        sink.add(line);
                        sink.notifyAll();
                    }
                }
            } catch (final IOException e) {
                // process gone
            }
        });
    }

    /** Wait until a stdout line matches; fails with everything seen when the deadline passes. */
    public String awaitOut(final Predicate<String> match, final Duration timeout) throws InterruptedException {
        return await(out, match, timeout);
    }

    String awaitErr(final Predicate<String> match, final Duration timeout) throws InterruptedException {
        return await(err, match, timeout);
    }

    private String await(final List<String> sink, final Predicate<String> match, final Duration timeout) throws InterruptedException {
        final long deadline = System.nanoTime() + timeout.toNanos();
        int seen = 0;
        synchronized (sink) {
            while (true) {
                for (; seen < sink.size(); seen++) {
                    if (match.test(sink.get(seen))) {
                        return sink.get(seen);
                    }
                }
                final long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no matching line within " + timeout + "\nstdout: " + stdout() + "\nstderr: " + stderr());
                }
                TimeUnit.NANOSECONDS.timedWait(sink, left);
            }
        }
    }

    public void type(final String line) throws IOException {
        stdin.write(line + "\n");
        stdin.flush();
    }

    void closeStdin() throws IOException {
        stdin.close();
    }

    public int awaitExit(final Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("still running after " + timeout + "\nstdout: " + stdout() + "\nstderr: " + stderr());
        }
        // Everything the process wrote is read once its pipes close.
        outPump.join(timeout.toMillis());
        errPump.join(timeout.toMillis());
        return process.exitValue();
    }

    /** True when the process exits within {@code timeout}. */
    boolean exitsWithin(final Duration timeout) throws InterruptedException {
        return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    public long pid() {
        return process.pid();
    }

    public List<String> stdout() {
        synchronized (out) {
            return List.copyOf(out);
        }
    }

    public List<String> stderr() {
        synchronized (err) {
            return List.copyOf(err);
        }
    }

    /**
     * Like {@link #awaitOut} but returns null instead of failing when no stdout line matches within
     * {@code timeout} (for a caller that retries a console command until its output changes).
     */
    public String pollOut(final Predicate<String> match, final Duration timeout) throws InterruptedException {
        final long deadline = System.nanoTime() + timeout.toNanos();
        int seen = 0;
        synchronized (out) {
            while (true) {
                for (; seen < out.size(); seen++) {
                    if (match.test(out.get(seen))) {
                        return out.get(seen);
                    }
                }
                final long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                TimeUnit.NANOSECONDS.timedWait(out, left);
            }
        }
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
