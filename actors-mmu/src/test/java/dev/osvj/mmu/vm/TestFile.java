package dev.osvj.mmu.vm;

import dev.osvj.kernel.Errno;
import dev.osvj.mmu.FileMapping;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;

import java.util.HashMap;
import java.util.Map;

/** A file with a tiny page cache in guest memory, standing in for the VFS. */
final class TestFile implements FileMapping {
    final byte[] content;
    final boolean writable;
    private final PhysicalMemory memory;
    private final PageAllocator frames;
    final Map<Long, Long> cache = new HashMap<>();
    final Map<Long, Integer> refs = new HashMap<>();
    int dirtyPuts;
    int writes;

    TestFile(final PhysicalMemory memory, final PageAllocator frames, final byte[] content, final boolean writable) {
        this.memory = memory;
        this.frames = frames;
        this.content = content;
        this.writable = writable;
    }

    @Override
    public long size() {
        return content.length;
    }

    @Override
    public boolean writable() {
        return writable;
    }

    @Override
    public synchronized long getPage(final long fileOffset) {
        Long pa = cache.get(fileOffset);
        if (pa == null) {
            final long frame = frames.allocPage();
            if (frame < 0) {
                return Errno.ENOMEM.negative();
            }
            memory.zero(frame, 4096);
            final int n = (int)Math.min(4096, content.length - fileOffset);
            memory.write(frame, content, (int)fileOffset, n);
            cache.put(fileOffset, frame);
            pa = frame;
        }
        refs.merge(fileOffset, 1, Integer::sum);
        return pa;
    }

    @Override
    public synchronized void putPage(final long fileOffset, final long pa, final boolean dirty) {
        if (cache.get(fileOffset) != pa) {
            throw new AssertionError("putPage of a frame not from this cache");
        }
        final int left = refs.merge(fileOffset, -1, Integer::sum);
        if (left < 0) {
            throw new AssertionError("putPage without getPage at " + fileOffset);
        }
        if (dirty) {
            dirtyPuts++;
        }
    }

    @Override
    public synchronized int writePage(final long fileOffset, final long pa) {
        final int n = (int)Math.min(4096, content.length - fileOffset);
        memory.read(pa, content, (int)fileOffset, n);
        writes++;
        return 0;
    }

    synchronized int references() {
        int n = 0;
        for (final int r : refs.values()) {
            n += r;
        }
        return n;
    }

    /** Give the cache's frames back (the VFS would on eviction). */
    synchronized void drop() {
        for (final long pa : cache.values()) {
            frames.freeOrder(pa, 0);
        }
        cache.clear();
    }
}
