package dev.osvj.vswitch;

import dev.osvj.sched.HaltWait;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * The halt wait of a kernel whose network is a switch in this JVM ({@code osvj.vswitch.vcpu-park}): an
 * idle vCPU parks its carrier thread right where it is, and a waker unparks it, instead of the vCPU
 * halting into its actor's mailbox and a waker sending it an IPI message. The wait source has no host
 * events of its own: with a {@code vswitch} device every frame for this kernel is delivered by another
 * thread (the sending kernel's thread with inline transmit, a device or switch thread otherwise), whose
 * receive handler wakes the kernel thread the frame is for, and that wakeup, sent to a vCPU waiting here,
 * is {@link #wakeup}. What it saves per halt: the message (mailbox enqueue, the dispatcher's
 * executor queue and its lock, the carrier's wake-up through it) and the woken carrier's mailbox
 * turn; the host wake-up itself (a futex wake) remains.
 *
 * <p>Protocol ({@link HaltWait}): one waiter at a time, the first idle vCPU that claims it (a CAS on
 * {@link #waiter}); another one finding it taken declines and halts as usual. {@link #wakeup} raises
 * {@link #signalled} before it reads the waiter: a waiter that claimed the source after a wakeup sees the
 * flag and returns at once; one that claimed it before is unparked (a permit given before it parks makes
 * the park return at once). A stale flag or permit only makes a later wait return early (the vCPU looks
 * for work and comes back). Memory ordering: both fields are volatile (Dekker between the waker's
 * flag store and waiter load, and the waiter's claim and flag load).
 */
final class ParkHaltWait implements HaltWait {
    private static final VarHandle WAITER;

    static {
        try {
            WAITER = MethodHandles.lookup().findVarHandle(ParkHaltWait.class, "waiter", Thread.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The carrier parked (or about to park) here, or null. */
    @SuppressWarnings("unused") // through WAITER
    private volatile Thread waiter;
    /** A wakeup since the last wait ended. */
    private volatile boolean signalled;

    @Override
    public boolean await(final long timeoutNanos, final BooleanSupplier woken) {
        final Thread me = Thread.currentThread();
        if (!WAITER.compareAndSet(this, (Thread)null, me)) {
            return false; // another vCPU waits here: halt as usual
        }
        try {
            if (signalled) {
                signalled = false;
                return true;
            }
            if (woken.getAsBoolean()) {
                return true;
            }
            LockSupport.parkNanos(this, timeoutNanos);
            signalled = false;
            return true;
        } finally {
            waiter = null;
        }
    }

    @Override
    public void wakeup() {
        signalled = true;
        final Thread t = (Thread)WAITER.getVolatile(this);
        if (t != null) {
            LockSupport.unpark(t);
        }
    }
}
