package dev.osvj.system.app.memcached;

import dev.osvj.kernel.KernelClock;
import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.mmu.vm.ThreadCpuBinding;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** Guest memory, the kernel's malloc, a manual clock, and stores and engines over them. */
final class Fixture implements AutoCloseable {
    /** A clock the test moves; starts at 2026-01-01T00:00:00Z. */
    static final class ManualClock implements KernelClock {
        long mono = 1_000_000_000L;
        long real = 1_767_225_600L * 1_000_000_000L;

        void advanceSeconds(final long s) {
            mono += s * 1_000_000_000L;
            real += s * 1_000_000_000L;
        }

        @Override
        public long monotonicNanos() {
            return mono;
        }

        @Override
        public long realtimeNanos() {
            return real;
        }
    }

    final PhysicalMemory memory;
    final Malloc malloc;
    final ManualClock clock = new ManualClock();

    Fixture(final long ramBytes) {
        memory = PhysicalMemory.allocate(ramBytes);
        memory.segment().fill((byte)0xA5);
        malloc = new Malloc(memory, new PageAllocator(memory, 0), new ThreadCpuBinding(2), 16);
    }

    ItemStore store(final long limit, final int itemSizeMax, final boolean cas) {
        return new ItemStore(malloc, memory, clock, limit, itemSizeMax, Slabs.DEFAULT_FACTOR, Slabs.DEFAULT_MIN_CHUNK, cas);
    }

    ItemStore store() {
        return store(64L << 20, 1 << 20, true);
    }

    static ServerStats stats() {
        return new ServerStats(MemcachedOptions.parse(List.of(), 2), KernelClock.SYSTEM);
    }

    static byte[] ascii(final String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    static String text(final byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    @Override
    public void close() {
        malloc.close();
        memory.close();
    }
}
