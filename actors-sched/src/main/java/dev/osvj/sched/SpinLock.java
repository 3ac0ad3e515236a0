package dev.osvj.sched;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A test-and-test-and-set spinlock that disables preemption while held, as a kernel spinlock does.
 * osvj itself never uses it: it exists for the lock-holder-preemption experiment of the {@code sched}
 * benchmark, where a vCPU paused by the (simulated) hypervisor while holding it makes every other
 * vCPU that wants it spin uselessly, the problem OSv avoids by having only sleeping, lock-free
 * mutexes ({@link Mutex}).
 */
public final class SpinLock {
    private final AtomicBoolean locked = new AtomicBoolean();

    public void lock() {
        final KThread t = KThread.current();
        if (t != null) {
            t.preemptCount++;
        }
        while (true) {
            if (!locked.get() && locked.compareAndSet(false, true)) {
                return;
            }
            Thread.onSpinWait();
        }
    }

    public boolean tryLock() {
        final KThread t = KThread.current();
        if (t != null) {
            t.preemptCount++;
        }
        if (!locked.get() && locked.compareAndSet(false, true)) {
            return true;
        }
        if (t != null) {
            t.preemptCount--;
        }
        return false;
    }

    public void unlock() {
        locked.set(false);
        final KThread t = KThread.current();
        if (t != null && --t.preemptCount == 0) {
            t.cpu.preemptionPoint(t);
        }
    }
}
