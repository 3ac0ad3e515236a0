package dev.osvj.net.stack;

import dev.osvj.sched.WaitRecord;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link WakeDeferral}: inside a scope the stack's wakes ({@link Waiter#wake}) are recorded, not done, and
 * the scope's close does them; outside a scope a wake is immediate as before. Host-thread records (a
 * wake is an unpark of the test thread, harmless), so {@link WaitRecord#woken()} shows when it happened.
 */
class WakeDeferralTest {
    @Test
    void shouldWakeAtOnceOutsideAScope() {
        final WaitRecord r = new WaitRecord();
        Waiter.wake(r);
        assertTrue(r.woken());
        assertEquals(0, WakeDeferral.pending());
    }

    @Test
    void shouldWakeARecordOnlyWhenItsScopeCloses() {
        final WaitRecord a = new WaitRecord();
        final WaitRecord b = new WaitRecord();
        final int mark = WakeDeferral.open();
        try {
            Waiter.wake(a);
            Waiter.wake(b);
            Waiter.wake(a); // recorded twice, woken once (one-shot)
            assertFalse(a.woken(), "not woken inside the scope");
            assertFalse(b.woken());
            assertEquals(3, WakeDeferral.pending());
        } finally {
            WakeDeferral.close(mark);
        }
        assertTrue(a.woken(), "woken when the scope closed");
        assertTrue(b.woken());
        assertEquals(0, WakeDeferral.pending());
        final WaitRecord c = new WaitRecord();
        Waiter.wake(c);
        assertTrue(c.woken(), "immediate again after the scope");
    }

    @Test
    void shouldDoANestedScopesWakesAtItsCloseAndTheOuterOnesAtTheOuterClose() {
        final WaitRecord outer = new WaitRecord();
        final WaitRecord inner = new WaitRecord();
        final int m1 = WakeDeferral.open();
        try {
            Waiter.wake(outer);
            final int m2 = WakeDeferral.open();
            try {
                Waiter.wake(inner);
            } finally {
                WakeDeferral.close(m2);
            }
            assertTrue(inner.woken(), "the inner scope's wake at the inner close");
            assertFalse(outer.woken(), "the outer scope's still recorded");
            assertEquals(1, WakeDeferral.pending());
        } finally {
            WakeDeferral.close(m1);
        }
        assertTrue(outer.woken());
        assertEquals(0, WakeDeferral.pending());
    }

    @Test
    void shouldKeepScopesPerThread() throws Exception {
        final WaitRecord r = new WaitRecord();
        final int mark = WakeDeferral.open();
        try {
            final Thread other = Thread.ofPlatform().start(() -> Waiter.wake(r));
            other.join();
            assertTrue(r.woken(), "another thread's wake is not in this thread's scope");
            assertEquals(0, WakeDeferral.pending());
        } finally {
            WakeDeferral.close(mark);
        }
    }
}
