package dev.osvj.virtio;

import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;

import java.lang.foreign.MemorySegment;

/**
 * Guest memory as the virtio drivers use it: the physical memory segment (offset = guest physical
 * address) and the page-frame allocator that rings, request headers and buffers come from. A thin
 * view over actors-mmu's {@link PhysicalMemory} and {@link PageAllocator}.
 */
public final class GuestMemory {
    public static final long PAGE_SIZE = PageAllocator.PAGE_SIZE;

    private final PhysicalMemory memory;
    private final PageAllocator frames;

    public GuestMemory(final PhysicalMemory memory, final PageAllocator frames) {
        this.memory = memory;
        this.frames = frames;
    }

    public PhysicalMemory physical() {
        return memory;
    }

    public MemorySegment segment() {
        return memory.segment();
    }

    /**
     * Allocate {@code bytes} rounded up to whole pages, page-aligned, zeroed.
     *
     * @return the guest physical address.
     * @throws IllegalStateException when guest memory is exhausted (drivers allocate at init only).
     */
    public long allocate(final long bytes) {
        final long pages = pages(bytes);
        final long pa = frames.allocPages(pages, 1);
        if (pa == PageAllocator.NO_MEMORY) {
            throw new IllegalStateException("out of guest memory for " + bytes + " bytes of virtio buffers");
        }
        memory.zero(pa, pages * PAGE_SIZE);
        return pa;
    }

    public void free(final long pa, final long bytes) {
        frames.freePages(pa, pages(bytes));
    }

    private static long pages(final long bytes) {
        return Math.max(1, (bytes + PAGE_SIZE - 1) / PAGE_SIZE);
    }

    /**
     * The guest physical address of {@code buffer[offset]} when {@code buffer} lies in guest memory,
     * else -1 (the caller bounces the data through a guest buffer).
     */
    public long physicalAddress(final MemorySegment buffer, final long offset) {
        final MemorySegment guest = memory.segment();
        if (!buffer.isNative()) {
            return -1;
        }
        final long pa = buffer.address() + offset - guest.address();
        return pa >= 0 && pa < guest.byteSize() ? pa : -1;
    }
}
