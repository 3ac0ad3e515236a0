package dev.osvj.sched;

/**
 * A snapshot of one vCPU's counters (for {@code top}, {@code /proc} and benchmarks). Counters are
 * cumulative since boot; rates come from the difference of two snapshots.
 *
 * @param cpu             vCPU number.
 * @param state           running, scheduling, polling, halted or stopped.
 * @param load            runnable threads including the one owning the vCPU (the balancer's figure).
 * @param switches        threads switched in.
 * @param preemptions     runnable threads switched out in favour of another.
 * @param wakeups         wakeups drained from the incoming queues.
 * @param ipisSent        wakeup IPIs this vCPU sent to halted vCPUs.
 * @param ipisReceived    IPIs (wakeup messages) delivered to this vCPU's actor.
 * @param ipisSkipped     remote wakeups that needed no IPI (mask already set, or target not halted).
 * @param migrationsIn    threads the balancer or pinning moved here.
 * @param migrationsOut   threads moved away.
 * @param timerInterrupts clock-event interrupts raised on this vCPU.
 * @param timerWakeups    of those, the ones that woke the vCPU from halt.
 * @param halts           times the vCPU halted after polling.
 * @param busyNanos       kernel-clock time charged to threads on this vCPU.
 * @param renormalizations times {@code c} was renormalised.
 * @param tasksRun        kernel-dispatcher tasks (actor mailbox runs) run on this vCPU.
 * @param mailboxReturns  times the loop gave the carrier back to the actor's mailbox while busy.
 * @param pinnedRefusals  switches refused because the continuation was pinned.
 * @param lockBoosts      preemptions that only a woken mutex waiter's lock boost called for (the fair
 *                        policy's R''/thyst rule would have kept the running thread; see {@link Mutex}).
 */
public record CpuStats(int cpu, String state, int load, long switches, long preemptions, long wakeups, long ipisSent,
                       long ipisReceived, long ipisSkipped, long migrationsIn, long migrationsOut, long timerInterrupts,
                       long timerWakeups, long halts, long busyNanos, long renormalizations, long tasksRun,
                       long mailboxReturns, long pinnedRefusals, long lockBoosts) {
    /** The snapshot without the lock-boost count (0), for callers written before it existed. */
    public CpuStats(final int cpu, final String state, final int load, final long switches, final long preemptions,
                    final long wakeups, final long ipisSent, final long ipisReceived, final long ipisSkipped,
                    final long migrationsIn, final long migrationsOut, final long timerInterrupts,
                    final long timerWakeups, final long halts, final long busyNanos, final long renormalizations,
                    final long tasksRun, final long mailboxReturns, final long pinnedRefusals) {
        this(cpu, state, load, switches, preemptions, wakeups, ipisSent, ipisReceived, ipisSkipped, migrationsIn,
            migrationsOut, timerInterrupts, timerWakeups, halts, busyNanos, renormalizations, tasksRun,
            mailboxReturns, pinnedRefusals, 0);
    }
}
