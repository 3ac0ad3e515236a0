package dev.osvj.mmu.vm;

import dev.osvj.mmu.FileMapping;
import dev.osvj.mmu.Mman;

/**
 * A virtual memory area: {@code [start, end)}, page aligned, with one protection, one sharing mode and
 * one backing (anonymous, or a file at {@code fileOffset}). Owned by {@link AddressSpace}, mutated only
 * with its write lock held.
 */
final class Vma {
    long start;
    long end;
    int prot;
    final boolean shared;
    final FileMapping file;
    long fileOffset;
    /** {@code MADV_NOHUGEPAGE}: always 4 KiB pages (OSv's {@code mmap_small}). */
    boolean small;

    Vma(final long start, final long end, final int prot, final boolean shared, final FileMapping file,
        final long fileOffset, final boolean small) {
        this.start = start;
        this.end = end;
        this.prot = prot;
        this.shared = shared;
        this.file = file;
        this.fileOffset = fileOffset;
        this.small = small;
    }

    boolean anonymous() {
        return file == null;
    }

    /** File offset of the page at {@code va}. */
    long offsetOf(final long va) {
        return fileOffset + (va - start);
    }

    /** Cut this VMA at {@code at}; this keeps {@code [start, at)}, the result is {@code [at, end)}. */
    Vma splitAt(final long at) {
        final Vma upper = new Vma(at, end, prot, shared, file, file == null ? 0 : offsetOf(at), small);
        end = at;
        return upper;
    }

    @Override
    public String toString() {
        return String.format("%012x-%012x %s%s%s%s %s", start, end,
            (prot & Mman.PROT_READ) != 0 ? "r" : "-", (prot & Mman.PROT_WRITE) != 0 ? "w" : "-",
            (prot & Mman.PROT_EXEC) != 0 ? "x" : "-", shared ? "s" : "p", file == null ? "anon" : "file@" + fileOffset);
    }
}
