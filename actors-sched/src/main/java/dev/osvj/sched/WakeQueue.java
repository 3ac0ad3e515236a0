package dev.osvj.sched;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One incoming-wakeup queue of a vCPU (OSv's {@code incoming_wakeups[src]}): an intrusive lock-free
 * list linked through {@link KThread#wakeNext}.
 *
 * <p>Producers: code running on the source vCPU (one at a time, so effectively single producer) or,
 * for the target's foreign queue, any host thread; they push with a CAS. Consumer: the target vCPU
 * only, which takes the whole list with one {@code getAndSet(null)} and reverses it into FIFO order.
 * A thread is on at most one wake queue at a time: only a WAITING to WAKING transition (a CAS) or a
 * migration, both exclusive, may push it. The CAS publishes the thread's fields to the consumer.
 */
final class WakeQueue {
    private static final VarHandle HEAD;

    static {
        try {
            HEAD = MethodHandles.lookup().findVarHandle(WakeQueue.class, "head", KThread.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // accessed through HEAD
    private volatile KThread head;

    /** Producer side. */
    void push(final KThread t) {
        KThread h;
        do {
            h = head;
            t.wakeNext = h;
        } while (!HEAD.compareAndSet(this, h, t));
    }

    /** Consumer side: everything pushed so far, oldest first, linked through {@code wakeNext}. */
    KThread drainFifo() {
        KThread t = (KThread)HEAD.getAndSet(this, (KThread)null);
        KThread fifo = null;
        while (t != null) {
            final KThread next = t.wakeNext;
            t.wakeNext = fifo;
            fifo = t;
            t = next;
        }
        return fifo;
    }

    boolean isEmpty() {
        return head == null;
    }
}
