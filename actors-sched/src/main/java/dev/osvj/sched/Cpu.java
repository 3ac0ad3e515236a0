package dev.osvj.sched;

import dev.osvj.kernel.KernelClock;
import org.apache.pekko.actor.typed.ActorRef;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * One vCPU: its run queue, its fairness factor {@code c}, its timer set, its incoming-wakeup queues,
 * and the scheduler loop that its {@link VcpuActor} runs on the vCPU's dedicated carrier thread.
 *
 * <h2>Who runs what</h2>
 * Everything in this class except {@link #pushWakeup}, {@link #timerInterrupt}, {@link #attention}
 * and the statistics getters runs on this vCPU's carrier: either in the scheduler loop
 * ({@link #runFor}, "scheduler context", like OSv's interrupt context) or in the kernel thread the
 * carrier currently runs ({@link #reschedule} and friends, "thread context", like OSv's
 * {@code reschedule_from_interrupt} which runs on the old thread's stack). Only one of them runs at a
 * time, so the run queue, the timer set and the policy fields are plain fields. "This vCPU's carrier" is
 * the thread running its loop: its own, or, with a {@link DirectedYield}, another vCPU's idle carrier that
 * borrowed it ({@link #runLent}); the hand-over is a CAS of {@link #lendState}, so one runs it at a time
 * and each sees the other's plain writes.
 *
 * <h2>Switching</h2>
 * A thread that must leave the vCPU picks its successor itself ({@link #next}) and suspends its
 * context; the loop then resumes the successor. Keeping the current thread costs no switch at all.
 *
 * <h2>Remote wakeups and IPIs</h2>
 * A waker on vCPU {@code s} pushes the thread onto {@code incoming[s]} and sets bit {@code s} of
 * {@link #incomingMask}; wakers outside the vCPUs use the {@code foreign} queue and the
 * {@link #IRQ_FOREIGN} interrupt bit. Only when the mask (or interrupt word) was empty and this vCPU
 * is halted does the waker send the IPI, a message to the vCPU actor; a polling or running vCPU sees
 * the bit by itself (a running one at its next preemption point). Halting is a Dekker protocol: the
 * vCPU stores {@link #HALTED} into {@code runState}, then re-reads the mask and interrupts; wakers
 * set their bit, then read {@code runState}. All four accesses are volatile.
 *
 * <h2>Local wakeups</h2>
 * A waker running on this vCPU (the mutex/condvar hand-off between two threads of one vCPU) owns the
 * run queue already, so it queues the woken thread directly ({@link #wakeLocal}): no incoming queue,
 * no mask, no atomics beyond the thread's WAITING to WAKING CAS (none for a mutex hand-off, see
 * {@link KThread#wakeHandOff}), and no reschedule at the waker's next preemption point unless the
 * woken thread must preempt it. The waker's new preemption deadline is computed only if it reaches a
 * preemption point before it blocks ({@link #deadlinePending}). With the preemption deadline a plain
 * field and the clock device re-programmed only when it must fire earlier, a switch on one vCPU costs
 * one clock read, the policy arithmetic, and the continuation yield and resume.
 *
 * <h2>Lock boost</h2>
 * A thread woken as the new owner of a {@link Mutex} ({@link KThread#lockBoost}) that is queued first
 * behind a running fair thread preempts it without the R''/thyst comparison: at the owner's next
 * preemption point for a local wakeup ({@link #wakeLocal}), or in the {@link #reschedule} that drains
 * the incoming wakeups. Real-time owners are never preempted for it; {@link #switchIn} clears the mark.
 *
 * <h2>Mutex revocations</h2>
 * A {@link Mutex} used only by threads of this vCPU is bound to it and works with plain fields. A
 * caller from elsewhere queues it here ({@link #requestRevocation}, {@link #IRQ_REVOKE}); this vCPU
 * converts it to the lock-free algorithm in {@link #handleInterrupts}, at a switch or preemption
 * point, where none of its threads is inside a mutex operation.
 */
final class Cpu {
    /** The vCPU whose scheduler loop the current carrier thread runs (null on other threads). */
    static final ThreadLocal<Cpu> CARRIER = new ThreadLocal<>();

    static final int RUNNING = 0;
    static final int POLLING = 1;
    static final int HALTED = 2;
    static final int STOPPED = 3;

    static final int IRQ_TIMER = 1;
    static final int IRQ_FOREIGN = 2;
    static final int IRQ_CONTROL = 4;
    /** A thread of another vCPU (or a host thread) asks this vCPU to take a mutex out of per-vCPU mode. */
    static final int IRQ_REVOKE = 8;

    /** Why {@link #runFor} returned. */
    enum Exit { HALTED, BUDGET, STOPPED }

    private static final VarHandle MASK;
    private static final VarHandle INTERRUPTS;
    private static final VarHandle LOAD;
    private static final VarHandle EPOCH;
    private static final VarHandle RUNNING_THREAD;
    private static final VarHandle REVOCATIONS;
    private static final VarHandle LEND;
    private static final VarHandle DEFERRED;

    static {
        try {
            final MethodHandles.Lookup l = MethodHandles.lookup();
            MASK = l.findVarHandle(Cpu.class, "incomingMask", long.class);
            INTERRUPTS = l.findVarHandle(Cpu.class, "interrupts", int.class);
            LOAD = l.findVarHandle(Cpu.class, "load", int.class);
            EPOCH = l.findVarHandle(Cpu.class, "mountEpoch", long.class);
            RUNNING_THREAD = l.findVarHandle(Cpu.class, "running", KThread.class);
            REVOCATIONS = l.findVarHandle(Cpu.class, "revocations", Mutex.class);
            LEND = l.findVarHandle(Cpu.class, "lendState", int.class);
            DEFERRED = l.findVarHandle(Cpu.class, "deferredWake", Cpu.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final int id;
    final Scheduler scheduler;
    private final KernelClock clock;
    private ClockDevice device;
    final RunQueue runqueue = new RunQueue();
    final TimerHeap timers = new TimerHeap();
    private final WakeQueue[] incoming;
    private final WakeQueue foreign = new WakeQueue();
    private final long budgetNanos;
    private final long idleSpinNanos;
    /** {@code idle-spin-mode = adaptive}: poll for {@link #pollWindowNanos}, adapted by {@link HaltPoll}. */
    private final boolean adaptiveIdleSpin;
    /** The adaptive poll window, 0..idleSpinNanos (carrier only). */
    private long pollWindowNanos;
    /** Adaptive mode: the vCPU halted and has not run its loop since (carrier only). */
    private boolean haltedAdaptively;
    /** Adaptive mode: host time (ns) the vCPU went idle before its last halt (carrier only). */
    private long haltedAtNanos;

    @SuppressWarnings("unused") // through MASK
    private volatile long incomingMask;
    @SuppressWarnings("unused") // through INTERRUPTS
    private volatile int interrupts;
    /**
     * Mutexes bound to this vCPU that a remote caller wants shared ({@link #requestRevocation}): a
     * CAS-pushed stack linked by {@link Mutex#revokeNext}, taken whole by this vCPU.
     */
    @SuppressWarnings("unused") // through REVOCATIONS
    private volatile Mutex revocations;
    volatile int runState = HALTED;
    @SuppressWarnings("unused") // through LOAD
    private volatile int load;
    @SuppressWarnings("unused") // through EPOCH
    private volatile long mountEpoch;

    // Policy state (OSv's cpu::c, renormalize_count, running_since).
    double c = Policy.CINITIAL;
    long renormalizeCount;
    private long runningSince;
    private long idleSince;
    /** True when {@link #clock} is the host's {@code System.nanoTime()}, so one read serves both. */
    private final boolean hostClock;

    /**
     * OSv's per-CPU {@code preemption_timer}, kept as a plain deadline (kernel-clock ns, or
     * {@link ClockDevice#NONE}) rather than an entry of the timer set: it is re-armed at nearly every
     * scheduling decision, so arming and cancelling must cost a field store. Owner carrier only.
     */
    private long preemptDeadline = ClockDevice.NONE;
    /**
     * The deadline this vCPU last gave its clock-event device. Invariant: the device fires no later
     * than the earliest armed deadline ({@code deviceDeadline <= nextDeadline()}), or has fired and
     * raised {@link #IRQ_TIMER}. Deadlines are lowered eagerly and raised lazily: a cancelled or
     * postponed deadline leaves the device armed early, which costs at most one spurious interrupt
     * (no timer is due; the vCPU re-arms exactly). Only a halting vCPU re-arms exactly, so an idle
     * vCPU is never woken for nothing. This keeps the clock device (a futex wake of its thread) off
     * the switch path. Owner carrier only.
     */
    private long deviceDeadline = ClockDevice.NONE;
    /**
     * A local wakeup (a thread of this vCPU woke another one) queued a thread that must preempt the
     * owner (OSv's {@code need_reschedule}): the next preemption point reschedules. Owner carrier only,
     * so a plain field; cleared by every scheduling decision.
     */
    private boolean needResched;
    /**
     * {@link #wakeLocal} queued a fair thread first behind the running owner and left the owner's
     * preemption deadline to be computed later: by the owner's next preemption point that does not
     * reschedule ({@link #settleDeadline}), or by the next scheduling decision, which re-arms the
     * deadline from scratch and clears this. The deadline is the same value either way (it depends
     * only on R'' values and {@link #runningSince}, which change only at decisions), and the owner
     * cannot be preempted before a preemption point anyway, so only the moment the device is
     * programmed moves; a thread that blocks right after waking another one (a mutex or condvar
     * hand-off) never pays the logarithm. Owner carrier only.
     */
    private boolean deadlinePending;

    /**
     * True while this vCPU runs (or has chosen) an application thread: written by this vCPU before it
     * resumes a thread, only when the kind changes, and cleared when it goes idle; read by anyone
     * (the MMU's TLB shootdown, through {@link Scheduler#runningApplication}).
     */
    volatile boolean runningApplication;

    /** The thread mounted on the carrier right now (null in scheduler context). */
    @SuppressWarnings("unused") // through RUNNING_THREAD (release, read by the watchdog)
    private volatile KThread running;
    /** The thread that owns the vCPU: running, or chosen to run next; null when idle. */
    private KThread owner;
    /** Successor chosen by a switching thread, resumed by the loop. */
    private KThread next;
    private boolean returnToMailbox;
    private long loopEnteredHostNanos;
    private int loopSwitches;

    ActorRef<VcpuActor.Command> actor;
    volatile Thread carrier;
    /**
     * The carrier that finishes this vCPU after its actor was stopped ({@link #finishAfterActorStopped}),
     * else null. Its mailbox is gone, so wakers that would send the actor an IPI also unpark this
     * thread; they read it after reading {@code runState == HALTED}, which it is set before.
     */
    private volatile Thread finishingCarrier;
    volatile boolean stopRequested;
    final CompletableFuture<Void> stopped = new CompletableFuture<>();

    // The kernel dispatcher's per-vCPU task queue and worker thread.
    final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    KThread worker;

    // Statistics: plain fields written by this vCPU only, except the atomics.
    long switches;
    long preemptions;
    long wakeupsIn;
    long ipisSent;
    long ipisSkipped;
    long migrationsIn;
    long migrationsOut;
    long halts;
    long busyNanos;
    long idleNanos;
    long renormalizations;
    long pinnedRefusals;
    /** Preemptions that only the {@link KThread#lockBoost} called for (the R'' rule would have waited). */
    long lockBoosts;
    long mailboxReturns;
    long tasksRun;
    long balanceTicks;
    final AtomicLong ipisReceived = new AtomicLong();
    final AtomicLong foreignIpis = new AtomicLong();
    final AtomicLong timerInterrupts = new AtomicLong();
    final AtomicLong timerWakeups = new AtomicLong();
    final AtomicLong ticksScheduled = new AtomicLong();
    final AtomicLong ticksDelivered = new AtomicLong();

    Cpu(final int id, final Scheduler scheduler, final KernelClock clock, final int cpus, final SchedConfig config) {
        this.id = id;
        this.scheduler = scheduler;
        this.clock = clock;
        this.incoming = new WakeQueue[cpus];
        for (int i = 0; i < cpus; i++) {
            incoming[i] = new WakeQueue();
        }
        this.hostClock = clock == KernelClock.SYSTEM;
        this.budgetNanos = config.mailboxInterval().toNanos();
        this.idleSpinNanos = config.idleSpin().toNanos();
        this.adaptiveIdleSpin = config.adaptiveIdleSpin();
        this.idleSince = clock.monotonicNanos();
    }

    void attach(final ClockDevice clockDevice, final ActorRef<VcpuActor.Command> vcpuActor) {
        this.device = clockDevice;
        this.actor = vcpuActor;
    }

    /** The vCPU the caller runs on (its kernel thread's, or the carrier's in scheduler context), or null. */
    static Cpu current() {
        final KThread t = KThread.current();
        if (t != null) {
            return t.cpu;
        }
        return CARRIER.get();
    }

    /**
     * True when a preemption point must enter the scheduler: a local wakeup that preempts, pending
     * remote wakeups or interrupts. Called on this vCPU's carrier only.
     */
    boolean attention() {
        return needResched || ((long)MASK.getVolatile(this) | (int)INTERRUPTS.getVolatile(this)) != 0;
    }

    /**
     * A preemption point of {@code p}, the running owner, with preemption enabled: reschedule if
     * {@link #attention()}, else arm a preemption deadline that a local wakeup left pending.
     */
    void preemptionPoint(final KThread p) {
        if (!attention() && !(deadlinePending && settleDeadline(p))) {
            return;
        }
        reschedule(p, false);
    }

    /** True when a local wakeup left the running owner's preemption deadline to be computed. */
    boolean deadlinePending() {
        return deadlinePending;
    }

    /**
     * Compute the preemption deadline that {@link #wakeLocal} deferred, for the running owner
     * {@code p}: OSv's rule against the first queued thread, {@code runningSince + p.timeUntil(R'')},
     * armed if earlier than the current one. If the deadline has passed by now the device fires at
     * once and the preemption happens at the next preemption point.
     *
     * @return true when {@code p} must be preempted right away (a queued thread already has the
     *     lower R''); {@link #needResched} is then set as well.
     */
    boolean settleDeadline(final KThread p) {
        deadlinePending = false;
        final KThread t = runqueue.first();
        if (t == null || p != owner || p.realtimePriority > 0 || t.realtimePriority > 0
            || t.runtime.idlePriority()) {
            return false;
        }
        if (p.runtime.idlePriority() || t.runtime.rtt <= p.runtime.rtt) {
            needResched = true;
            return true;
        }
        final long delta = p.runtime.timeUntil(this, t.runtime.rtt);
        if (delta > 0 && runningSince + delta < preemptDeadline) {
            setPreemption(runningSince + delta);
        }
        return false;
    }

    /** The running thread changed its own priority: re-decide at its next preemption point. */
    void requestReschedule() {
        needResched = true;
    }

    /** Runnable threads on this vCPU, including the one that owns it (balancer and {@code top}). */
    int load() {
        return (int)LOAD.getAcquire(this);
    }

    private void publishLoad() {
        LOAD.setRelease(this, runqueue.size() + (owner != null ? 1 : 0));
    }

    KThread running() {
        return (KThread)RUNNING_THREAD.getAcquire(this);
    }

    long mountEpoch() {
        return (long)EPOCH.getAcquire(this);
    }

    // =============================================================================================
    // Scheduler context: the vCPU loop

    /**
     * Run kernel threads until the vCPU goes idle (after polling), its mailbox budget is used up, or
     * it stops. Called by the vCPU actor on its carrier.
     */
    Exit runFor() {
        if (runState == STOPPED) {
            return Exit.STOPPED;
        }
        carrier = Thread.currentThread();
        CARRIER.set(this);
        Exit exit = Exit.STOPPED;
        try {
            exit = loop();
            return exit;
        } finally {
            CARRIER.remove();
            if (exit != Exit.BUDGET && deferredWake != null) {
                // halting into the mailbox or stopping: what this vCPU's threads woke gets its own carrier now
                // (a mailbox turn comes straight back, and the delay still applies at the next switch)
                releaseDeferredWake();
            }
        }
    }

    private Exit loop() {
        runState = RUNNING;
        loopEnteredHostNanos = System.nanoTime();
        if (haltedAdaptively) { // adaptive idle spin: back from a halt, whose length sets the next window
            haltedAdaptively = false;
            pollWindowNanos = HaltPoll.next(pollWindowNanos, loopEnteredHostNanos - haltedAtNanos, idleSpinNanos);
        }
        while (true) {
            if (stopping()) {
                return Exit.STOPPED;
            }
            if (returnToMailbox) {
                returnToMailbox = false;
                mailboxReturns++;
                return Exit.BUDGET;
            }
            KThread n = next;
            if (n == null) {
                n = pickFromIdle();
                if (n == null) {
                    if (idle()) {
                        return Exit.HALTED;
                    }
                    continue;
                }
                if (returnToMailbox) {
                    next = n;
                    continue;
                }
            }
            next = null;
            runThread(n);
            if (deferredWake != null) {
                yieldAtSwitch();
            }
            if ((++loopSwitches & 63) == 0 && System.nanoTime() - loopEnteredHostNanos >= budgetNanos) {
                mailboxReturns++;
                return Exit.BUDGET;
            }
        }
    }

    /** Resume {@code n}, chosen to run, on the calling carrier until it suspends or ends (scheduler context). */
    private void runThread(final KThread n) {
        if (n.application) {
            if (!runningApplication) {
                runningApplication = true;
            }
            // After the store, before the thread runs (the MMU's lazy TLB flush).
            final IntConsumer hook = scheduler.applicationSwitchInHook;
            if (hook != null) {
                hook.accept(id);
            }
        } else if (runningApplication) {
            runningApplication = false;
        }
        RUNNING_THREAD.setRelease(this, n);
        EPOCH.setRelease(this, mountEpoch + 1);
        n.context.resume();
        RUNNING_THREAD.setRelease(this, (KThread)null);
        afterSwitchOut(n);
    }

    /**
     * A switch of this vCPU's own loop with a deferred wakeup: with {@link DirectedYield.When#SWITCH} the thread
     * that woke a parked vCPU has left the carrier, so run that vCPU here now ({@link #runLent}), before this
     * vCPU's next thread; with {@link DirectedYield.When#IDLE}, only past the delay wake its own carrier.
     */
    private void yieldAtSwitch() {
        final DirectedYield dy = yieldGroup;
        if (dy == null || scheduler.haltWait != dy || stopRequested) {
            releaseDeferredWake(); // this vCPU will not lend its carrier: the woken vCPU's own carrier runs it
            return;
        }
        if (dy.when() != DirectedYield.When.SWITCH) {
            expireDeferredWake();
            return;
        }
        final long deadline = loopEnteredHostNanos + budgetNanos;
        for (Cpu target = takeDeferredWake(); target != null; ) {
            target = lendTo(target, deadline);
        }
    }

    /**
     * Run the parked {@code target} on this vCPU's carrier ({@link #runLent}) if no other carrier has it.
     *
     * @return what {@code target}'s threads woke meanwhile (the next loan), or null.
     */
    Cpu lendTo(final Cpu target, final long deadline) {
        if (!target.lendCas(LEND_PARKED, LEND_BORROWED)) {
            return null; // its own carrier, or another one, runs it
        }
        lendings++;
        return target.runLent(this, deadline);
    }

    private boolean stopping() {
        if (!stopRequested) {
            return false;
        }
        if (scheduler.forced) {
            return true;
        }
        final KThread w = worker;
        return w == null || w.state() == ThreadState.TERMINATED;
    }

    /** Nothing owns the vCPU: take the best runnable thread, or null. */
    private KThread pickFromIdle() {
        final long now = clock.monotonicNanos();
        handleInterrupts(now);
        handleIncomingWakeups();
        needResched = false;
        deadlinePending = false;
        final KThread n = runqueue.pollFirst();
        if (n == null) {
            publishLoad();
            return null;
        }
        idleNanos += Math.max(0, now - idleSince);
        runningSince = now;
        switchIn(n, false, now, false);
        return n;
    }

    /**
     * A polling vCPU yields its host core every this many + 1 polls (about 10 us of spin-wait hints): on a
     * quiet host {@code sched_yield} returns in well under a microsecond, on a busy one it lets the thread
     * that will wake this vCPU run instead of competing with it for the core.
     */
    static final int YIELD_EVERY_MASK = 255;

    /**
     * Idle: poll the wakeup queues for {@code idle-spin} (so wakers skip the IPI), or in adaptive mode for
     * this vCPU's window ({@link HaltPoll}), then halt. The poll yields the host core now and then ({@link #YIELD_EVERY_MASK}).
     *
     * @return true to halt (return to the actor's mailbox), false when work arrived.
     */
    private boolean idle() {
        if (runningApplication) {
            runningApplication = false;
        }
        runState = POLLING;
        final long idleStart = System.nanoTime();
        final long spinEnd = idleStart + (adaptiveIdleSpin ? pollWindowNanos : idleSpinNanos);
        int i = 0;
        while (true) {
            if (attention()) {
                runState = RUNNING;
                return false;
            }
            if ((++i & 31) == 0) {
                if (System.nanoTime() >= spinEnd) {
                    break;
                }
                if ((i & YIELD_EVERY_MASK) == 0) {
                    // Give the host core to a runnable host thread, often the waker this poll waits for (KVM
                    // stops halt polling when another task is runnable); returns at once when none is.
                    Thread.yield();
                }
            }
            Thread.onSpinWait();
        }
        rearmDevice();
        if (scheduler.haltWait != null && haltInWait()) {
            return false;
        }
        runState = HALTED;
        if (attention()) {
            runState = RUNNING;
            return false;
        }
        halts++;
        if (adaptiveIdleSpin) {
            haltedAdaptively = true;
            haltedAtNanos = idleStart;
        }
        // Halting returns to the mailbox anyway: a control request handled on the way needs no
        // second trip through it (see controlInterrupt).
        returnToMailbox = false;
        return true;
    }

    // ----- halt wait: a clearly delimited addition to the halt path (see HaltWait) ---------------------

    /** Longest single {@link HaltWait#await}: a mailbox turn follows (messages that sent no IPI). */
    static final long HALT_WAIT_MAX_NANOS = 20_000_000L;
    /** True while this vCPU is in (or entering, or leaving) {@link HaltWait#await}: wakers call its wakeup. */
    private volatile boolean haltWaiting;
    /** The wait source this vCPU is in now (valid while {@link #haltWaiting}). */
    private volatile HaltWait currentHaltWait;
    /** Waits in the halt wait (carrier only; read racily by {@link Scheduler#haltWaits}). */
    long haltWaits;
    /** For {@link HaltWait#await}: work arrived (carrier only). */
    private final java.util.function.BooleanSupplier woken = this::attention;
    /** Host time (ns) this vCPU last had a mailbox turn while it waited in the halt wait. */
    private long haltWaitMailboxNanos;

    /**
     * Idle with a {@link HaltWait} installed: wait in it as a halted vCPU (wakers call its wakeup
     * instead of sending the IPI: Dekker on {@link #haltWaiting} and the interrupt word, both volatile).
     *
     * @return true when the loop must look for work again (the wait ran, or work arrived, or a mailbox
     *     turn is due: {@link #returnToMailbox} then set); false when the wait declined: halt as usual.
     */
    private boolean haltInWait() {
        final HaltWait w = scheduler.haltWait;
        if (w == null || stopRequested) {
            return false; // a stopping vCPU halts as before (its finishing carrier parks)
        }
        final long now = System.nanoTime();
        if (now - haltWaitMailboxNanos >= HALT_WAIT_MAX_NANOS) {
            // a mailbox turn (balancer ticks, stop) before the next wait; the actor resumes the loop at once
            haltWaitMailboxNanos = now;
            returnToMailbox = true;
            runState = RUNNING;
            return true;
        }
        currentHaltWait = w;
        haltWaiting = true;
        runState = HALTED;
        if (attention()) {
            runState = RUNNING;
            haltWaiting = false;
            return true;
        }
        final boolean waited;
        try {
            waited = w.await(HALT_WAIT_MAX_NANOS - (now - haltWaitMailboxNanos), woken);
        } finally {
            // leaving: from here wakers send the IPI again; a waker that saw haltWaiting set its bit
            // before that read, so the checks below or the loop's next pick see it
            haltWaiting = false;
        }
        if (waited) {
            haltWaits++;
            runState = RUNNING;
            return true;
        }
        return false; // runState is HALTED: the caller re-checks attention after its own store
    }

    /** {@link Scheduler#setHaltWait} changed the wait: a halted vCPU goes round its idle path again. */
    void haltWaitChanged() {
        if (runState == HALTED) {
            sendIpi(); // in the old wait: its wakeup; halted in the mailbox: an IPI message
        }
    }

    /** A waker found this vCPU halted: wake its halt wait if it is in one. True when it was. */
    private boolean wakeHaltWait() {
        if (haltWaiting) {
            final HaltWait w = currentHaltWait;
            if (w instanceof DirectedYield dy) {
                dy.wakeup(this);
            } else if (w != null) {
                w.wakeup();
            }
            return true;
        }
        return false;
    }

    // ----- directed yield: a clearly delimited addition to the halt wait (see DirectedYield) -----------

    static final int LEND_OWN = 0;
    static final int LEND_PARKED = 1;
    static final int LEND_BORROWED = 2;
    /**
     * While this vCPU waits in a {@link DirectedYield}: {@link #LEND_PARKED} when its carrier is parked and
     * another idle carrier may run its loop, {@link #LEND_BORROWED} while one does; {@link #LEND_OWN}
     * otherwise (its own carrier runs it, or lends itself to another vCPU from the wait).
     */
    @SuppressWarnings("unused") // through LEND
    private volatile int lendState;
    /** The carrier parked in the directed-yield wait (valid while {@link #lendState} is not OWN). */
    private volatile Thread parkedCarrier;
    /**
     * A halted vCPU of the same {@link DirectedYield} that a thread of this vCPU woke while this vCPU runs:
     * its carrier is not woken; this vCPU runs it on its own carrier when it goes idle, or wakes its carrier
     * when this vCPU has not gone idle within the yield's delay ({@link #expireDeferredWake}, or the
     * yield's watchdog). Written by this vCPU's carrier, taken (getAndSet) by it or the watchdog.
     */
    @SuppressWarnings("unused") // through DEFERRED
    private volatile Cpu deferredWake;
    /** Host time (ns) {@link #deferredWake} was set (written before it). */
    private volatile long deferredSince;
    /** The directed yield this vCPU joined (its watchdog's list), or null. */
    DirectedYield yieldGroup;
    /** Times this vCPU's loop ran on another vCPU's carrier (carrier only, read racily). */
    long lentRuns;
    /** Times this vCPU's carrier ran another vCPU's loop while idle (carrier only, read racily). */
    long lendings;
    /** Wakeups of other vCPUs this vCPU's threads deferred (carrier only, read racily). */
    long deferredWakeups;
    /** Of those, the ones whose target's own carrier was woken after all (any thread). */
    final AtomicLong deferralsExpired = new AtomicLong();
    /** Lent runs that ended with work left for this vCPU's own carrier (read racily). */
    long givenBack;
    /** Host wake-ups of this vCPU's carrier parked in the directed-yield wait (any thread). */
    final AtomicLong carrierWakeups = new AtomicLong();

    /** Unpark this vCPU's carrier parked in the directed-yield wait. */
    void wakeOwnCarrier(final Thread own) {
        if (own != null) {
            carrierWakeups.incrementAndGet();
            LockSupport.unpark(own);
        }
    }

    int lendState() {
        return (int)LEND.getVolatile(this);
    }

    Thread parkedCarrier() {
        return parkedCarrier;
    }

    /** In the directed-yield wait: mark this vCPU's parked carrier borrowable. */
    void lendPark(final Thread own) {
        parkedCarrier = own;
        LEND.setVolatile(this, LEND_PARKED);
    }

    /** Take this vCPU for {@code from}: PARKED to {@code to}; false when another carrier runs it. */
    boolean lendCas(final int from, final int to) {
        return LEND.compareAndSet(this, from, to);
    }

    /** A thread of this vCPU woke the halted {@code target}: run it here when idle, unless a wake is pending already. */
    boolean deferWake(final Cpu target) {
        final Cpu pending = (Cpu)DEFERRED.getVolatile(this);
        if (pending == target) {
            return true;
        }
        if (stopRequested || pending != null) {
            return false;
        }
        deferredSince = System.nanoTime();
        DEFERRED.setVolatile(this, target);
        deferredWakeups++;
        return true;
    }

    /** Take the deferred wakeup, or null. */
    Cpu takeDeferredWake() {
        return (Cpu)DEFERRED.getAndSet(this, (Cpu)null);
    }

    boolean hasDeferredWake() {
        return (Cpu)DEFERRED.getVolatile(this) != null;
    }

    /** Host time the pending deferred wakeup was made. */
    long deferredSince() {
        return deferredSince;
    }

    /** A switch point with a deferred wakeup: past the yield's delay, its target gets its own carrier. */
    private void expireDeferredWake() {
        final DirectedYield dy = yieldGroup;
        if (dy == null || System.nanoTime() - deferredSince >= dy.delayNanos()) {
            releaseDeferredWake();
        }
    }

    /** Wake the deferred target's own carrier (no-op when none or someone runs it already). */
    void releaseDeferredWake() {
        final Cpu t = takeDeferredWake();
        if (t != null) {
            deferralsExpired.incrementAndGet();
            DirectedYield.unparkOwn(t);
        }
    }

    /**
     * Directed yield: run this vCPU, which {@code lender}'s idle carrier (the caller) took from its parked
     * carrier ({@link #LEND_BORROWED}), until it is idle again, until {@code lender} has work, or until
     * {@code deadline} (host ns, the lender's mailbox turn). Scheduler context on the lender's carrier.
     *
     * @return a vCPU this one's threads woke meanwhile with their wakeup deferred (the lender's next loan), or null.
     */
    Cpu runLent(final Cpu lender, final long deadline) {
        final Thread own = parkedCarrier;
        carrier = Thread.currentThread();
        CARRIER.set(this);
        runState = RUNNING;
        lentRuns++;
        boolean giveBack = false;
        int n = 0;
        final long delay = yieldGroup.delayNanos();
        long wantedSince = 0; // host time the lender was first seen with work of its own, 0: not yet
        try {
            while (true) {
                if (stopRequested || returnToMailbox || scheduler.haltWait != yieldGroup) {
                    giveBack = true; // its own carrier stops it, gives its mailbox a turn, or waits elsewhere now
                    break;
                }
                // The lender's own work waits up to the yield's delay, as a deferred wakeup does: a short
                // burst of this vCPU's finishes on this carrier, a long one gets its own carrier.
                boolean lenderWanted = (++n & 63) == 0 && System.nanoTime() >= deadline;
                if (!lenderWanted && (lender.attention() || lender.next != null || !lender.runqueue.isEmpty())) {
                    final long now = System.nanoTime();
                    if (wantedSince == 0) {
                        wantedSince = now;
                    }
                    lenderWanted = now - wantedSince >= delay;
                }
                KThread t = next;
                if (t == null && !lenderWanted) {
                    t = pickFromIdle();
                    if (t != null && returnToMailbox) {
                        next = t;
                        giveBack = true;
                        break;
                    }
                }
                if (t == null) {
                    if (lenderWanted && (!runqueue.isEmpty() || attention())) {
                        giveBack = true; // work left and the lender has its own: both carriers run
                        break;
                    }
                    if (runningApplication) {
                        runningApplication = false;
                    }
                    rearmDevice();
                    // Dekker with the wakers: they set their bit, then read runState and lendState
                    runState = HALTED;
                    LEND.setVolatile(this, LEND_PARKED);
                    if (attention()) {
                        if (!lenderWanted && LEND.compareAndSet(this, LEND_PARKED, LEND_BORROWED)) {
                            runState = RUNNING;
                            continue;
                        }
                        wakeOwnCarrier(own); // its own carrier takes the work (or a borrower already did)
                    } else if (stopRequested || scheduler.haltWait != yieldGroup) {
                        wakeOwnCarrier(own); // Dekker with setHaltWait and kick: its own carrier leaves the wait
                    }
                    break; // idle: borrowable again
                }
                next = null;
                runThread(t);
                if (deferredWake != null) {
                    expireDeferredWake();
                }
            }
        } finally {
            CARRIER.set(lender);
            carrier = own;
        }
        if (giveBack) {
            // work left: its own carrier takes over (CAS PARKED to OWN) and goes on from next/the run queue
            LEND.setVolatile(this, LEND_PARKED);
            givenBack++;
            wakeOwnCarrier(own);
        }
        final Cpu d = takeDeferredWake();
        return d == lender ? null : d;
    }

    /** Back in the loop after {@code t} suspended or ended. */
    private void afterSwitchOut(final KThread t) {
        if (t.context.isDone()) {
            final long now = clock.monotonicNanos();
            account(t, now);
            t.runtime.hysteresisRunStop(this);
            for (Timer tm = t.timers; tm != null; tm = tm.ownedNext) {
                timers.remove(tm);
            }
            while (t.timers != null) {
                t.unlinkTimer(t.timers);
            }
            if (owner == t) {
                owner = null;
            }
            idleSince = now;
            publishLoad();
            t.terminated();
            scheduler.threadEnded(t);
        } else if (t.migrateTo != null) {
            final Cpu target = t.migrateTo;
            t.migrateTo = null;
            exportTo(t, target);
        }
    }

    /** The balancer's and pin's hand-over: {@code t} is off every queue here and WAKING. */
    private void exportTo(final KThread t, final Cpu target) {
        for (Timer tm = t.timers; tm != null; tm = tm.ownedNext) {
            if (tm.heapIndex >= 0) {
                timers.remove(tm);
                tm.suspended = true;
            }
        }
        t.runtime.exportRuntime(this);
        t.migrations++;
        t.migrating = true;
        migrationsOut++;
        SchedEvents.migrated(t, id, target.id);
        t.cpu = target;
        target.pushWakeup(t, this);
    }

    /** Threads the wake-affine rule moved here from a halted vCPU ({@link #pullAffine}); this carrier only. */
    long affinePulls;

    /**
     * The wake-affine rule, for a sync wakeup ({@link KThread#wakeSync}) of {@code t} (WAKING, owned by the
     * caller; its vCPU is this one) by a thread or interrupt running on {@code source} (the caller's vCPU,
     * its carrier): move {@code t} to {@code source} when this vCPU is halted (its wake-up would be a host
     * wake-up of its carrier), {@code source} has nothing queued (it runs at most the waker, which is about
     * to wait), {@code t} is not pinned and has no armed timer (only this vCPU touches its timer set), and
     * the scheduler allows it ({@code osvj.sched.wake-affine}).
     *
     * <p>Why it is safe without this vCPU's help: a halted vCPU does not run {@code t} (a WAITING thread is
     * off its vCPU before the vCPU halts, and only the caller can queue it now), and holds nothing of it
     * but armed timers, which rule it out. Its R'' is brought to the absolute scale with this vCPU's
     * {@code c}, read racily (a halted vCPU does not change it; a stale value only skews fairness a little).
     *
     * @return true when {@code t} now belongs to {@code source}: the caller queues it there.
     */
    boolean pullAffine(final KThread t, final Cpu source) {
        if (!scheduler.wakeAffine() || source.scheduler != scheduler || runState != HALTED || t.migrationLock != 0
            || t.timers != null || source.runState == STOPPED || source.load() > 1) {
            return false;
        }
        t.runtime.exportRuntime(this);
        t.migrations++;
        t.migrating = true;
        t.cpu = source;
        source.affinePulls++;
        SchedEvents.migrated(t, id, source.id);
        return true;
    }

    /**
     * OSv's load balancer step, on the balancer tick (scheduler context): when the least loaded vCPU
     * has a load below ours minus one, hand it our last migratable queued thread.
     */
    void balance() {
        balanceTicks++;
        if (runState == STOPPED || runqueue.isEmpty()) {
            return;
        }
        Cpu min = this;
        for (final Cpu other : scheduler.cpus) {
            if (other.runState != STOPPED && other.load() < min.load()) {
                min = other;
            }
        }
        if (min == this || min.load() >= load() - 1) {
            return;
        }
        final KThread t = runqueue.lastMatching(x -> x.migrationLock == 0);
        if (t == null) {
            return;
        }
        runqueue.remove(t);
        t.setState(ThreadState.WAKING);
        publishLoad();
        exportTo(t, min);
    }

    // =============================================================================================
    // Thread context: scheduling decisions made by the running thread

    /**
     * Run the scheduler on behalf of the running thread {@code p} (OSv's
     * {@code reschedule_from_interrupt}): drain interrupts and wakeups, charge {@code p}, and either
     * keep it (re-arming the preemption deadline) or switch to the best queued thread. When {@code p}
     * is WAITING it always leaves the vCPU. Returns when {@code p} runs again.
     */
    void reschedule(final KThread p, final boolean fromYield) {
        if (decide(p, fromYield)) {
            switchOut(p, next);
        }
    }

    /**
     * The decision of {@link #reschedule}: everything but the switch itself. Kept apart so that
     * {@code reschedule}, a few bytes, is compiled into its callers and the continuation yields from
     * the caller's frame: a switch freezes and thaws every frame between the thread's code and the
     * yield (about 6 ns per frame per switch on the machine of BENCHMARKS.md), and this frame is gone
     * by then.
     *
     * @return true when {@code p} must switch out to {@link #next} (null: the vCPU goes idle); false
     *     when {@code p} keeps the vCPU (or already came back from the actor's mailbox).
     */
    private boolean decide(final KThread p, final boolean fromYield) {
        final long now = clock.monotonicNanos();
        handleInterrupts(now);
        handleIncomingWakeups();
        needResched = false;
        deadlinePending = false;
        account(p, now);
        KThread boosted = null;
        if (p.state() == ThreadState.RUNNING) {
            final KThread t = runqueue.first();
            if (t == null) {
                cancelPreemption();
                publishLoad();
                maybeToMailbox(p, now);
                return false;
            }
            boolean rotate = false;
            if (!fromYield) {
                if (p.realtimePriority > 0) {
                    // Real-time: lower priorities wait; an equal one waits for the end of p's
                    // round-robin slice (forever under FIFO), then p goes behind its equals.
                    if (t.realtimePriority < p.realtimePriority
                        || (t.realtimePriority == p.realtimePriority && !sliceUsedUp(p, now))) {
                        armSlice(p);
                        maybeToMailbox(p, now);
                        return false;
                    }
                    rotate = t.realtimePriority == p.realtimePriority;
                } else if (t.realtimePriority == 0 && boosts(t)) {
                    // A new mutex owner (see Mutex, lock boost): it runs now, whatever the R''s.
                    if (p.runtime.rtt < t.runtime.rtt) {
                        lockBoosts++;
                    }
                    boosted = runqueue.pollFirst();
                } else if (t.realtimePriority == 0 && p.runtime.rtt < t.runtime.rtt) {
                    armPreemption(now, p.runtime.timeUntil(this, t.runtime.rtt));
                    maybeToMailbox(p, now);
                    return false;
                }
            }
            p.runtime.hysteresisRunStop(this);
            p.setState(ThreadState.QUEUED);
            if (rotate) {
                runqueue.enqueue(p);
            } else {
                runqueue.enqueueFirstEqual(p);
            }
            p.preemptions++;
            preemptions++;
        } else {
            p.runtime.hysteresisRunStop(this);
        }
        final KThread n = boosted != null ? boosted : runqueue.pollFirst();
        if (n == p) {
            // p is queued but still the best (equal R''): keep it without a switch.
            p.setState(ThreadState.RUNNING);
            p.runtime.hysteresisRunStart(this);
            armAfterPick(p, now, false);
            publishLoad();
            maybeToMailbox(p, now);
            return false;
        }
        if (n == null) {
            owner = null;
            idleSince = now;
            cancelPreemption();
            publishLoad();
        } else {
            switchIn(n, p.state() == ThreadState.QUEUED, now, false);
        }
        next = n;
        return true;
    }

    /** OSv's {@code yield}: switch to the best queued thread unless none or it has idle priority. */
    void yieldCurrent(final KThread p) {
        if (decideYield(p)) {
            switchOut(p, next);
        }
    }

    /** The decision of {@link #yieldCurrent}, apart from the switch for the reason given at {@link #decide}. */
    private boolean decideYield(final KThread p) {
        final long now = clock.monotonicNanos();
        handleInterrupts(now);
        handleIncomingWakeups();
        needResched = false;
        deadlinePending = false;
        final KThread t = runqueue.first();
        if (t == null || t.runtime.idlePriority() || t.realtimePriority < p.realtimePriority) {
            maybeToMailbox(p, now);
            return false;
        }
        account(p, now);
        p.runtime.hysteresisRunStop(this);
        final KThread n = runqueue.pollFirst();
        p.setState(ThreadState.QUEUED);
        runqueue.enqueue(p);
        switchIn(n, true, now, true);
        next = n;
        return true;
    }

    /** Move the running thread {@code p} to {@code target} (pinning): it leaves, the loop hands it over. */
    void migrateCurrent(final KThread p, final Cpu target) {
        final long now = clock.monotonicNanos();
        handleInterrupts(now);
        handleIncomingWakeups();
        needResched = false;
        deadlinePending = false;
        account(p, now);
        p.runtime.hysteresisRunStop(this);
        p.setState(ThreadState.WAKING);
        p.migrateTo = target;
        final KThread n = runqueue.pollFirst();
        if (n == null) {
            owner = null;
            idleSince = now;
            cancelPreemption();
            publishLoad();
        } else {
            switchIn(n, false, now, false);
        }
        next = n;
        if (!p.context.suspend()) {
            p.migrateTo = null;
            p.setState(ThreadState.RUNNING);
            undoSwitch(p, n);
            throw new IllegalStateException("cannot migrate a pinned continuation (native frame or critical section)");
        }
    }

    /**
     * After deciding to keep {@code p} (its preemption deadline re-armed): give the carrier to the
     * actor's mailbox if a control request (stop, balancer tick) is pending or the budget is used up.
     */
    private void maybeToMailbox(final KThread p, final long now) {
        if (returnToMailbox || (hostClock ? now : System.nanoTime()) - loopEnteredHostNanos >= budgetNanos) {
            toMailbox(p);
        }
    }

    /** Keep {@code p} as the owner but give the carrier back so the actor's mailbox runs. */
    private void toMailbox(final KThread p) {
        next = p;
        returnToMailbox = true;
        if (!p.context.suspend()) {
            next = null;
            returnToMailbox = false;
        }
    }

    /**
     * True when the queued fair thread {@code t} carries a {@link KThread#lockBoost} that lets it
     * preempt a running fair thread at once (an idle-priority thread never boosts).
     */
    private static boolean boosts(final KThread t) {
        return t.lockBoost && !t.runtime.idlePriority();
    }

    private void switchIn(final KThread n, final boolean displacedRunnable, final long now, final boolean fromYield) {
        n.lockBoost = false;
        n.applyRequestedPriority();
        n.setState(ThreadState.RUNNING);
        if (n.realtimePriority > 0) {
            n.sliceStart = now;
        }
        n.runtime.hysteresisRunStart(this);
        if (displacedRunnable) {
            n.runtime.addContextSwitchPenalty(this);
        }
        armAfterPick(n, now, fromYield);
        n.switches++;
        switches++;
        owner = n;
        publishLoad();
        SchedEvents.switched(id, n);
    }

    /** OSv: after picking {@code n}, arm the preemption timer for when the next thread deserves the vCPU. */
    private void armAfterPick(final KThread n, final long now, final boolean fromYield) {
        if (n.realtimePriority > 0) {
            armSlice(n);
        } else if (fromYield) {
            setPreemption(now + Policy.THYST_NS);
        } else {
            final KThread t = runqueue.first();
            if (t != null && t.realtimePriority == 0) {
                armPreemption(now, n.runtime.timeUntil(this, t.runtime.rtt));
                return;
            }
            cancelPreemption();
        }
    }

    /**
     * A real-time owner {@code p}: arm the end of its round-robin slice when a thread of the same
     * real-time priority waits behind it; otherwise nothing can preempt it but a higher real-time
     * wakeup (which reschedules at once), so no deadline.
     */
    private void armSlice(final KThread p) {
        final KThread t = runqueue.first();
        if (p.realtimeSliceNanos > 0 && t != null && t.realtimePriority == p.realtimePriority) {
            setPreemption(p.sliceStart + p.realtimeSliceNanos);
        } else {
            cancelPreemption();
        }
    }

    /** A round-robin thread has run its slice since it was switched in (FIFO threads never). */
    private static boolean sliceUsedUp(final KThread p, final long now) {
        return p.realtimeSliceNanos > 0 && now - p.sliceStart >= p.realtimeSliceNanos;
    }

    private void armPreemption(final long now, final long delta) {
        if (delta > 0) {
            setPreemption(now + delta);
        } else {
            cancelPreemption();
        }
    }

    /** Arm the preemption deadline; the device is only re-programmed when it would fire too late. */
    private void setPreemption(final long deadlineNanos) {
        preemptDeadline = deadlineNanos;
        if (deadlineNanos < deviceDeadline) {
            programDevice(deadlineNanos);
        }
    }

    /** Disarm the preemption deadline; the device stays armed (lazily, see {@link #deviceDeadline}). */
    private void cancelPreemption() {
        preemptDeadline = ClockDevice.NONE;
    }

    /** The earliest armed deadline: timer set or preemption. */
    private long nextDeadline() {
        return Math.min(timers.minDeadline(), preemptDeadline);
    }

    private void switchOut(final KThread p, final KThread n) {
        if (!p.context.suspend()) {
            undoSwitch(p, n);
        }
    }

    /** The switch was refused (pinned continuation): put everything back and keep running {@code p}. */
    private void undoSwitch(final KThread p, final KThread n) {
        pinnedRefusals++;
        next = null;
        if (n != null && n != p) {
            n.setState(ThreadState.QUEUED);
            runqueue.enqueue(n);
        }
        if (p.inRunQueue) {
            runqueue.remove(p);
        }
        if (p.state() == ThreadState.QUEUED) {
            p.setState(ThreadState.RUNNING);
        } else if (p.state() == ThreadState.WAITING) {
            p.casState(ThreadState.WAITING, ThreadState.RUNNING);
        } else if (p.state() == ThreadState.SENDING_LOCK) {
            p.casState(ThreadState.SENDING_LOCK, ThreadState.RUNNING);
        }
        owner = p;
        publishLoad();
        KThread.backOff();
    }

    /** Charge the thread that owned the vCPU since {@link #runningSince}. */
    private void account(final KThread p, final long now) {
        final long interval = now - runningSince;
        runningSince = now;
        if (interval > 0) {
            p.cpuTimeNanos += interval;
            busyNanos += interval;
            p.runtime.ranFor(this, interval);
        } else {
            // OSv: a stuck or backward clock still charges something, so the policy cannot loop.
            p.runtime.ranFor(this, Policy.CONTEXT_SWITCH_PENALTY_NS);
        }
    }

    // =============================================================================================
    // Interrupts, wakeups and timers (this vCPU's carrier)

    private void handleInterrupts(final long now) {
        int irq = (int)INTERRUPTS.getVolatile(this);
        if (irq != 0) {
            irq = (int)INTERRUPTS.getAndSet(this, 0);
            if ((irq & IRQ_FOREIGN) != 0) {
                drain(foreign);
            }
            if ((irq & IRQ_CONTROL) != 0) {
                returnToMailbox = true;
            }
            if ((irq & IRQ_REVOKE) != 0) {
                drainRevocations();
            }
        }
        // After a timer interrupt the device slot is disarmed: re-program it exactly.
        boolean rearm = (irq & IRQ_TIMER) != 0;
        if (preemptDeadline <= now) {
            // The preemption deadline passed: the caller is the scheduler deciding right now.
            preemptDeadline = ClockDevice.NONE;
            rearm = true;
        }
        if (timers.minDeadline() <= now) {
            Timer t;
            while ((t = timers.peek()) != null && t.deadline <= now) {
                timers.poll();
                t.fire(this);
            }
            rearm = true;
        }
        if (rearm) {
            rearmDevice();
        }
    }

    /** OSv's {@code handle_incoming_wakeups}: take the pending mask and drain the flagged queues. */
    private void handleIncomingWakeups() {
        long mask = (long)MASK.getVolatile(this);
        if (mask == 0) {
            return;
        }
        mask = (long)MASK.getAndSet(this, 0L);
        while (mask != 0) {
            final int src = Long.numberOfTrailingZeros(mask);
            mask &= mask - 1;
            drain(incoming[src]);
        }
        publishLoad();
    }

    private void drain(final WakeQueue q) {
        KThread t = q.drainFifo();
        final KThread self = running();
        while (t != null) {
            final KThread nx = t.wakeNext;
            t.wakeNext = null;
            accept(t, self);
            t = nx;
        }
    }

    /**
     * Take a woken (WAKING) thread: back to RUNNING when it is {@code self}, the thread mounted right
     * now, woken before it had a chance to switch out; else into the run queue, its R'' brought to
     * this vCPU's scale and its suspended timers re-armed here.
     *
     * @return true when {@code t} was queued.
     */
    private boolean accept(final KThread t, final KThread self) {
        t.wakeups++;
        if (t == self) {
            t.lockBoost = false;
            t.setState(ThreadState.RUNNING);
            return false;
        }
        if (t.migrating) {
            t.migrating = false;
            migrationsIn++;
        }
        t.runtime.updateAfterSleep(this);
        t.applyRequestedPriority();
        resumeTimers(t);
        t.setState(ThreadState.QUEUED);
        runqueue.enqueue(t);
        wakeupsIn++;
        return true;
    }

    /**
     * A thread of this vCPU woke {@code t}, also of this vCPU (OSv's local {@code wake_impl}): the
     * caller runs on this carrier and owns the run queue, so {@code t} is queued directly, without the
     * incoming queue, the pending mask or their atomics. Then OSv's preemption rule for the owner
     * {@code p}, decided from the R'' values as of {@code p}'s last accounting ({@link #runningSince})
     * instead of a clock read: when {@code t} became the first queued thread and already has the
     * lower R'' (or a higher real-time priority), the next preemption point reschedules; otherwise
     * the preemption deadline must move to {@code runningSince + p.timeUntil(t.R'')} if that is
     * earlier, which is exactly when {@code p}'s R'' reaches {@code t}'s: for fair threads that
     * computation is deferred ({@link #deadlinePending}) to {@code p}'s next preemption point, so the
     * common case, {@code p} blocking right after the wakeup, skips it.
     */
    void wakeLocal(final KThread t) {
        if (!accept(t, running())) {
            return;
        }
        publishLoad();
        final KThread p = owner;
        if (p == null || p == t || runqueue.first() != t || p.state() != ThreadState.RUNNING) {
            return;
        }
        if (p.realtimePriority > 0 || t.realtimePriority > 0) {
            if (t.realtimePriority > p.realtimePriority) {
                needResched = true;
            } else if (t.realtimePriority == p.realtimePriority && p.realtimeSliceNanos > 0) {
                final long sliceEnd = p.sliceStart + p.realtimeSliceNanos;
                if (sliceEnd < preemptDeadline) {
                    setPreemption(sliceEnd);
                }
            }
            return;
        }
        if (t.runtime.idlePriority()) {
            return;
        }
        if (p.runtime.idlePriority() || t.runtime.rtt <= p.runtime.rtt) {
            needResched = true;
            return;
        }
        if (boosts(t)) {
            // Counted in reschedule, if the R'' rule still disagrees there.
            needResched = true;
            return;
        }
        deadlinePending = true;
    }

    private void resumeTimers(final KThread t) {
        for (Timer tm = t.timers; tm != null; tm = tm.ownedNext) {
            if (tm.suspended) {
                tm.suspended = false;
                tm.armedOn = this;
                timers.add(tm);
                timerArmed(tm.deadline);
            }
        }
    }

    /** A timer was added to this vCPU's set: make sure the device fires no later than it. */
    void timerArmed(final long deadlineNanos) {
        if (deadlineNanos < deviceDeadline) {
            programDevice(deadlineNanos);
        }
    }

    /** Program the device with exactly the earliest armed deadline (halting, after an interrupt). */
    private void rearmDevice() {
        programDevice(nextDeadline());
    }

    private void programDevice(final long deadlineNanos) {
        deviceDeadline = deadlineNanos;
        final ClockDevice d = device;
        if (d != null) {
            d.set(this, deadlineNanos);
        }
    }

    /** Renormalise (see {@link Policy}): scale {@code c} and every queued R'' by 2^-126. */
    void renormalize() {
        c *= Policy.RENORMALIZE;
        renormalizeCount++;
        renormalizations++;
        runqueue.forEach(t -> {
            if (!t.runtime.idlePriority()) {
                t.runtime.rtt *= Policy.RENORMALIZE;
            }
            t.runtime.renormalizeCount = renormalizeCount;
        });
    }

    // =============================================================================================
    // Any thread

    /**
     * Queue a WAKING thread {@code t} (owned by this vCPU) from {@code source} (null: a host thread
     * outside the vCPUs) and send the IPI if this vCPU needs one (see the class documentation).
     */
    void pushWakeup(final KThread t, final Cpu source) {
        if (source == null || source.scheduler != scheduler) {
            foreign.push(t);
            final int old = (int)INTERRUPTS.getAndBitwiseOr(this, IRQ_FOREIGN);
            if (old == 0 && runState == HALTED) {
                foreignIpis.incrementAndGet();
                sendIpi();
            }
            return;
        }
        if (source == this) {
            wakeLocal(t);
            return;
        }
        incoming[source.id].push(t);
        final long old = (long)MASK.getAndBitwiseOr(this, 1L << source.id);
        if (old == 0 && source != this) {
            if (runState == HALTED) {
                source.ipisSent++;
                sendIpi();
            } else {
                source.ipisSkipped++;
            }
        }
    }

    /** The kernel clock's monotonic time (ns): what this vCPU's policy and timers use. */
    long clockNanos() {
        return clock.monotonicNanos();
    }

    /**
     * A caller not running on this vCPU wants mutex {@code m}, bound to this vCPU, shared (see
     * {@link Mutex}): queue it and raise {@link #IRQ_REVOKE}, with an IPI when halted. This vCPU
     * converts it at its next switch or preemption point ({@link #handleInterrupts}), where none of its
     * threads is inside a mutex operation. Once this vCPU has stopped nobody else will: the caller
     * converts it then (Dekker with {@link #markStopped}: push, then read {@code runState}). Any thread;
     * once per mutex.
     */
    void requestRevocation(final Mutex m) {
        Mutex h;
        do {
            h = (Mutex)REVOCATIONS.getVolatile(this);
            m.revokeNext = h;
        } while (!REVOCATIONS.compareAndSet(this, h, m));
        INTERRUPTS.getAndBitwiseOr(this, IRQ_REVOKE);
        // Rare (once per mutex): the IPI whenever halted, even if another interrupt bit was pending.
        if (runState == HALTED) {
            sendIpi();
        }
        if (runState == STOPPED) {
            drainRevocations();
        }
    }

    /** Convert every requested mutex (this vCPU's carrier at a switch point, or after it stopped). */
    private void drainRevocations() {
        Mutex m = (Mutex)REVOCATIONS.getAndSet(this, (Mutex)null);
        final Cpu source = current();
        while (m != null) {
            final Mutex next = m.revokeNext;
            m.revokeNext = null;
            m.convertToShared(source);
            m = next;
        }
    }

    private void sendIpi() {
        if (wakeHaltWait()) {
            return; // in the halt wait: its wakeup is the IPI (the carrier runs the loop when it returns)
        }
        final ActorRef<VcpuActor.Command> a = actor;
        if (a != null) {
            ipisReceived.incrementAndGet();
            a.tell(VcpuActor.Ipi.WAKEUP);
        }
        unparkFinishingCarrier();
    }

    private void unparkFinishingCarrier() {
        final Thread t = finishingCarrier;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /** The clock-event device's interrupt (device thread). */
    void timerInterrupt() {
        timerInterrupts.incrementAndGet();
        final int old = (int)INTERRUPTS.getAndBitwiseOr(this, IRQ_TIMER);
        if (old == 0 && runState == HALTED) {
            timerWakeups.incrementAndGet();
            if (wakeHaltWait()) {
                return;
            }
            final ActorRef<VcpuActor.Command> a = actor;
            if (a != null) {
                a.tell(VcpuActor.TimerIrq.FIRED);
            }
            unparkFinishingCarrier();
        }
    }

    /**
     * A control request for the actor's mailbox (stop, balancer tick): raise the control interrupt, so
     * a busy loop gives the carrier back to the mailbox at its next preemption point or switch.
     *
     * <p>Like every interrupt bit it follows the halt protocol: the setter that finds the word empty
     * and the vCPU halted sends the IPI. The other setters (a foreign wakeup, the timer) send one only
     * when the word was empty, so a control bit left set on a halted vCPU without an IPI would swallow
     * all of theirs: the balancer reads a load published before the vCPU halted, raises the bit after
     * it halted, and its tick message runs {@link #balance} in the mailbox without entering the loop
     * that clears the bit. The vCPU then stayed halted with a woken thread in its foreign queue (seen
     * as a kernel stuck with its dispatcher worker WAKING; {@code VcpuProtocolTest}).
     */
    void controlInterrupt() {
        final int old = (int)INTERRUPTS.getAndBitwiseOr(this, IRQ_CONTROL);
        if (old == 0 && runState == HALTED) {
            sendIpi();
        }
    }

    /**
     * The balancer's period elapsed (Pekko scheduler thread). OSv's balancer does nothing when the
     * run queue is empty, so the tick is only delivered when something is queued behind the running
     * thread: idle vCPUs and vCPUs with one thread are left alone (no periodic wakeup anywhere).
     */
    void balancePeriodElapsed() {
        ticksScheduled.incrementAndGet();
        final ActorRef<VcpuActor.Command> a = actor;
        if (runState == STOPPED || a == null || load() < 2) {
            return;
        }
        ticksDelivered.incrementAndGet();
        controlInterrupt();
        a.tell(VcpuActor.BalanceTick.TICK);
    }

    /**
     * A stop request for the loop (stop, forced stop): raise the control interrupt so a running loop
     * looks at it at its next switch or preemption point, and wake a halted finishing carrier.
     */
    void kick() {
        controlInterrupt();
        wakeHaltWait();
        unparkFinishingCarrier();
    }

    /**
     * The vCPU actor was stopped (by its parent, normally right after the sched stop hook) before its
     * loop reported STOPPED: kernel threads may still be suspended on this vCPU, among them the
     * dispatcher worker in the middle of its queue or of a mailbox run, and no mailbox is left to
     * deliver IPIs. Run the loop here on the carrier until it stops, halting by parking (wakers
     * unpark {@link #finishingCarrier}), so the worker runs or spills every task it has. Called on the
     * carrier, in the actor's {@code PostStop}, after {@link Scheduler#requestStop}.
     *
     * @return false when the loop did not stop within {@code timeoutNanos} of host time (a thread
     *     that does not reach a preemption point or never ends); the caller then forces the stop.
     */
    boolean finishAfterActorStopped(final long timeoutNanos) {
        final long deadline = System.nanoTime() + timeoutNanos;
        finishingCarrier = Thread.currentThread();
        try {
            while (true) {
                final Exit exit = runFor();
                if (exit == Exit.STOPPED) {
                    return true;
                }
                final long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                if (exit == Exit.HALTED && !attention() && !stopping()) {
                    // Dekker with the wakers: runState is HALTED and finishingCarrier set, then we
                    // re-read the wakeup bits; a waker sets its bit, then reads both.
                    LockSupport.parkNanos(this, left);
                }
            }
        } finally {
            finishingCarrier = null;
        }
    }

    /** The adaptive idle-spin window now, nanoseconds (0 in fixed mode; read racily by tests). */
    long pollWindowNanos() {
        return pollWindowNanos;
    }

    /** Called once the loop reported STOPPED or the actor stopped. */
    void markStopped() {
        runState = STOPPED;
        final DirectedYield dy = yieldGroup;
        if (dy != null) {
            dy.leave(this);
        }
        // No thread of this vCPU runs any more: convert what remote callers asked for (they also do it
        // themselves when they see STOPPED, see requestRevocation).
        drainRevocations();
        stopped.complete(null);
    }

    /** A snapshot of the counters. */
    CpuStats stats() {
        return new CpuStats(id, stateLabel(), load(), switches, preemptions, wakeupsIn, ipisSent, ipisReceived.get(),
            ipisSkipped, migrationsIn, migrationsOut, timerInterrupts.get(), timerWakeups.get(), halts, busyNanos,
            renormalizations, tasksRun, mailboxReturns, pinnedRefusals, lockBoosts);
    }

    /**
     * Diagnostics for hang reports (a racy snapshot, any thread): the run state, the interrupt word
     * and pending mask, whether the foreign and incoming wakeup queues hold threads, the balancer
     * ticks scheduled and delivered, and the wakeup messages sent (IPIs, of them foreign, and timer
     * wakeups). A halted vCPU with a non-zero word or mask, or a non-empty queue, and no message in
     * its mailbox has lost an IPI.
     */
    String describePending() {
        final StringBuilder b = new StringBuilder("vcpu").append(id).append(' ').append(stateLabel());
        b.append(" irq=0x").append(Integer.toHexString((int)INTERRUPTS.getVolatile(this)));
        b.append(" mask=0x").append(Long.toHexString((long)MASK.getVolatile(this)));
        b.append(" foreignQueued=").append(!foreign.isEmpty());
        b.append(" incomingQueued=[");
        for (int i = 0; i < incoming.length; i++) {
            b.append(i > 0 ? "," : "").append(incoming[i].isEmpty() ? '-' : 'y');
        }
        b.append("] revocations=").append(REVOCATIONS.getVolatile(this) != null);
        b.append(" ticks=").append(ticksScheduled.get()).append('/').append(ticksDelivered.get());
        b.append(" ipis=").append(ipisReceived.get()).append(" foreignIpis=").append(foreignIpis.get());
        b.append(" timerIrqs=").append(timerInterrupts.get()).append(" timerWakeups=").append(timerWakeups.get());
        return b.toString();
    }

    String stateLabel() {
        return switch (runState) {
            case RUNNING -> running() != null ? "running" : "scheduling";
            case POLLING -> "polling";
            case HALTED -> "halted";
            default -> "stopped";
        };
    }
}
