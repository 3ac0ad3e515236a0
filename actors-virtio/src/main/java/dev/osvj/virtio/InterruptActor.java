package dev.osvj.virtio;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A driver's interrupt handler: the actor that receives the device's used buffer notifications (one
 * message per queue, coalesced by the {@link InterruptLine}) and runs the driver's completion
 * processing ({@link VirtioDriver#onInterrupt}) on a vCPU. The driver turns further interrupts off
 * while it polls the queue and back on (with a re-check) when the queue is empty, so the device does
 * not interrupt a driver that is already polling.
 *
 * <p>Every handler run holds the line's interrupt context, because the line may also run a queue's
 * handler inline on the thread that raised the interrupt ({@link InterruptLine}); a message that finds
 * the context taken goes back into the mailbox and is handled after the inline run.
 *
 * <p>A driver exception is a kernel bug (also one thrown inline: it arrives as {@link Failed}): it crashes the actor and the virtio supervisor restarts it.
 * The crash may have struck in the middle of a queue's processing, with the device's interrupts for
 * that queue turned off and completions left in the used ring, so nobody would interrupt again: before
 * the restart ({@link PreRestart}) the actor raises every queue's interrupt on its line, and the
 * restarted actor polls them all (a spurious interrupt is harmless).
 */
public final class InterruptActor extends AbstractBehavior<InterruptActor.Command> {
    /** Messages of the interrupt actor. */
    public sealed interface Command permits Interrupt, Failed {
    }

    /** A used buffer notification for {@code queue} ({@code -1}: config change). */
    public record Interrupt(int queue, InterruptLine line) implements Command {
    }

    /**
     * The driver's handler threw while it ran inline on the thread that raised the interrupt
     * ({@link InterruptLine}): the actor rethrows it, so the supervisor sees the bug and restarts it.
     */
    public record Failed(Throwable cause, InterruptLine line) implements Command {
    }

    private final VirtioDriver driver;
    private final AtomicLong handled;

    private InterruptActor(final ActorContext<Command> context, final VirtioDriver driver, final AtomicLong handled) {
        super(context);
        this.driver = driver;
        this.handled = handled;
    }

    /** @param handled counts interrupts handled (for lsdev), shared across restarts. */
    public static Behavior<Command> create(final VirtioDriver driver, final AtomicLong handled) {
        return Behaviors.setup(ctx -> new InterruptActor(ctx, driver, handled));
    }

    /** The line of the last interrupt handled: the one to raise again before a restart. */
    private InterruptLine line;

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
            .onMessage(Interrupt.class, this::onInterrupt)
            .onMessage(Failed.class, this::onFailed)
            .onSignal(PreRestart.class, s -> {
                if (line != null) {
                    line.raiseAll();
                }
                return this;
            })
            .build();
    }

    private Behavior<Command> onInterrupt(final Interrupt interrupt) {
        final InterruptLine l = interrupt.line();
        line = l;
        if (!l.enter()) {
            // A handler runs inline on another thread right now: try again after it (never block a vCPU).
            l.countDeferred();
            getContext().getSelf().tell(interrupt);
            return this;
        }
        try {
            l.taken(interrupt.queue());
            handled.incrementAndGet();
            driver.onInterrupt(interrupt.queue());
        } finally {
            l.leave();
        }
        return this;
    }

    private Behavior<Command> onFailed(final Failed failed) {
        line = failed.line();
        if (failed.cause() instanceof RuntimeException e) {
            throw e;
        }
        if (failed.cause() instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("interrupt handler failed inline", failed.cause());
    }
}
