package dev.osvj.sched;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.testing.StandaloneKernel;
import dev.osvj.sched.dispatch.VcpuDispatcher;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The kernel's shutdown order on the kernel dispatcher, with a real ActorSystem: a guardian boots the
 * sched subsystem under a supervisor that, like the kernel's, runs the stop hook and then stops itself
 * (which stops the vCPU actors, its children, at once); the guardian then stops and the ActorSystem
 * terminates, which needs every remaining mailbox run (Pekko's system actors, CoordinatedShutdown) to
 * run on the boot CPU. Actors keep messaging each other throughout, so mailbox runs are queued on the
 * vCPUs, running, or in flight to them when the vCPUs stop. Repeated, so the races show.
 */
class KernelDispatcherShutdownTest {
    private static final int ROUNDS = 25;
    private static final long TERMINATE_SECONDS = 60;

    sealed interface GuardianCmd permits Booted, Shutdown, StopDone {
    }

    record Booted() implements GuardianCmd {
    }

    enum Shutdown implements GuardianCmd { INSTANCE }

    record StopDone() implements GuardianCmd {
    }

    sealed interface SupervisorCmd permits BootSched, StopSched {
    }

    record BootSched(ActorRef<GuardianCmd> replyTo) implements SupervisorCmd {
    }

    record StopSched(ActorRef<GuardianCmd> replyTo) implements SupervisorCmd {
    }

    record Ball(ActorRef<Ball> from, long hits) {
    }

    /** Like the kernel's SubsystemSupervisor: boot phase, then stop hook and stop (children go with it). */
    static Behavior<SupervisorCmd> supervisor(final SchedSubsystem sched, final AtomicReference<Scheduler> scheduler) {
        return Behaviors.setup(ctx -> {
            final StandaloneKernel kernel = new StandaloneKernel(ctx.getSystem().name(), ctx.getSystem().settings().config());
            return Behaviors.receive(SupervisorCmd.class)
                .onMessage(BootSched.class, b -> {
                    sched.boot(kernel.bootContext(sched, ctx));
                    scheduler.set(kernel.services().require(Scheduler.class));
                    b.replyTo().tell(new Booted());
                    return Behaviors.same();
                })
                .onMessage(StopSched.class, s -> {
                    sched.stop(kernel);
                    s.replyTo().tell(new StopDone());
                    return Behaviors.stopped();
                })
                .build();
        });
    }

    /** Plays ping-pong forever, counting hits: keeps mailbox runs queued and in flight at all times. */
    static Behavior<Ball> player(final AtomicLong hits) {
        return Behaviors.setup(ctx -> Behaviors.receive(Ball.class).onMessage(Ball.class, ball -> {
            hits.incrementAndGet();
            ball.from().tell(new Ball(ctx.getSelf(), ball.hits() + 1));
            return Behaviors.same();
        }).build());
    }

    /** Like the kernel's guardian: boot, serve, and on shutdown stop the subsystem, then itself. */
    static Behavior<GuardianCmd> guardian(final SchedSubsystem sched, final AtomicReference<Scheduler> scheduler,
        final CompletableFuture<Void> booted, final AtomicLong hits) {
        return Behaviors.setup(ctx -> {
            final ActorRef<SupervisorCmd> supervisor = ctx.spawn(supervisor(sched, scheduler), "sched");
            for (int pair = 0; pair < 4; pair++) {
                final ActorRef<Ball> a = ctx.spawn(player(hits), "ping-" + pair);
                final ActorRef<Ball> b = ctx.spawn(player(hits), "pong-" + pair);
                a.tell(new Ball(b, 0));
            }
            supervisor.tell(new BootSched(ctx.getSelf()));
            return Behaviors.receive(GuardianCmd.class)
                .onMessage(Booted.class, b -> {
                    booted.complete(null);
                    return Behaviors.same();
                })
                .onMessageEquals(Shutdown.INSTANCE, () -> {
                    supervisor.tell(new StopSched(ctx.getSelf()));
                    return Behaviors.same();
                })
                .onMessage(StopDone.class, d -> Behaviors.stopped())
                .build();
        });
    }

    @Test
    void shouldTerminateTheActorSystemAfterTheSchedSubsystemStopsUnderItsSupervisor() throws Exception {
        final Config base = VcpuDispatcher.pekkoConfig().withFallback(ConfigFactory.load());
        for (int round = 0; round < ROUNDS; round++) {
            final String name = SchedTestSupport.kernelName("shutdown");
            final AtomicReference<Scheduler> scheduler = new AtomicReference<>();
            final CompletableFuture<Void> booted = new CompletableFuture<>();
            final AtomicLong hits = new AtomicLong();
            final ActorSystem<GuardianCmd> system = ActorSystem.create(
                guardian(new SchedSubsystem(), scheduler, booted, hits), name, base);
            booted.get(TERMINATE_SECONDS, TimeUnit.SECONDS);
            final long atBoot = hits.get();
            SchedTestSupport.await("mailbox runs on the vCPUs", () -> hits.get() > atBoot + 200);
            system.tell(Shutdown.INSTANCE);
            try {
                system.getWhenTerminated().toCompletableFuture().get(TERMINATE_SECONDS, TimeUnit.SECONDS);
            } catch (final TimeoutException e) {
                fail("round " + round + ": the ActorSystem did not terminate after the vCPUs stopped; vCPUs: "
                    + scheduler.get().cpuStats());
            }
            final Scheduler s = scheduler.get();
            assertFalse(Scheduler.lookup(name).isPresent(), "round " + round);
            assertTrue(s.cpuStats().stream().allMatch(c -> c.state().equals("stopped")), "round " + round + ": " + s.cpuStats());
            assertTrue(s.cpuStats().stream().mapToLong(CpuStats::tasksRun).sum() > 0, "round " + round);
        }
    }
}
