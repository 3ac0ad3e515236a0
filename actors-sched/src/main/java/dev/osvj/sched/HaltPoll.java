package dev.osvj.sched;

/**
 * Adaptive halt polling, as KVM does it for its vCPUs ({@code kvm_vcpu_halt}, {@code grow_halt_poll_ns},
 * {@code shrink_halt_poll_ns}): how long an idle vCPU polls for work before it halts, adapted after each
 * halt to how long that halt lasted ({@code osvj.sched.idle-spin-mode = adaptive}).
 *
 * <ul>
 *   <li>A halt shorter than the maximum, but longer than the window the vCPU polled: polling longer
 *       would have caught the wakeup and saved the halt and its wake-up. The window grows: doubles,
 *       starting at {@link #GROW_START_NANOS} (or the maximum, if smaller), at most the maximum.</li>
 *   <li>A halt longer than the maximum: polling was wasted. The window halves, and a window under
 *       {@link #GROW_START_NANOS} becomes 0 (halt at once).</li>
 *   <li>A wakeup that came while polling does not change the window.</li>
 * </ul>
 *
 * Pure functions of the window, the halt's length and the maximum, all in nanoseconds; each vCPU keeps
 * its own window on its carrier, so there is no shared state.
 */
final class HaltPoll {
    /** The first window after a halt that polling would have caught: KVM's {@code halt_poll_ns_grow_start}. */
    static final long GROW_START_NANOS = 10_000L;

    private HaltPoll() {
    }

    /**
     * The next poll window.
     *
     * @param window  the window the vCPU polled before this halt, 0..max.
     * @param haltNs  how long the vCPU was idle in all, from going idle (polling included) to its wakeup.
     * @param max     the longest window ({@code idle-spin}); 0 keeps the window at 0.
     */
    static long next(final long window, final long haltNs, final long max) {
        if (max <= 0) {
            return 0;
        }
        if (haltNs <= window) {
            return window; // not a halt polling missed
        }
        if (haltNs > max) {
            final long shrunk = window / 2;
            return shrunk < Math.min(GROW_START_NANOS, max) ? 0 : shrunk;
        }
        return Math.min(max, Math.max(window * 2, Math.min(GROW_START_NANOS, max)));
    }
}
