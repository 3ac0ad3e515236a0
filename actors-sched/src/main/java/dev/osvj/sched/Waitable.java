package dev.osvj.sched;

import java.util.function.BooleanSupplier;

/**
 * Something a kernel thread can wait for with {@link KThread#waitFor} (OSv's {@code wait_object}):
 * {@link #poll()} says whether it happened; {@link #arm} registers the waiting thread so that whoever
 * makes it happen wakes that thread; {@link #disarm} undoes {@code arm} after the wait.
 *
 * <p>Contract: {@code poll()} is read after the waiter published its WAITING state, so whatever makes
 * it true must be written before the waker's {@link KThread#wake()} (a CAS, which orders it).
 */
public interface Waitable {
    /** True when the awaited event has happened. Called by the waiting thread only. */
    boolean poll();

    /** Register {@code waiter} to be woken. Default: nothing (the event's producer wakes by itself). */
    default void arm(final KThread waiter) {
    }

    /** Unregister after the wait. Default: nothing. */
    default void disarm() {
    }

    /** A predicate waitable: someone else must {@link KThread#wake()} the waiter when it turns true. */
    static Waitable when(final BooleanSupplier condition) {
        return condition::getAsBoolean;
    }
}
