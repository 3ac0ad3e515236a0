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
        await(record, waitNs, true);
    }

    /**
     * Block until {@code record} is woken: a kernel thread without a timer (its scheduler wakeups are not
     * lost, and a thread with no armed timer may follow a sync wakeup to the waker's vCPU), a host thread
     * for at most {@code hostCapNs} at a time (then the caller re-checks). May return early.
     */
    static void awaitUntilWoken(final WaitRecord record, final long hostCapNs) {
        await(record, hostCapNs, false);
    }

    /** {@code kernelTimer}: a kernel thread's wait ends after {@code ns} too; a host thread's always does. */
    private static void await(final WaitRecord record, final long ns, final boolean kernelTimer) {
        if (record.woken()) {
            return;
        }
        if (KThread.current() == null) {
            LockSupport.parkNanos(record, ns);
        } else if (kernelTimer) {
            KThread.waitFor(ns, record);
        } else {
            KThread.waitFor(record);
        }
    }

    /**
     * Wake {@code record} unless it is null or already woken (a plain read saves the atomic); inside a
     * {@link WakeDeferral} scope of the calling thread the wake is recorded and done when the scope closes.
     */
    static void wake(final WaitRecord record) {
        if (record != null && !record.woken() && !WakeDeferral.record(record)) {
            record.wakeSync();
        }
    }
}
