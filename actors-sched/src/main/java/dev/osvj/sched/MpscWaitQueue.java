package dev.osvj.sched;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * OSv's {@code lockfree::queue_mpsc} of wait records: producers push onto a lock-free LIFO
 * ({@code pushlist}, CAS); the single consumer pops from a private FIFO ({@code poplist}) that it
 * refills by taking the whole push list at once and reversing it. In {@link Mutex} the responsibility
 * hand-off protocol guarantees there is only ever one popper at a time.
 *
 * <p>{@link #isEmpty()} may be called by anyone (both lists are volatile).
 */
final class MpscWaitQueue {
    private static final VarHandle PUSHLIST;
    private static final VarHandle POPLIST;

    static {
        try {
            PUSHLIST = MethodHandles.lookup().findVarHandle(MpscWaitQueue.class, "pushlist", WaitRecord.class);
            POPLIST = MethodHandles.lookup().findVarHandle(MpscWaitQueue.class, "poplist", WaitRecord.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // through PUSHLIST
    private volatile WaitRecord pushlist;
    /**
     * Written by the current consumer with release stores (successive consumers are ordered by the
     * protocol that makes them the single popper), read by anyone.
     */
    @SuppressWarnings("unused") // through POPLIST
    private volatile WaitRecord poplist;

    /** Any thread. */
    void push(final WaitRecord r) {
        WaitRecord h;
        do {
            h = pushlist;
            r.next = h;
        } while (!PUSHLIST.compareAndSet(this, h, r));
    }

    /** The single consumer: the oldest record, or null. */
    WaitRecord pop() {
        WaitRecord r = (WaitRecord)POPLIST.getAcquire(this);
        if (r != null) {
            POPLIST.setRelease(this, r.next);
            r.next = null;
            return r;
        }
        r = (WaitRecord)PUSHLIST.getAndSet(this, (WaitRecord)null);
        if (r == null) {
            return null;
        }
        WaitRecord reversed = null;
        while (r != null) {
            final WaitRecord next = r.next;
            r.next = reversed;
            reversed = r;
            r = next;
        }
        POPLIST.setRelease(this, reversed.next);
        reversed.next = null;
        return reversed;
    }

    /**
     * Take over {@code head} (a {@code next}-linked FIFO, may be null) as the pop list of this empty,
     * never-used queue: {@link Mutex}'s conversion from per-vCPU mode, published by its volatile
     * {@code mode} store.
     */
    void adoptFifo(final WaitRecord head) {
        POPLIST.setRelease(this, head);
    }

    boolean isEmpty() {
        return poplist == null && pushlist == null;
    }

    /**
     * Diagnostics: the records of both lists (pop list oldest first, then the push list newest
     * first), each as its thread and whether it is still armed; at most {@code max} of each list.
     * A racy snapshot: links may change under the walk, so it only reads and stops early.
     */
    void describe(final StringBuilder out, final int max) {
        out.append("pop=[");
        walk(out, (WaitRecord)POPLIST.getAcquire(this), max);
        out.append("] push=[");
        walk(out, (WaitRecord)PUSHLIST.getAcquire(this), max);
        out.append(']');
    }

    private static void walk(final StringBuilder out, final WaitRecord head, final int max) {
        int n = 0;
        for (WaitRecord r = head; r != null && n < max; r = r.next, n++) {
            if (n > 0) {
                out.append(", ");
            }
            out.append(r.describe());
        }
    }
}
