package dev.osvj.net.stack;

import dev.osvj.sched.KThread;
import dev.osvj.sched.WaitRecord;

import java.util.concurrent.locks.LockSupport;

/**
 * How a blocking socket call waits, for both kinds of caller: a kernel thread (an application's
 * worker on a vCPU) waits on a scheduler {@link WaitRecord} so that its vCPU runs other threads
 * meanwhile and the timeout is a scheduler timer; a host thread (a gateway pump, a test, a bench
 * client) parks as a JDK thread does. Never call it with a lock held that a waker needs.
 *
 * <p>Protocol (no lost wakeup): the waiter makes a {@link WaitRecord} ({@link #record()}), publishes it
 * where wakers look (a socket's slots, an epoll's waiter list, a poll watcher), re-checks its
 * condition, and only then calls {@link #await}. A waker first publishes the condition (state written
 * under the socket lock, a packet offered to a channel, an entry on a ready list), then calls
 * {@link WaitRecord#wake()} on every record it finds. A wake that lands before {@code await} makes
 * {@code await} return at once (the record is one-shot), so the order of {@code wake} and
 * {@code await} does not matter. {@code await} may also return early (timeout slice, host unpark for
 * another reason): callers always loop and re-check their condition.
 */
final class Waiter {
    private Waiter() {
    }

    /** A fresh one-shot record for the calling thread (kernel or host). */
    static WaitRecord record() {
        return new WaitRecord();
    }

    /**
     * Block until {@code record} is woken or about {@code waitNs} passed (kernel clock on a kernel
     * thread, host clock otherwise); may return early. A host thread returns at once when interrupted
     * (the interrupt flag stays set for the caller to see).
     */
    static void await(final WaitRecord record, final long waitNs) {
        if (record.woken()) {
            return;
        }
        if (KThread.current() != null) {
            KThread.waitFor(waitNs, record);
        } else {
            LockSupport.parkNanos(record, waitNs);
        }
    }

    /**
     * Wake {@code record} unless it is null or already woken (a plain read saves the atomic); inside a
     * deferral scope of the calling thread ({@link #deferWakes}) the wake is recorded and done when the
     * scope closes.
     */
    static void wake(final WaitRecord record) {
        if (record != null && !record.woken()) {
            final Deferred d = DEFERRED.get();
            if (d.depth > 0) {
                d.add(record);
                return;
            }
            record.wake();
        }
    }

    /** Per thread: the wakes recorded in its open deferral scopes, in order. */
    private static final class Deferred {
        WaitRecord[] records = new WaitRecord[8];
        int count;
        int depth;

        void add(final WaitRecord record) {
            if (count == records.length) {
                records = java.util.Arrays.copyOf(records, count * 2);
            }
            records[count++] = record;
        }
    }

    private static final ThreadLocal<Deferred> DEFERRED = ThreadLocal.withInitial(Deferred::new);

    /** Open a deferral scope on the calling thread ({@link WakeDeferral#open}); returns its mark. */
    static int deferWakes() {
        final Deferred d = DEFERRED.get();
        d.depth++;
        return d.count;
    }

    /**
     * Close the scope {@code mark} opened and do the wakes recorded in it, oldest first
     * ({@link WakeDeferral#close}). A wake never runs a handler or takes a lock, so none is recorded
     * meanwhile; each record is woken once however often it was recorded (a record is one-shot).
     */
    static void runDeferredWakes(final int mark) {
        final Deferred d = DEFERRED.get();
        d.depth--;
        try {
            for (int i = mark; i < d.count; i++) {
                final WaitRecord r = d.records[i];
                d.records[i] = null;
                if (!r.woken()) {
                    r.wake();
                }
            }
        } finally {
            for (int i = mark; i < d.count; i++) {
                d.records[i] = null;
            }
            d.count = mark;
        }
    }

    /** Wakes recorded in the calling thread's open deferral scopes and not done yet (tests). */
    static int deferredWakes() {
        return DEFERRED.get().count;
    }
}
