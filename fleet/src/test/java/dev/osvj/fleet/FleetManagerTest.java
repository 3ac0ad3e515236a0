package dev.osvj.fleet;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static dev.osvj.fleet.FleetTesting.await;
import static dev.osvj.fleet.FleetTesting.console;
import static dev.osvj.fleet.FleetTesting.fleet;
import static dev.osvj.fleet.FleetTesting.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** In-JVM fleets: every replica its own kernel, failures isolated, scaling up and down. */
class FleetManagerTest {
    @TempDir
    Path dir;

    @Test
    void shouldBootEveryReplicaAsItsOwnKernelWithItsAddress() throws Exception {
        final List<InstanceStatus> booted = new ArrayList<>();
        final FleetManager m = new FleetManager(fleet("""
            osvj.fleet {
              networks = [ { name = front, subnet = "10.9.0.0/24" } ]
              services = [
                { name = boot-echo, app = echo, replicas = 2, network = front, memory = 16M }
                { name = boot-shell, app = shell, replicas = 1, memory = 16M }
              ]
            }
            """), "local", booted::add);
        try {
            m.deploy();
            final List<InstanceStatus> rows = m.status();
            assertEquals(List.of("boot-echo-0", "boot-echo-1", "boot-shell-0"), rows.stream().map(InstanceStatus::name).toList());
            assertEquals(List.of("10.9.0.10", "10.9.0.11", "-"), rows.stream().map(InstanceStatus::address).toList());
            for (final InstanceStatus r : rows) {
                assertEquals(InstanceState.RUNNING, r.state(), r.toString());
                assertEquals("local", r.node());
                assertTrue(r.bootMillis() > 0, r.toString());
            }
            assertEquals(3, booted.size());
            final Set<Object> systems = new HashSet<>();
            for (final InstanceStatus r : rows) {
                final InJvmInstance i = (InJvmInstance)m.instance(r.name());
                systems.add(i.kernel().actorSystem());
                assertEquals(r.name(), i.kernel().actorSystem().name());
                assertTrue(console(m, r.name(), "ps").contains("dispatcher"), console(m, r.name(), "ps"));
            }
            assertEquals(3, systems.size());
        } finally {
            m.stopAll();
        }
        for (final InstanceStatus r : m.status()) {
            assertEquals(InstanceState.STOPPED, r.state(), r.toString());
        }
    }

    @Test
    void shouldKeepOtherInstancesRunningWhenABootFailsAnAppThrowsOrAKernelCrashes() throws Exception {
        final FleetManager m = new FleetManager(fleet("""
            osvj.fleet.services = [
              { name = iso-good, app = echo, replicas = 2, memory = 16M }
              { name = iso-badapp, app = java, args = [], memory = 16M }
              { name = iso-badboot, app = echo, memory = 16M, settings = { vfs.disks = [ { file = "%s", read-only = true } ] } }
            ]
            """.formatted(dir.resolve("missing.img"))), "local", r -> { });
        try {
            m.deploy();
            final InstanceStatus badApp = row(m, "iso-badapp-0");
            assertEquals(InstanceState.FAILED, badApp.state(), badApp.toString());
            assertTrue(badApp.detail().contains("failed to start"), badApp.detail());
            final InstanceStatus badBoot = row(m, "iso-badboot-0");
            assertEquals(InstanceState.FAILED, badBoot.state(), badBoot.toString());
            assertEquals(InstanceState.RUNNING, row(m, "iso-good-0").state());
            assertEquals(InstanceState.RUNNING, row(m, "iso-good-1").state());

            // A kernel that dies (powers off with an error) fails alone.
            final InJvmInstance victim = (InJvmInstance)m.instance("iso-good-1");
            victim.kernel().powerOff(3);
            await("iso-good-1 FAILED", () -> row(m, "iso-good-1").state() == InstanceState.FAILED);
            assertEquals("powered off with code 3", row(m, "iso-good-1").detail());
            final InJvmInstance survivor = (InJvmInstance)m.instance("iso-good-0");
            assertEquals(InstanceState.RUNNING, row(m, "iso-good-0").state());
            assertFalse(survivor.kernel().isPoweredOff());
            assertTrue(console(m, "iso-good-0", "uptime").contains("up"));
            assertNotSame(victim.kernel().actorSystem(), survivor.kernel().actorSystem());

            // Scaling the service replaces the failed replica (same name, fresh kernel).
            m.scale("iso-good", 2);
            await("iso-good-1 RUNNING", () -> row(m, "iso-good-1").state() == InstanceState.RUNNING);
            assertNotSame(victim, m.instance("iso-good-1"));
        } finally {
            m.stopAll();
        }
    }

    @Test
    void shouldScaleUpAndDownReusingNamesAndAddresses() throws Exception {
        final FleetManager m = new FleetManager(fleet("""
            osvj.fleet {
              networks = [ { name = n, subnet = "10.8.0.0/24" } ]
              services = [ { name = sc-echo, app = echo, replicas = 1, network = n, memory = 16M } ]
            }
            """), "local", r -> { });
        try {
            m.deploy();
            m.scale("sc-echo", 3);
            assertEquals(List.of("sc-echo-0", "sc-echo-1", "sc-echo-2"), m.status().stream().map(InstanceStatus::name).toList());
            assertEquals(List.of("10.8.0.10", "10.8.0.11", "10.8.0.12"), m.status().stream().map(InstanceStatus::address).toList());
            final InJvmInstance first = (InJvmInstance)m.instance("sc-echo-0");
            m.scale("sc-echo", 1);
            assertEquals(List.of("sc-echo-0"), m.status().stream().map(InstanceStatus::name).toList());
            assertEquals(first, m.instance("sc-echo-0"));
            assertEquals(InstanceState.RUNNING, row(m, "sc-echo-0").state());
            m.scale("sc-echo", 2);
            assertEquals("10.8.0.11", row(m, "sc-echo-1").address());
            m.scale("sc-echo", 0);
            assertEquals(List.of(), m.status());
            final IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.scale("nope", 1));
            assertEquals("no service named nope; services: sc-echo", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> m.scale("sc-echo", 300));
        } finally {
            m.stopAll();
        }
    }
}
