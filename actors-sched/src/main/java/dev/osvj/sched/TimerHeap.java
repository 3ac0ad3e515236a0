package dev.osvj.sched;

import java.util.Arrays;

/**
 * A vCPU's armed timers: a binary min-heap on (deadline, arming sequence), so equal deadlines fire in
 * arming order; each timer knows its slot, so cancel is O(log n).
 *
 * <p>OSv's {@code timer_set} defers sorting into 65 buckets because most timers are cancelled before
 * they fire; a heap gives the same O(log n) bound with less code and no periodic re-bucketing. Why the
 * heap is kept: the timer OSv re-arms and cancels at nearly every scheduling decision, the per-CPU
 * preemption timer, is not in this set at all (it is a plain deadline field of {@link Cpu}, armed and
 * cancelled with a store), so what remains here are sleeps, timed waits and their cancellations, a
 * handful per vCPU, where a heap's insert and indexed cancel cost a few comparisons and the buckets'
 * deferred sorting would buy nothing. Owned by one vCPU: touched only by that vCPU's carrier (its
 * scheduler loop or the thread it runs).
 */
final class TimerHeap {
    private Timer[] heap = new Timer[16];
    private int size;
    private long sequence;

    int size() {
        return size;
    }

    /** The earliest deadline, or {@link Long#MAX_VALUE} when empty. */
    long minDeadline() {
        return size == 0 ? Long.MAX_VALUE : heap[0].deadline;
    }

    Timer peek() {
        return size == 0 ? null : heap[0];
    }

    void add(final Timer t) {
        if (t.heapIndex >= 0) {
            throw new IllegalStateException("timer already armed");
        }
        if (size == heap.length) {
            heap = Arrays.copyOf(heap, size * 2);
        }
        t.sequence = sequence++;
        heap[size] = t;
        t.heapIndex = size;
        size++;
        siftUp(t.heapIndex);
    }

    void remove(final Timer t) {
        final int i = t.heapIndex;
        if (i < 0) {
            return;
        }
        size--;
        final Timer last = heap[size];
        heap[size] = null;
        t.heapIndex = -1;
        if (i != size) {
            heap[i] = last;
            last.heapIndex = i;
            siftDown(i);
            siftUp(last.heapIndex);
        }
    }

    Timer poll() {
        final Timer t = peek();
        if (t != null) {
            remove(t);
        }
        return t;
    }

    private static boolean less(final Timer a, final Timer b) {
        return a.deadline < b.deadline || a.deadline == b.deadline && a.sequence < b.sequence;
    }

    private void siftUp(int i) {
        final Timer t = heap[i];
        while (i > 0) {
            final int parent = (i - 1) >>> 1;
            final Timer p = heap[parent];
            if (!less(t, p)) {
                break;
            }
            heap[i] = p;
            p.heapIndex = i;
            i = parent;
        }
        heap[i] = t;
        t.heapIndex = i;
    }

    private void siftDown(int i) {
        final Timer t = heap[i];
        while (true) {
            final int left = 2 * i + 1;
            if (left >= size) {
                break;
            }
            final int right = left + 1;
            final int child = right < size && less(heap[right], heap[left]) ? right : left;
            if (!less(heap[child], t)) {
                break;
            }
            heap[i] = heap[child];
            heap[i].heapIndex = i;
            i = child;
        }
        heap[i] = t;
        t.heapIndex = i;
    }
}
