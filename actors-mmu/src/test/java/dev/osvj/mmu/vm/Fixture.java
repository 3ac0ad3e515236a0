package dev.osvj.mmu.vm;

import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;

/** Guest RAM, frame allocator, TLBs and an address space with a direct (actor-less) doorbell. */
final class Fixture implements AutoCloseable {
    final PhysicalMemory memory;
    final PageAllocator frames;
    final ThreadCpuBinding cpus;
    final Tlb[] tlbs;
    final TlbShootdown shootdown;
    final AddressSpace space;

    Fixture(final long ramBytes, final int cpuCount, final boolean hugePages) {
        memory = PhysicalMemory.allocate(ramBytes);
        memory.segment().fill((byte)0xA5);
        frames = new PageAllocator(memory, 0);
        cpus = new ThreadCpuBinding(cpuCount);
        tlbs = new Tlb[cpuCount];
        for (int i = 0; i < cpuCount; i++) {
            tlbs[i] = new Tlb(i, 64);
        }
        shootdown = new TlbShootdown(tlbs, cpus, 10_000_000_000L);
        space = new AddressSpace(memory, frames, shootdown, hugePages);
    }

    @Override
    public void close() {
        cpus.unbind();
        space.close();
        memory.close();
    }
}
