package dev.osvj.mmu;

import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.vm.AddressSpace;
import dev.osvj.mmu.vm.TlbShootdown;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Memory counters, ready for {@code /proc/meminfo}, {@code /sys/osv/memory/*}, the REST API
 * ({@code /os/memory/total|free}) and the console's {@code free} (OSv's {@code memory::stats}). All
 * values are racy snapshots in bytes unless named otherwise; reading them takes no global lock except
 * the page allocator's monitor for a moment.
 */
public final class MemoryStats {
    private final PageAllocator frames;
    private final AddressSpace space;
    private final Malloc malloc;
    private final TlbShootdown shootdown;

    public MemoryStats(final PageAllocator frames, final AddressSpace space, final Malloc malloc, final TlbShootdown shootdown) {
        this.frames = frames;
        this.space = space;
        this.malloc = malloc;
        this.shootdown = shootdown;
    }

    /** Guest RAM ({@code osvj.memory}). */
    public long totalBytes() {
        return frames.totalBytes();
    }

    /** Free in the page allocator (malloc's cached pages not included). */
    public long freeBytes() {
        return frames.freeBytes();
    }

    /** Free plus what the shrinkers can give back at once (malloc's L1 page caches). */
    public long availableBytes() {
        return frames.freeBytes() + malloc.cachedPages() * AddressSpace.PAGE_SIZE;
    }

    public long usedBytes() {
        return totalBytes() - freeBytes();
    }

    /** Bytes in malloc blocks (small, page and large). */
    public long mallocBytes() {
        return malloc.smallBytesInUse() + malloc.largeBytesInUse();
    }

    /** Anonymous pages and private copies mapped by mmap. */
    public long anonymousBytes() {
        return space.anonymousBytes();
    }

    /** Page-cache pages mapped by file mappings. */
    public long fileMappedBytes() {
        return space.fileBytes();
    }

    public long pageTableBytes() {
        return space.pageTableBytes();
    }

    public long lowWatermarkBytes() {
        return frames.lowWatermarkBytes();
    }

    /** Named counters (REST API, sysfs): bytes, and event counts for the rest. */
    public Map<String, Long> counters() {
        final Map<String, Long> m = new LinkedHashMap<>();
        m.put("total", totalBytes());
        m.put("free", freeBytes());
        m.put("available", availableBytes());
        m.put("malloc", mallocBytes());
        m.put("malloc_cached_pages", malloc.cachedPages());
        m.put("malloc_thread_cached_bytes", malloc.threadCachedBytes());
        m.put("malloc_failures", malloc.failures());
        m.put("malloc_remote_frees", malloc.remoteFrees());
        m.put("anonymous", anonymousBytes());
        m.put("file_mapped", fileMappedBytes());
        m.put("page_tables", pageTableBytes());
        m.put("huge_pages_mapped", space.hugePagesMapped());
        m.put("huge_pages_free", frames.freeHugePages());
        m.put("huge_page_splits", space.hugePageSplits());
        m.put("faults", space.faults());
        m.put("huge_faults", space.hugeFaults());
        m.put("cow_faults", space.cowFaults());
        m.put("failed_faults", space.failedFaults());
        m.put("frame_allocations", frames.allocations());
        m.put("frame_failures", frames.failures());
        m.put("reclaims", frames.reclaims());
        m.put("reclaimed", frames.reclaimedBytes());
        m.put("zero_pool", (long)frames.zeroPoolSize() * AddressSpace.PAGE_SIZE);
        m.put("zero_pool_hits", frames.zeroPoolHits());
        m.put("zero_pool_drains", frames.zeroPoolDrains());
        m.put("inline_zeroed_pages", frames.inlineZeroedPages());
        m.put("idle_zeroed_pages", frames.idleZeroedPages());
        m.put("idle_zero_ns", frames.idleZeroNanos());
        m.put("tlb_shootdowns", shootdown.shootdowns());
        m.put("tlb_ipis", shootdown.ipisSent());
        m.put("tlb_lazy", shootdown.lazyMarks());
        m.put("tlb_single_cpu", shootdown.singleCpuShortcuts());
        return m;
    }

    /** {@code /proc/meminfo} in Linux's format ({@code "MemTotal:       524288 kB"}). */
    public String meminfo() {
        final StringBuilder b = new StringBuilder();
        line(b, "MemTotal", totalBytes());
        line(b, "MemFree", freeBytes());
        line(b, "MemAvailable", availableBytes());
        line(b, "Buffers", 0);
        line(b, "Cached", 0);
        line(b, "AnonPages", anonymousBytes());
        line(b, "Mapped", fileMappedBytes());
        line(b, "Slab", mallocBytes());
        line(b, "PageTables", pageTableBytes());
        line(b, "AnonHugePages", space.hugePagesMapped() * AddressSpace.HUGE_PAGE_SIZE);
        b.append(String.format("%-16s%8d%n", "HugePages_Total:", 0));
        line(b, "Hugepagesize", AddressSpace.HUGE_PAGE_SIZE);
        return b.toString();
    }

    private static void line(final StringBuilder b, final String name, final long bytes) {
        b.append(String.format("%-16s%8d kB%n", name + ":", bytes / 1024));
    }

    /** {@code /sys/osv/memory/free_page_ranges}: free blocks per size. */
    public String freePageRanges() {
        final StringBuilder b = new StringBuilder();
        for (int order = 0; order <= frames.maxOrder(); order++) {
            final long n = frames.freeBlocks(order);
            if (n > 0) {
                b.append(String.format("%10d KiB x %d%n", (AddressSpace.PAGE_SIZE << order) / 1024, n));
            }
        }
        return b.toString();
    }

    /** {@code /sys/osv/memory/pools}. */
    public String pools() {
        return malloc.poolsText();
    }
}
