package dev.osvj.sched;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * A halt wait shared by the kernels of one JVM (a fleet on one virtual switch): an idle vCPU lends its
 * carrier thread to a halted vCPU of any of them that its own threads woke, instead of waking that
 * vCPU's parked carrier. It is the hypervisor's directed yield (KVM's {@code kvm_vcpu_yield_to}) with the
 * host scheduler's wake-affine rule: a waker that is about to go idle runs what it woke on its own core,
 * so a request that crosses two kernels costs no host wake-up at all, as it costs none inside one kernel.
 *
 * <h2>What a vCPU does</h2>
 * <ul>
 *   <li><b>Waking</b> a vCPU {@code B} that waits here ({@link #wakeup(Cpu)}), a thread of vCPU {@code A} of
 *       the same yield records {@code B} on {@code A} ({@code A}'s deferred wakeup; one at a time) and leaves
 *       {@code B}'s carrier parked. Any other waker (a host thread, a device thread, a vCPU with a deferred
 *       wakeup already) unparks {@code B}'s carrier, as {@code vcpu-park}'s wait does.</li>
 *   <li><b>Going idle</b>, {@code A}'s carrier takes its deferred {@code B} (a CAS of {@code B}'s lend state
 *       from parked to borrowed) and runs {@code B}'s scheduler loop on itself ({@link Cpu#runLent}) until
 *       {@code B} is idle again, then anything {@code B}'s threads deferred in turn, then waits for its own
 *       work, parked and borrowable itself.</li>
 *   <li><b>Not going idle</b> within the delay ({@code osvj.vswitch.directed-yield-delay}): at its next
 *       thread switch {@code A} wakes {@code B}'s own carrier after all; a watchdog thread does it for a vCPU
 *       whose thread runs on without a switch (every {@value #WATCHDOG_PERIOD_MICROS} us while deferrals
 *       are made, asleep otherwise). So a deferral delays a wakeup by at most about the delay, and what
 *       both kernels do in parallel still gets both cores.</li>
 *   <li><b>Lending</b>, {@code A}'s carrier gives {@code B} back (unparks {@code B}'s carrier, which goes on
 *       from where the loan stopped) as soon as {@code A} has work of its own, at {@code B}'s next thread
 *       switch, or when {@code B} must stop or see its mailbox.</li>
 * </ul>
 *
 * <h2>Protocol</h2>
 * A vCPU waiting here has {@code runState == HALTED} and a lend state: parked (its carrier is parked and
 * another may borrow it), borrowed (another carrier runs its loop; its {@code runState} is then RUNNING,
 * so wakers only set their bits), or own (its carrier runs it, or lends itself from the wait). A waker
 * sets its interrupt or wakeup bit, then reads {@code runState} and the lend state (all volatile); the
 * waiting carrier and a borrower that finds the vCPU idle store the parked state, then re-read the bits
 * (Dekker). A parked carrier returns only after taking its vCPU back (CAS parked to own); finding it
 * borrowed, it parks again until the borrower gives it back or leaves it idle.
 *
 * <p>What a borrowed vCPU's threads see is the same as on their own carrier: kernel threads carry their own
 * identity ({@code KernelThreadIdentity}), and the vCPU's scheduler context ({@link Cpu#current}) is the
 * borrowed vCPU for as long as its loop runs. Preemption is unchanged: a thread runs until its next
 * preemption point or switch, which is also the longest a lender with new work waits for its carrier.
 */
public final class DirectedYield implements HaltWait {
    /** How often the watchdog looks for deferrals past the delay while deferrals are being made. */
    static final long WATCHDOG_PERIOD_MICROS = 1000;
    /** Empty watchdog scans in a row before it sleeps until the next deferral. */
    private static final int QUIET_SCANS = 100;
    private static final ConcurrentHashMap<String, DirectedYield> SHARED = new ConcurrentHashMap<>();

    /** When a vCPU whose thread woke a parked vCPU runs it on its own carrier. */
    public enum When {
        /** At the waker's next thread switch: the woken vCPU runs before the waker's next thread. */
        SWITCH,
        /** Only when the waker's vCPU goes idle: its other runnable threads run first. */
        IDLE;

        /** {@code switch} or {@code idle}, as configured. */
        public static When of(final String s) {
            return switch (s) {
                case "switch" -> SWITCH;
                case "idle" -> IDLE;
                default -> throw new IllegalArgumentException("directed yield: \"" + s + "\" is neither switch nor idle");
            };
        }
    }

    private final long delayNanos;
    private final When when;
    private final Set<Cpu> members = ConcurrentHashMap.newKeySet();
    /** The watchdog thread, or null while none runs (no member). Guarded by {@code this}. */
    private Thread watchdog;
    /** The watchdog sleeps until a deferral unparks it. */
    private volatile boolean watchdogSleeping;

    /**
     * @param delay how long a deferred wakeup may wait for its waker to go idle before the woken vCPU's own
     *              carrier is woken (at the waker's next thread switch, or by the watchdog).
     */
    public DirectedYield(final When when, final Duration delay) {
        if (delay.isNegative()) {
            throw new IllegalArgumentException("directed-yield delay must not be negative: " + delay);
        }
        this.when = when;
        this.delayNanos = delay.toNanos();
    }

    /** The JVM's directed yield with these settings: every kernel that installs it lends carriers to the others. */
    public static DirectedYield shared(final When when, final Duration delay) {
        return SHARED.computeIfAbsent(when + "/" + delay.toNanos(), k -> new DirectedYield(when, delay));
    }

    long delayNanos() {
        return delayNanos;
    }

    When when() {
        return when;
    }

    /** vCPUs that have waited here and not stopped. */
    public int members() {
        return members.size();
    }

    @Override
    public boolean await(final long timeoutNanos, final BooleanSupplier woken) {
        final Cpu me = Cpu.CARRIER.get();
        if (me == null) {
            return false;
        }
        join(me);
        final long deadline = System.nanoTime() + timeoutNanos;
        // 1. lend this idle carrier to what this vCPU's threads woke, and to what those woke in turn
        Cpu target = me.takeDeferredWake();
        while (target != null) {
            if (woken.getAsBoolean()) {
                unparkOwn(target); // own work first: the target gets its own carrier
                return true;
            }
            target = me.lendTo(target, deadline);
        }
        if (woken.getAsBoolean()) {
            return true;
        }
        // 2. wait for work, parked and borrowable
        me.lendPark(Thread.currentThread());
        while (true) {
            final long left = deadline - System.nanoTime();
            if ((woken.getAsBoolean() || left <= 0) && me.lendCas(Cpu.LEND_PARKED, Cpu.LEND_OWN)) {
                return true;
            }
            // a borrower may run this vCPU now: it unparks this carrier when it gives the vCPU back
            LockSupport.parkNanos(this, left > 0 ? left : 1_000_000L);
            if (me.lendCas(Cpu.LEND_PARKED, Cpu.LEND_OWN)) {
                return true;
            }
        }
    }

    /** Any thread: wake every member's parked carrier (the vCPU-less form of {@link #wakeup(Cpu)}). */
    @Override
    public void wakeup() {
        for (final Cpu c : members) {
            unparkOwn(c);
        }
    }

    /** A waker found {@code target} halted in this wait: defer its wakeup to the waker's vCPU, or wake its carrier. */
    void wakeup(final Cpu target) {
        if (target.lendState() != Cpu.LEND_PARKED) {
            return; // its carrier or its borrower re-reads its work after storing the parked state
        }
        final Cpu me = Cpu.current();
        if (me != null && me != target && me.yieldGroup == this && me.scheduler.haltWait == this && me.deferWake(target)) {
            if (watchdogSleeping) {
                wakeWatchdog();
            }
            return;
        }
        unparkOwn(target);
    }

    /** Unpark {@code target}'s own carrier if it is parked in a directed-yield wait (not borrowed, not running). */
    static void unparkOwn(final Cpu target) {
        if (target.lendState() == Cpu.LEND_PARKED) {
            target.wakeOwnCarrier(target.parkedCarrier());
        }
    }

    private void join(final Cpu me) {
        if (me.yieldGroup == this) {
            return;
        }
        me.yieldGroup = this;
        members.add(me);
        synchronized (this) {
            if (watchdog == null) {
                watchdogSleeping = false;
                watchdog = Thread.ofPlatform().daemon().name("osvj-directed-yield").start(this::watch);
            }
        }
    }

    /** The vCPU stopped: off the watchdog's list. */
    void leave(final Cpu c) {
        if (c.yieldGroup == this) {
            members.remove(c);
            c.releaseDeferredWake();
            wakeWatchdog(); // it exits once nobody is left
        }
    }

    private void wakeWatchdog() {
        final Thread w;
        synchronized (this) {
            w = watchdog;
        }
        watchdogSleeping = false;
        if (w != null) {
            LockSupport.unpark(w);
        }
    }

    /** The watchdog: wake the targets of deferrals past the delay whose wakers ran on without a switch. */
    private void watch() {
        int quiet = 0;
        while (true) {
            if (!expire()) {
                quiet++;
            } else {
                quiet = 0;
            }
            if (quiet >= QUIET_SCANS) {
                synchronized (this) {
                    if (members.isEmpty()) {
                        watchdog = null;
                        return;
                    }
                }
                watchdogSleeping = true; // Dekker with wakeup: it stores the deferral, then reads this
                if (!expire()) {
                    LockSupport.park(this);
                }
                watchdogSleeping = false;
                quiet = 0;
                continue;
            }
            LockSupport.parkNanos(this, WATCHDOG_PERIOD_MICROS * 1000L);
        }
    }

    /** One scan; true when a deferral was pending. */
    private boolean expire() {
        boolean any = false;
        final long now = System.nanoTime();
        for (final Cpu c : members) {
            if (c.hasDeferredWake()) {
                any = true;
                if (now - c.deferredSince() >= delayNanos) {
                    c.releaseDeferredWake();
                }
            }
        }
        return any;
    }

    /**
     * Counters of the vCPUs of a kernel that used a directed yield.
     *
     * @param lentRuns        times one of its vCPUs ran on another vCPU's idle carrier.
     * @param lendings        times one of its idle carriers ran another vCPU.
     * @param deferredWakeups wakeups of halted vCPUs its threads deferred instead of waking their carriers.
     * @param expired         of those, the ones whose target's own carrier was woken after all (the waker did
     *                        not go idle within the delay, or left its loop).
     * @param givenBack       lent runs that ended with work left for the vCPU's own carrier (its lender had
     *                        work of its own for longer than the delay, or the vCPU must stop or see its mailbox).
     * @param carrierWakeups  host wake-ups of its vCPUs' carriers parked in the wait, for any reason.
     */
    public record Stats(long lentRuns, long lendings, long deferredWakeups, long expired, long givenBack,
                        long carrierWakeups) {
    }
}
