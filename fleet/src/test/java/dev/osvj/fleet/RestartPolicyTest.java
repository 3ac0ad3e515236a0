package dev.osvj.fleet;

import org.junit.jupiter.api.Test;

import static dev.osvj.fleet.FleetTesting.await;
import static dev.osvj.fleet.FleetTesting.fleet;
import static dev.osvj.fleet.FleetTesting.row;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The restart policy of a service: {@code on-failure} boots a failed replica again (same name and
 * address) with a growing backoff, not one that exited 0; {@code always} also restarts after exit 0;
 * {@code never} leaves it down; a stop request is never "going down by itself".
 */
class RestartPolicyTest {
    @Test
    void shouldRestartAFailingAppOnFailureWithBackoffAndLeaveNeverAlone() throws Exception {
        final FleetManager m = new FleetManager(fleet("""
            osvj.fleet {
              networks = [ { name = n, subnet = "10.5.0.0/24" } ]
              services = [
                # the java application without a class fails at start: every boot fails
                { name = rp-crash, app = java, args = [], memory = 16M, network = n, restart = on-failure,
                  restart-backoff = 10ms, restart-backoff-max = 80ms }
                { name = rp-never, app = java, args = [], memory = 16M, restart = never }
              ]
            }
            """), "local", r -> { });
        try {
            m.deploy();
            await("rp-crash restarted three times", () -> row(m, "rp-crash-0").restarts() >= 3);
            final InstanceStatus crash = row(m, "rp-crash-0");
            assertEquals("10.5.0.10", crash.address(), "a restarted replica keeps its address");
            assertEquals(InstanceState.FAILED, row(m, "rp-never-0").state());
            assertEquals(0, row(m, "rp-never-0").restarts());
            assertEquals(1, m.status().stream().filter(r -> r.name().equals("rp-crash-0")).count(), m.status().toString());
        } finally {
            m.stopAll();
        }
    }

    @Test
    void shouldRestartAKernelThatDiedButNotOneThatWasStopped() throws Exception {
        final FleetManager m = new FleetManager(fleet("""
            osvj.fleet.services = [
              { name = rp-fail, app = echo, memory = 16M, replicas = 2, restart = on-failure, restart-backoff = 10ms }
              { name = rp-always, app = echo, memory = 16M, restart = always, restart-backoff = 10ms }
            ]
            """), "local", r -> { });
        try {
            m.deploy();
            // powered off with an error: FAILED, then booted again under the same name
            final InJvmInstance victim = (InJvmInstance)m.instance("rp-fail-1");
            victim.kernel().powerOff(3);
            await("rp-fail-1 restarted", () -> row(m, "rp-fail-1").restarts() == 1
                && row(m, "rp-fail-1").state() == InstanceState.RUNNING);
            assertNotSame(victim, m.instance("rp-fail-1"));
            assertEquals(InstanceState.RUNNING, row(m, "rp-fail-0").state());
            assertEquals(0, row(m, "rp-fail-0").restarts());

            // exit 0 is not a failure for on-failure ...
            final InJvmInstance clean = (InJvmInstance)m.instance("rp-fail-0");
            clean.kernel().powerOff(0);
            await("rp-fail-0 STOPPED", () -> row(m, "rp-fail-0").state() == InstanceState.STOPPED);
            // ... but always restarts it
            final InJvmInstance always = (InJvmInstance)m.instance("rp-always-0");
            always.kernel().powerOff(0);
            await("rp-always-0 restarted", () -> row(m, "rp-always-0").restarts() == 1
                && row(m, "rp-always-0").state() == InstanceState.RUNNING);
            // on-failure never schedules a restart for an exit 0
            assertEquals(InstanceState.STOPPED, row(m, "rp-fail-0").state());
            assertSame(clean, m.instance("rp-fail-0"));

            // a scale-down stops a replica: not restarted
            m.scale("rp-always", 0);
            assertTrue(m.status().stream().noneMatch(r -> r.service().equals("rp-always")), m.status().toString());
        } finally {
            m.stopAll();
        }
    }

    private static void assertSame(final Object expected, final Object actual) {
        org.junit.jupiter.api.Assertions.assertSame(expected, actual);
    }
}
