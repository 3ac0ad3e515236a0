package dev.osvj.mmu.vm;

import dev.osvj.mmu.VcpuTopology;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code flush_tlb_all} (OSv {@code arch/x64/mmu.cc}): after a page-table change that removes or
 * restricts a translation, make sure no vCPU can still use the old one.
 *
 * <ol>
 *   <li>Flush the caller's own TLB first.</li>
 *   <li>Single-CPU shortcut: with one vCPU that is all.</li>
 *   <li>For an application caller, a vCPU that is not running an application thread gets no IPI:
 *       it is marked for a lazy flush at its next application switch-in. The mark is set before its
 *       state is read and the switch-in sets the state before it reads the mark (both volatile), so
 *       either the initiator sees the vCPU running and sends an IPI, or the vCPU sees the mark.</li>
 *   <li>Every other vCPU (all of them for a kernel caller) gets an IPI: a {@link FlushRequest}
 *       queued on its {@link Tlb} plus a doorbell to its {@link TlbActor}.</li>
 *   <li>The caller waits until the pending count reaches zero, servicing IPIs aimed at its own vCPU
 *       meanwhile (so two vCPUs shooting each other down cannot deadlock). A vCPU that does not
 *       answer within the timeout is a kernel bug: {@link IllegalStateException}.</li>
 * </ol>
 *
 * <p>{@link #flushRange} does the same for a known range: the caller's own TLB (and, with one vCPU,
 * the only one) invalidates just those pages. Every shootdown is a {@link TlbShootdownEvent}
 * tracepoint ({@code osvj.mmu.TlbShootdown}) when JFR records it.
 *
 * <p>Thread-safe; any number of shootdowns may run at once.
 */
public final class TlbShootdown {
    /** Rings a vCPU's TLB actor; must not block. */
    @FunctionalInterface
    public interface Doorbell {
        void ring(int cpu);
    }

    private final Tlb[] tlbs;
    private final VcpuTopology topology;
    private final long timeoutNs;
    private volatile Doorbell doorbell;
    private final AtomicLong shootdowns = new AtomicLong();
    private final AtomicLong singleCpu = new AtomicLong();
    private final AtomicLong ipis = new AtomicLong();
    private final AtomicLong lazy = new AtomicLong();

    /**
     * Starts with a direct doorbell (the initiator services the target's queue itself), for use
     * without an actor system; {@link #setDoorbell} installs the actors' one.
     */
    public TlbShootdown(final Tlb[] tlbs, final VcpuTopology topology, final long timeoutNs) {
        if (tlbs.length != topology.cpus()) {
            throw new IllegalArgumentException(tlbs.length + " TLBs for " + topology.cpus() + " vCPUs");
        }
        this.tlbs = tlbs.clone();
        this.topology = topology;
        this.timeoutNs = timeoutNs;
        this.doorbell = cpu -> this.tlbs[cpu].serviceIpis();
        topology.onApplicationSwitchIn(cpu -> this.tlbs[cpu].switchInApplication());
    }

    public void setDoorbell(final Doorbell doorbell) {
        this.doorbell = doorbell;
    }

    public VcpuTopology topology() {
        return topology;
    }

    /** The TLB of {@code cpu}. */
    public Tlb tlb(final int cpu) {
        return tlbs[cpu];
    }

    public int cpus() {
        return tlbs.length;
    }

    /** Flush every vCPU's TLB following OSv's rules (class comment); returns when all are done. */
    public void flushAll() {
        flush(0, -1);
    }

    /**
     * Shoot down the translations of {@code [start, end)} (page aligned): the caller's own TLB and,
     * with one vCPU, the only one, invalidate just those pages ({@link Tlb#flushRange}); the other
     * vCPUs flush everything when their IPI arrives (or lazily), as {@link #flushAll()}.
     */
    public void flushRange(final long start, final long end) {
        flush(start, end - start);
    }

    /** @param bytes -1 for everything. */
    private void flush(final long start, final long bytes) {
        final TlbShootdownEvent event = new TlbShootdownEvent();
        event.begin();
        shootdowns.incrementAndGet();
        final int self = topology.currentCpu();
        if (bytes < 0) {
            tlbs[self].flush();
        } else {
            tlbs[self].flushRange(start >>> 12, (bytes + 4095) >>> 12);
        }
        int sent = 0;
        int lazyMarks = 0;
        if (tlbs.length == 1) {
            singleCpu.incrementAndGet();
        } else {
            final boolean application = topology.isApplicationThread();
            Pending pending = null;
            for (int cpu = 0; cpu < tlbs.length; cpu++) {
                if (cpu == self) {
                    continue;
                }
                if (application) {
                    tlbs[cpu].markLazy();
                    if (!topology.runningApplication(cpu)) {
                        lazy.incrementAndGet();
                        lazyMarks++;
                        continue;
                    }
                }
                if (pending == null) {
                    pending = new Pending(Thread.currentThread());
                }
                pending.count.incrementAndGet();
                tlbs[cpu].postIpi(pending);
                ipis.incrementAndGet();
                sent++;
                doorbell.ring(cpu);
            }
            if (pending != null) {
                pending.await(tlbs[self], timeoutNs);
            }
        }
        if (event.shouldCommit()) {
            event.cpu = self;
            event.start = start;
            event.bytes = bytes;
            event.ipis = sent;
            event.lazy = lazyMarks;
            event.singleCpu = tlbs.length == 1;
            event.commit();
        }
    }

    /** Shootdowns started. */
    public long shootdowns() {
        return shootdowns.get();
    }

    /** Shootdowns that took the single-CPU shortcut. */
    public long singleCpuShortcuts() {
        return singleCpu.get();
    }

    public long ipisSent() {
        return ipis.get();
    }

    /** vCPUs marked for a lazy flush instead of an IPI. */
    public long lazyMarks() {
        return lazy.get();
    }

    /** The initiator's pending count (OSv: an atomic the IPI handlers decrement). */
    private static final class Pending implements FlushRequest {
        final AtomicInteger count = new AtomicInteger();
        final Thread waiter;

        Pending(final Thread waiter) {
            this.waiter = waiter;
        }

        @Override
        public void acknowledge(final int cpu) {
            if (count.decrementAndGet() == 0) {
                LockSupport.unpark(waiter);
            }
        }

        void await(final Tlb own, final long timeoutNs) {
            final long deadline = System.nanoTime() + timeoutNs;
            int spins = 0;
            while (count.get() > 0) {
                own.serviceIpis();
                if (spins < 200) {
                    spins++;
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(this, 100_000);
                    if (System.nanoTime() - deadline > 0 && count.get() > 0) {
                        throw new IllegalStateException("TLB shootdown: " + count.get()
                            + " vCPU(s) did not acknowledge within " + timeoutNs / 1_000_000 + " ms");
                    }
                }
            }
        }
    }
}
