package dev.osvj.net.kernel;

import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.time.Duration;

/** Spawns the actors that drive a stack as children of the net subsystem's supervisor. */
public final class NetActors {
    private NetActors() {
    }

    /** Start the interface, timer, receive-stage and flow-supervisor actors; install the flow waker. */
    public static void start(final ActorContext<?> ctx, final NetStack stack, final Duration tick) {
        final ActorRef<FlowSupervisor.Command> flows = ctx.spawn(
            Behaviors.supervise(FlowSupervisor.create()).onFailure(SupervisorStrategy.restart()), "flows");
        stack.setFlowWaker(FlowSupervisor.waker(flows));
        if (!stack.settings().netChannels()) {
            ctx.spawn(Behaviors.supervise(ReceiveStageActor.create(stack)).onFailure(SupervisorStrategy.restart()),
                "receive-stage");
        }
        for (final NetInterface i : stack.interfaces()) {
            ctx.spawn(Behaviors.supervise(InterfaceActor.create(stack, i))
                .onFailure(SupervisorStrategy.restart().withLimit(10, Duration.ofMinutes(1))), "if-" + i.name());
        }
        ctx.spawn(Behaviors.supervise(TimerActor.create(stack, tick)).onFailure(SupervisorStrategy.restart()), "timer");
    }
}
