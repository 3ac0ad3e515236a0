package dev.osvj.system.boot;

import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;

/**
 * The kernel's guardian: the root actor of a kernel instance. It spawns one {@link SubsystemSupervisor}
 * per subsystem in declared order ({@link Subsystem#order()}), then boots them one after another;
 * on {@link Shutdown} (or a failed phase) it stops the booted ones in reverse order, each with its
 * stop hook, and then stops itself, which terminates the actor system.
 *
 * <pre>
 *   spawn all ──▶ Booting(i) ──PhaseDone──▶ Booting(i+1) ... ──▶ Running ──Shutdown──▶ Stopping(n-1..0) ──▶ stopped
 *                     │                                                                 ▲
 *                     └──PhaseFailed──────────────────────────────────────────────────────┘ (booted ones only)
 * </pre>
 *
 * A {@link Shutdown} during the boot waits for the phase in progress and then stops. A stop hook that
 * does not answer within {@code stopTimeout} is reported as failed and the next one runs.
 */
public final class KernelGuardian extends AbstractBehavior<KernelGuardian.Command> {
    public sealed interface Command {
    }

    /** Stop every booted subsystem in reverse order, then the kernel. */
    public enum Shutdown implements Command {
        INSTANCE
    }

    /** A standby ActorSystem's guardian becomes {@code guardian} (see {@link KernelStandby}). */
    record Adopt(Behavior<Command> guardian) implements Command {
    }

    record PhaseDone(String subsystem, long startNanos, long endNanos) implements Command {
    }

    record PhaseFailed(String subsystem, Throwable cause) implements Command {
    }

    record SubsystemStopHookDone(String subsystem, Throwable error) implements Command {
    }

    private record StopTimedOut(String subsystem) implements Command {
    }

    private enum State { BOOTING, RUNNING, STOPPING }

    private final List<Subsystem> subsystems;
    private final List<ActorRef<SubsystemSupervisor.Command>> supervisors = new ArrayList<>();
    private final KernelContext kernel;
    private final Consumer<KernelEvent> events;
    private final Duration stopTimeout;
    private final TimerScheduler<Command> timers;

    private State state = State.BOOTING;
    private int booted;        // subsystems [0, booted) have finished their boot phase
    private int stopping = -1; // index of the subsystem whose stop hook is running
    private boolean shutdownRequested;

    private KernelGuardian(final ActorContext<Command> context, final TimerScheduler<Command> timers,
        final KernelContext kernel, final List<Subsystem> subsystems, final Consumer<KernelEvent> events,
        final Consumer<String> notes, final Duration stopTimeout) {
        super(context);
        this.timers = timers;
        this.kernel = kernel;
        this.subsystems = subsystems;
        this.events = events;
        this.stopTimeout = stopTimeout;
        for (final Subsystem s : subsystems) {
            supervisors.add(context.spawn(
                Behaviors.supervise(SubsystemSupervisor.create(s, kernel, notes)).onFailure(SupervisorStrategy.resume()),
                s.name()));
        }
        events.accept(new KernelEvent.GuardianStarted(kernel.clock().monotonicNanos()));
        if (subsystems.isEmpty()) {
            state = State.RUNNING;
            events.accept(new KernelEvent.Booted(kernel.clock().monotonicNanos()));
        } else {
            supervisors.get(0).tell(new SubsystemSupervisor.Boot(context.getSelf()));
        }
    }

    /**
     * @param subsystems  the subsystems; booted in {@link Subsystem#order()} (ties by name).
     * @param events      receives the boot and stop events (called on the guardian's thread).
     * @param notes       receives the boot messages subsystems print ({@code BootContext.note}).
     * @param stopTimeout how long one stop hook may take.
     */
    public static Behavior<Command> create(final KernelContext kernel, final List<Subsystem> subsystems,
        final Consumer<KernelEvent> events, final Consumer<String> notes, final Duration stopTimeout) {
        final List<Subsystem> ordered = new ArrayList<>(subsystems);
        ordered.sort(Comparator.comparingInt(Subsystem::order).thenComparing(Subsystem::name));
        for (int i = 1; i < ordered.size(); i++) {
            if (ordered.get(i).name().equals(ordered.get(i - 1).name())) {
                throw new IllegalArgumentException("two subsystems named " + ordered.get(i).name());
            }
        }
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
            new KernelGuardian(ctx, timers, kernel, List.copyOf(ordered), events, notes, stopTimeout)));
    }

    /**
     * The guardian of a {@link KernelStandby}: waits for {@link Adopt} and becomes the kernel guardian
     * (its {@code setup} runs then, in this actor's context); any other message before that is dropped.
     */
    static Behavior<Command> standby() {
        return Behaviors.receive(Command.class)
            .onMessage(Adopt.class, adopt -> adopt.guardian())
            .build();
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
            .onMessage(PhaseDone.class, this::onPhaseDone)
            .onMessage(PhaseFailed.class, this::onPhaseFailed)
            .onMessageEquals(Shutdown.INSTANCE, this::onShutdown)
            .onMessage(SubsystemStopHookDone.class, this::onStopHookDone)
            .onMessage(StopTimedOut.class, this::onStopTimedOut)
            .build();
    }

    private Behavior<Command> onPhaseDone(final PhaseDone done) {
        final Subsystem s = subsystems.get(booted);
        events.accept(new KernelEvent.PhaseBooted(s.name(), s.phase(), done.startNanos(), done.endNanos()));
        booted++;
        if (shutdownRequested) {
            return beginStopping();
        }
        if (booted < subsystems.size()) {
            supervisors.get(booted).tell(new SubsystemSupervisor.Boot(getContext().getSelf()));
        } else {
            state = State.RUNNING;
            events.accept(new KernelEvent.Booted(kernel.clock().monotonicNanos()));
        }
        return this;
    }

    private Behavior<Command> onPhaseFailed(final PhaseFailed failed) {
        final Subsystem s = subsystems.get(booted);
        events.accept(new KernelEvent.BootFailed(s.name(), s.phase(), failed.cause()));
        // The failed subsystem did not boot: its supervisor stops (and its children with it) without
        // running a stop hook; the booted ones before it get theirs.
        getContext().stop(supervisors.get(booted));
        return beginStopping();
    }

    private Behavior<Command> onShutdown() {
        if (state == State.BOOTING) {
            shutdownRequested = true; // the phase in progress finishes first
            return this;
        }
        if (state == State.STOPPING) {
            return this;
        }
        return beginStopping();
    }

    private Behavior<Command> beginStopping() {
        state = State.STOPPING;
        stopping = booted;
        return stopNext();
    }

    private Behavior<Command> stopNext() {
        stopping--;
        if (stopping < 0) {
            events.accept(new KernelEvent.Halted());
            return Behaviors.stopped();
        }
        final String name = subsystems.get(stopping).name();
        supervisors.get(stopping).tell(new SubsystemSupervisor.Stop(getContext().getSelf()));
        timers.startSingleTimer(name, new StopTimedOut(name), stopTimeout);
        return this;
    }

    private Behavior<Command> onStopHookDone(final SubsystemStopHookDone done) {
        if (stopping < 0 || !subsystems.get(stopping).name().equals(done.subsystem())) {
            return this; // a late answer after its timeout
        }
        timers.cancel(done.subsystem());
        events.accept(new KernelEvent.SubsystemStopped(done.subsystem(), done.error()));
        return stopNext();
    }

    private Behavior<Command> onStopTimedOut(final StopTimedOut timeout) {
        if (stopping < 0 || !subsystems.get(stopping).name().equals(timeout.subsystem())) {
            return this;
        }
        events.accept(new KernelEvent.SubsystemStopped(timeout.subsystem(),
            new java.util.concurrent.TimeoutException("stop hook did not finish within " + stopTimeout.toMillis() + " ms")));
        getContext().stop(supervisors.get(stopping));
        return stopNext();
    }
}
