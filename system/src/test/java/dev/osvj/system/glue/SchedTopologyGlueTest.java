package dev.osvj.system.glue;

import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.mmu.VcpuTopology;
import dev.osvj.sched.KThread;
import dev.osvj.sched.SchedConfig;
import dev.osvj.sched.Scheduler;
import dev.osvj.sched.ThreadAttr;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The MMU's VcpuTopology from the scheduler: the adapter's answers, and the glue wiring in a booted kernel. */
class SchedTopologyGlueTest {
    @Test
    void shouldAnswerFromTheSchedulersVcpusAndApplicationThreads() throws Exception {
        final ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "topology-test");
        final Scheduler s = Scheduler.create("topology-test", SchedConfig.defaults(2), KernelClock.SYSTEM, null);
        s.start((b, n, p) -> system.systemActorOf(b, s.name() + "-" + n, p));
        try {
            final SchedulerVcpuTopology topology = new SchedulerVcpuTopology(s);
            assertEquals(2, topology.cpus());
            final int host = topology.currentCpu();
            assertTrue(host >= 0 && host < 2, "host thread mapped to " + host);
            assertFalse(topology.isApplicationThread());

            final AtomicInteger hookCpu = new AtomicInteger(-1);
            topology.onApplicationSwitchIn(cpu -> hookCpu.compareAndSet(-1, cpu));
            final AtomicReference<String> seen = new AtomicReference<>();
            join(s.spawn(ThreadAttr.named("app").pinnedTo(1).asApplication(), () -> seen.set(
                topology.currentCpu() + " " + topology.isApplicationThread() + " " + topology.runningApplication(1))));
            assertEquals("1 true true", seen.get());
            assertEquals(1, hookCpu.get(), "switch-in hook ran for vCPU 1");

            join(s.spawn(ThreadAttr.named("kernel").pinnedTo(0), () -> seen.set(
                topology.currentCpu() + " " + topology.isApplicationThread() + " " + topology.runningApplication(0))));
            assertEquals("0 false false", seen.get());
        } finally {
            s.onApplicationSwitchIn(null);
            assertTrue(s.stop(Duration.ofSeconds(10)));
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void shouldGiveTheMmuTheSchedulersTopologyAtBoot() throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        final ByteArrayOutputStream console = new ByteArrayOutputStream();
        final Kernel kernel = Kernel.boot(KernelConfigLoader.load(null, List.of("osvj.name=topology-glue"),
                new Properties(), subsystems, tracepoints),
            subsystems, tracepoints, new PrintStream(console, true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        try {
            final VcpuTopology topology = kernel.services().require(VcpuTopology.class);
            assertInstanceOf(SchedulerVcpuTopology.class, topology);
            assertEquals(kernel.services().require(Scheduler.class).cpuCount(), topology.cpus());
        } finally {
            kernel.powerOff(0);
            kernel.awaitPoweredOff(Duration.ofSeconds(30));
        }
    }

    private static void join(final KThread t) {
        assertTrue(t.join(TimeUnit.SECONDS.toNanos(60)), "thread did not end: " + t);
        if (t.failure() != null) {
            throw new AssertionError("thread failed", t.failure());
        }
    }
}
