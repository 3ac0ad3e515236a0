package dev.osvj.mmu.phys;

/**
 * A cache that gives memory back when free memory falls below the low watermark (OSv's
 * {@code shrinker}: the ZFS ARC, the JVM balloon; here the page cache and malloc's per-vCPU caches).
 * Called by {@link PageAllocator} on the allocating thread, outside the allocator's lock, never
 * concurrently with itself for the same allocator.
 */
public interface Shrinker {
    /** Name for stats and the kernel log. */
    String name();

    /**
     * Release memory back to the page allocator.
     *
     * @param bytesWanted how much the reclaimer would like back (a hint).
     * @return bytes actually released (0 when nothing could be).
     */
    long shrink(long bytesWanted);
}
