package dev.osvj.vfs;

import dev.osvj.kernel.Errno;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The file-descriptor table: descriptor number to {@link OpenFile}, with a fixed limit
 * ({@code osvj.vfs.max-fds}; OSv's global table has 16384 entries).
 *
 * <p>Lookups ({@link #get}) are lock-free: one acquire load of the slot, paired with the release
 * store that installs it. Installing and removing take the table's monitor, because POSIX wants the
 * lowest free number and dup2 must replace atomically. Descriptor flags (FD_CLOEXEC) live beside the
 * slots.
 */
final class FdTable {
    private static final VarHandle SLOTS = MethodHandles.arrayElementVarHandle(OpenFile[].class);

    private final OpenFile[] slots;
    private final int[] fdFlags;
    /** Guarded by this: no free slot below this index. */
    private int lowestFree;
    /** Written under this monitor, read without it ({@link #free()} is a hint for open's early EMFILE). */
    private volatile int used;

    FdTable(final int limit) {
        this.slots = new OpenFile[limit];
        this.fdFlags = new int[limit];
    }

    int limit() {
        return slots.length;
    }

    /** The open file of {@code fd}, or null when {@code fd} is not open. Lock-free. */
    OpenFile get(final int fd) {
        if (fd < 0 || fd >= slots.length) {
            return null;
        }
        return (OpenFile)SLOTS.getAcquire(slots, fd);
    }

    /** Install at the lowest free descriptor {@code >= min}; returns it or -EMFILE. */
    synchronized int install(final OpenFile file, final int min, final int flags) {
        int fd = Math.max(min, lowestFree);
        while (fd < slots.length && slots[fd] != null) {
            fd++;
        }
        if (fd >= slots.length) {
            return Errno.EMFILE.negative();
        }
        fdFlags[fd] = flags;
        SLOTS.setRelease(slots, fd, file);
        used++;
        if (min <= lowestFree) {
            lowestFree = fd + 1;
        }
        return fd;
    }

    /** Put {@code file} at {@code fd}, returning what was there (to be closed by the caller). */
    synchronized OpenFile replace(final int fd, final OpenFile file, final int flags) {
        final OpenFile old = slots[fd];
        if (old == null) {
            used++;
        }
        fdFlags[fd] = flags;
        SLOTS.setRelease(slots, fd, file);
        if (fd == lowestFree) {
            lowestFree = fd + 1;
        }
        return old;
    }

    /** Remove {@code fd}; returns its file or null when it was not open. */
    synchronized OpenFile remove(final int fd) {
        if (fd < 0 || fd >= slots.length || slots[fd] == null) {
            return null;
        }
        final OpenFile old = slots[fd];
        SLOTS.setRelease(slots, fd, null);
        fdFlags[fd] = 0;
        used--;
        if (fd < lowestFree) {
            lowestFree = fd;
        }
        return old;
    }

    synchronized int flags(final int fd) {
        return fdFlags[fd];
    }

    synchronized void setFlags(final int fd, final int flags) {
        fdFlags[fd] = flags;
    }

    /** Free descriptors now (lock-free; may be stale by the time the caller installs). */
    int free() {
        return slots.length - used;
    }

    int used() {
        return used;
    }
}
