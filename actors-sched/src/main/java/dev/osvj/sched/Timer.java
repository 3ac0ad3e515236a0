package dev.osvj.sched;

/**
 * A one-shot timer on the kernel clock, owned by the kernel thread that created it (OSv's
 * {@code sched::timer}). When it expires, its owner is woken; {@link #expired()} stays true until the
 * timer is set again. It lives in the per-vCPU timer set of the owner's vCPU and follows the owner
 * when the balancer migrates it (suspended on the old vCPU, re-armed on the new one).
 *
 * <p>Only the owner thread may {@link #set} or {@link #cancel} (it runs on the vCPU whose timer set
 * holds the timer, so the set needs no lock); {@link #expired()} may be read by anyone. Deadlines are
 * absolute {@link dev.osvj.kernel.KernelClock#monotonicNanos()} values.
 *
 * <pre>{@code
 * Timer t = new Timer();                   // owned by KThread.current()
 * t.setAfter(10_000_000);                  // 10 ms
 * KThread.waitFor(t, someWaitRecord);      // returns when either happened
 * t.cancel();
 * }</pre>
 */
public final class Timer implements Waitable {
    /** The kernel thread that set the timer and is woken when it fires. */
    final KThread owner;
    long deadline;
    long sequence;
    int heapIndex = -1;
    /** The vCPU whose timer set holds this timer while armed. */
    Cpu armedOn;
    /** Armed but taken off the timer set while its owner migrates. */
    boolean suspended;
    Timer ownedPrev;
    Timer ownedNext;
    /** On the owner's list of armed timers. */
    boolean linked;
    private volatile boolean expired;

    /** A timer owned by the calling kernel thread. */
    public Timer() {
        this.owner = KThread.currentOrThrow();
    }

    /** A timer for {@code owner} (null only for unit tests of the timer set, which never fire it). */
    Timer(final KThread owner) {
        this.owner = owner;
    }

    /** Arm (or re-arm) for the absolute kernel-clock time {@code deadlineNanos}. */
    public void set(final long deadlineNanos) {
        checkOwner();
        final KThread t = owner;
        t.preemptCount++;
        try {
            unarm();
            expired = false;
            deadline = deadlineNanos;
            final Cpu cpu = t.cpu;
            armedOn = cpu;
            t.linkTimer(this);
            cpu.timers.add(this);
            cpu.timerArmed(deadlineNanos);
        } finally {
            t.preemptCount--;
        }
    }

    /** Arm for {@code delayNanos} from now on the owner's kernel clock. */
    public void setAfter(final long delayNanos) {
        checkOwner();
        set(owner.scheduler.clock().monotonicNanos() + Math.max(0, delayNanos));
    }

    /** Disarm; {@link #expired()} keeps its value. Idempotent. */
    public void cancel() {
        checkOwner();
        owner.preemptCount++;
        try {
            unarm();
        } finally {
            owner.preemptCount--;
        }
    }

    /** True once the deadline passed and the owner's vCPU fired the timer. */
    public boolean expired() {
        return expired;
    }

    /** True while armed and not yet fired. */
    public boolean armed() {
        return heapIndex >= 0 || suspended;
    }

    /** The deadline last set (kernel-clock nanoseconds). */
    public long deadline() {
        return deadline;
    }

    @Override
    public boolean poll() {
        return expired;
    }

    private void unarm() {
        if (heapIndex >= 0) {
            armedOn.timers.remove(this);
        }
        if (linked) {
            owner.unlinkTimer(this);
        }
        suspended = false;
    }

    private void checkOwner() {
        if (KThread.current() != owner) {
            throw new IllegalStateException("a timer may only be set or cancelled by its owner thread");
        }
    }

    /** Called by the owning vCPU when the deadline passed (already removed from the timer set). */
    void fire(final Cpu cpu) {
        if (linked) {
            owner.unlinkTimer(this);
        }
        expired = true;
        owner.wakeFrom(cpu);
    }
}
