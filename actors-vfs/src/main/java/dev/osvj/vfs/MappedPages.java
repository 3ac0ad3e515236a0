package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The page cache of one mapped file (OSv's {@code core/pagecache.cc} for one vnode): the 4 KiB
 * guest-memory frames that file mappings of the vnode use, by file offset, with a reference count
 * per frame (one per page-table entry the mmu made from it) and a dirty flag.
 *
 * <pre>
 *   file:    [ page 0 ][ page 1 ][ page 2 ] ...          (filesystem data: RamData, rofs blocks)
 *   frames:            [ pa, refs=2, dirty ]             (guest memory, mapped by the mmu)
 * </pre>
 *
 * <p><b>Coherence.</b> A frame, while it exists, is the newest copy of its page: a shared writable
 * mapping writes into it directly. So the VFS overlays frames on what {@code read} gets from the
 * filesystem ({@link #overlay}), copies what {@code write} puts into the filesystem into frames
 * ({@link #update}), and clears frame bytes that truncate or a punched hole remove
 * ({@link #zero}). A dirty frame goes back to the filesystem on {@code msync} and when its last
 * reference goes ({@link #writeBack}). Private mappings never write a frame (the mmu maps it
 * read-only and copies on write), so for them a frame is only a read cache.
 *
 * <p><b>Locking.</b> The vnode's lock first, then this object's monitor: {@link #get} runs under the
 * vnode's read lock, {@link #put}, {@link #writeBack}, {@link #update} and {@link #zero} under its
 * write lock, {@link #overlay} under its read lock. Nothing here calls into the address space.
 */
final class MappedPages {
    static final int PAGE = 4096;

    private static final class Frame {
        final long pa;
        int refs;
        boolean dirty;

        Frame(final long pa) {
            this.pa = pa;
        }
    }

    private final PhysicalMemory memory;
    private final PageAllocator allocator;
    /** Guarded by this. Frames by page-aligned file offset. */
    private final Map<Long, Frame> frames = new HashMap<>();
    /** Live {@link VnodeMapping}s of the vnode: while above zero an unlinked, closed file keeps its data. */
    final AtomicInteger mappings = new AtomicInteger();

    MappedPages(final PhysicalMemory memory, final PageAllocator allocator) {
        this.memory = memory;
        this.allocator = allocator;
    }

    /**
     * The frame of the page at {@code offset}, filled from the filesystem's page ({@link VnodeOps#cache})
     * on first use, with one more reference. Caller holds the vnode's read lock.
     *
     * @return the frame's physical address, or -errno (ENOMEM, EIO, the filesystem's error)
     */
    synchronized long get(final Vnode vp, final long offset) {
        final Frame existing = frames.get(offset);
        if (existing != null) {
            existing.refs++;
            return existing.pa;
        }
        final ByteBuffer page;
        try {
            page = vp.ops().cache(vp, offset);
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
        final long pa = allocator.allocPage();
        if (pa == PageAllocator.NO_MEMORY) {
            return Errno.ENOMEM.negative();
        }
        MemorySegment.copy(MemorySegment.ofBuffer(page), 0, memory.segment(), pa, PAGE);
        final Frame f = new Frame(pa);
        f.refs = 1;
        frames.put(offset, f);
        return pa;
    }

    /**
     * Drop one reference; the last one writes a dirty frame back and frees it. Caller holds the
     * vnode's write lock.
     */
    synchronized void put(final Vnode vp, final long offset, final long pa, final boolean dirty) {
        final Frame f = frames.get(offset);
        if (f == null || f.pa != pa || f.refs <= 0) {
            throw new IllegalStateException("putPage of a frame this cache did not give: " + vp + " @" + offset);
        }
        f.dirty |= dirty;
        if (--f.refs > 0) {
            return;
        }
        if (f.dirty) {
            writeBackLocked(vp, offset, f);
        }
        frames.remove(offset);
        allocator.freeOrder(pa, 0);
    }

    /** msync: write the frame at {@code offset} to the filesystem now. Caller holds the vnode's write lock. */
    synchronized int writeBack(final Vnode vp, final long offset, final long pa) {
        final Frame f = frames.get(offset);
        if (f == null || f.pa != pa) {
            throw new IllegalStateException("writePage of a frame this cache did not give: " + vp + " @" + offset);
        }
        return writeBackLocked(vp, offset, f);
    }

    private int writeBackLocked(final Vnode vp, final long offset, final Frame f) {
        final long n = Math.min(PAGE, vp.size() - offset);
        f.dirty = false;
        if (n <= 0 || vp.mount().readOnly()) {
            return 0; // the file shrank below the page (Linux drops such pages), or nothing can be dirty
        }
        final ByteBuffer src = ByteBuffer.allocate((int)n);
        MemorySegment.copy(memory.segment(), f.pa, MemorySegment.ofBuffer(src), 0, n);
        final long r = vp.ops().write(vp, offset, src, 0);
        if (r < 0) {
            f.dirty = true;
            return (int)r;
        }
        vp.touchModified();
        return 0;
    }

    /**
     * After a read of {@code n} bytes at file offset {@code offset} into {@code dst[start, start + n)}:
     * replace the bytes of mapped pages by the frames' (newer) bytes. Caller holds the vnode's read lock.
     */
    synchronized void overlay(final long offset, final ByteBuffer dst, final int start, final long n) {
        if (frames.isEmpty() || n <= 0) {
            return;
        }
        final MemorySegment out = MemorySegment.ofBuffer(dst.duplicate().clear()).asSlice(start, n);
        forEachFrame(offset, n, (f, fileAt, len) ->
            MemorySegment.copy(memory.segment(), f.pa + (fileAt & (PAGE - 1)), out, fileAt - offset, len));
    }

    /**
     * After a write of {@code src[start, start + n)} at file offset {@code offset}: copy it into the
     * frames of the pages it touched. Caller holds the vnode's write lock.
     */
    synchronized void update(final long offset, final ByteBuffer src, final int start, final long n) {
        if (frames.isEmpty() || n <= 0) {
            return;
        }
        final MemorySegment in = MemorySegment.ofBuffer(src.duplicate().clear()).asSlice(start, n);
        forEachFrame(offset, n, (f, fileAt, len) ->
            MemorySegment.copy(in, fileAt - offset, memory.segment(), f.pa + (fileAt & (PAGE - 1)), len));
    }

    /** Clear {@code [from, to)} of the frames (truncate, punched hole). Caller holds the vnode's write lock. */
    synchronized void zero(final long from, final long to) {
        if (frames.isEmpty() || to <= from) {
            return;
        }
        for (final Map.Entry<Long, Frame> e : frames.entrySet()) {
            final long page = e.getKey();
            final long a = Math.max(from, page);
            final long b = Math.min(to, page + PAGE);
            if (a < b) {
                memory.zero(e.getValue().pa + (a - page), b - a);
            }
        }
    }

    /** Frames held now. */
    synchronized int size() {
        return frames.size();
    }

    @FunctionalInterface
    private interface FrameRange {
        void apply(Frame f, long fileAt, long length);
    }

    private void forEachFrame(final long offset, final long n, final FrameRange action) {
        final long end = offset + n;
        if (frames.size() < (n >>> 12) + 1) {
            for (final Map.Entry<Long, Frame> e : frames.entrySet()) {
                clip(e.getKey(), e.getValue(), offset, end, action);
            }
            return;
        }
        for (long page = offset & ~(long)(PAGE - 1); page < end; page += PAGE) {
            final Frame f = frames.get(page);
            if (f != null) {
                clip(page, f, offset, end, action);
            }
        }
    }

    private static void clip(final long page, final Frame f, final long from, final long to, final FrameRange action) {
        final long a = Math.max(from, page);
        final long b = Math.min(to, page + PAGE);
        if (a < b) {
            action.apply(f, a, b - a);
        }
    }
}
