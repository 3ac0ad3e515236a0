package dev.osvj.sched;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * OSv's {@code waiter}/{@code wait_record}: a one-shot "wake me" token for one waiting thread, with a
 * {@code next} link so that queues (mutex, condvar, waitqueue, join) can chain records without
 * allocating nodes.
 *
 * <p>{@link #wake()} clears the waiter reference (atomically, so a record is woken at most once) and
 * then wakes the thread; {@link #await()} returns only after the reference is cleared: there are no
 * spurious returns. Everything the waker wrote before {@code wake()} is visible to the waiter after
 * {@code await()} (the clearing is a volatile read-modify-write, the waiter's check a volatile read).
 *
 * <p>The waiter is a kernel thread (woken through the scheduler) or, outside the vCPUs, a host thread
 * (woken with {@code unpark}); kernel primitives therefore also work from tests and boot code.
 */
public final class WaitRecord implements Waitable, BooleanSupplier {
    private static final VarHandle WAITER;

    static {
        try {
            WAITER = MethodHandles.lookup().findVarHandle(WaitRecord.class, "waiter", Object.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * {@code waiter} of a contended-lock record ({@link #lockWait}) while a waker that is not running on
     * the record's vCPU moves the thread out of SENDING_LOCK: the waker takes the record (thread to
     * CLAIMED), CASes the thread's state and queues it, and only then clears the record (CLAIMED to
     * null). The waiting thread therefore sees its record woken only once that waker is done with its
     * state; one that finds CLAIMED waits for the clearing ({@link #settled()}). Without it, a waker
     * delayed between clearing the record and its state CAS (its carrier preempted by the host) could
     * move the thread out of a <i>later</i> SENDING_LOCK wait: a spurious wakeup of a wait whose
     * same-vCPU hand-over ({@link KThread#wakeHandOff}) and cancellation ({@link KThread#cancelLockWait})
     * assume that nobody else touches the state, which then queued the thread twice.
     */
    private static final Object CLAIMED = new Object();

    /** The waiting thread (a {@link KThread} or a host {@link Thread}); fixed. */
    final Object thread;
    /** Queue link; owned by whichever queue holds the record. */
    WaitRecord next;
    /** Per-record payload for queues that need one (semaphore units). */
    long units;
    /**
     * A kernel thread's own contended-lock record ({@link KThread#lockRecord()}): its thread waits in
     * {@link ThreadState#SENDING_LOCK} and is woken by {@link KThread#wakeHandOff}. Every other record
     * waits in WAITING (condvar records morphed onto a mutex included).
     */
    final boolean lockWait;
    @SuppressWarnings("unused") // through WAITER
    private volatile Object waiter;

    /** A record for the calling thread. */
    public WaitRecord() {
        this(self());
    }

    WaitRecord(final Object thread) {
        this(thread, false);
    }

    private WaitRecord(final Object thread, final boolean lockWait) {
        this.thread = thread;
        this.lockWait = lockWait;
        // Plain: a record reaches its waker only through a synchronizing action (a queue's CAS, a
        // mutex), which publishes this store.
        WAITER.set(this, thread);
    }

    /** The contended-lock record of kernel thread {@code k} (see {@link #lockWait}). */
    static WaitRecord lockRecord(final KThread k) {
        return new WaitRecord(k, true);
    }

    /**
     * Make a finished record waitable again (its owner reuses it for its next wait): only once it is
     * off every queue and nobody can wake it any more (woken and {@link #await()} returned, or popped
     * by its own thread). Published, like a new record, by the queue's CAS that takes it.
     */
    void rearm() {
        next = null;
        WAITER.set(this, thread);
    }

    /**
     * A record for a condition wait of the calling thread: its reused {@link KThread#conditionRecord()}
     * on a kernel thread, a new one on a host thread.
     */
    static WaitRecord forConditionWait() {
        final KThread k = KThread.current();
        return k != null ? k.conditionRecord() : new WaitRecord(Thread.currentThread());
    }

    /** The calling thread's identity as a waiter and lock owner: its KThread, else its host Thread. */
    static Object self() {
        final KThread k = KThread.current();
        return k != null ? k : Thread.currentThread();
    }

    /** Wake the waiter (once; later calls do nothing). Any thread may call it. */
    public void wake() {
        wake(false);
    }

    /**
     * {@link #wake()} with the sync hint ({@link KThread#wakeSync}): the waker will soon wait itself, so a
     * kernel-thread waiter whose vCPU is halted may run on the waker's vCPU instead. Any thread.
     */
    public void wakeSync() {
        wake(true);
    }

    private void wake(final boolean sync) {
        final Object w = WAITER.getAndSet(this, (Object)null);
        if (w instanceof KThread k) {
            if (sync) {
                k.wakeSync();
            } else {
                k.wake();
            }
        } else if (w != null) {
            LockSupport.unpark((Thread)w);
        }
    }

    /** {@link #wake()} by a caller that knows its vCPU ({@code source}: {@link Cpu#current()}). */
    void wakeFrom(final Cpu source) {
        final Object w = WAITER.getAndSet(this, (Object)null);
        if (w instanceof KThread k) {
            k.wakeFrom(source);
        } else if (w != null) {
            LockSupport.unpark((Thread)w);
        }
    }

    /**
     * Wake a record that the caller took off a mutex's wait queue, which gives each record to one
     * taker only (the per-vCPU FIFO's unlocker, or a shared-mode holder taking the starved slot, see
     * {@link Mutex}), running on {@code source} (its vCPU, or
     * null outside the vCPUs). A lock record's thread waits in SENDING_LOCK, which only this popper may
     * end: on the thread's own vCPU the thread is not running (the caller is) and will next run on this
     * carrier after the caller in program order, so the record is cleared with an opaque store and the
     * thread queued with plain stores, no atomic at all; elsewhere the clearing is an atomic exchange
     * (the waiter's Dekker check) followed by the state CAS. A morphed condvar record's thread waits
     * in WAITING: on its own vCPU the record is cleared with an opaque store too (nobody else clears a
     * record the mutex holds), and the thread is woken by the state CAS as by {@link #wakeFrom}.
     * Either way the thread now owns the mutex: with
     * {@code boost} (a shared-mode mutex) the wakeup carries its {@link KThread#lockBoost}.
     */
    void wakePopped(final Cpu source, final boolean boost) {
        if (lockWait) {
            final KThread k = (KThread)thread;
            if (source != null && k.cpu == source) {
                WAITER.setOpaque(this, (Object)null);
                k.wakeHandOff(source, boost);
            } else {
                // CLAIMED, not null, until the thread's state is moved (see CLAIMED): the store is the
                // waker's half of the Dekker pair with the waiter's state-store-then-check.
                WAITER.setVolatile(this, CLAIMED);
                k.wakeHandOff(source, boost);
                WAITER.setRelease(this, (Object)null);
            }
            return;
        }
        if (boost) {
            wakeOwnerFrom(source);
        } else if (source != null && thread instanceof KThread k && k.cpu == source) {
            // A morphed condition record handed over in per-vCPU mode: nobody else clears a record
            // once it is on the mutex, and its thread is not running (the caller is, on its vCPU).
            WAITER.setOpaque(this, (Object)null);
            k.wakeFrom(source);
        } else {
            wakeFrom(source);
        }
    }

    /**
     * Wake a morphed condition waiter that the caller just made the owner of a {@link Mutex} (popped
     * at a hand-over, or given the free mutex by {@link Mutex#sendLock}), with the thread's
     * {@link KThread#lockBoost}; a host-thread waiter is unparked.
     */
    void wakeOwnerFrom(final Cpu source) {
        final Object w = WAITER.getAndSet(this, (Object)null);
        if (w instanceof KThread k) {
            k.wakeOwnerFrom(source);
        } else if (w != null) {
            LockSupport.unpark((Thread)w);
        }
    }

    /**
     * Take the right to wake this record's thread (a shared-mode {@link Mutex} releaser, holding the
     * mutex, on a record it popped): an atomic exchange that races with {@link #cancel()}.
     *
     * A contended-lock record is left CLAIMED (see {@link #CLAIMED}) until {@link #wakeClaimed} has
     * moved its thread; any other record is cleared at once.
     *
     * @return true when the caller must now {@link #wakeClaimed wake} the thread; false for a record
     *     its thread cancelled (a dead record, skipped).
     */
    boolean claim() {
        return WAITER.getAndSet(this, lockWait ? CLAIMED : null) != null;
    }

    /**
     * Withdraw a queued record by its own thread (it took the mutex after queueing the record): the
     * same exchange as {@link #claim()}.
     *
     * @return true when cancelled (nobody will wake the thread for it); false when a releaser claimed
     *     it first, whose wakeup the thread must then absorb.
     */
    boolean cancel() {
        return WAITER.compareAndSet(this, thread, (Object)null);
    }

    /**
     * Wake the thread of a record the caller {@link #claim() claimed}, from {@code source}, to compete
     * for the shared-mode mutex it just released, with the {@link KThread#lockBoost} (the woken thread
     * is the one meant to take the mutex next): a lock record's thread leaves SENDING_LOCK
     * ({@link KThread#wakeHandOff}), a morphed condition waiter leaves WAITING, a host thread is
     * unparked.
     */
    void wakeClaimed(final Cpu source) {
        if (thread instanceof KThread k) {
            if (lockWait) {
                k.wakeHandOff(source, true);
                // Done with the thread's state: now the waiter may see its record woken.
                WAITER.setRelease(this, (Object)null);
            } else {
                k.wakeOwnerFrom(source);
            }
        } else {
            LockSupport.unpark((Thread)thread);
        }
    }

    /**
     * Diagnostics: the record's thread, {@code lock} for a contended-lock record, and {@code armed}
     * (nobody has woken, claimed or cancelled it yet) or {@code done}.
     */
    String describe() {
        final Object w = waiter;
        return thread + (lockWait ? " lock " : " ") + (w == null ? "done" : w == CLAIMED ? "claimed" : "armed");
    }

    /** True once {@link #wake()} has been called (and, for a lock record, its waker is done). */
    public boolean woken() {
        return waiter == null;
    }

    /**
     * The lock waiter's check ({@link KThread#awaitLockHandOff}): true when the record was woken; when
     * a waker has claimed it and is still moving the thread's state ({@link #CLAIMED}), waits for that
     * waker to finish (a few instructions, unless the host preempted its carrier) and returns true.
     */
    boolean settled() {
        final Object w = waiter;
        if (w == null) {
            return true;
        }
        if (w != CLAIMED) {
            return false;
        }
        int spins = 0;
        while (waiter == CLAIMED) {
            if (++spins < 1_000) {
                Thread.onSpinWait();
            } else {
                // The waker's carrier is off its host core: give ours away instead of spinning.
                Thread.yield();
            }
        }
        return true;
    }

    @Override
    public boolean poll() {
        return woken();
    }

    /** {@link #woken()}, so a record is its own wait condition (no lambda per wait). */
    @Override
    public boolean getAsBoolean() {
        return woken();
    }

    /** Block the calling thread (which must be the record's thread) until woken. */
    public void await() {
        if (thread instanceof KThread k) {
            KThread.waitUntil(k, this);
        } else {
            while (!woken()) {
                LockSupport.park(this);
            }
        }
    }

    /**
     * Block until woken or {@code timeoutNanos} passed (kernel clock for kernel threads, host clock
     * otherwise).
     *
     * @return true when woken.
     */
    public boolean await(final long timeoutNanos) {
        if (thread instanceof KThread) {
            return KThread.waitFor(timeoutNanos, this) || woken();
        }
        final long deadline = System.nanoTime() + timeoutNanos;
        while (!woken()) {
            final long left = deadline - System.nanoTime();
            if (left <= 0) {
                return woken();
            }
            LockSupport.parkNanos(this, left);
        }
        return true;
    }
}
