package dev.osvj.sched;

import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * One vCPU's run queue: the runnable threads that are not running, ordered by real-time priority
 * (higher first, FIFO among equals) and then by lower R'' (OSv's {@code runqueue_compare}).
 *
 * <p>OSv uses an intrusive red-black tree. This is an intrusive sorted doubly-linked list scanned from
 * the tail: a preempted thread has just been charged and usually belongs near the tail, and the
 * queues of a unikernel are short (a handful of threads per vCPU), where a list beats a tree. With
 * {@code n} queued threads insertion is O(n) worst case, first/last/remove O(1); {@link #size()} is
 * O(1) and is the vCPU's load figure. Owned by one vCPU: no synchronisation.
 */
final class RunQueue {
    private KThread head;
    private KThread tail;
    private int size;

    int size() {
        return size;
    }

    boolean isEmpty() {
        return head == null;
    }

    KThread first() {
        return head;
    }

    /** True when {@code a} must run before {@code b}. */
    static boolean before(final KThread a, final KThread b) {
        if (a.realtimePriority != b.realtimePriority) {
            return a.realtimePriority > b.realtimePriority;
        }
        if (a.realtimePriority > 0) {
            return false; // FIFO among equal real-time priorities
        }
        return a.runtime.rtt < b.runtime.rtt;
    }

    /** Insert after every thread that is not after {@code t} (behind its equals). */
    void enqueue(final KThread t) {
        KThread cur = tail;
        while (cur != null && before(t, cur)) {
            cur = cur.rqPrev;
        }
        insertAfter(cur, t);
    }

    /** Insert before its equals (a real-time thread preempted by a higher one goes first among equals). */
    void enqueueFirstEqual(final KThread t) {
        KThread cur = tail;
        while (cur != null && !before(cur, t)) {
            cur = cur.rqPrev;
        }
        insertAfter(cur, t);
    }

    private void insertAfter(final KThread prev, final KThread t) {
        if (t.inRunQueue) {
            throw new IllegalStateException("thread already queued: " + t);
        }
        t.inRunQueue = true;
        t.rqPrev = prev;
        t.rqNext = prev == null ? head : prev.rqNext;
        if (t.rqNext != null) {
            t.rqNext.rqPrev = t;
        } else {
            tail = t;
        }
        if (prev != null) {
            prev.rqNext = t;
        } else {
            head = t;
        }
        size++;
    }

    KThread pollFirst() {
        final KThread t = head;
        if (t != null) {
            remove(t);
        }
        return t;
    }

    void remove(final KThread t) {
        if (!t.inRunQueue) {
            throw new IllegalStateException("thread not queued: " + t);
        }
        if (t.rqPrev != null) {
            t.rqPrev.rqNext = t.rqNext;
        } else {
            head = t.rqNext;
        }
        if (t.rqNext != null) {
            t.rqNext.rqPrev = t.rqPrev;
        } else {
            tail = t.rqPrev;
        }
        t.rqPrev = null;
        t.rqNext = null;
        t.inRunQueue = false;
        size--;
    }

    /** The last (highest R'') queued thread matching {@code filter}, or null. */
    KThread lastMatching(final Predicate<KThread> filter) {
        for (KThread t = tail; t != null; t = t.rqPrev) {
            if (filter.test(t)) {
                return t;
            }
        }
        return null;
    }

    void forEach(final Consumer<KThread> action) {
        for (KThread t = head; t != null; t = t.rqNext) {
            action.accept(t);
        }
    }
}
