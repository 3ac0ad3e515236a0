package dev.osvj.sched;

/**
 * Where an idle vCPU may wait instead of halting into its actor's mailbox: a host event source (the
 * user gateway's selector over its host sockets) that the vCPU's carrier blocks in, so that a host event
 * is served by the carrier itself and the kernel threads it wakes run on that carrier next, with no
 * other thread in between. Installed with {@link Scheduler#setHaltWait}; without one a vCPU halts as
 * usual.
 *
 * <p>Protocol (see {@link Cpu}'s halt): an idle vCPU marks itself halted, re-checks its interrupts,
 * and calls {@link #await} on its carrier in scheduler context. Every waker that would send the halted
 * vCPU an IPI (a remote or foreign wakeup, the clock-event interrupt, a control request, a stop) calls
 * {@link #wakeup} instead while the vCPU is in {@code await}; {@code wakeup} must make a running
 * {@code await} return soon and, if none runs yet, the next one return at once (as
 * {@code Selector.wakeup} does). After {@code await} returns true the vCPU looks for work again and
 * comes back here when it finds none.
 *
 * <p>What {@code await} may do on the carrier: non-blocking host I/O and short critical sections of
 * host locks never held across a kernel-thread switch; it may wake kernel threads (they are queued on
 * the waiting vCPU directly). It must never block on a kernel primitive.
 */
public interface HaltWait {
    /**
     * Wait on the calling vCPU's carrier for host events or {@link #wakeup}, for at most
     * {@code timeoutNanos} (> 0), serving what arrives. Once the source is the caller's (no other thread
     * can consume a wakeup any more), and before it blocks, it asks {@code woken}: true means work arrived
     * meanwhile (a waker's wakeup may have gone to the source's previous user), so it must not block.
     *
     * @return false at once when this source cannot be waited on now (another thread waits on it, or it
     *     is closed): the vCPU then halts as usual; true after a wait.
     */
    boolean await(long timeoutNanos, java.util.function.BooleanSupplier woken);

    /** Any thread: make a running {@link #await} return soon, or the next one return at once. */
    void wakeup();
}
