package dev.osvj.net.kernel;

import dev.osvj.net.stack.NetStack;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * A flow's net-channel actor: the consumer of the flow's channel when no application thread is
 * reading, writing or polling the socket, so ACKs and window updates are not delayed until the
 * application comes back (the objection to VJ's design that Linux's prequeue ran into). It takes the
 * socket lock and runs the queued segments through TCP; it stops when the flow has left the data
 * states and its channel is empty.
 */
final class FlowActor extends AbstractBehavior<FlowActor.Command> {
    sealed interface Command permits Drain {
    }

    enum Drain implements Command {
        INSTANCE
    }

    private final NetStack.FlowConsumer flow;

    private FlowActor(final ActorContext<Command> ctx, final NetStack.FlowConsumer flow) {
        super(ctx);
        this.flow = flow;
    }

    /**
     * The behaviour, also on restart: a (re)started actor first drains whatever its channel holds,
     * because a crash may have left segments queued with the channel's wakeup already claimed (the
     * producer wakes the consumer once per batch, so nobody would tell it again).
     */
    static Behavior<Command> create(final NetStack.FlowConsumer flow) {
        return Behaviors.setup(ctx -> {
            ctx.getSelf().tell(Drain.INSTANCE);
            return new FlowActor(ctx, flow);
        });
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder().onMessage(Drain.class, d -> {
            flow.drainFromFlowActor();
            return flow.finished() ? Behaviors.stopped() : this;
        }).build();
    }
}
