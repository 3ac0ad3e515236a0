package dev.osvj.sched;

/**
 * A kernel thread's state: OSv's {@code thread::status}, with the same transitions.
 *
 * <pre>
 *   PRESTARTED --(scheduler starts)--> WAITING
 *   UNSTARTED  --start()-------------> WAITING --wake--> WAKING --(target vCPU drains)--> QUEUED
 *   QUEUED     --(picked)------------> RUNNING --(preempted / yield)--> QUEUED
 *   RUNNING    --prepare_wait--------> WAITING --(predicate true: stop_wait CAS)--> RUNNING
 *   WAITING    --wake (CAS)----------> WAKING  (a waker pushed it on the owner vCPU's incoming queue)
 *   RUNNING    --contended lock()----> SENDING_LOCK --(mutex handed over or released to it)--> WAKING or QUEUED
 *   RUNNING    --(body returns)------> TERMINATING --(vCPU cleans up, joiners woken)--> TERMINATED
 * </pre>
 * Only WAITING to WAKING (any waker, by CAS) and WAITING to RUNNING (the thread itself, by CAS) race;
 * every other transition is made by the vCPU that owns the thread. {@link #SENDING_LOCK} is a kernel
 * thread blocked in a contended {@link Mutex#lock()} (OSv uses the name for a thread that is being
 * sent a mutex, {@code wake_lock}): only the unlocker that pops its wait record ends it (the mutex makes
 * that popper unique: per-vCPU FIFO, or a holder's claim of the record), and {@link KThread#wake()} leaves it alone, so an unlocker on the same vCPU queues
 * the thread with plain stores (SENDING_LOCK to QUEUED) and one on another vCPU by a CAS to WAKING
 * (racing only with the thread's own retreat after a refused switch). {@link #INVALID} marks a thread
 * object that was never set up.
 */
public enum ThreadState {
    INVALID,
    PRESTARTED,
    UNSTARTED,
    WAITING,
    SENDING_LOCK,
    RUNNING,
    QUEUED,
    WAKING,
    TERMINATING,
    TERMINATED;

    /** The lower-case name OSv's {@code ps}-style listings use. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
