package dev.osvj.net.kernel;

import dev.osvj.net.stack.NetStack;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The socket layer's supervisor of net-channel actors. The stack's {@link NetStack.FlowWaker} asks it
 * to wake a flow: the first time it spawns the flow's {@link FlowActor} (restarted on failure, at most
 * 10 times a minute: a crash in one flow's processing does not take down the stack) and remembers the
 * reference in the flow's handle; afterwards wakers tell the actor directly.
 */
final class FlowSupervisor extends AbstractBehavior<FlowSupervisor.Command> {
    sealed interface Command permits Wake {
    }

    record Wake(NetStack.FlowConsumer flow) implements Command {
    }

    private final AtomicLong spawned = new AtomicLong();

    private FlowSupervisor(final ActorContext<Command> ctx) {
        super(ctx);
    }

    static Behavior<Command> create() {
        return Behaviors.setup(FlowSupervisor::new);
    }

    /** The waker the stack calls from the classifier (any thread, no allocation once the actor exists). */
    @SuppressWarnings("unchecked")
    static NetStack.FlowWaker waker(final ActorRef<Command> supervisor) {
        return flow -> {
            final Object h = flow.flowHandle();
            if (h instanceof ActorRef<?> ref) {
                ((ActorRef<FlowActor.Command>)ref).tell(FlowActor.Drain.INSTANCE);
            } else {
                supervisor.tell(new Wake(flow));
            }
        };
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder().onMessage(Wake.class, this::onWake).build();
    }

    @SuppressWarnings("unchecked")
    private Behavior<Command> onWake(final Wake w) {
        Object h = w.flow().flowHandle();
        if (!(h instanceof ActorRef<?>)) {
            final ActorRef<FlowActor.Command> ref = getContext().spawn(
                Behaviors.supervise(FlowActor.create(w.flow()))
                    .onFailure(SupervisorStrategy.restart().withLimit(10, Duration.ofMinutes(1))),
                w.flow().flowName() + "-" + spawned.incrementAndGet());
            w.flow().setFlowHandle(ref);
            h = ref;
        }
        ((ActorRef<FlowActor.Command>)h).tell(FlowActor.Drain.INSTANCE);
        return this;
    }
}
