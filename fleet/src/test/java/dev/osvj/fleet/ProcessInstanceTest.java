package dev.osvj.fleet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.osvj.fleet.FleetTesting.await;
import static dev.osvj.fleet.FleetTesting.fleet;
import static dev.osvj.fleet.FleetTesting.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Separate-process instances: a child kernel per instance with a generated configuration. */
class ProcessInstanceTest {
    @TempDir
    Path dir;

    @Test
    void shouldRunAChildKernelAndIsolateItsDeathFromTheOthers() throws Exception {
        final FleetManager m = new FleetManager(fleet("""
            osvj.fleet {
              work-dir = "%s"
              services = [
                { name = pr-child, app = echo, replicas = 2, memory = 16M, mode = process }
                { name = pr-local, app = echo, replicas = 1, memory = 16M }
              ]
            }
            """.formatted(dir)), "local", r -> { });
        try {
            m.deploy();
            for (final InstanceStatus r : m.status()) {
                assertEquals(InstanceState.RUNNING, r.state(), r.toString());
                assertTrue(r.bootMillis() > 0, r.toString());
            }
            final String conf = Files.readString(dir.resolve("pr-child-0.conf"));
            assertTrue(conf.contains("pr-child-0"), conf);
            assertTrue(Files.readString(dir.resolve("pr-child-0.log")).contains("Booted up in"));

            // kill -9 one child: it alone fails.
            final ProcessInstance victim = (ProcessInstance)m.instance("pr-child-1");
            ProcessHandle.of(victim.pid()).orElseThrow().destroyForcibly();
            await("pr-child-1 FAILED", () -> row(m, "pr-child-1").state() == InstanceState.FAILED);
            assertTrue(row(m, "pr-child-1").detail().startsWith("process exited with status "), row(m, "pr-child-1").detail());
            assertEquals(InstanceState.RUNNING, row(m, "pr-child-0").state());
            assertEquals(InstanceState.RUNNING, row(m, "pr-local-0").state());
            assertTrue(ProcessHandle.of(((ProcessInstance)m.instance("pr-child-0")).pid()).orElseThrow().isAlive());
        } finally {
            m.stopAll();
        }
        // SIGTERM is an orderly poweroff: exit 0, STOPPED.
        assertEquals(InstanceState.STOPPED, row(m, "pr-child-0").state(), row(m, "pr-child-0").toString());
        assertTrue(Files.readString(dir.resolve("pr-child-0.log")).contains("Booted up in"));
    }

    @Test
    void shouldPowerAChildOffWhenTheFleetProcessThatStartedItDies() throws Exception {
        // the "fleet process" is a sleep we kill, as a node's SIGKILL would end the node
        final Process fleetProcess = new ProcessBuilder("sleep", "600").start();
        final Path conf = dir.resolve("orphan.conf");
        Files.writeString(conf, """
            osvj { name = orphan, memory = 16M, app { name = echo, args = ["7"] }, console.enabled = false }
            """);
        final java.util.List<String> cmd = new java.util.ArrayList<>(ProcessInstance.command(conf));
        final int at = cmd.indexOf("-D" + ProcessInstanceMain.PARENT_PID_PROPERTY + "=" + ProcessHandle.current().pid());
        assertTrue(at > 0, cmd.toString());
        cmd.set(at, "-D" + ProcessInstanceMain.PARENT_PID_PROPERTY + "=" + fleetProcess.pid());
        final Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        final StringBuilder out = new StringBuilder();
        final java.util.concurrent.CountDownLatch booted = new java.util.concurrent.CountDownLatch(1);
        Thread.ofPlatform().daemon().start(() -> {
            try (java.io.BufferedReader in = child.inputReader()) {
                String line;
                while ((line = in.readLine()) != null) {
                    synchronized (out) {
                        out.append(line).append('\n');
                    }
                    if (line.contains("Booted up in")) {
                        booted.countDown();
                    }
                }
            } catch (final java.io.IOException e) {
                // the child exited
            }
        });
        try {
            assertTrue(booted.await(ProcessInstance.BOOT_TIMEOUT_SECONDS, java.util.concurrent.TimeUnit.SECONDS), "no boot: " + out);
            assertTrue(child.isAlive());
            fleetProcess.destroyForcibly();
            assertTrue(child.waitFor(90, java.util.concurrent.TimeUnit.SECONDS), "the orphan kept running: " + out);
            assertEquals(0, child.exitValue(), "an orderly poweroff: " + out);
            synchronized (out) {
                assertTrue(out.toString().contains("osvj: the fleet process " + fleetProcess.pid() + " exited; powering off"), out.toString());
            }
        } finally {
            fleetProcess.destroyForcibly();
            child.destroyForcibly();
        }
    }
}
