package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.mmu.FileMapping;

import java.lang.ref.Cleaner;
import java.util.concurrent.locks.Lock;

/**
 * One {@code mmap} of an open file, as the mmu sees it ({@link FileMapping}; Linux's {@code vm_file}):
 * the vnode, whether the descriptor allowed writing, and the vnode's {@link MappedPages}, which every
 * mapping of the same file shares (two shared mappings of one file see each other's writes).
 *
 * <p>A mapping holds the file like an open descriptor does: an unlinked file whose descriptors are
 * all closed keeps its data while a mapping of it is alive. The mmu has no "mapping gone" call, so
 * the hold is released when the mapping object becomes unreachable (its VMAs were unmapped), by a
 * {@link Cleaner}: freeing an unlinked file's memory may therefore wait for a garbage collection, but
 * nothing a program can observe depends on when.
 *
 * <p>Thread-safety and lock order as in {@link MappedPages}: the vnode's lock, then the page map.
 */
final class VnodeMapping implements FileMapping {
    private static final Cleaner CLEANER = Cleaner.create();

    private final Vnode vnode;
    private final MappedPages pages;
    private final boolean writable;

    VnodeMapping(final Vnode vnode, final MappedPages pages, final boolean writable) {
        this.vnode = vnode;
        this.pages = pages;
        this.writable = writable;
        pages.mappings.incrementAndGet();
        CLEANER.register(this, new Release(vnode, pages));
    }

    /** The hold on the file, released once the mapping is unreachable. Must not refer to the mapping. */
    private record Release(Vnode vnode, MappedPages pages) implements Runnable {
        @Override
        public void run() {
            if (pages.mappings.decrementAndGet() == 0 && vnode.nlink() == 0 && vnode.openCount() == 0) {
                Vfs.maybeInactive(vnode);
            }
        }
    }

    Vnode vnode() {
        return vnode;
    }

    @Override
    public long size() {
        return vnode.size();
    }

    @Override
    public boolean writable() {
        return writable;
    }

    @Override
    public long getPage(final long fileOffset) {
        final Lock rl = vnode.lock().readLock();
        rl.lock();
        try {
            if (vnode.inactivated) {
                return Errno.EIO.negative();
            }
            return pages.get(vnode, fileOffset);
        } finally {
            rl.unlock();
        }
    }

    @Override
    public void putPage(final long fileOffset, final long pa, final boolean dirty) {
        final Lock wl = vnode.lock().writeLock();
        wl.lock();
        try {
            pages.put(vnode, fileOffset, pa, dirty);
        } finally {
            wl.unlock();
        }
    }

    @Override
    public int writePage(final long fileOffset, final long pa) {
        final Lock wl = vnode.lock().writeLock();
        wl.lock();
        try {
            return pages.writeBack(vnode, fileOffset, pa);
        } finally {
            wl.unlock();
        }
    }

    @Override
    public String toString() {
        return "mapping of " + vnode;
    }
}
