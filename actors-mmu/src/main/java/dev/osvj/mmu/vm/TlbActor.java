package dev.osvj.mmu.vm;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The TLB-shootdown interrupt handler of one vCPU: receives IPI doorbells and flushes that vCPU's
 * {@link Tlb}, acknowledging every queued {@link FlushRequest}. One per vCPU, spawned under the mmu
 * supervisor; with the scheduler's dispatcher it runs on its own vCPU, between application slices,
 * like an interrupt taken between instructions.
 *
 * <p>Protocol: the initiator queues a request on the target's {@link Tlb} and then sends
 * {@link Ipi}; a doorbell may find the queue already drained (the target serviced it while waiting on
 * its own shootdown), which is fine. {@link Flush} carries its request in the message instead (a
 * direct flush order, used by tests and by callers without a queue).
 */
public final class TlbActor extends AbstractBehavior<TlbActor.Command> {
    /** Messages of the TLB actor. */
    public sealed interface Command permits Ipi, Flush {
    }

    /** Doorbell: service the requests queued on the TLB. */
    public enum Ipi implements Command {
        INSTANCE
    }

    /** Flush now and acknowledge {@code request}. */
    public record Flush(FlushRequest request) implements Command {
    }

    private final Tlb tlb;

    private TlbActor(final ActorContext<Command> context, final Tlb tlb) {
        super(context);
        this.tlb = tlb;
    }

    public static Behavior<Command> create(final Tlb tlb) {
        return Behaviors.setup(ctx -> new TlbActor(ctx, tlb));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
            .onMessageEquals(Ipi.INSTANCE, this::onIpi)
            .onMessage(Flush.class, this::onFlush)
            .build();
    }

    private Behavior<Command> onIpi() {
        tlb.serviceIpis();
        return this;
    }

    private Behavior<Command> onFlush(final Flush flush) {
        tlb.postIpi(flush.request());
        tlb.serviceIpis();
        return this;
    }
}
