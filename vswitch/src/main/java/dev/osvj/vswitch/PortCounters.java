package dev.osvj.vswitch;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One port's counters. Single writer: the switch's duty-cycle thread, which increments with a plain
 * read and a release store ({@code lazySet}); any thread reads them ({@code getVolatile}) for a
 * {@link PortStats} snapshot. Layout: one slot per named index below, then one per {@link Drop}.
 */
final class PortCounters {
    static final int RX_FRAMES = 0;
    static final int RX_BYTES = 1;
    static final int TX_FRAMES = 2;
    static final int TX_BYTES = 3;
    private static final int DROPS = 4;
    private static final Drop[] REASONS = Drop.values();

    private final AtomicLongArray slots = new AtomicLongArray(DROPS + REASONS.length);

    /** Writer thread only: add {@code delta} to slot {@code index}, published with a release store. */
    void addRelease(final int index, final long delta) {
        slots.lazySet(index, slots.getPlain(index) + delta);
    }

    /** Writer thread only: count one dropped frame. */
    void dropRelease(final Drop reason) {
        addRelease(DROPS + reason.ordinal(), 1);
    }

    long getVolatile(final int index) {
        return slots.get(index);
    }

    long drops(final Drop reason) {
        return slots.get(DROPS + reason.ordinal());
    }

    PortStats snapshot(final int id, final String name, final int macs) {
        final Map<Drop, Long> drops = new EnumMap<>(Drop.class);
        for (final Drop d : REASONS) {
            drops.put(d, drops(d));
        }
        return new PortStats(id, name, getVolatile(RX_FRAMES), getVolatile(RX_BYTES), getVolatile(TX_FRAMES),
            getVolatile(TX_BYTES), drops, macs);
    }
}
