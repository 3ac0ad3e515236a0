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
 *
 * <h2>Lock boost: the new owner runs at once</h2>
 * A hand-over makes a sleeping thread the owner. If its vCPU runs another fair thread with a similar
 * R'', OSv's policy would let the new owner in only once it is ahead by the hysteresis (thyst, 5 ms),
 * and the mutex would sit owned but idle meanwhile (measured: 39 us to 13 ms of dead time per
 * contended acquisition in the lock-holder-preemption experiment). So every wakeup that confers
 * ownership (an unlock or handoff popping a waiter, a morphed condition waiter popped or given the
 * free mutex) marks the thread {@link KThread#lockBoost}: queued first behind a running fair thread,
 * it preempts it at the next preemption point (local wakeup) or at the reschedule that drains the
 * incoming wakeups, skipping the R''/thyst comparison, like a one-shot real-time wakeup; the mark is
 * cleared when it is switched in. A real-time owner is never preempted for it, R'' accounting is
 * unchanged (the boosted thread pays for its CPU as usual), and a condition waiter merely moved to the
 * mutex's queue is not an owner yet and gets no boost. Only shared-mode hand-overs boost: a mutex in
 * per-vCPU mode has no contender elsewhere, so nobody can wait on a dead lock from another vCPU, and
 * the unlocker that wants the mutex again blocks and lets the owner run anyway; a boost there would
 * only turn the colocated condvar ping-pong's block into a preemption (measured 8% slower).
 *
 * <h2>Per-vCPU mode: no atomics while every locker runs on one vCPU</h2>
 * Kernel threads of one vCPU never run at the same time, and a thread only leaves its vCPU at a
 * preemption point, which no mutex operation has in its middle. So while every operation on a mutex
 * comes from one vCPU, plain fields make each operation atomic. A mutex therefore starts bound to the
 * vCPU of its first kernel-thread locker and runs there without any atomic: the holder is
 * {@code owner}, the waiters a plain FIFO ({@code localHead}); a hand-over pops the FIFO, sets the
 * owner and queues the waiter with plain stores ({@link WaitRecord#wakePopped}). When any other caller
 * appears (a thread of another vCPU, a host thread), it revokes the binding, once: it asks the home
 * vCPU, which at its next preemption point or switch (when none of its threads is inside a mutex
 * operation) converts the state to the lock-free one ({@code count} = holder + waiters, the waiters
 * in FIFO order in the lock-free queue) and publishes {@code mode = SHARED}; the revokers wait for
 * that on a wait record. From then on the mutex is OSv's lock-free mutex above, for good.
 * <pre>
 *   mode:  null (unused) --first kernel-thread locker, CAS--&gt; vCPU c (per-vCPU, plain fields)
 *          null (unused) --first host-thread locker, CAS---&gt; SHARED (lock-free RHO)
 *          vCPU c --a caller not on c asks; c converts at a switch point--&gt; SHARED
 * </pre>
 * Cost of the revocation, paid once per mutex that leaves its vCPU: the revoker waits until the home
 * vCPU reaches a preemption point (immediately when it is idle-polling; an IPI when it is halted;
 * after the running thread's next preemption point when it is busy, like any remote wakeup). A home
 * thread that spins without preemption points therefore also delays the first remote lock of a mutex
 * bound to its vCPU. Once the home vCPU has stopped the revoker converts the state itself.
 */
public final class Mutex {
    private static final VarHandle COUNT;
    private static final VarHandle HANDOFF;
    private static final VarHandle OWNER;
    private static final VarHandle MODE;
    private static final VarHandle REVOKE_STATE;
    private static final VarHandle REVOKE_WAITERS;
    /** {@link #mode} once the mutex runs OSv's lock-free algorithm. */
    private static final Object SHARED = new Object();
    /** {@link #revokeWaiters} once the conversion is done: no more waiters can be pushed. */
    private static final WaitRecord CLOSED = new WaitRecord(new Object());
    private static final int REVOKE_NONE = 0;
    private static final int REVOKE_REQUESTED = 1;
    private static final int REVOKE_CONVERTED = 2;

    static {
        try {
            final MethodHandles.Lookup l = MethodHandles.lookup();
            COUNT = l.findVarHandle(Mutex.class, "count", int.class);
            HANDOFF = l.findVarHandle(Mutex.class, "handoff", int.class);
            OWNER = l.findVarHandle(Mutex.class, "owner", Object.class);
            MODE = l.findVarHandle(Mutex.class, "mode", Object.class);
            REVOKE_STATE = l.findVarHandle(Mutex.class, "revokeState", int.class);
            REVOKE_WAITERS = l.findVarHandle(Mutex.class, "revokeWaiters", WaitRecord.class);
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
    /**
     * null (never locked), the {@link Cpu} the mutex is bound to (per-vCPU mode), or {@link #SHARED};
     * see the class documentation. Written by CAS from null, and once to SHARED by the converter
     * (volatile: the store publishes the converted state to the revokers and to every later shared-mode
     * caller).
     */
    @SuppressWarnings("unused") // through MODE
    private volatile Object mode;
    /**
     * Per-vCPU mode: the FIFO of waiting records (lock records and morphed condition records), linked
     * by {@code next}; plain, touched only on the home vCPU. Non-empty only while {@code owner} is set.
     */
    private WaitRecord localHead;
    private WaitRecord localTail;
    /** NONE, REQUESTED (a revoker asked the home vCPU), CONVERTED (claimed by the converter). */
    @SuppressWarnings("unused") // through REVOKE_STATE
    private volatile int revokeState;
    /** Threads waiting for the conversion: a CAS-pushed stack, {@link #CLOSED} once converted. */
    @SuppressWarnings("unused") // through REVOKE_WAITERS
    private volatile WaitRecord revokeWaiters;
    /** Link in the home vCPU's stack of revocation requests ({@link Cpu#requestRevocation}). */
    Mutex revokeNext;

    public void lock() {
        final KThread k = KThread.current();
        if (k != null && k.preemptCount == 0 && k.cpu.attention()) {
            // The kernel entry's preemption point (a deferred deadline is settled below, once it is
            // known that this lock() does not block: blocking re-arms it anyway).
            k.cpu.reschedule(k, false);
        }
        if (k != null) {
            // Read after the preemption point, which may have converted the mode.
            final Cpu c = k.cpu;
            final Object m = mode;
            if (m == c || m != SHARED && bindOrRevoke(c)) {
                lockLocal(k);
                return;
            }
        } else if (mode != SHARED && bindOrRevoke(Cpu.current())) {
            lockLocalOutsideThreads();
            return;
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
                other.wakePopped(Cpu.current(), true);
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
     * {@link #lock()} in per-vCPU mode by kernel thread {@code k} of the home vCPU: plain fields only.
     * A contended lock prepares the wait (SENDING_LOCK), appends its record to the local FIFO and
     * sleeps until the unlocker hands the mutex over; if the mutex is converted meanwhile (at this
     * thread's switch), the record moves to the lock-free queue and a shared-mode unlocker wakes it.
     */
    private void lockLocal(final KThread k) {
        final Object o = OWNER.getOpaque(this);
        if (o == null) {
            OWNER.setOpaque(this, k);
            depth = 1;
            settleDeadline(k);
            return;
        }
        if (o == k) {
            depth++;
            settleDeadline(k);
            return;
        }
        final WaitRecord waiter = k.lockRecord();
        k.prepareLockWait();
        appendLocal(waiter);
        k.awaitLockHandOff(waiter);
        OWNER.setOpaque(this, k);
        depth = 1;
    }

    /** {@link #lock()} in per-vCPU mode from the home vCPU's scheduler context, which cannot wait. */
    private void lockLocalOutsideThreads() {
        final Object self = Thread.currentThread();
        final Object o = OWNER.getOpaque(this);
        if (o == null) {
            OWNER.setOpaque(this, self);
            depth = 1;
        } else if (o == self) {
            depth++;
        } else {
            throw new IllegalStateException("a vCPU's scheduler context cannot wait for a mutex");
        }
    }

    private void appendLocal(final WaitRecord r) {
        r.next = null;
        if (localTail == null) {
            localHead = r;
        } else {
            localTail.next = r;
        }
        localTail = r;
    }

    /**
     * The mode check's slow path for a caller on vCPU {@code c} (null outside the vCPUs): bind an
     * unused mutex to {@code c} (a kernel thread or scheduler context) or make it shared (a host
     * thread); revoke another vCPU's binding and wait for the conversion.
     *
     * @return true when the mutex is in per-vCPU mode on {@code c}, false when it is shared.
     */
    private boolean bindOrRevoke(final Cpu c) {
        while (true) {
            final Object m = mode;
            if (m == SHARED) {
                return false;
            }
            if (m == null) {
                if (MODE.compareAndSet(this, null, c != null ? c : SHARED)) {
                    return c != null;
                }
                continue;
            }
            if (m == c) {
                return true;
            }
            revoke((Cpu)m);
        }
    }

    /**
     * Ask {@code home} to convert this mutex to shared mode (the first revoker only) and wait until it
     * is converted. Any thread not running on {@code home}.
     */
    private void revoke(final Cpu home) {
        if (REVOKE_STATE.compareAndSet(this, REVOKE_NONE, REVOKE_REQUESTED)) {
            home.requestRevocation(this);
        }
        final WaitRecord w = new WaitRecord();
        while (true) {
            final WaitRecord h = (WaitRecord)REVOKE_WAITERS.getVolatile(this);
            if (h == CLOSED) {
                return;
            }
            w.next = h;
            if (REVOKE_WAITERS.compareAndSet(this, h, w)) {
                break;
            }
        }
        w.await();
    }

    /**
     * Leave per-vCPU mode for good (see the class documentation): {@code count} becomes the holder
     * plus the waiters, the local FIFO becomes the lock-free queue's pop list (same order), then
     * {@code mode = SHARED} is published and the revokers are woken. Runs on the home vCPU's carrier at
     * a switch point, when none of its threads is inside an operation on this mutex, or on any thread
     * once the home vCPU has stopped; at most once ({@code revokeState} claim). {@code source}: the
     * caller's vCPU or null.
     */
    void convertToShared(final Cpu source) {
        if ((int)REVOKE_STATE.getAndSet(this, REVOKE_CONVERTED) == REVOKE_CONVERTED) {
            return;
        }
        int n = OWNER.getOpaque(this) != null ? 1 : 0;
        for (WaitRecord r = localHead; r != null; r = r.next) {
            n++;
        }
        COUNT.set(this, n);
        waitqueue.adoptFifo(localHead);
        localHead = null;
        localTail = null;
        mode = SHARED;
        WaitRecord w = (WaitRecord)REVOKE_WAITERS.getAndSet(this, CLOSED);
        while (w != null) {
            final WaitRecord next = w.next;
            w.next = null;
            w.wakeFrom(source);
            w = next;
        }
    }

    /** True while the mutex runs in per-vCPU mode (tests and diagnostics; a racy snapshot). */
    boolean perVcpuMode() {
        return mode instanceof Cpu;
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
                other.wakePopped(k.cpu, true);
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
        final Cpu c = self instanceof KThread k ? k.cpu : Cpu.current();
        final Object m = mode;
        if (m == c && c != null || m != SHARED && bindOrRevoke(c)) {
            final Object o = OWNER.getOpaque(this);
            if (o == null) {
                OWNER.setOpaque(this, self);
                depth = 1;
                return true;
            }
            if (o == self) {
                depth++;
                return true;
            }
            return false;
        }
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
        final Cpu c = k != null ? k.cpu : Cpu.current();
        final Object m = mode;
        if (m == c && c != null || m != SHARED && bindOrRevoke(c)) {
            unlockLocal(c);
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
                other.wakePopped(k != null ? k.cpu : Cpu.current(), true);
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

    /**
     * {@link #unlock()} in per-vCPU mode on the home vCPU {@code c}: hand the mutex to the oldest local
     * waiter (owner set and waiter queued with plain stores) or release it.
     */
    private void unlockLocal(final Cpu c) {
        final WaitRecord w = localHead;
        if (w == null) {
            OWNER.setOpaque(this, null);
            return;
        }
        localHead = w.next;
        if (localHead == null) {
            localTail = null;
        }
        w.next = null;
        OWNER.setOpaque(this, w.thread);
        w.wakePopped(c, false);
    }

    /** True when the calling thread holds the mutex. */
    public boolean isOwnedByCurrent() {
        return OWNER.getOpaque(this) == WaitRecord.self();
    }

    /** True when some thread holds the mutex (a racy snapshot). */
    public boolean isLocked() {
        return mode instanceof Cpu ? OWNER.getOpaque(this) != null : count > 0;
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
        final Cpu c = Cpu.current();
        final Object m = mode;
        if (m == c && c != null || m != SHARED && bindOrRevoke(c)) {
            if (OWNER.getOpaque(this) == null) {
                OWNER.setOpaque(this, wr.thread);
                wr.wakeFrom(c);
            } else {
                appendLocal(wr);
            }
            return;
        }
        if ((int)COUNT.getAndAdd(this, 1) == 0) {
            OWNER.setOpaque(this, wr.thread);
            wr.wakeOwnerFrom(c);
            return;
        }
        waitqueue.push(wr);
        final int oldHandoff = handoff;
        if (oldHandoff != 0 && !waitqueue.isEmpty() && HANDOFF.compareAndSet(this, oldHandoff, 0)) {
            final WaitRecord other = waitqueue.pop();
            OWNER.setOpaque(this, other.thread);
            other.wakePopped(Cpu.current(), true);
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
