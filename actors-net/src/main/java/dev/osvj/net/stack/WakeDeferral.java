package dev.osvj.net.stack;

import dev.osvj.sched.WaitRecord;

/**
 * A scope on the calling thread in which the net stack's wake-ups of blocked callers are recorded
 * instead of done, and done when the scope closes: the threads blocked in a socket call or in
 * {@code epoll_wait} that a received segment readies (the socket's wait slots, an epoll's sleepers;
 * everything that goes through the stack's waiter protocol).
 *
 * <p>Who uses it: a thread that runs a stack's receive path (a device's receive interrupt, inline)
 * while it holds a lock of its own that others contend for, such as a virtual switch's forwarding lock
 * held by a guest's kicking thread that forwards its frame into another kernel. A wake-up of a thread
 * on a halted vCPU is an IPI (an actor message and a host unpark, a futex wake: several microseconds,
 * and on a busy host the waker may be preempted right there by the thread it woke); done after the
 * lock is released, it no longer lengthens the critical section the other senders wait for.
 *
 * <p>Why it is safe: the waiter protocol tolerates a late wake (a record woken after its waiter
 * timed out or before it waits is harmless, and waiters re-check their condition), the condition
 * itself (the packet in the channel, the ready list entry) is published at once, and nothing inside
 * the scope waits for the woken threads. Every {@link #open} must be closed by {@link #close} on the
 * same thread, in a {@code finally}. The scope is per thread, and a kernel thread is its own thread to
 * the JDK on whichever carrier it runs ({@code dev.osvj.sched.arch.KernelThreadIdentity}), so a switch
 * in between keeps each thread's wakes apart. Scopes nest; each close does the wakes recorded since its open.
 *
 * <pre>
 *   int mark = WakeDeferral.open();
 *   try { lock; ...receive path, Waiter.wake(r) records r...; unlock; }
 *   finally { WakeDeferral.close(mark); }   // r.wake(): the IPI, after the unlock
 * </pre>
 */
public final class WakeDeferral {
    /** Per thread: the wakes recorded in its open scopes, in order. */
    private static final class Scopes {
        WaitRecord[] records = new WaitRecord[8];
        int count;
        int depth;
    }

    private static final ThreadLocal<Scopes> SCOPES = ThreadLocal.withInitial(Scopes::new);

    private WakeDeferral() {
    }

    /**
     * Open a scope on the calling thread.
     *
     * @return the scope's mark, for {@link #close}.
     */
    public static int open() {
        final Scopes d = SCOPES.get();
        d.depth++;
        return d.count;
    }

    /**
     * Close the scope {@code mark} opened and do the wakes recorded in it, in the order recorded. A wake
     * never runs a handler or takes a lock, so none is recorded meanwhile; each record is woken once however
     * often it was recorded (a record is one-shot).
     */
    public static void close(final int mark) {
        final Scopes d = SCOPES.get();
        d.depth--;
        try {
            for (int i = mark; i < d.count; i++) {
                final WaitRecord r = d.records[i];
                if (!r.woken()) {
                    r.wakeSync();
                }
            }
        } finally {
            java.util.Arrays.fill(d.records, mark, d.count, null);
            d.count = mark;
        }
    }

    /** Wakes recorded on the calling thread and not done yet (tests, diagnostics). */
    public static int pending() {
        return SCOPES.get().count;
    }

    /** {@link Waiter#wake}: record {@code record} if the calling thread is in a scope; false if it is not. */
    static boolean record(final WaitRecord record) {
        final Scopes d = SCOPES.get();
        if (d.depth == 0) {
            return false;
        }
        if (d.count == d.records.length) {
            d.records = java.util.Arrays.copyOf(d.records, d.count * 2);
        }
        d.records[d.count++] = record;
        return true;
    }
}
