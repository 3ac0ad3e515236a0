package dev.osvj.fleet;

import com.typesafe.config.Config;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An instance in a child process: what {@code bin/osvj run WORK_DIR/<instance>.conf} runs (the same JDK,
 * the JVM flags of the build, this JVM's class path, {@code dev.osvj.system.cli.Main run} through
 * {@link ProcessInstanceMain}, which powers the child off if this process dies first), with the
 * instance's generated configuration. Its console goes to {@code WORK_DIR/<instance>.log}; the boot
 * time is the child's own "Booted up in N ms" (the kernel's boot, without the JVM start). A stop is
 * SIGTERM, which the child turns into an orderly poweroff; the child dying any other way makes the
 * instance FAILED with its exit status.
 */
final class ProcessInstance extends AbstractInstance {
    private static final Pattern BOOTED = Pattern.compile("Booted up in (\\d+(?:\\.\\d+)?) ms");
    /** How long a child may take from exec to "Booted up" (JVM start and class loading included). */
    static final long BOOT_TIMEOUT_SECONDS = 120;

    private final Config instanceKeys;
    private final Path workDir;
    private final CountDownLatch bootedOrDead = new CountDownLatch(1);
    private volatile Process process;
    /** The child's last console lines (its log has them all): a failure's detail quotes the last. */
    private final ConsoleTail tail = new ConsoleTail(20);

    ProcessInstance(final String name, final String service, final String node, final String address,
        final Config instanceKeys, final Path workDir) {
        super(name, service, node, address);
        this.instanceKeys = instanceKeys;
        this.workDir = workDir;
    }

    /**
     * The command line of a child kernel: the running JDK, the build's JVM flags, this class path, and
     * {@link ProcessInstanceMain} following this process (the child powers off when this process dies).
     */
    static List<String> command(final Path conf) {
        return javaCommand(List.of("-D" + ProcessInstanceMain.PARENT_PID_PROPERTY + "=" + ProcessHandle.current().pid()),
            ProcessInstanceMain.class.getName(), List.of("run", conf.toString()));
    }

    /** {@code osvj ARGS...} in a child JVM like this one (what bin/osvj execs): used for cluster nodes. */
    static List<String> osvjCommand(final List<String> args) {
        return javaCommand(List.of(), "dev.osvj.system.cli.Main", args);
    }

    private static List<String> javaCommand(final List<String> properties, final String mainClass, final List<String> args) {
        final List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmFlags());
        final String home = System.getProperty("osvj.home");
        if (home != null) {
            cmd.add("-Dosvj.home=" + home);
        }
        cmd.addAll(properties);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(args);
        return cmd;
    }

    private static List<String> jvmFlags() {
        final Properties p = new Properties();
        try (InputStream in = ProcessInstance.class.getClassLoader().getResourceAsStream("osvj-build.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (final IOException e) {
            // no flags: the child still runs, with warnings
        }
        final List<String> flags = new ArrayList<>();
        for (final String f : p.getProperty("jvm.flags", "").trim().split("\\s+")) {
            if (!f.isEmpty()) {
                flags.add(f);
            }
        }
        return flags;
    }

    @Override
    public void start() throws InterruptedException {
        final Path conf = workDir.resolve(name() + ".conf");
        final Path log = workDir.resolve(name() + ".log");
        final Process p;
        try {
            Files.createDirectories(workDir);
            Files.writeString(conf, InstanceConfigs.render(instanceKeys));
            p = new ProcessBuilder(command(conf)).redirectErrorStream(true).start();
        } catch (final IOException e) {
            fail("could not start the child process: " + e.getMessage());
            return;
        }
        process = p;
        Thread.ofPlatform().daemon().name("fleet-console-" + name()).start(() -> pump(p, log));
        p.onExit().thenAccept(this::onExit);
        if (!bootedOrDead.await(BOOT_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            fail("no \"Booted up\" within " + BOOT_TIMEOUT_SECONDS + " s");
            p.destroyForcibly();
            return;
        }
        if (!hasBooted() && state() == InstanceState.BOOTING) {
            fail("exited during the boot");
        }
    }

    private void pump(final Process p, final Path log) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
             PrintStream out = new PrintStream(Files.newOutputStream(log), true, StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                out.println(line);
                tail.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                final Matcher m = BOOTED.matcher(line);
                if (m.find() && !hasBooted()) {
                    booted(Double.parseDouble(m.group(1)));
                    running();
                    bootedOrDead.countDown();
                }
            }
        } catch (final IOException e) {
            // the child closed its output: onExit decides the state
        }
    }

    private void onExit(final Process p) {
        final List<String> last = tail.lines();
        ended(p.exitValue(), "process exited with status " + p.exitValue()
            + (hasBooted() || last.isEmpty() ? "" : " during the boot: " + last.get(last.size() - 1)));
        bootedOrDead.countDown();
    }

    @Override
    void powerOff() throws InterruptedException {
        final Process p = process;
        if (p != null) {
            p.destroy(); // SIGTERM: the child powers off in order
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(30, TimeUnit.SECONDS);
                fail("did not power off within 60 s; killed");
            }
            p.onExit().join();
        }
    }

    /** The child's process id, or -1 before it started (tests kill it to check isolation). */
    long pid() {
        final Process p = process;
        return p == null ? -1 : p.pid();
    }
}
