package dev.osvj.sched;

import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.DeadLetterSuppression;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.dispatch.ExecutionContexts;
import scala.concurrent.ExecutionContextExecutor;

import java.time.Duration;

/**
 * A vCPU as an actor on its own dedicated carrier thread (a Pekko {@code PinnedDispatcher}): the
 * "physical CPU". Its mailbox is the vCPU's interrupt line: IPIs ({@link Ipi}), clock-event
 * interrupts ({@link TimerIrq}), the balancer tick and control requests. Handling any of them runs the
 * vCPU's scheduler loop ({@link Cpu#runFor}) until the vCPU halts (nothing runnable after polling:
 * the actor then waits for its next message, which is the halt), gives the mailbox a turn
 * ({@code osvj.sched.mailbox-interval}: the loop sends itself {@link Resume} so ticks and stop
 * requests are not starved by busy threads), or stops.
 *
 * <p>Protocol, one line per message:
 * <ul>
 *   <li>{@link Start}: first run after boot (threads created before the vCPUs came up);</li>
 *   <li>{@link Ipi}: a remote wakeup found this vCPU halted; run the loop;</li>
 *   <li>{@link TimerIrq}: the clock-event device fired while this vCPU was halted; run the loop;</li>
 *   <li>{@link Resume}: self-sent after a mailbox turn; run the loop;</li>
 *   <li>{@link BalanceTick}: every {@code osvj.sched.balance-interval} (OSv: 100 ms), one step of
 *       OSv's load balancer ({@link Cpu#balance}). The period runs on the ActorSystem's scheduler (so
 *       {@code ManualTime} drives it in tests); the tick raises the vCPU's control interrupt so a busy
 *       loop lets the mailbox in at its next preemption point, and is skipped while nothing is queued
 *       behind the running thread ({@link Cpu#balancePeriodElapsed});</li>
 *   <li>{@link Stop}: the kernel stops; the loop ends once this vCPU's dispatcher worker has drained
 *       its queue, then the actor stops.</li>
 * </ul>
 *
 * <p>Stopped from outside: the sched subsystem's supervisor stops right after the stop hook, and a
 * stopping parent stops its children first, so a vCPU actor often gets Pekko's terminate signal
 * before it has processed {@link Stop} (which then goes to dead letters, unlogged) or a pending
 * {@link Resume}. Its {@code PostStop} then runs the loop to the end on the carrier
 * ({@link Cpu#finishAfterActorStopped}), bounded by the stop timeout: the dispatcher worker suspended
 * on this vCPU finishes its mailbox run and runs or spills its queue, so no task is stranded.
 */
final class VcpuActor extends AbstractBehavior<VcpuActor.Command> {
    /**
     * Messages of the vCPU. They are interrupts: once the actor has stopped (its parent stopped it,
     * see the class documentation) they mean nothing, so they are not logged as dead letters.
     */
    sealed interface Command extends DeadLetterSuppression permits Start, Ipi, TimerIrq, Resume, BalanceTick, Stop {
    }

    enum Start implements Command { BOOT }

    enum Ipi implements Command { WAKEUP }

    enum TimerIrq implements Command { FIRED }

    enum Resume implements Command { CONTINUE }

    enum BalanceTick implements Command { TICK }

    enum Stop implements Command { REQUEST }

    /** Runs the balancer-period callback on the scheduler's own thread (it only sets a bit and sends). */
    private static final ExecutionContextExecutor INLINE = ExecutionContexts.fromExecutor(Runnable::run);

    private final Cpu cpu;

    private final Cancellable balanceTimer;

    /**
     * @param balanceInterval the balancer period, or null for no periodic tick (tests that send
     *                        {@link BalanceTick} themselves).
     */
    static Behavior<Command> create(final Cpu cpu, final Duration balanceInterval) {
        return Behaviors.setup(ctx -> new VcpuActor(ctx, cpu, balanceInterval == null ? null
            : ctx.getSystem().scheduler().scheduleAtFixedRate(balanceInterval, balanceInterval, cpu::balancePeriodElapsed,
                INLINE)));
    }

    private VcpuActor(final ActorContext<Command> context, final Cpu cpu, final Cancellable balanceTimer) {
        super(context);
        this.cpu = cpu;
        this.balanceTimer = balanceTimer;
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
            .onMessageEquals(Start.BOOT, this::run)
            .onMessageEquals(Ipi.WAKEUP, this::run)
            .onMessageEquals(TimerIrq.FIRED, this::run)
            .onMessageEquals(Resume.CONTINUE, this::run)
            .onMessageEquals(BalanceTick.TICK, this::onBalanceTick)
            .onMessageEquals(Stop.REQUEST, this::run)
            .onSignal(PostStop.class, signal -> onPostStop())
            .build();
    }

    private Behavior<Command> run() {
        return switch (cpu.runFor()) {
            case HALTED -> this;
            case BUDGET -> {
                getContext().getSelf().tell(Resume.CONTINUE);
                yield this;
            }
            case STOPPED -> {
                cpu.markStopped();
                yield Behaviors.stopped();
            }
        };
    }

    private Behavior<Command> onBalanceTick() {
        cpu.balance();
        return this;
    }

    private Behavior<Command> onPostStop() {
        if (balanceTimer != null) {
            balanceTimer.cancel();
        }
        if (!cpu.stopped.isDone()) {
            // Stopped from outside (the parent stopped) before the loop finished: the kernel threads
            // of this vCPU, its dispatcher worker among them, must not be left suspended with
            // mailbox runs in hand. Finish the vCPU here, on its carrier.
            final Scheduler s = cpu.scheduler;
            s.requestStop();
            if (!cpu.finishAfterActorStopped(s.drainTimeoutNanos())) {
                s.warn("vCPU " + cpu.id + " did not stop within " + s.drainTimeoutNanos() / 1_000_000
                    + " ms after its actor stopped; abandoning its kernel threads");
                s.force();
            }
        }
        cpu.markStopped();
        return this;
    }
}
