package dev.osvj.kernel.log;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The kernel log: a bounded ring of recent lines that {@code dmesg} prints, each stamped with the
 * seconds since boot ({@code [    0.012345] sched: 2 vCPUs}). Lines also go to SLF4J through the
 * Logback appender that feeds this ring, so one {@code log.info(...)} reaches both.
 *
 * <p>Writers are any thread; the ring keeps the newest {@code capacity} lines and counts the ones it
 * dropped. Kernel instances register their log by name so the appender can route a line logged on an
 * actor of that instance (Pekko's {@code sourceActorSystem} MDC key) to the right ring.
 */
public final class KernelLog {
    private static final ConcurrentHashMap<String, KernelLog> INSTANCES = new ConcurrentHashMap<>();

    private final String kernelName;
    private final String[] ring;
    private final LongSupplier monotonicNanos;
    private final long bootNanos;
    private long written;

    public KernelLog(final String kernelName, final int capacity, final LongSupplier monotonicNanos) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1: " + capacity);
        }
        this.kernelName = kernelName;
        this.ring = new String[capacity];
        this.monotonicNanos = monotonicNanos;
        this.bootNanos = monotonicNanos.getAsLong();
    }

    /** Make this log the target of lines tagged with its kernel name. */
    public KernelLog register() {
        INSTANCES.put(kernelName, this);
        return this;
    }

    public void unregister() {
        INSTANCES.remove(kernelName, this);
    }

    /** The registered log of a kernel instance, or the only one when exactly one is registered. */
    public static KernelLog lookup(final String kernelName) {
        if (kernelName != null) {
            final KernelLog log = INSTANCES.get(kernelName);
            if (log != null) {
                return log;
            }
        }
        if (INSTANCES.size() == 1) {
            for (final KernelLog only : INSTANCES.values()) {
                return only;
            }
        }
        return null;
    }

    public String kernelName() {
        return kernelName;
    }

    /** Append one line (a message may hold several; each becomes its own line). */
    public void append(final String level, final String source, final String message) {
        final double seconds = (monotonicNanos.getAsLong() - bootNanos) / 1e9;
        final String prefix = String.format("[%12.6f] %s%s", seconds,
            "INFO".equals(level) ? "" : level + " ", source == null || source.isEmpty() ? "" : source + ": ");
        synchronized (ring) {
            for (final String line : message.split("\n", -1)) {
                ring[(int)(written++ % ring.length)] = prefix + line;
            }
        }
    }

    /** Lines currently held, oldest first. */
    public List<String> lines() {
        synchronized (ring) {
            final int n = (int)Math.min(written, ring.length);
            final List<String> out = new ArrayList<>(n);
            for (long i = written - n; i < written; i++) {
                out.add(ring[(int)(i % ring.length)]);
            }
            return out;
        }
    }

    /** Lines overwritten because the ring was full. */
    public long dropped() {
        synchronized (ring) {
            return Math.max(0, written - ring.length);
        }
    }

    public void printTo(final PrintStream out) {
        final long dropped = dropped();
        if (dropped > 0) {
            out.println("(" + dropped + " older lines dropped)");
        }
        for (final String line : lines()) {
            out.println(line);
        }
    }
}
