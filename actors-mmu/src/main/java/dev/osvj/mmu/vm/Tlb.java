package dev.osvj.mmu.vm;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One vCPU's software TLB: a direct-mapped cache of 4 KiB translations, indexed by the low bits of
 * the virtual page number. An entry is an immutable object, so a lookup reads one reference and can
 * never see half of an update; a 2 MiB page is cached as the 4 KiB slices that are touched.
 *
 * <p>Memory ordering: lookups load entries with acquire; {@link #flush()} first increments
 * {@link #generation()} (volatile), then clears every slot with release stores. A filler reads the
 * generation before its page-table walk and re-checks it after publishing the entry (volatile store,
 * volatile load); if a flush ran in between, it removes its entry and walks again. So an entry
 * produced by a walk that raced with a shootdown never survives it.
 *
 * <p>{@link #flushRange} invalidates single pages (INVLPG) for small ranges: it bumps the generation
 * the same way, so the same argument holds for the pages it clears.
 *
 * <p>IPIs: a shootdown enqueues a {@link FlushRequest} on {@link #postIpi} and rings the vCPU's
 * {@link TlbActor}; the actor (or the vCPU itself while it waits for its own shootdown, so two vCPUs
 * shooting each other down cannot deadlock) drains the queue with {@link #serviceIpis()}, flushes once
 * and acknowledges every request. A vCPU not running application code gets no IPI: it is marked
 * {@link #markLazy() lazy} and flushed when an application thread is switched in (OSv's
 * {@code lazy_flush_tlb}).
 */
public final class Tlb {
    /** A cached translation: virtual page number to physical page, with the permissions cached. */
    static final class Entry {
        final long vpn;
        final long pageBase;
        final boolean writable;
        final boolean executable;

        Entry(final long vpn, final long pageBase, final boolean writable, final boolean executable) {
            this.vpn = vpn;
            this.pageBase = pageBase;
            this.writable = writable;
            this.executable = executable;
        }
    }

    /** Above this many pages a ranged invalidation flushes the whole TLB (Linux's default ceiling, 33). */
    public static final int RANGE_FLUSH_CEILING = 32;

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Entry[].class);

    private final int cpu;
    private final Entry[] entries;
    private final int mask;
    private final AtomicLong generation = new AtomicLong();
    private final ConcurrentLinkedQueue<FlushRequest> ipis = new ConcurrentLinkedQueue<>();
    private volatile boolean lazyPending;
    /**
     * Fills, counted without an atomic (written with opaque stores by the threads of this vCPU): exact
     * when one thread at a time runs on the vCPU, as with the scheduler; with several threads bound
     * to one vCPU ({@link ThreadCpuBinding}) a racing increment may be lost. Statistics only.
     */
    private long misses;
    private static final VarHandle MISSES;

    static {
        try {
            MISSES = MethodHandles.lookup().findVarHandle(Tlb.class, "misses", long.class);
        } catch (final ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    private final AtomicLong flushes = new AtomicLong();
    private final AtomicLong rangeFlushes = new AtomicLong();
    private final AtomicLong lazyFlushes = new AtomicLong();
    private final AtomicLong ipisServiced = new AtomicLong();

    /**
     * @param cpu     the vCPU this TLB belongs to.
     * @param entries slots, a power of two (hardware L1 dTLBs have 64).
     */
    public Tlb(final int cpu, final int entries) {
        if (entries < 1 || Integer.bitCount(entries) != 1) {
            throw new IllegalArgumentException("TLB entries must be a power of two: " + entries);
        }
        this.cpu = cpu;
        this.entries = new Entry[entries];
        this.mask = entries - 1;
    }

    public int cpu() {
        return cpu;
    }

    /** The cached entry for {@code vpn}, or null. */
    Entry lookup(final long vpn) {
        final Entry e = (Entry)SLOT.getAcquire(entries, (int)vpn & mask);
        return e != null && e.vpn == vpn ? e : null;
    }

    /** True when the entry for {@code vpn} is still cached and maps {@code pageBase}. */
    boolean validate(final long vpn, final long pageBase) {
        final Entry e = lookup(vpn);
        return e != null && e.pageBase == pageBase;
    }

    long generation() {
        return generation.get();
    }

    /**
     * Publish an entry produced by a walk that started at generation {@code gen}.
     *
     * @return false when a flush ran since {@code gen}: the entry was withdrawn, walk again.
     */
    boolean fill(final Entry e, final long gen) {
        MISSES.setOpaque(this, (long)MISSES.getOpaque(this) + 1);
        final int slot = (int)e.vpn & mask;
        SLOT.setVolatile(entries, slot, e);
        if (generation.get() != gen) {
            SLOT.compareAndSet(entries, slot, e, null);
            return false;
        }
        return true;
    }

    /** Invalidate every entry (INVLPG of everything / a CR3 reload). Any thread. */
    public void flush() {
        generation.incrementAndGet();
        for (int i = 0; i < entries.length; i++) {
            SLOT.setRelease(entries, i, null);
        }
        flushes.incrementAndGet();
    }

    /**
     * Invalidate the translations of {@code pages} pages from virtual page {@code firstVpn} (INVLPG
     * per page); more than {@link #RANGE_FLUSH_CEILING} pages flush everything instead, as Linux does
     * above its {@code tlb_single_page_flush_ceiling}. Like {@link #flush()} it bumps the generation
     * first, so a fill whose walk raced with the change is withdrawn. Any thread.
     */
    public void flushRange(final long firstVpn, final long pages) {
        if (pages > RANGE_FLUSH_CEILING || pages < 0) {
            flush();
            return;
        }
        generation.incrementAndGet();
        for (long vpn = firstVpn; vpn < firstVpn + pages; vpn++) {
            final int slot = (int)vpn & mask;
            final Entry e = (Entry)SLOT.getAcquire(entries, slot);
            if (e != null && e.vpn == vpn) {
                SLOT.compareAndSet(entries, slot, e, null);
            }
        }
        rangeFlushes.incrementAndGet();
    }

    /** Mark for a flush at the next application switch-in (no IPI for an idle vCPU). */
    void markLazy() {
        lazyPending = true;
    }

    boolean lazyPending() {
        return lazyPending;
    }

    /** Switch-in hook: flush if a lazy flush is pending. */
    void switchInApplication() {
        if (lazyPending) {
            lazyPending = false;
            flush();
            lazyFlushes.incrementAndGet();
        }
    }

    /** Queue an IPI; the caller then rings the vCPU's {@link TlbActor}. */
    void postIpi(final FlushRequest request) {
        ipis.add(request);
    }

    /**
     * Service queued IPIs: take every request queued now, flush once, then acknowledge them. A
     * request is acknowledged only by a flush that started after it was taken from the queue (so after
     * its page-table change); requests that arrive meanwhile get the next round.
     *
     * @return the number of requests acknowledged.
     */
    public int serviceIpis() {
        int n = 0;
        FlushRequest first;
        while ((first = ipis.poll()) != null) {
            FlushRequest more = ipis.poll();
            if (more == null) {
                flush();
                first.acknowledge(cpu);
                n++;
                continue;
            }
            final java.util.ArrayList<FlushRequest> batch = new java.util.ArrayList<>();
            batch.add(first);
            while (more != null) {
                batch.add(more);
                more = ipis.poll();
            }
            flush();
            for (final FlushRequest r : batch) {
                r.acknowledge(cpu);
            }
            n += batch.size();
        }
        if (n > 0) {
            ipisServiced.addAndGet(n);
        }
        return n;
    }

    /** Slots in use (tests and stats). */
    public int occupied() {
        int n = 0;
        for (int i = 0; i < entries.length; i++) {
            if (SLOT.getAcquire(entries, i) != null) {
                n++;
            }
        }
        return n;
    }

    public int capacity() {
        return entries.length;
    }

    /** Walks that filled an entry (misses). */
    public long misses() {
        return (long)MISSES.getOpaque(this);
    }

    public long flushes() {
        return flushes.get();
    }

    /** Ranged invalidations ({@link #flushRange}) that did not flush everything. */
    public long rangeFlushes() {
        return rangeFlushes.get();
    }

    /** Flushes done at switch-in because of a lazy shootdown. */
    public long lazyFlushes() {
        return lazyFlushes.get();
    }

    /** IPI requests acknowledged. */
    public long ipisServiced() {
        return ipisServiced.get();
    }
}
