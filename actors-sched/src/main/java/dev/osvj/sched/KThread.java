package dev.osvj.sched;

import dev.osvj.sched.arch.ContextSwitch;
import dev.osvj.sched.arch.ThreadContext;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.function.BooleanSupplier;
import java.util.concurrent.locks.LockSupport;

/**
 * A kernel thread (OSv's {@code sched::thread}): a context of the arch layer that the vCPUs run under
 * OSv's fair policy. Create one with {@link Scheduler#newThread} or {@link Scheduler#spawn}.
 *
 * <p>The static methods act on the calling kernel thread ({@link #current()}): {@link #yield()},
 * {@link #sleep}, {@link #waitUntil}, {@link #waitFor}, {@link #preemptionPoint()}, the preempt- and
 * migrate-disable counters and {@link #pinCurrent}. Blocking and preemption are cooperative: a thread
 * only leaves its vCPU at a preemption point, a blocking call, or when its body returns (see the
 * package documentation for what that means for code that never reaches one).
 *
 * <p>Thread-safety: {@link #wake()}, the getters and {@link #join()} may be used from any thread; the
 * scheduling fields are owned by the vCPU that runs the thread. Statistics are single-writer plain
 * fields: readers on other threads may see slightly stale values.
 */
public final class KThread {
    private static final VarHandle STATE;
    private static final VarHandle JOINERS;
    private static final VarHandle REQUESTED_PRIORITY;
    /** Joiner-stack sentinel: the thread has terminated, joiners need not wait. */
    private static final WaitRecord CLOSED = new WaitRecord(new Object());

    static {
        try {
            final MethodHandles.Lookup l = MethodHandles.lookup();
            STATE = l.findVarHandle(KThread.class, "state", ThreadState.class);
            JOINERS = l.findVarHandle(KThread.class, "joiners", WaitRecord.class);
            REQUESTED_PRIORITY = l.findVarHandle(KThread.class, "requestedPriority", double.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final Scheduler scheduler;
    private final long id;
    private final String name;
    private final Runnable body;
    final ThreadContext context;
    final ThreadRuntime runtime;
    final int realtimePriority;
    /** Round-robin slice among equal real-time priorities (0: FIFO), kernel-clock ns. */
    final long realtimeSliceNanos;
    /** When the current round-robin slice began (switch-in). Owning vCPU only. */
    long sliceStart;
    /** The vCPU the thread belongs to: changed only by that vCPU (balancer) or the thread itself (pin). */
    volatile Cpu cpu;
    private volatile ThreadState state;
    private volatile boolean detached;
    @SuppressWarnings("unused") // through JOINERS
    private volatile WaitRecord joiners;
    volatile Throwable failure;
    /** A priority set by another thread, applied by the owning vCPU; NaN when none is pending. */
    @SuppressWarnings("unused") // through REQUESTED_PRIORITY
    private volatile double requestedPriority = Double.NaN;

    /** Preemption points do nothing while above 0 (OSv's preempt_counter). Owner thread only. */
    int preemptCount;
    /** The balancer never moves a thread while above 0; pinning holds 1 (OSv's migration lock). */
    int migrationLock;

    // Run-queue and wake-queue links (owned by the vCPU / the queue holding the thread).
    KThread rqPrev;
    KThread rqNext;
    boolean inRunQueue;
    KThread wakeNext;
    /** Self-migration request, handled by the carrier after the thread switched out. */
    Cpu migrateTo;
    /** In flight between two vCPUs (counted as a migration when the target drains it). */
    boolean migrating;
    /**
     * Lock boost: a {@link Mutex} was just handed to this waiting thread (it owns the mutex but does
     * not run yet). When it is queued first behind a running fair thread, it preempts that thread at
     * once, skipping the R''/thyst comparison, so the mutex does not sit owned-but-idle for up to
     * thyst (the lock-holder wakeup of the lock-holder-preemption experiment). A one-shot mark: set by
     * the unlocker right before it wakes the thread (a plain store published by the wakeup itself:
     * the incoming-queue CAS, or program order on the thread's own vCPU), cleared by the vCPU when it
     * switches the thread in or finds it still mounted. Never preempts a real-time thread; R''
     * accounting is unchanged, so the boosted thread pays for its CPU time as usual.
     */
    boolean lockBoost;
    /** The vCPU the attributes pin the thread to, or -1. */
    final int pinnedCpu;
    /** Application code, not kernel code (see {@link ThreadAttr#application()}). */
    final boolean application;
    /** Head of the list of armed timers this thread owns (they follow it on migration). */
    Timer timers;
    private Timer sleepTimer;
    /**
     * The wait record of a contended {@link Mutex#lock()}, reused (OSv keeps it on the stack): a thread
     * waits for one mutex at a time, and a record is done once its {@code await} returned (popped and
     * woken exactly once); a record cancelled in a queue is dropped ({@link #dropLockRecord()}).
     */
    private WaitRecord lockRecord;
    /**
     * The wait record of a {@link CondVar} or {@link WaitQueue} wait, reused like {@link #lockRecord}
     * (no allocation per wait): a thread waits on one condition at a time, and its record is off every
     * queue once the wait returned (taken off the condition's list by the waker or unlinked by the
     * timed-out waiter itself, and popped off the mutex by the hand-over or release that woke it).
     */
    private WaitRecord conditionRecord;

    // Statistics: written by the owning vCPU only.
    long cpuTimeNanos;
    long switches;
    long preemptions;
    long migrations;
    long wakeups;

    KThread(final Scheduler scheduler, final long id, final ThreadAttr attr, final Runnable body,
        final ContextSwitch arch) {
        this.scheduler = scheduler;
        this.id = id;
        this.name = attr.name();
        this.body = body;
        this.runtime = new ThreadRuntime(attr.priority());
        this.realtimePriority = attr.realtimePriority();
        this.realtimeSliceNanos = attr.realtimeSliceNanos();
        this.detached = attr.detached();
        this.migrationLock = attr.pinnedCpu() >= 0 ? 1 : 0;
        this.pinnedCpu = attr.pinnedCpu();
        this.application = attr.application();
        this.state = ThreadState.UNSTARTED;
        this.context = arch.create(name, this, this::main);
    }

    private void main() {
        try {
            body.run();
        } catch (final Throwable e) {
            if (ContextSwitch.isDisposal(e)) {
                throw e;
            }
            failure = e;
            scheduler.uncaught(this, e);
        }
        state = ThreadState.TERMINATING;
    }

    // ---------------------------------------------------------------------------------------------
    // The calling thread

    /** The kernel thread the caller runs in, or null when called outside the vCPUs. */
    public static KThread current() {
        return ContextSwitch.currentOwner() instanceof KThread k ? k : null;
    }

    static KThread currentOrThrow() {
        final KThread t = current();
        if (t == null) {
            throw new IllegalStateException("not on a kernel thread");
        }
        return t;
    }

    /**
     * A preemption point: if the vCPU has pending wakeups or a fired timer (its preemption deadline)
     * and preemption is enabled, run the scheduler now; otherwise arm a preemption deadline that a
     * local wakeup left pending (see {@link Cpu#settleDeadline}). Costs two volatile reads and two
     * plain ones otherwise. Does nothing outside the vCPUs.
     */
    public static void preemptionPoint() {
        preemptionPoint(current());
    }

    /** {@link #preemptionPoint()} for a caller that already knows its kernel thread {@code t} (or null). */
    static void preemptionPoint(final KThread t) {
        if (t != null && t.preemptCount == 0) {
            t.cpu.preemptionPoint(t);
        }
    }

    /** Give the vCPU to the next runnable thread (never to an idle-priority one); arms thyst. */
    public static void yield() {
        final KThread t = currentOrThrow();
        t.cpu.yieldCurrent(t);
    }

    /** Sleep {@code nanos} on the kernel clock (outside the vCPUs: a host sleep). */
    public static void sleep(final long nanos) throws InterruptedException {
        final KThread t = current();
        if (t == null) {
            Thread.sleep(nanos / 1_000_000, (int)(nanos % 1_000_000));
            return;
        }
        if (t.sleepTimer == null) {
            t.sleepTimer = new Timer();
        }
        final Timer timer = t.sleepTimer;
        timer.setAfter(nanos);
        waitUntil(timer::expired);
    }

    /** Disable preemption of the calling thread (nests). Blocking calls still switch. */
    public static void preemptDisable() {
        currentOrThrow().preemptCount++;
    }

    /** Re-enable preemption; at zero, a pending reschedule happens now. */
    public static void preemptEnable() {
        final KThread t = currentOrThrow();
        if (t.preemptCount <= 0) {
            throw new IllegalStateException("preemptEnable without preemptDisable");
        }
        if (--t.preemptCount == 0) {
            t.cpu.preemptionPoint(t);
        }
    }

    /** Keep the calling thread on its vCPU (nests with pinning). */
    public static void migrateDisable() {
        currentOrThrow().migrationLock++;
    }

    public static void migrateEnable() {
        final KThread t = currentOrThrow();
        if (t.migrationLock <= 0) {
            throw new IllegalStateException("migrateEnable without migrateDisable");
        }
        t.migrationLock--;
    }

    /**
     * Pin the calling thread to vCPU {@code cpuId} (moving it there first when needed); the balancer
     * never moves a pinned thread.
     */
    public static void pinCurrent(final int cpuId) {
        final KThread t = currentOrThrow();
        final Cpu target = t.scheduler.cpu(cpuId);
        if (t.migrationLock == 0) {
            t.migrationLock = 1;
        }
        if (t.cpu != target) {
            t.cpu.migrateCurrent(t, target);
        }
    }

    /**
     * Block until {@code condition} is true (OSv's {@code wait_until}). Whoever makes it true must
     * then {@link #wake()} this thread; the condition should read volatile or atomic state. Returns at
     * once when already true.
     */
    public static void waitUntil(final BooleanSupplier condition) {
        if (condition.getAsBoolean()) {
            return;
        }
        waitUntil(currentOrThrow(), condition);
    }

    /** {@link #waitUntil(BooleanSupplier)} for the calling kernel thread {@code t}. */
    static void waitUntil(final KThread t, final BooleanSupplier condition) {
        while (true) {
            t.preemptCount++;
            t.state = ThreadState.WAITING;
            if (condition.getAsBoolean()) {
                t.preemptCount--;
                t.stopWait();
                return;
            }
            t.cpu.reschedule(t, false);
            t.preemptCount--;
            if (t.state != ThreadState.RUNNING) {
                t.stopWait();
            }
            // Usually woken because the condition became true: return without re-arming WAITING
            // (a fenced store and a CAS saved per wait); otherwise a spurious wakeup, wait again.
            if (condition.getAsBoolean()) {
                return;
            }
        }
    }

    /**
     * Block until {@code condition} is true, releasing {@code mutex} while blocked and holding it
     * while the condition is evaluated (OSv's {@code wait_until(mutex, pred)}).
     */
    public static void waitUntil(final Mutex mutex, final BooleanSupplier condition) {
        final KThread t = currentOrThrow();
        while (!condition.getAsBoolean()) {
            t.preemptCount++;
            t.state = ThreadState.WAITING;
            mutex.unlock();
            t.cpu.reschedule(t, false);
            t.preemptCount--;
            if (t.state != ThreadState.RUNNING) {
                t.stopWait();
            }
            mutex.lock();
        }
    }

    /** Block until any of {@code waitables} polls true (OSv's {@code wait_for}). */
    public static void waitFor(final Waitable... waitables) {
        final KThread t = currentOrThrow();
        for (final Waitable w : waitables) {
            w.arm(t);
        }
        try {
            waitUntil(() -> anyPolls(waitables));
        } finally {
            for (final Waitable w : waitables) {
                w.disarm();
            }
        }
    }

    /**
     * Block until any of {@code waitables} polls true or {@code timeoutNanos} passed on the kernel
     * clock.
     *
     * @return true when a waitable fired, false on timeout.
     */
    public static boolean waitFor(final long timeoutNanos, final Waitable... waitables) {
        final KThread t = currentOrThrow();
        if (anyPolls(waitables)) {
            return true;
        }
        final Timer timer = new Timer();
        timer.setAfter(timeoutNanos);
        final Waitable[] all = new Waitable[waitables.length + 1];
        System.arraycopy(waitables, 0, all, 0, waitables.length);
        all[waitables.length] = timer;
        try {
            waitFor(all);
        } finally {
            timer.cancel();
        }
        return anyPolls(waitables) || !timer.expired();
    }

    private static boolean anyPolls(final Waitable[] waitables) {
        for (final Waitable w : waitables) {
            if (w.poll()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Prepare a contended {@link Mutex#lock()} wait (OSv's {@code prepare_wait}, in the
     * {@link ThreadState#SENDING_LOCK} state): preemption off and SENDING_LOCK with a release store, no
     * fence. The caller then pushes {@link #lockRecord()} onto the mutex's lock-free queue, whose CAS
     * publishes the state to the record's popper. SENDING_LOCK, unlike WAITING, is left only by the
     * mutex's wakeup: {@link #wake()} ignores it (for a lock waiter any other wakeup would be spurious),
     * so the single popper of the record (the mutex holder that claimed it, or the unlocker that took
     * it from the starved slot) is the only other thread that may change the state, and
     * when it runs on this thread's vCPU (which this thread then cannot be running on) it needs no CAS
     * at all ({@link #wakeHandOff}). Follow with {@link #awaitLockHandOff} or {@link #cancelLockWait}.
     * Calling thread only.
     */
    void prepareLockWait() {
        preemptCount++;
        STATE.setRelease(this, ThreadState.SENDING_LOCK);
    }

    /**
     * Undo {@link #prepareLockWait} without sleeping: the caller popped its own record (it took a
     * handoff), so no other thread can wake it and a plain store ends the wait.
     */
    void cancelLockWait() {
        preemptCount--;
        STATE.setRelease(this, ThreadState.RUNNING);
    }

    /**
     * The rest of a wait begun with {@link #prepareLockWait}: sleep until {@code record} (the lock
     * record) is woken, i.e. the mutex was handed over. Calling thread only.
     */
    void awaitLockHandOff(final WaitRecord record) {
        while (true) {
            if (record.settled()) {
                // A popper on another vCPU cleared the record before we switched out.
                preemptCount--;
                stopWait(ThreadState.SENDING_LOCK);
                return;
            }
            cpu.reschedule(this, false);
            preemptCount--;
            if (state != ThreadState.RUNNING) {
                stopWait(ThreadState.SENDING_LOCK);
            }
            if (record.settled()) {
                return;
            }
            // Back without the hand-over (a refused switch): wait again, with a fenced store so the
            // popper's clear-then-CAS and our store-then-check cannot both miss (Dekker).
            preemptCount++;
            state = ThreadState.SENDING_LOCK;
        }
    }

    /**
     * Hand the mutex to this thread, which is in SENDING_LOCK waiting on its lock record: called by
     * the record's single popper running on {@code source} (its vCPU, or null outside the vCPUs), after
     * it cleared the record. On this thread's own vCPU the thread is not running and nobody else may
     * touch its state, so the hand-off is a plain store and a direct run-queue insert (no atomic);
     * from anywhere else a CAS races with the thread's own retreat from a refused switch. With
     * {@code boost} the wakeup carries the {@link #lockBoost}.
     */
    void wakeHandOff(final Cpu source, final boolean boost) {
        final Cpu c = cpu;
        if (c == source) {
            lockBoost = boost;
            c.wakeLocal(this);
        } else if (STATE.compareAndSet(this, ThreadState.SENDING_LOCK, ThreadState.WAKING)) {
            lockBoost = boost;
            c.pushWakeup(this, source);
        }
    }

    /**
     * OSv's stop_wait: from {@code waitState} (WAITING, or SENDING_LOCK for a lock wait) back to
     * RUNNING, or wait until the vCPU has processed an in-flight wakeup.
     */
    private void stopWait(final ThreadState waitState) {
        if (STATE.compareAndSet(this, waitState, ThreadState.RUNNING)) {
            return;
        }
        while (state == ThreadState.WAKING) {
            cpu.reschedule(this, false);
        }
    }

    private void stopWait() {
        stopWait(ThreadState.WAITING);
    }

    // ---------------------------------------------------------------------------------------------
    // Any thread

    /**
     * Change the thread's priority at run time (OSv's {@code set_priority}; see
     * {@link ThreadAttr#priority()}). Its decayed runtime is kept: R'' is rescaled to the new weight.
     * Called by the thread itself it takes effect at once (the next preemption point re-decides who
     * runs); from any other thread it is applied by the thread's vCPU when the thread is next woken
     * or switched in (a queued thread keeps its place in the run queue until then).
     *
     * @throws IllegalArgumentException below {@link ThreadAttr#PRIORITY_INFINITY} or NaN.
     */
    public void setPriority(final double priority) {
        if (!(priority >= ThreadAttr.PRIORITY_INFINITY)) {
            throw new IllegalArgumentException("priority must be >= 1e-5 (or +inf for idle): " + priority);
        }
        if (current() == this) {
            REQUESTED_PRIORITY.setVolatile(this, Double.NaN);
            runtime.changePriority(priority);
            cpu.requestReschedule();
            preemptionPoint(this);
        } else {
            REQUESTED_PRIORITY.setVolatile(this, priority);
        }
    }

    /** This thread's mutex wait record, armed for one more wait. Called by this thread only. */
    WaitRecord lockRecord() {
        WaitRecord r = lockRecord;
        if (r == null) {
            r = WaitRecord.lockRecord(this);
            lockRecord = r;
        } else {
            r.rearm();
        }
        return r;
    }

    /** This thread's condition wait record, armed for one more wait. Called by this thread only. */
    WaitRecord conditionRecord() {
        WaitRecord r = conditionRecord;
        if (r == null) {
            r = new WaitRecord(this);
            conditionRecord = r;
        } else {
            r.rearm();
        }
        return r;
    }

    /**
     * Forget the lock record: the thread cancelled it while it was still in a mutex's queue, where it
     * stays, dead, until a releaser pops and skips it, so it cannot be re-armed. Calling thread only.
     */
    void dropLockRecord() {
        lockRecord = null;
    }

    /** Owner vCPU: apply a priority set by another thread, if any (a volatile read otherwise). */
    void applyRequestedPriority() {
        if (!Double.isNaN((double)REQUESTED_PRIORITY.getVolatile(this))) {
            final double p = (double)REQUESTED_PRIORITY.getAndSet(this, Double.NaN);
            if (!Double.isNaN(p)) {
                runtime.changePriority(p);
            }
        }
    }

    /** Start the thread (UNSTARTED to runnable). */
    public void start() {
        scheduler.startThread(this);
    }

    /**
     * Wake this thread if it is WAITING (OSv's {@code wake}): it becomes WAKING and is pushed onto its
     * vCPU's incoming queue from the caller's vCPU (or the foreign queue from outside the vCPUs).
     *
     * @return true when this call woke it.
     */
    public boolean wake() {
        return wakeFrom(Cpu.current());
    }

    boolean wakeFrom(final Cpu source) {
        return wakeFrom(source, false);
    }

    /**
     * {@link #wake()} with the sync hint (Linux's {@code WF_SYNC}, which its socket wakeups carry): the
     * waker hands this thread work and will soon wait itself. When this thread's vCPU is halted (waking it
     * would cost a host wake-up) and the waker's vCPU has nothing else queued, the thread moves to the
     * waker's vCPU and runs there next (the wake-affine rule, {@link Cpu#pullAffine}); otherwise as
     * {@link #wake()}.
     *
     * @return true when this call woke it.
     */
    public boolean wakeSync() {
        return wakeFrom(Cpu.current(), true);
    }

    /** WAITING to WAKING, then queued on this thread's vCPU, or with {@code sync} maybe on {@code source}'s. */
    private boolean wakeFrom(final Cpu source, final boolean sync) {
        if (state != ThreadState.WAITING || !STATE.compareAndSet(this, ThreadState.WAITING, ThreadState.WAKING)) {
            return false;
        }
        final Cpu c = cpu;
        if (sync && source != null && source != c && c.pullAffine(this, source)) {
            source.pushWakeup(this, source);
        } else {
            c.pushWakeup(this, source);
        }
        return true;
    }

    /**
     * {@link #wakeFrom} for a WAITING thread that the caller just made the owner of a {@link Mutex}
     * (a morphed condition waiter handed the mutex): the wakeup carries the {@link #lockBoost}, set
     * only once this call owns the WAITING-to-WAKING transition, before the push that publishes it.
     */
    void wakeOwnerFrom(final Cpu source) {
        if (state != ThreadState.WAITING || !STATE.compareAndSet(this, ThreadState.WAITING, ThreadState.WAKING)) {
            return;
        }
        lockBoost = true;
        cpu.pushWakeup(this, source);
    }

    /** Wait for the thread to terminate (from a kernel thread or any host thread). */
    public void join() {
        final WaitRecord wr = joinRecord();
        if (wr != null) {
            wr.await();
        }
    }

    /**
     * Wait at most {@code timeoutNanos} (kernel clock on a kernel thread, host clock otherwise).
     *
     * @return true when the thread terminated.
     */
    public boolean join(final long timeoutNanos) {
        final WaitRecord wr = joinRecord();
        return wr == null || wr.await(timeoutNanos) || state == ThreadState.TERMINATED;
    }

    private WaitRecord joinRecord() {
        if (current() == this) {
            throw new IllegalStateException("a thread cannot join itself (EDEADLK)");
        }
        if (detached) {
            throw new IllegalStateException("thread " + this + " is detached (EINVAL)");
        }
        final WaitRecord wr = new WaitRecord();
        WaitRecord head;
        do {
            head = joiners;
            if (head == CLOSED) {
                return null;
            }
            wr.next = head;
        } while (!JOINERS.compareAndSet(this, head, wr));
        return wr;
    }

    /** Detach: the thread is reaped when it ends and can no longer be joined. */
    public void detach() {
        detached = true;
        if (state == ThreadState.TERMINATED) {
            scheduler.reap(this);
        }
    }

    /** Called by the vCPU when the thread ended: TERMINATED, joiners woken, detached ones reaped. */
    void terminated() {
        state = ThreadState.TERMINATED;
        WaitRecord wr = (WaitRecord)JOINERS.getAndSet(this, CLOSED);
        while (wr != null) {
            final WaitRecord next = wr.next;
            wr.wake();
            wr = next;
        }
        if (detached) {
            scheduler.reap(this);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Timers owned by this thread

    void linkTimer(final Timer t) {
        t.linked = true;
        t.ownedPrev = null;
        t.ownedNext = timers;
        if (timers != null) {
            timers.ownedPrev = t;
        }
        timers = t;
    }

    void unlinkTimer(final Timer t) {
        if (t.ownedPrev != null) {
            t.ownedPrev.ownedNext = t.ownedNext;
        } else {
            timers = t.ownedNext;
        }
        if (t.ownedNext != null) {
            t.ownedNext.ownedPrev = t.ownedPrev;
        }
        t.ownedPrev = null;
        t.ownedNext = null;
        t.linked = false;
        t.suspended = false;
    }

    // ---------------------------------------------------------------------------------------------
    // Getters

    /** OSv-style thread id (wraps below 2^32 - 4096, skipping live ids). */
    public long id() {
        return id;
    }

    public String name() {
        return name;
    }

    public ThreadState state() {
        return state;
    }

    /**
     * Owner-vCPU transitions (QUEUED, RUNNING, WAKING for migration): a release store. The racing
     * transitions (WAITING set by the thread itself before re-checking its condition, and the wakers'
     * WAITING to WAKING) are a volatile store and a CAS.
     */
    void setState(final ThreadState s) {
        STATE.setRelease(this, s);
    }

    boolean casState(final ThreadState expected, final ThreadState next) {
        return STATE.compareAndSet(this, expected, next);
    }

    /** The vCPU the thread runs or will run on. */
    public int cpuId() {
        return cpu == null ? -1 : cpu.id;
    }

    public double priority() {
        return runtime.priority;
    }

    public int realtimePriority() {
        return realtimePriority;
    }

    /** The round-robin slice among equal real-time priorities, 0 for FIFO (nanoseconds). */
    public long realtimeSliceNanos() {
        return realtimeSliceNanos;
    }

    public boolean isDetached() {
        return detached;
    }

    /** True for an application thread (created with {@link ThreadAttr#asApplication()}). */
    public boolean isApplication() {
        return application;
    }

    public boolean isPinned() {
        return migrationLock > 0;
    }

    /** CPU time accounted by the scheduler (kernel-clock nanoseconds), as of its last switch. */
    public long cpuTimeNanos() {
        return cpuTimeNanos;
    }

    /** Times the thread was switched in. */
    public long switches() {
        return switches;
    }

    /** Times the thread was preempted while runnable. */
    public long preemptions() {
        return preemptions;
    }

    public long migrations() {
        return migrations;
    }

    /** Wakeups delivered to the thread. */
    public long wakeups() {
        return wakeups;
    }

    /** The throwable the body ended with, or null. */
    public Throwable failure() {
        return failure;
    }

    /** The scheduler this thread belongs to. */
    public Scheduler scheduler() {
        return scheduler;
    }

    /** Best-effort stack of the thread. */
    public StackTraceElement[] stackTrace() {
        return context.stackTrace();
    }

    @Override
    public String toString() {
        return "KThread[" + id + " " + name + " " + state + " cpu" + cpuId() + "]";
    }

    /** Park the host thread briefly: used when a switch was refused (pinned continuation). */
    static void backOff() {
        LockSupport.parkNanos(20_000);
    }
}
