package dev.osvj.net.kernel;

import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * An interface's receive "interrupt" actor: the device's notifier sends {@link Kick} when frames wait;
 * the actor drains up to {@link #BUDGET} frames through the stack's receive path (classifier, general
 * path) and kicks itself again while frames remain, so one busy interface cannot hold its vCPU for
 * longer than a budget (NAPI style).
 */
final class InterfaceActor extends AbstractBehavior<InterfaceActor.Command> {
    /** Frames per message: bounds one mailbox run. */
    static final int BUDGET = 64;

    sealed interface Command permits Kick {
    }

    enum Kick implements Command {
        INSTANCE
    }

    private final NetStack stack;
    private final NetInterface ifc;

    private InterfaceActor(final ActorContext<Command> ctx, final NetStack stack, final NetInterface ifc) {
        super(ctx);
        this.stack = stack;
        this.ifc = ifc;
    }

    static Behavior<Command> create(final NetStack stack, final NetInterface ifc) {
        return Behaviors.setup(ctx -> {
            ifc.device().setRxNotifier(() -> ctx.getSelf().tell(Kick.INSTANCE));
            ctx.getSelf().tell(Kick.INSTANCE); // frames may have arrived before the notifier was set
            return new InterfaceActor(ctx, stack, ifc);
        });
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder().onMessage(Kick.class, k -> onKick()).build();
    }

    private Behavior<Command> onKick() {
        if (stack.pollInterface(ifc, BUDGET) == BUDGET) {
            getContext().getSelf().tell(Kick.INSTANCE);
        }
        return this;
    }
}
