package dev.osvj.virtio;

import dev.osvj.virtio.ring.Notifier;
import org.apache.pekko.actor.typed.ActorRef;

import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * A device's interrupt line to its driver's {@link InterruptActor}: {@link #notify} sends one
 * preallocated {@link InterruptActor.Interrupt} message per queue, and coalesces: while a queue's
 * interrupt is still in the actor's mailbox, further interrupts for it are dropped (the driver will
 * see their completions when it handles the pending one). The actor clears the pending mark before it
 * polls the queue, so no completion is ever left without an interrupt after it.
 *
 * <p>Index 0 of the pending marks is the config-change interrupt; queue q uses q + 1.
 */
public final class InterruptLine implements Notifier {
    private final ActorRef<InterruptActor.Command> actor;
    private final InterruptActor.Interrupt[] messages;
    private final AtomicIntegerArray pending;

    public InterruptLine(final ActorRef<InterruptActor.Command> actor, final int queues) {
        this.actor = actor;
        this.messages = new InterruptActor.Interrupt[queues + 1];
        for (int i = 0; i < messages.length; i++) {
            messages[i] = new InterruptActor.Interrupt(i - 1, this);
        }
        this.pending = new AtomicIntegerArray(queues + 1);
    }

    @Override
    public void notify(final int queueIndex) {
        final int slot = queueIndex + 1;
        if (pending.compareAndSet(slot, 0, 1)) {
            actor.tell(messages[slot]);
        }
    }

    /**
     * Raise every queue's interrupt and the config-change one (coalesced with those still pending): a
     * restarted handler must look at every queue, because the crashed one may have left a queue with
     * its interrupts suppressed and completions unprocessed.
     */
    void raiseAll() {
        for (int slot = 0; slot < messages.length; slot++) {
            notify(slot - 1);
        }
    }

    /** The actor took the interrupt of {@code queueIndex}: the next one must be sent again. */
    void taken(final int queueIndex) {
        pending.set(queueIndex + 1, 0);
    }
}
