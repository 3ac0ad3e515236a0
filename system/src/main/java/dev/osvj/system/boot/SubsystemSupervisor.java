package dev.osvj.system.boot;

import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.ForwardingKernelContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.BootPhaseEvent;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.util.function.Consumer;

/**
 * The supervisor of one subsystem: the parent of all the subsystem's actors. It runs the subsystem's
 * boot phase when the guardian says {@link Boot} and its stop hook on {@link Stop}, then stops (which
 * stops every child). A phase that throws is reported to the guardian, not rethrown: the guardian
 * decides what a failed boot means.
 */
public final class SubsystemSupervisor extends AbstractBehavior<SubsystemSupervisor.Command> {
    public sealed interface Command {
    }

    /** Run the boot phase and report {@link KernelGuardian.PhaseDone} or {@link KernelGuardian.PhaseFailed}. */
    public record Boot(ActorRef<KernelGuardian.Command> replyTo) implements Command {
    }

    /** Run the stop hook, report {@link KernelGuardian.SubsystemStopHookDone}, then stop. */
    public record Stop(ActorRef<KernelGuardian.Command> replyTo) implements Command {
    }

    private final Subsystem subsystem;
    private final KernelContext kernel;
    private final Consumer<String> noteSink;

    private SubsystemSupervisor(final ActorContext<Command> context, final Subsystem subsystem,
        final KernelContext kernel, final Consumer<String> noteSink) {
        super(context);
        this.subsystem = subsystem;
        this.kernel = kernel;
        this.noteSink = noteSink;
    }

    static Behavior<Command> create(final Subsystem subsystem, final KernelContext kernel, final Consumer<String> noteSink) {
        return Behaviors.setup(ctx -> new SubsystemSupervisor(ctx, subsystem, kernel, noteSink));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
            .onMessage(Boot.class, this::onBoot)
            .onMessage(Stop.class, this::onStop)
            .build();
    }

    private Behavior<Command> onBoot(final Boot boot) {
        final BootPhaseEvent event = new BootPhaseEvent();
        event.begin();
        final long start = kernel.clock().monotonicNanos();
        boolean ok = false;
        try {
            subsystem.boot(new PhaseContext(getContext()));
            ok = true;
            boot.replyTo().tell(new KernelGuardian.PhaseDone(subsystem.name(), start, kernel.clock().monotonicNanos()));
        } catch (final Throwable e) {
            boot.replyTo().tell(new KernelGuardian.PhaseFailed(subsystem.name(), e));
        } finally {
            event.end();
            if (event.shouldCommit()) {
                event.kernel = kernel.name();
                event.subsystem = subsystem.name();
                event.phase = subsystem.phase();
                event.ok = ok;
                event.commit();
            }
        }
        return this;
    }

    private Behavior<Command> onStop(final Stop stop) {
        Throwable error = null;
        try {
            subsystem.stop(kernel);
        } catch (final Throwable e) {
            error = e;
        }
        stop.replyTo().tell(new KernelGuardian.SubsystemStopHookDone(subsystem.name(), error));
        return Behaviors.stopped();
    }

    /** The kernel context plus this supervisor's actor context, for one boot phase. */
    private final class PhaseContext extends ForwardingKernelContext implements BootContext {
        private final ActorContext<?> actorContext;

        PhaseContext(final ActorContext<?> actorContext) {
            super(kernel);
            this.actorContext = actorContext;
        }

        @Override
        public ActorContext<?> actorContext() {
            return actorContext;
        }

        @Override
        public void note(final String message) {
            kernel.log().append("INFO", subsystem.name(), message);
            noteSink.accept(message);
        }
    }
}
