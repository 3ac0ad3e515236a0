package dev.osvj.sched;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * OSv's {@code lockfree::mutex}: a recursive sleeping mutex with no spinlock inside, using Gidenstam
 * and Papatriantafilou's responsibility hand-off (RHO) protocol ("LFthreads: a lock-free thread
 * library", 2007).
 *
 * <p>State: {@code count} is the number of threads holding or trying to take the lock; {@code owner}
 * and {@code depth} implement recursion; waiting lockers sit in an MPSC queue of {@link WaitRecord}s;
 * {@code handoff} carries a non-zero sequence number while an unlocker could not find the waiter that
 * its {@code count} promised (the waiter has incremented {@code count} but not pushed its record yet).
 *
 * <ul>
 *   <li><b>lock</b>: {@code count++ == 0} takes it at once. Otherwise push a wait record; if a handoff
 *       is on offer and the queue is non-empty, take the handoff (CAS to 0) and with it the
 *       responsibility to pop one waiter and wake it (or take the lock if the popped record is our
 *       own). Then sleep until an unlocker hands the lock over directly.</li>
 *   <li><b>unlock</b>: {@code count-- == 1} means no contender. Otherwise pop and wake a waiter; when
 *       the queue is empty, publish a fresh sequence in {@code handoff}; if the queue is still empty the
 *       late locker will find the handoff; else try to take our own handoff back (CAS seq to 0) and
 *       loop, or stop if a locker already took it. The sequence prevents ABA on {@code handoff}; RHO
 *       guarantees one popper at a time.</li>
 * </ul>
 * The lock is handed over without being released, so a woken waiter never competes again. Works from
 * kernel threads and host threads alike (the owner is the {@link KThread}, or the host {@link Thread}
 * outside the vCPUs). Every {@link #lock()} is a kernel entry, hence a preemption point.
 *
 * <p>{@link #sendLock}/{@link #receiveLock} implement wait morphing for {@link CondVar} and
 * {@link WaitQueue}: a woken condition waiter is queued on the mutex instead of being woken, and runs
 * already owning it.
 */
public final class Mutex {
    private static final VarHandle COUNT;
    private static final VarHandle HANDOFF;
    private static final VarHandle OWNER;

    static {
        try {
            final MethodHandles.Lookup l = MethodHandles.lookup();
            COUNT = l.findVarHandle(Mutex.class, "count", int.class);
            HANDOFF = l.findVarHandle(Mutex.class, "handoff", int.class);
            OWNER = l.findVarHandle(Mutex.class, "owner", Object.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // through COUNT
    private volatile int count;
    @SuppressWarnings("unused") // through HANDOFF
    private volatile int handoff;
    /**
     * The holder, for recursion and ownership checks: opaque accesses (no fence). A thread only ever
     * compares it with itself, and it sees its own last store in program order, so a stale value can
     * never make a non-holder believe it holds the mutex. The lock itself is {@code count}/{@code handoff}.
     */
    @SuppressWarnings("unused") // through OWNER
    private Object owner;
    /** Recursion depth; touched by the owner only. */
    private int depth;
    /** Hand-off sequence; touched by unlockers only (one at a time: the lock holder). */
    private int sequence;
    private final MpscWaitQueue waitqueue = new MpscWaitQueue();

    public void lock() {
        final KThread k = KThread.current();
        if (k != null && k.preemptCount == 0 && k.cpu.attention()) {
            // The kernel entry's preemption point (a deferred deadline is settled below, once it is
            // known that this lock() does not block: blocking re-arms it anyway).
            k.cpu.reschedule(k, false);
        }
        final Object self = k != null ? k : Thread.currentThread();
        if ((int)COUNT.getAndAdd(this, 1) == 0) {
            OWNER.setOpaque(this, self);
            depth = 1;
            settleDeadline(k);
            return;
        }
        if (OWNER.getOpaque(this) == self) {
            COUNT.getAndAdd(this, -1);
            depth++;
            settleDeadline(k);
            return;
        }
        if (k != null) {
            lockContended(k);
            return;
        }
        final WaitRecord waiter = new WaitRecord(self);
        waitqueue.push(waiter);
        final int oldHandoff = handoff;
        if (oldHandoff != 0 && !waitqueue.isEmpty() && HANDOFF.compareAndSet(this, oldHandoff, 0)) {
            final WaitRecord other = waitqueue.pop();
            if (other != waiter) {
                other.wakePopped(Cpu.current());
            } else {
                OWNER.setOpaque(this, self);
                depth = 1;
                return;
            }
        }
        waiter.await();
        OWNER.setOpaque(this, self);
        depth = 1;
    }

    /**
     * The contended {@link #lock()} of kernel thread {@code k}, whose {@code count} increment found the
     * mutex taken. OSv's order: the thread prepares to wait (SENDING_LOCK, preemption disabled) before
     * it pushes its record, so the push's CAS publishes the state to whoever pops the record, the only
     * one that may wake it, and the wait needs no fence of its own; a popper on the waiter's vCPU hands
     * the mutex over without any atomic (see {@link KThread#prepareLockWait},
     * {@link WaitRecord#wakePopped}).
     */
    private void lockContended(final KThread k) {
        final WaitRecord waiter = k.lockRecord();
        k.prepareLockWait();
        waitqueue.push(waiter);
        final int oldHandoff = handoff;
        if (oldHandoff != 0 && !waitqueue.isEmpty() && HANDOFF.compareAndSet(this, oldHandoff, 0)) {
            final WaitRecord other = waitqueue.pop();
            if (other != waiter) {
                other.wakePopped(k.cpu);
            } else {
                k.cancelLockWait();
                OWNER.setOpaque(this, k);
                depth = 1;
                settleDeadline(k);
                return;
            }
        }
        k.awaitLockHandOff(waiter);
        OWNER.setOpaque(this, k);
        depth = 1;
    }

    /**
     * After a lock() that did not block: arm the preemption deadline a local wakeup left pending
     * (see {@link Cpu#settleDeadline}); an immediate preemption it may call for waits for the next
     * preemption point, not to preempt the new holder inside lock().
     */
    private static void settleDeadline(final KThread k) {
        if (k != null && k.preemptCount == 0) {
            final Cpu c = k.cpu;
            if (c.deadlinePending()) {
                c.settleDeadline(k);
            }
        }
    }

    /** Take the lock if that needs no waiting (free, already ours, or a pending handoff). */
    public boolean tryLock() {
        final Object self = WaitRecord.self();
        if (COUNT.compareAndSet(this, 0, 1)) {
            OWNER.setOpaque(this, self);
            depth = 1;
            return true;
        }
        if (OWNER.getOpaque(this) == self) {
            depth++;
            return true;
        }
        final int oldHandoff = handoff;
        if (oldHandoff != 0 && HANDOFF.compareAndSet(this, oldHandoff, 0)) {
            COUNT.getAndAdd(this, 1);
            OWNER.setOpaque(this, self);
            depth = 1;
            return true;
        }
        return false;
    }

    public void unlock() {
        final KThread k = KThread.current();
        final Object self = k != null ? k : Thread.currentThread();
        if (OWNER.getOpaque(this) != self) {
            throw new IllegalMonitorStateException("unlock by a thread that does not own the mutex");
        }
        if (--depth > 0) {
            return;
        }
        OWNER.setOpaque(this, null);
        if ((int)COUNT.getAndAdd(this, -1) == 1) {
            return;
        }
        ++sequence;
        while (true) {
            final WaitRecord other = waitqueue.pop();
            if (other != null) {
                other.wakePopped(k != null ? k.cpu : Cpu.current());
                return;
            }
            if (++sequence == 0) {
                ++sequence;
            }
            final int ours = sequence;
            handoff = ours;
            if (waitqueue.isEmpty()) {
                return;
            }
            if (!HANDOFF.compareAndSet(this, ours, 0)) {
                return;
            }
        }
    }

    /** True when the calling thread holds the mutex. */
    public boolean isOwnedByCurrent() {
        return OWNER.getOpaque(this) == WaitRecord.self();
    }

    /** True when some thread holds the mutex (a racy snapshot). */
    public boolean isLocked() {
        return count > 0;
    }

    /** The holder's recursion depth (call only while holding the mutex). */
    int depth() {
        return depth;
    }

    /**
     * Wait morphing: take the lock on behalf of the thread waiting on {@code wr}. If the mutex is free
     * it is taken and {@code wr} woken; otherwise {@code wr} is queued like a locker's own record (with
     * the same handoff check), so the unlock that releases the mutex wakes it already owning it. The
     * woken thread must call {@link #receiveLock}.
     */
    void sendLock(final WaitRecord wr) {
        if ((int)COUNT.getAndAdd(this, 1) == 0) {
            OWNER.setOpaque(this, wr.thread);
            wr.wake();
            return;
        }
        waitqueue.push(wr);
        final int oldHandoff = handoff;
        if (oldHandoff != 0 && !waitqueue.isEmpty() && HANDOFF.compareAndSet(this, oldHandoff, 0)) {
            final WaitRecord other = waitqueue.pop();
            OWNER.setOpaque(this, other.thread);
            other.wakePopped(Cpu.current());
        }
    }

    /**
     * {@link #sendLock} every record of the {@code next}-linked list {@code waiters} (OSv's
     * {@code wake_all}), grouped by the vCPU of their threads: first the caller's vCPU, then each other
     * vCPU in the order its first waiter appears, FIFO within a group (host threads form one group).
     * The mutex is then handed from waiter to waiter mostly within one vCPU, so most hand-overs are
     * local wakeups instead of one IPI-prone remote wakeup per waiter. The list is consumed.
     */
    void sendLockGroupedByCpu(final WaitRecord waiters) {
        WaitRecord rest = waiters;
        Cpu group = Cpu.current();
        while (rest != null) {
            WaitRecord keepHead = null;
            WaitRecord keepTail = null;
            for (WaitRecord r = rest; r != null; ) {
                final WaitRecord next = r.next;
                r.next = null;
                if (cpuOf(r) == group) {
                    sendLock(r);
                } else if (keepTail == null) {
                    keepHead = r;
                    keepTail = r;
                } else {
                    keepTail.next = r;
                    keepTail = r;
                }
                r = next;
            }
            rest = keepHead;
            group = rest == null ? null : cpuOf(rest);
        }
    }

    private static Cpu cpuOf(final WaitRecord r) {
        return r.thread instanceof KThread k ? k.cpu : null;
    }

    /** The receiving side of {@link #sendLock}: the caller was woken owning the mutex. */
    void receiveLock(final int restoreDepth) {
        OWNER.setOpaque(this, WaitRecord.self());
        depth = restoreDepth;
    }

    /** Release completely (whatever the depth) for a condition wait; returns the depth to restore. */
    int unlockForWait() {
        if (OWNER.getOpaque(this) != WaitRecord.self()) {
            throw new IllegalMonitorStateException("condition wait without owning the mutex");
        }
        final int d = depth;
        depth = 1;
        unlock();
        return d;
    }

    /** Re-take after a condition wait that was not morphed (a timeout). */
    void relockAfterWait(final int restoreDepth) {
        lock();
        depth = restoreDepth;
    }
}
