package dev.osvj.net.kernel;

import dev.osvj.net.stack.NetStack;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The layered receive path's separate stage (a traditional stack's softirq): the interface actors
 * queue every frame; this actor does the protocol processing. One {@link Kick} per batch: the notifier
 * sends it only when no kick is outstanding.
 */
final class ReceiveStageActor extends AbstractBehavior<ReceiveStageActor.Command> {
    static final int BUDGET = 256;

    sealed interface Command permits Kick {
    }

    enum Kick implements Command {
        INSTANCE
    }

    private final NetStack stack;
    private final AtomicBoolean kicked;

    private ReceiveStageActor(final ActorContext<Command> ctx, final NetStack stack, final AtomicBoolean kicked) {
        super(ctx);
        this.stack = stack;
        this.kicked = kicked;
    }

    static Behavior<Command> create(final NetStack stack) {
        return Behaviors.setup(ctx -> {
            final AtomicBoolean kicked = new AtomicBoolean();
            stack.setReceiveStageNotifier(() -> {
                if (!kicked.get() && kicked.compareAndSet(false, true)) {
                    ctx.getSelf().tell(Kick.INSTANCE);
                }
            });
            return new ReceiveStageActor(ctx, stack, kicked);
        });
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder().onMessage(Kick.class, k -> {
            kicked.set(false);
            if (stack.runReceiveStage(BUDGET) == BUDGET || stack.receiveStageHasWork()) {
                if (kicked.compareAndSet(false, true)) {
                    getContext().getSelf().tell(Kick.INSTANCE);
                }
            }
            return this;
        }).build();
    }
}
