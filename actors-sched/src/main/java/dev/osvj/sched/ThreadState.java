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
 *   RUNNING    --(body returns)------> TERMINATING --(vCPU cleans up, joiners woken)--> TERMINATED
 * </pre>
 * Only WAITING to WAKING (any waker, by CAS) and WAITING to RUNNING (the thread itself, by CAS) race;
 * every other transition is made by the vCPU that owns the thread. {@link #SENDING_LOCK} is OSv's state
 * for a waitqueue wake that hands a mutex over ({@code wake_lock}); osvj morphs such wakeups through
 * the wait record instead ({@link Mutex}), so no thread is ever in it; {@link #INVALID} likewise marks
 * a thread object that was never set up.
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
