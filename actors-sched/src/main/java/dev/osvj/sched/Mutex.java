package dev.osvj.sched;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The kernel's recursive sleeping mutex, with no spinlock inside: per-vCPU mode (plain fields, direct
 * hand-over, below) while every locker runs on one vCPU, and a shared lock-free mode otherwise. Shared
 * mode began as OSv's {@code lockfree::mutex} (Gidenstam and Papatriantafilou's responsibility
 * hand-off, which gives a released lock directly to the oldest waiter); it now releases the lock and
 * lets the woken waiter compete, as Linux's {@code struct mutex} does, because of lock-waiter
 * preemption (below).
 *
 * <h2>Shared mode: release, wake one, compete; hand over only to a starved waiter</h2>
 * <pre>
 *   owner   : null (free) | the holder           CAS from null takes it; a volatile store releases it
 *   waiters : registered contenders (not the holder): in a contended lock(), or morphed onto the mutex
 *   queue   : MPSC of WaitRecords; any thread pushes, only the current holder pops (single consumer)
 *   starved : one WaitRecord slot: a waiter past HANDOFF_AFTER_NS that wants the mutex handed over
 * </pre>
 * <ul>
 *   <li><b>lock</b>: recursion, else CAS {@code owner} from null (whoever runs may take a free mutex,
 *       even with sleepers queued: lock stealing). Contended: {@code waiters++}, then rounds of
 *       <i>publish a record, try the CAS again, sleep</i>; a woken waiter tries again and, if it loses,
 *       queues again, or, once it has waited {@link #HANDOFF_AFTER_NS}, publishes its record in the
 *       {@code starved} slot instead.</li>
 *   <li><b>unlock</b>: with no registered waiter and an empty queue a volatile store of null (and a
 *       re-read of {@code waiters}). Otherwise, while still holding it, a starved waiter gets it handed over
 *       ({@code owner} = that thread, never free in between, the waiter woken); else the oldest live
 *       record is taken off the queue, the mutex released, and its thread woken with the lock boost to
 *       compete. Then, if waiters are registered but a record appeared after the look, the unlocker
 *       takes the mutex back (if still free) and looks again.</li>
 * </ul>
 * No wakeup is lost: a waiter publishes (push or slot CAS) and then tries the CAS; a releaser stores
 * null and then looks at the queue and the slot; all of these are volatile (sequentially consistent),
 * so either the releaser (or the holder after it, which releases after the same look) sees the
 * record, or the waiter's CAS sees the release. A waiter whose CAS wins after it pushed its record
 * cancels the record (an exchange that races with the popper's claim, {@link WaitRecord#claim()}); a
 * cancelled record stays in the queue until a holder pops and skips it (a holder also drains a
 * queue that has records but no registered waiter, so cancelled records cannot pile up). Works from kernel threads and host
 * threads alike (the owner is the {@link KThread}, or the host {@link Thread} outside the vCPUs);
 * every {@link #lock()} is a kernel entry, hence a preemption point.
 *
 * <p><b>Why not OSv's direct hand-off.</b> Under a hypervisor the oldest waiter may sit on a vCPU the
 * hypervisor has descheduled; OSv's unlock then makes it the owner, and the lock is dead until that
 * vCPU runs again (1-10 ms per pause in the lock-holder-preemption experiment, where the mutex-protected
 * counter fell from 254k to 250 updates/s). Natively too, the hand-over leaves the lock owned by a
 * thread that is not running until its vCPU switches it in (5.6 us per contended acquisition measured,
 * against 0.24 us for a spinlock). Releasing instead lets any running locker use the lock meanwhile;
 * the woken waiter takes it if it is still free when it runs.
 *
 * <p><b>The starvation bound, 200 us.</b> Stealing can make a waiter lose again and again: a
 * waiter on another vCPU needs a cross-vCPU wakeup (tens of microseconds on a loaded 2-core VM) to
 * run, and a thread that re-locks in a loop on the holder's vCPU wins every time. Linux bounds that
 * with {@code MUTEX_FLAG_HANDOFF}, set after a woken waiter fails once (its woken waiter also spins on
 * a running owner, so one failure is rare there). Here a waiter that loses after waiting
 * {@link #HANDOFF_AFTER_NS} gets the next release handed over. The bound is (a) two orders of
 * magnitude above how long this kernel's mutexes are normally held or free-but-wanted (a few
 * microseconds) and several cross-vCPU wakeups long, so only a waiter that has lost several rounds
 * asks for a hand-off, and hand-offs, each one a wakeup of a sleeping thread during which the lock
 * is idle, stay rare; (b) far below the scheduler's own latency bound between equals (thyst, 5 ms)
 * and the hypervisor pauses this mode defends against, so a starved waiter waits about 0.2 ms plus a
 * critical section and its wakeup (a remote waiter competing with a thread that re-locks in a loop on
 * the holder's vCPU gets the mutex about every 0.2 ms, not never); (c) only reached by a
 * waiter that has just run (it asks right after losing a try), so the hand-over goes to a thread
 * whose vCPU ran microseconds before: the chance that a 1-10 ms hypervisor slice ends in that window
 * is about a thousandth. One waiter at a time is in the slot; a second starved waiter queues again
 * and asks at its next loss.
 *
 * <p>{@link #sendLock}/{@link #receiveLock} implement wait morphing for {@link CondVar} and
 * {@link WaitQueue}: a woken condition waiter is queued on the mutex instead of being woken, and runs
 * when the mutex is released: owning it in per-vCPU mode, competing for it (as a registered waiter)
 * in shared mode.
 *
 * <h2>Lock boost: the chosen waiter runs at once</h2>
 * A woken waiter whose vCPU runs another fair thread with a similar R'' would, under OSv's policy,
 * run only once it is ahead by the hysteresis (thyst, 5 ms). So every shared-mode wakeup of a waiter
 * (the competitor woken by a release, the starved waiter handed the mutex) marks the thread
 * {@link KThread#lockBoost}: queued first behind a running fair thread, it preempts it at the next
 * preemption point (local wakeup) or at the reschedule that drains the incoming wakeups, skipping the
 * R''/thyst comparison, like a one-shot real-time wakeup; the mark is cleared when it is switched in.
 * A real-time owner is never preempted for it, and R'' accounting is unchanged (the boosted thread
 * pays for its CPU as usual). Per-vCPU-mode hand-overs do not boost: a mutex in per-vCPU mode has no
 * contender elsewhere, and the unlocker that wants the mutex again blocks and lets the owner run
 * anyway; a boost there would only turn the colocated condvar ping-pong's block into a preemption
 * (measured 8% slower).
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
 * operation) converts the state to the lock-free one ({@code owner} kept, {@code waiters} = the
 * local waiters, in FIFO order in the lock-free queue; they compete when woken) and publishes {@code mode = SHARED}; the revokers wait for
 * that on a wait record. From then on the mutex is the shared-mode mutex above, for good.
 * <pre>
 *   mode:  null (unused) --first kernel-thread locker, CAS--&gt; vCPU c (per-vCPU, plain fields)
 *          null (unused) --first host-thread locker, CAS---&gt; SHARED (lock-free, compete)
 *          vCPU c --a caller not on c asks; c converts at a switch point--&gt; SHARED
 * </pre>
 * Cost of the revocation, paid once per mutex that leaves its vCPU: the revoker waits until the home
 * vCPU reaches a preemption point (immediately when it is idle-polling; an IPI when it is halted;
 * after the running thread's next preemption point when it is busy, like any remote wakeup). A home
 * thread that spins without preemption points therefore also delays the first remote lock of a mutex
 * bound to its vCPU. Once the home vCPU has stopped the revoker converts the state itself. The bound,
 * precisely: the first remote locker waits at most one IPI delivery (home vCPU halted), the rest of
 * the idle poll (polling), or the home vCPU's current run to its next preemption point (a kernel
 * entry such as {@link #lock()}, {@link KThread#preemptionPoint()}, a blocking call or a switch);
 * an IPI to a busy vCPU would not shorten that last case, because running Java code cannot be
 * interrupted: the request is an interrupt bit ({@code IRQ_REVOKE}) that the vCPU reads at that
 * preemption point either way, exactly as a remote wakeup waits for it.
 *
 * <p><b>Remote wakers finish before the waiter moves on.</b> A shared-mode waker that is not on the
 * waiter's vCPU leaves the waiter's lock record CLAIMED while it moves the thread out of
 * SENDING_LOCK and clears it only afterwards ({@link WaitRecord#claim()}, {@link WaitRecord#settled()});
 * a waiter that sees the claim before it slept waits those few instructions. So a waker can never act
 * on the waiter's next lock wait (its same-vCPU hand-over and its cancellation rely on nobody else
 * touching the state).
 */
public final class Mutex {
    /**
     * Shared mode: a waiter that loses the lock again after having waited at least this long (kernel
     * clock ns; host clock for host threads) gets the next release handed to it directly. See the
     * class documentation for the choice of 200 us.
     */
    public static final long HANDOFF_AFTER_NS = 200_000L;
    private static final VarHandle WAITERS;
    private static final VarHandle STARVED;
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
            WAITERS = l.findVarHandle(Mutex.class, "waiters", int.class);
            STARVED = l.findVarHandle(Mutex.class, "starved", WaitRecord.class);
            OWNER = l.findVarHandle(Mutex.class, "owner", Object.class);
            MODE = l.findVarHandle(Mutex.class, "mode", Object.class);
            REVOKE_STATE = l.findVarHandle(Mutex.class, "revokeState", int.class);
            REVOKE_WAITERS = l.findVarHandle(Mutex.class, "revokeWaiters", WaitRecord.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Shared mode: registered contenders (threads inside a contended {@code lock()}, morphed condition
     * waiters queued by {@link #sendLock}, the starved waiter), whether queued, in the starved slot or
     * between the two. Not the holder.
     */
    @SuppressWarnings("unused") // through WAITERS
    private volatile int waiters;
    /**
     * Shared mode: the one waiter that has been starved past {@link #HANDOFF_AFTER_NS} and waits for a
     * direct hand-off, or null. Set by the waiter (CAS from null), claimed by a holder (CAS to null).
     */
    @SuppressWarnings("unused") // through STARVED
    private volatile WaitRecord starved;
    /**
     * The holder, or null when free. Shared mode: the lock word itself, taken by CAS from null and
     * released with a volatile store (or handed over with a volatile store of the starved waiter).
     * Per-vCPU mode: opaque accesses on the home vCPU. A thread compares it with itself for
     * recursion, and it sees its own last store in program order, so a stale value can never make a
     * non-holder believe it holds the mutex.
     */
    @SuppressWarnings("unused") // through OWNER
    private Object owner;
    /** Recursion depth; touched by the owner only. */
    private int depth;
    /** Shared mode: direct hand-offs to a starved waiter; written by the holder only (racy reads). */
    long handOffs;
    /** Shared mode: the sleeping waiters; popped only by the holder (hence a single consumer). */
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
        lock(KThread.current());
    }

    /**
     * {@link #lock()} by the caller, whose kernel thread the caller already looked up: {@code k}, or
     * null on a host thread (kernel-internal callers such as {@link CondVar} pass it along instead of
     * looking it up again: a continuation-stack walk per call).
     */
    void lock(final KThread k) {
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
        final Object o = OWNER.getOpaque(this);
        if (o == self) {
            depth++;
            settleDeadline(k);
            return;
        }
        if (o == null && OWNER.compareAndSet(this, null, self)) {
            depth = 1;
            settleDeadline(k);
            return;
        }
        WAITERS.getAndAdd(this, 1);
        acquireRegistered(self, k, now(k));
        depth = 1;
        settleDeadline(k);
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
        if (OWNER.getVolatile(this) != k) {
            // Converted while we waited, and woken by a shared-mode release to compete (the
            // conversion counted us in waiters); a per-vCPU hand-over set owner before the wakeup.
            acquireRegistered(k, k, now(k));
        }
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
     * Leave per-vCPU mode for good (see the class documentation): {@code waiters} becomes the number
     * of local waiters (the holder, if any, stays {@code owner}), the local FIFO becomes the lock-free queue's pop list (same order), then
     * {@code mode = SHARED} is published and the revokers are woken. Runs on the home vCPU's carrier at
     * a switch point, when none of its threads is inside an operation on this mutex, or on any thread
     * once the home vCPU has stopped; at most once ({@code revokeState} claim). {@code source}: the
     * caller's vCPU or null.
     */
    void convertToShared(final Cpu source) {
        if ((int)REVOKE_STATE.getAndSet(this, REVOKE_CONVERTED) == REVOKE_CONVERTED) {
            return;
        }
        int n = 0;
        for (WaitRecord r = localHead; r != null; r = r.next) {
            n++;
        }
        WAITERS.set(this, n);
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

    /** The thread waiting in the starved slot for a hand-off, or null (tests; a racy snapshot). */
    Object starvedWaiter() {
        final WaitRecord s = (WaitRecord)STARVED.getVolatile(this);
        return s == null ? null : s.thread;
    }

    /**
     * Diagnostics (a racy snapshot, for hang reports): the mode ({@code unused}, {@code vcpuN} or
     * {@code shared}), the holder and depth, the registered waiters, the starved slot, the shared-mode
     * queue's records (thread, armed or done) and the per-vCPU FIFO, the hand-off count.
     */
    @Override
    public String toString() {
        final StringBuilder b = new StringBuilder("Mutex[");
        final Object m = mode;
        b.append(m == null ? "unused" : m == SHARED ? "shared" : "vcpu" + ((Cpu)m).id);
        b.append(" owner=").append(OWNER.getVolatile(this)).append(" depth=").append(depth);
        b.append(" waiters=").append((int)WAITERS.getVolatile(this));
        final WaitRecord s = (WaitRecord)STARVED.getVolatile(this);
        b.append(" starved=").append(s == null ? "none" : s.describe());
        b.append(" queue ");
        waitqueue.describe(b, 16);
        if (m instanceof Cpu) {
            b.append(" local=[");
            int n = 0;
            for (WaitRecord r = localHead; r != null && n < 16; r = r.next, n++) {
                b.append(n > 0 ? ", " : "").append(r.describe());
            }
            b.append(']');
        }
        b.append(" revoke=").append((int)REVOKE_STATE.getVolatile(this));
        b.append(" handOffs=").append(handOffs).append(']');
        return b.toString();
    }

    /** True when the shared-mode queue holds a record (tests; a racy snapshot). */
    boolean hasQueuedWaiters() {
        return !waitqueue.isEmpty();
    }

    /** The holder, or null (tests and diagnostics; a racy snapshot). */
    Object holder() {
        return OWNER.getVolatile(this);
    }

    /** True while the mutex runs in per-vCPU mode (tests and diagnostics; a racy snapshot). */
    boolean perVcpuMode() {
        return mode instanceof Cpu;
    }

    /**
     * Shared mode: take the mutex for {@code self} ({@code k}, or a host thread when {@code k} is
     * null), which is counted in {@code waiters} and has no record queued (it just registered, or was
     * woken to compete); {@code since}: when it began waiting (see {@link #now}). Returns owning it,
     * no longer counted.
     *
     * <p>Each round: take it if free (lock stealing is allowed to everyone, woken waiters included);
     * else publish a record, then try once more, then sleep. The publish-then-try order against the
     * holder's release-then-look ({@link #releaseShared}) is the Dekker pair that loses no wakeup: all
     * accesses are volatile (sequentially consistent), so either the releaser sees the record or the
     * waiter's try sees the lock released. A waiter whose try succeeds after it queued its record
     * cancels the record (it stays in the queue, dead, and is skipped by the popper); if a holder
     * claimed it first, the waiter absorbs that wakeup. A waiter that has waited
     * {@link #HANDOFF_AFTER_NS} or more publishes its record in the {@code starved} slot instead, and
     * the next release hands it the mutex without freeing it.
     *
     * <p>A kernel thread waits in SENDING_LOCK on its reused {@link KThread#lockRecord()} (preemption
     * off from {@link KThread#prepareLockWait} until it sleeps, so a holder on its vCPU can pop the
     * record only while it is switched out); a cancelled record is dropped for a fresh one.
     */
    private void acquireRegistered(final Object self, final KThread k, final long since) {
        while (true) {
            if (OWNER.compareAndSet(this, null, self)) {
                WAITERS.getAndAdd(this, -1);
                return;
            }
            final WaitRecord r = k != null ? k.lockRecord() : new WaitRecord(self);
            if (k != null) {
                k.prepareLockWait();
            }
            if (now(k) - since >= HANDOFF_AFTER_NS && STARVED.compareAndSet(this, null, r)) {
                if (OWNER.compareAndSet(this, null, self)) {
                    // Free after all. Nobody claimed the slot: a holder claims it only while holding
                    // and then hands the mutex to us, so it is never free in between.
                    if (!STARVED.compareAndSet(this, r, null)) {
                        throw new IllegalStateException("starved record claimed while the mutex was free");
                    }
                    if (k != null) {
                        k.cancelLockWait();
                    }
                    WAITERS.getAndAdd(this, -1);
                    return;
                }
                awaitRecord(r, k);
                // Handed over: the holder set owner to us and took us off waiters.
                return;
            }
            waitqueue.push(r);
            if (OWNER.compareAndSet(this, null, self)) {
                if (r.cancel()) {
                    if (k != null) {
                        k.cancelLockWait();
                        k.dropLockRecord();
                    }
                } else {
                    awaitRecord(r, k);
                }
                WAITERS.getAndAdd(this, -1);
                return;
            }
            awaitRecord(r, k);
        }
    }

    private static void awaitRecord(final WaitRecord r, final KThread k) {
        if (k != null) {
            k.awaitLockHandOff(r);
        } else {
            r.await();
        }
    }

    /** The waiting clock of {@code k} (its kernel clock), or the host clock for a host thread. */
    private static long now(final KThread k) {
        return k != null ? k.cpu.clockNanos() : System.nanoTime();
    }

    /**
     * Shared mode: release the mutex held by {@code self} on {@code source} (its vCPU or null). With
     * no registered waiter and an empty queue: one volatile store (and a re-read of {@code waiters},
     * the Dekker partner of a registering locker). Otherwise, while still holding it (the holder is the queue's single
     * consumer): a starved waiter gets the mutex handed over (never free); else the oldest live
     * record is claimed, the mutex released, and that waiter woken to compete (with the lock boost).
     * If no record was found but waiters are registered and a record or a starved waiter appeared
     * after the look, the releaser takes the mutex back (if nobody else did: then that holder's
     * release will see it) and looks again.
     */
    private void releaseShared(final Object self, final Cpu source) {
        while (true) {
            WaitRecord w = null;
            // A queue with no registered waiter holds only cancelled records: drain them too, so
            // they cannot pile up across contention episodes that end in a cancellation.
            if ((int)WAITERS.getVolatile(this) != 0 || !waitqueue.isEmpty()) {
                final WaitRecord s = (WaitRecord)STARVED.getVolatile(this);
                if (s != null && STARVED.compareAndSet(this, s, null)) {
                    handOffs++;
                    OWNER.setVolatile(this, s.thread);
                    WAITERS.getAndAdd(this, -1);
                    s.wakePopped(source, true);
                    return;
                }
                do {
                    w = waitqueue.pop();
                } while (w != null && !w.claim());
            }
            OWNER.setVolatile(this, null);
            if (w != null) {
                w.wakeClaimed(source);
                return;
            }
            if ((int)WAITERS.getVolatile(this) == 0
                || waitqueue.isEmpty() && STARVED.getVolatile(this) == null) {
                return;
            }
            if (!OWNER.compareAndSet(this, null, self)) {
                return;
            }
        }
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

    /** Take the lock if that needs no waiting (free, even with waiters queued, or already ours). */
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
        final Object o = OWNER.getOpaque(this);
        if (o == self) {
            depth++;
            return true;
        }
        if (o == null && OWNER.compareAndSet(this, null, self)) {
            depth = 1;
            return true;
        }
        return false;
    }

    public void unlock() {
        unlock(KThread.current());
    }

    /** {@link #unlock()} by the caller's kernel thread {@code k} (null on a host thread); see {@link #lock(KThread)}. */
    void unlock(final KThread k) {
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
        releaseShared(self, c);
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
        return OWNER.getVolatile(this) != null;
    }

    /** The holder's recursion depth (call only while holding the mutex). */
    int depth() {
        return depth;
    }

    /**
     * Wait morphing: queue the thread waiting on {@code wr} on the mutex. Per-vCPU mode: if the mutex
     * is free it is given to the thread and {@code wr} woken, otherwise {@code wr} joins the local FIFO
     * and the unlock hands the mutex over. Shared mode: {@code wr} is registered and pushed like a
     * contended locker's record, and the release that pops it wakes the thread to compete (if the
     * mutex is free right now, the caller takes and releases it, which wakes the oldest waiter). The
     * woken thread must call {@link #receiveLock}.
     */
    void sendLock(final WaitRecord wr) {
        sendLock(wr, Cpu.current());
    }

    /** {@link #sendLock(WaitRecord)} by a caller running on {@code c} ({@link Cpu#current()}). */
    void sendLock(final WaitRecord wr, final Cpu c) {
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
        WAITERS.getAndAdd(this, 1);
        waitqueue.push(wr);
        // Dekker with a releaser's store-then-look: if the mutex is free now, nobody may come to pop
        // the record, so take the mutex and release it (which wakes the oldest waiter).
        if (OWNER.getVolatile(this) == null) {
            final Object self = WaitRecord.self();
            if (OWNER.compareAndSet(this, null, self)) {
                releaseShared(self, c);
            }
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

    /**
     * The receiving side of {@link #sendLock}: the caller was woken, owning the mutex (a per-vCPU
     * hand-over set {@code owner} before the wakeup) or, in shared mode, to compete for it as a
     * registered waiter; returns owning it at {@code restoreDepth}.
     */
    void receiveLock(final int restoreDepth) {
        receiveLock(restoreDepth, KThread.current());
    }

    /** {@link #receiveLock(int)} by the caller's kernel thread {@code k} (null on a host thread). */
    void receiveLock(final int restoreDepth, final KThread k) {
        final Object self = k != null ? k : Thread.currentThread();
        if (OWNER.getVolatile(this) != self) {
            acquireRegistered(self, k, now(k));
        }
        depth = restoreDepth;
    }

    /** Release completely (whatever the depth) for a condition wait; returns the depth to restore. */
    int unlockForWait() {
        return unlockForWait(KThread.current());
    }

    /** {@link #unlockForWait()} by the caller's kernel thread {@code k} (null on a host thread). */
    int unlockForWait(final KThread k) {
        if (OWNER.getOpaque(this) != (k != null ? k : Thread.currentThread())) {
            throw new IllegalMonitorStateException("condition wait without owning the mutex");
        }
        final int d = depth;
        depth = 1;
        unlock(k);
        return d;
    }

    /** Re-take after a condition wait that was not morphed (a timeout). */
    void relockAfterWait(final int restoreDepth) {
        lock();
        depth = restoreDepth;
    }
}
