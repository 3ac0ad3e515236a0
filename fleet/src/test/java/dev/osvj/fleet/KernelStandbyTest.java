package dev.osvj.fleet;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.KernelStandby;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;

import static dev.osvj.fleet.FleetTesting.fleet;
import static dev.osvj.fleet.FleetTesting.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Kernels booted in an ActorSystem created ahead, by hand and by the fleet manager. */
class KernelStandbyTest {
    private static Config config(final List<Subsystem> subsystems, final Tracepoints tp, final String name) throws Exception {
        return KernelConfigLoader.load(null, List.of("osvj.name=" + name, "osvj.memory=16M", "osvj.cpus=1",
            "osvj.console.enabled=false"), new Properties(), subsystems, tp);
    }

    @Test
    void shouldBootAKernelInAStandbySystemAndRefuseAnotherNameOrASecondUse() throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tp = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tp));
        final KernelStandby standby = KernelStandby.prepare("standby-a", config(subsystems, tp, "standby-a"));
        assertThrows(IllegalArgumentException.class, () -> Kernel.boot(standby, config(subsystems, tp, "standby-b"),
            subsystems, tp, System.out, KernelClock.SYSTEM));
        final ByteArrayOutputStream console = new ByteArrayOutputStream();
        final Kernel k = Kernel.boot(standby, config(subsystems, tp, "standby-a"), subsystems, tp,
            new PrintStream(console, true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        try {
            assertEquals("standby-a", k.actorSystem().name());
            assertTrue(console.toString(StandardCharsets.UTF_8).contains("Booted up in"));
            final List<Subsystem> again = Subsystems.discover();
            assertThrows(IllegalStateException.class, () -> Kernel.boot(standby, config(again, tp, "standby-a"),
                again, tp, System.out, KernelClock.SYSTEM));
        } finally {
            k.powerOff(0);
            assertEquals(0, k.awaitPoweredOff(Duration.ofSeconds(60)));
        }
        standby.close(); // used: belongs to the kernel, nothing to do
        final KernelStandby unused = KernelStandby.prepare("standby-c", config(subsystems, tp, "standby-c"));
        unused.close();
    }

    @Test
    void shouldPrepareTheNextReplicasSystemAndBootTheScaleUpInIt() throws Exception {
        final FleetManager m = new FleetManager(fleet("""
            osvj.fleet.services = [
              { name = sb-warm, app = echo, replicas = 1, memory = 16M }
              { name = sb-cold, app = echo, replicas = 1, memory = 16M, standby = false }
            ]
            """), "local", r -> { });
        try {
            m.deploy();
            assertEquals("sb-warm-1", m.standbyName("sb-warm"));
            assertNull(m.standbyName("sb-cold"));
            m.scale("sb-warm", 2);
            assertTrue(((InJvmInstance)m.instance("sb-warm-1")).bootedFromStandby());
            assertEquals(InstanceState.RUNNING, row(m, "sb-warm-1").state());
            assertEquals("sb-warm-2", m.standbyName("sb-warm"));
            m.scale("sb-warm", 1);
            assertEquals("sb-warm-1", m.standbyName("sb-warm"));
            m.scale("sb-cold", 2);
            assertFalse(((InJvmInstance)m.instance("sb-cold-1")).bootedFromStandby());
            final InJvmInstance warm = (InJvmInstance)m.instance("sb-warm-0");
            assertSame(warm, m.instance("sb-warm-0"));
        } finally {
            m.stopAll();
        }
        assertNull(m.standbyName("sb-warm"));
    }

    @Test
    void shouldBootEveryReplicaOfAScaleUpByMoreThanOneFromAStandby() throws Exception {
        final FleetManager m = new FleetManager(fleet("""
            osvj.fleet.services = [ { name = sb-batch, app = echo, replicas = 0, memory = 16M } ]
            """), "local", r -> { });
        try {
            m.deploy();
            assertEquals("sb-batch-0", m.standbyName("sb-batch"));
            m.scale("sb-batch", 3);
            for (int r = 0; r < 3; r++) {
                assertEquals(InstanceState.RUNNING, row(m, "sb-batch-" + r).state());
                assertTrue(((InJvmInstance)m.instance("sb-batch-" + r)).bootedFromStandby(), "sb-batch-" + r);
            }
            assertEquals("sb-batch-3", m.standbyName("sb-batch"));
        } finally {
            m.stopAll();
        }
    }

    /**
     * Scaling 0 to 1 and back, as the fleet bench does: each cycle creates one ActorSystem (the next
     * boot's), closes none, and every boot adopts a standby. (Until session 9 the scale-up created the
     * next replica's and the scale-down closed it for replica 0's: two created and one closed per cycle.)
     */
    @Test
    void shouldCreateOneStandbyPerScaleCycleAndCloseNone() throws Exception {
        final FleetManager m = new FleetManager(fleet("""
            osvj.fleet.services = [ { name = sb-cycle, app = echo, replicas = 0, memory = 16M } ]
            """), "local", r -> { });
        final int cycles = 4;
        try {
            m.deploy();
            assertEquals(List.of("sb-cycle-0"), m.standbyNames("sb-cycle"));
            for (int c = 0; c < cycles; c++) {
                m.scale("sb-cycle", 1);
                assertEquals(InstanceState.RUNNING, row(m, "sb-cycle-0").state());
                assertTrue(((InJvmInstance)m.instance("sb-cycle-0")).bootedFromStandby(), "cycle " + c);
                assertEquals("sb-cycle-1", m.standbyName("sb-cycle"));
                m.scale("sb-cycle", 0);
                assertEquals("sb-cycle-0", m.standbyName("sb-cycle"));
            }
            // deploy: replica 0's; first scale-up: replica 1's; every scale-down: replica 0's again
            assertEquals(cycles + 2, m.standbyCounts()[0], "standbys created");
            assertEquals(0, m.standbyCounts()[1], "standbys closed unused");
            assertEquals(List.of("sb-cycle-1", "sb-cycle-0"), m.standbyNames("sb-cycle"));
            // up by two and back: replicas 2's and 0's are created, none closed
            m.scale("sb-cycle", 2);
            assertTrue(((InJvmInstance)m.instance("sb-cycle-1")).bootedFromStandby());
            m.scale("sb-cycle", 0);
            assertEquals(List.of("sb-cycle-2", "sb-cycle-0"), m.standbyNames("sb-cycle"));
            assertEquals(cycles + 4, m.standbyCounts()[0], "standbys created");
            assertEquals(0, m.standbyCounts()[1], "standbys closed unused");
            // a third one (replica 1's, then 0's again) closes the oldest: at most two per service
            m.scale("sb-cycle", 1);
            m.scale("sb-cycle", 0);
            assertEquals(List.of("sb-cycle-1", "sb-cycle-0"), m.standbyNames("sb-cycle"));
            assertEquals(cycles + 6, m.standbyCounts()[0], "standbys created");
            assertEquals(1, m.standbyCounts()[1], "standbys closed unused");
        } finally {
            m.stopAll();
        }
        assertEquals(List.of(), m.standbyNames("sb-cycle"));
        assertEquals(3, m.standbyCounts()[1], "closed at the stop");
    }
}
