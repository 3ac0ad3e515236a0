package dev.osvj.virtio.ring;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Health counters of one side of one virtqueue (Agrona {@code SystemCounters} style: counters, not
 * log lines). Single writer: only the thread that owns that side of the queue increments (opaque
 * stores, no fence on the data path); any thread may read a racy snapshot.
 */
public final class QueueCounters {
    /** Descriptor chains made available (driver) or taken (device). */
    public static final int CHAINS = 0;
    /** Descriptors those chains used, counting the entries of indirect tables. */
    public static final int DESCRIPTORS = 1;
    /** Notifications sent: kicks by the driver, interrupts by the device. */
    public static final int NOTIFICATIONS = 2;
    /** Notifications the other side's event index or flags suppressed. */
    public static final int SUPPRESSED = 3;
    /** Chains placed in an indirect table (driver). */
    public static final int INDIRECT = 4;
    /** Additions refused because the ring was full (driver). */
    public static final int FULL = 5;
    /** Malformed chains or used entries, counted and dropped. */
    public static final int MALFORMED = 6;
    /** Completions seen: used entries consumed (driver) or published (device). */
    public static final int COMPLETIONS = 7;

    static final int COUNT = 8;
    private static final String[] NAMES = {
        "chains", "descriptors", "notifications", "suppressed", "indirect", "full", "malformed", "completions"};
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] values = new long[COUNT];

    /** Add {@code delta}; owner thread only. */
    public void add(final int counter, final long delta) {
        SLOT.setOpaque(values, counter, (long)SLOT.getOpaque(values, counter) + delta);
    }

    public void increment(final int counter) {
        add(counter, 1);
    }

    public long get(final int counter) {
        return (long)SLOT.getOpaque(values, counter);
    }

    public static String name(final int counter) {
        return NAMES[counter];
    }

    @Override
    public String toString() {
        final StringBuilder b = new StringBuilder();
        for (int i = 0; i < COUNT; i++) {
            if (i > 0) {
                b.append(' ');
            }
            b.append(NAMES[i]).append('=').append(get(i));
        }
        return b.toString();
    }
}
