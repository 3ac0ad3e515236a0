package dev.osvj.net.kernel;

import dev.osvj.net.stack.NetStack;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.time.Duration;

/**
 * The stack's timer tick: every {@code tick} it runs {@link NetStack#poll} (TCP retransmission,
 * delayed ACK, persist, keepalive, TIME_WAIT; reassembly expiry). The tick is the granularity of those
 * timers (BSD's fast timer is 200 ms; ours defaults to 5 ms so a 40 ms delayed ACK is accurate).
 */
final class TimerActor extends AbstractBehavior<TimerActor.Command> {
    sealed interface Command permits Tick {
    }

    enum Tick implements Command {
        INSTANCE
    }

    private final NetStack stack;

    private TimerActor(final ActorContext<Command> ctx, final NetStack stack) {
        super(ctx);
        this.stack = stack;
    }

    static Behavior<Command> create(final NetStack stack, final Duration tick) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Tick.INSTANCE, tick);
            return new TimerActor(ctx, stack);
        }));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder().onMessage(Tick.class, t -> {
            stack.poll(stack.now());
            return this;
        }).build();
    }
}
