package dev.osvj.sched;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.testing.StandaloneKernel;
import dev.osvj.sched.dispatch.VcpuDispatcher;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The sched subsystem inside a real ActorSystem whose dispatchers are the kernel dispatcher: actors run
 * on the boot CPU before the vCPUs are up, on the vCPUs after, and on the boot CPU again after stop.
 */
class SchedSubsystemTest {
    /** Where a message was processed. */
    record Where(String hostThread, String kernelThread) {
    }

    sealed interface Cmd permits Ping, Boot, Stop {
    }

    record Ping(ActorRef<Where> replyTo) implements Cmd {
    }

    record Boot(ActorRef<String> replyTo) implements Cmd {
    }

    record Stop(ActorRef<String> replyTo) implements Cmd {
    }

    static Where here() {
        final KThread k = KThread.current();
        return new Where(Thread.currentThread().getName(), k == null ? null : k.name());
    }

    /** A stand-in for the kernel's subsystem supervisor: boots and stops the sched subsystem. */
    static Behavior<Cmd> supervisor(final SchedSubsystem sched, final StandaloneKernel kernel) {
        return Behaviors.setup(ctx -> Behaviors.receive(Cmd.class)
            .onMessage(Ping.class, p -> {
                p.replyTo().tell(here());
                return Behaviors.same();
            })
            .onMessage(Boot.class, b -> {
                sched.boot(kernel.bootContext(sched, ctx));
                b.replyTo().tell("booted");
                return Behaviors.same();
            })
            .onMessage(Stop.class, s -> {
                sched.stop(kernel);
                s.replyTo().tell("stopped");
                return Behaviors.same();
            })
            .build());
    }

    static Behavior<Cmd> echo() {
        return Behaviors.receive(Cmd.class).onMessage(Ping.class, p -> {
            p.replyTo().tell(here());
            return Behaviors.same();
        }).build();
    }

    @Test
    void shouldRunActorsOnTheBootCpuThenOnTheVcpusThenOnTheBootCpuAgain() throws Exception {
        final String name = SchedTestSupport.kernelName("kernel");
        final Config config = VcpuDispatcher.pekkoConfig().withFallback(ConfigFactory.load());
        final ActorTestKit kit = ActorTestKit.create(name, config);
        try {
            final SchedSubsystem sched = new SchedSubsystem();
            final ConfigSpec spec = new ConfigSpec("osvj");
            sched.declareConfig(spec);
            assertEquals(List.of(), spec.validate(config), "reference.conf matches the spec");

            final StandaloneKernel kernel = new StandaloneKernel(kit.system().name(), kit.system().settings().config());
            final ActorRef<Cmd> supervisor = kit.spawn(supervisor(sched, kernel), "sched");
            final List<ActorRef<Cmd>> echoes = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                echoes.add(kit.spawn(echo(), "echo" + i));
            }
            final TestProbe<Where> where = kit.createTestProbe();
            supervisor.tell(new Ping(where.ref()));
            final Where before = where.receiveMessage();
            assertTrue(before.hostThread().contains("boot-cpu"), "before boot: " + before);

            final TestProbe<String> done = kit.createTestProbe();
            supervisor.tell(new Boot(done.ref()));
            done.expectMessage(Duration.ofSeconds(30), "booted");
            final Scheduler s = kernel.services().require(Scheduler.class);
            assertTrue(Scheduler.lookup(name).isPresent());
            assertTrue(kernel.notes().get(0).endsWith("2 CPUs detected"), kernel.notes().toString());

            for (int round = 0; round < 20; round++) {
                for (final ActorRef<Cmd> e : echoes) {
                    e.tell(new Ping(where.ref()));
                }
                for (int i = 0; i < echoes.size(); i++) {
                    final Where w = where.receiveMessage(Duration.ofSeconds(30));
                    assertTrue(w.kernelThread() != null && w.kernelThread().startsWith("dispatcher/"),
                        "after boot: " + w);
                }
            }
            assertTrue(s.cpuStats().stream().mapToLong(CpuStats::tasksRun).sum() >= 160);

            final StandaloneKernel.CommandResult ps = kernel.execute("ps");
            assertEquals(0, ps.status());
            final StandaloneKernel.CommandResult top = kernel.execute("top", "-n", "1", "-d", "20");
            assertEquals(0, top.status());
            final String out = ps.output() + top.output();
            assertTrue(out.contains("dispatcher/0") && out.contains("dispatcher/1"), out);
            assertTrue(out.contains("SWITCH/s") && out.contains("TIMER/s") && out.contains("BOOST/s"), out);
            assertEquals(2, kernel.execute("top", "-x").status());

            supervisor.tell(new Stop(done.ref()));
            done.expectMessage(Duration.ofSeconds(30), "stopped");
            SchedTestSupport.await("vCPUs stopped", () -> s.cpuStats().stream().allMatch(c -> c.state().equals("stopped")));
            assertFalse(Scheduler.lookup(name).isPresent());
            for (final ActorRef<Cmd> e : echoes) {
                e.tell(new Ping(where.ref()));
            }
            for (int i = 0; i < echoes.size(); i++) {
                final Where w = where.receiveMessage(Duration.ofSeconds(30));
                assertTrue(w.hostThread().contains("boot-cpu") && w.kernelThread() == null, "after stop: " + w);
            }
        } finally {
            kit.shutdownTestKit();
        }
    }
}
