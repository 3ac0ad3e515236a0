package dev.osvj.mmu;

/**
 * What the MMU needs from an open file to map it (OSv's {@code file::mmap} plus the page cache,
 * {@code core/pagecache.cc}). The VFS implements it over its page cache; pages are 4 KiB frames of
 * guest physical memory owned by the cache, never by the mapping.
 *
 * <p>Protocol: a fault on a file mapping calls {@link #getPage} for the page at a 4 KiB-aligned file
 * offset and maps that frame: read-write for a shared mapping, read-only for a private one (a later
 * write copies it: copy-on-write, and the copy belongs to the mapping). When the mapping stops using
 * the frame (munmap, {@code MADV_DONTNEED}, a COW copy replacing it), the MMU calls {@link #putPage}
 * exactly once per successful {@code getPage}, after the TLB shootdown, passing whether the mapping
 * dirtied it. {@code msync} calls {@link #writePage} for dirty pages of shared mappings.
 *
 * <p>Called from faulting threads concurrently (with the address space's read lock held) and from
 * mmap/munmap/msync (write lock held); implementations are thread-safe and must not call back into
 * the address space.
 */
public interface FileMapping {
    /** Current file size in bytes; a page at or beyond it is a SIGBUS. */
    long size();

    /** True when the file was opened for writing (a shared {@code PROT_WRITE} mapping needs it). */
    boolean writable();

    /**
     * The page-cache frame holding the page at {@code fileOffset}, read from the file if needed, with
     * one reference taken for the caller. Bytes beyond the end of the file in the last page are zero.
     *
     * @param fileOffset a multiple of 4096, below {@link #size()}.
     * @return the frame's physical address (4 KiB aligned), or {@code -errno} (e.g. -ENOMEM, -EIO).
     */
    long getPage(long fileOffset);

    /**
     * Drop the reference {@link #getPage} took.
     *
     * @param dirty the mapping wrote to the page (shared mappings only; the page is to be written
     *     back eventually).
     */
    void putPage(long fileOffset, long pa, boolean dirty);

    /**
     * Write the page back to the file now ({@code msync}).
     *
     * @return 0, or {@code -errno}.
     */
    int writePage(long fileOffset, long pa);
}
