package dev.osvj.vfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.kernel.KernelClock;
import dev.osvj.mmu.FileMapping;
import dev.osvj.mmu.Mman;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.mmu.vm.AddressSpace;
import dev.osvj.vfs.PathWalker.Nameidata;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Lock;

/**
 * The file API of the kernel: POSIX file calls as plain method calls over vnodes, the dentry cache,
 * the mount table and the descriptor table. The VFS subsystem publishes one instance as a service
 * ({@code services().require(Vfs.class)}); system calls are direct calls into it, never actor messages.
 *
 * <p><b>Conventions.</b> Every POSIX call returns its result (a descriptor, a count, an offset, 0) or
 * {@code -errno} as Linux does ({@link Errno#fromResult}); it never throws for an outcome a POSIX
 * program can see. Paths are Java strings (UTF-8 on the wire, so length limits count UTF-8 bytes);
 * {@code dirfd} arguments take {@link Posix#AT_FDCWD}. Structures ({@link Stat}, {@link StatFs}) are
 * filled into caller-owned objects. The few convenience methods at the end throw
 * {@link ErrnoException} instead and are for the console and tests.
 *
 * <p><b>Process model.</b> A kernel instance runs one application, so there is one descriptor table,
 * one working directory and one umask, shared by every thread, as in OSv, and one user
 * ({@link #setCredentials}). As root (uid 0, the default, as OSv) the permission bits are kept and
 * reported and enforced the way they are for root (execute needs some x bit). Any other uid gets
 * POSIX's checks against the owner, group or other bits: search permission on every directory of a
 * path, read/write on open and truncate, write and search on a directory to create or remove names
 * in it, the sticky bit, ownership for chmod and explicit times (EACCES, EPERM). New files belong
 * to the user. Read-only mounts refuse writes with EROFS either way.
 *
 * <p><b>Memory mappings.</b> {@link #mmap} and {@link #mapFile} hand the mmu a
 * {@link dev.osvj.mmu.FileMapping} over the vnode's page cache of guest-memory frames
 * ({@code MappedPages}), kept coherent with read, write, truncate and punched holes; shared mappings
 * write back on msync and when their last page reference goes.
 *
 * <p><b>Locking</b> is described on {@link Vnode}: per-vnode read/write locks, readers of one file in
 * parallel, directory locks taken parent before child, and two unrelated directories only under the
 * mount's rename lock.
 */
public final class Vfs {
    /** Longest file this VFS accepts (EFBIG past it): 2^40 bytes. */
    public static final long MAX_FILE_SIZE = 1L << 40;
    /** statfs type of pipes (Linux PIPEFS_MAGIC). */
    static final long PIPEFS_MAGIC = 0x50495045L;

    private final KernelClock clock;
    private final DentryCache dcache;
    private final FdTable fds;
    private final PathWalker walker;
    private final Map<String, FileSystemType> types = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<Mount> mounts = new CopyOnWriteArrayList<>();
    private final Object mountLock = new Object();
    private final Mount pipeMount;
    private long nextFsid = 1;
    private long nextPipeIno = 1;

    private volatile Vnode root;
    private volatile Vnode cwd;
    /** Guest memory for file mappings; null until {@link #attachMemory} (then mmap of files is ENODEV). */
    private volatile PhysicalMemory memory;
    private volatile PageAllocator frames;
    private volatile int umask = 022;
    /** The one user's ids ({@code osvj.vfs.uid/gid}); 0 is root, for whom only execute bits count. */
    private volatile int uid;
    private volatile int gid;

    private final LongAdder readCalls = new LongAdder();
    private final LongAdder writeCalls = new LongAdder();
    private final LongAdder bytesRead = new LongAdder();
    private final LongAdder bytesWritten = new LongAdder();
    private final LongAdder opens = new LongAdder();

    /**
     * @param maxFds          size of the descriptor table (EMFILE past it)
     * @param dentryCacheSize most dentries cached at once (0 disables the cache)
     * @param clock           source of file timestamps
     */
    public Vfs(final int maxFds, final int dentryCacheSize, final KernelClock clock) {
        if (maxFds < 3) {
            throw new IllegalArgumentException("maxFds must be >= 3: " + maxFds);
        }
        this.clock = clock;
        this.dcache = new DentryCache(dentryCacheSize);
        this.fds = new FdTable(maxFds);
        this.walker = new PathWalker(this, dcache);
        this.pipeMount = new Mount("pipefs", "pipefs", "pipe:", Map.of(), 0, 0, clock);
        pipeMount.fs = new FileSystem() {
            @Override
            public Vnode root() {
                return null;
            }

            @Override
            public int statfs(final StatFs out) {
                out.type = PIPEFS_MAGIC;
                out.bsize = 4096;
                return 0;
            }
        };
    }

    // ---------------------------------------------------------------- filesystems and mounts

    /** Make a filesystem type mountable; registering a name twice is a bug. */
    public void registerFileSystem(final FileSystemType type) {
        if (types.putIfAbsent(type.name(), type) != null) {
            throw new IllegalStateException("filesystem type registered twice: " + type.name());
        }
    }

    /** Names of the mountable filesystem types. */
    public List<String> fileSystemTypes() {
        return List.copyOf(new java.util.TreeSet<>(types.keySet()));
    }

    /**
     * mount(2): attach a new instance of {@code type} at directory {@code path}. The first mount must be
     * the root ({@code /}). A later mount at {@code /} replaces the root (OSv's {@code pivot_rootfs}:
     * boot mounts ramfs, then a rofs image as the root): the new filesystem covers the old root, paths
     * and the working directory (when it was the old root) start from the new one, and the old root is
     * detached (hidden, and gone from the mount table); nothing may be open or mounted in the old root
     * (EBUSY). Errors: ENODEV unknown type,
     * ENOENT/ENOTDIR path, EBUSY something already mounted there, and whatever the filesystem answers
     * (EINVAL bad image, ENXIO missing device).
     *
     * @param options mount options; {@code ro} mounts read-only
     */
    public int mount(final String type, final String source, final String path, final Map<String, String> options) {
        try {
            final FileSystemType fsType = types.get(type);
            if (fsType == null) {
                return Errno.ENODEV.negative();
            }
            final int flags = options.containsKey("ro") ? Mount.MNT_RDONLY : 0;
            synchronized (mountLock) {
                if (root == null) {
                    PathWalker.checkPath(path);
                    if (!"/".equals(path)) {
                        return Errno.ENOENT.negative();
                    }
                    final Mount m = new Mount(type, source, "/", options, flags, nextFsid++, clock);
                    m.fs = fsType.mount(m, source, options);
                    m.root = m.fs.root();
                    mounts.add(m);
                    cwd = m.root;
                    m.pin();
                    root = m.root;
                    return 0;
                }
                PathWalker.checkPath(path);
                if (isRootPath(path)) {
                    return pivotRoot(fsType, type, source, options, flags);
                }
                final Vnode covered = walker.resolve(cwd, path, true);
                if (!covered.isDir()) {
                    return Errno.ENOTDIR.negative();
                }
                if (covered.mount().root == covered) {
                    return Errno.EBUSY.negative();
                }
                final String at = PathWalker.pathOf(covered, root);
                final Mount m = new Mount(type, source, at, options, flags, nextFsid++, clock);
                m.fs = fsType.mount(m, source, options);
                m.root = m.fs.root();
                m.covered = covered;
                mounts.add(m);
                covered.mountedHere = m;
                return 0;
            }
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    private static boolean isRootPath(final String path) {
        for (int i = 0; i < path.length(); i++) {
            if (path.charAt(i) != '/') {
                return false;
            }
        }
        return true;
    }

    /** Mount a new root over the current one. Caller holds {@link #mountLock}. */
    private int pivotRoot(final FileSystemType fsType, final String type, final String source,
        final Map<String, String> options, final int flags) throws ErrnoException {
        final Vnode oldRoot = root;
        final Mount oldMount = oldRoot.mount();
        if (oldRoot.mountedHere != null) {
            return Errno.EBUSY.negative();
        }
        for (final Mount other : mounts) {
            if (other.covered != null && other.covered.mount() == oldMount) {
                return Errno.EBUSY.negative(); // mounts inside the old root would be cut off
            }
        }
        // The working directory pins the old root's mount once; anything more is an open file.
        final int cwdPins = cwd != null && cwd.mount() == oldMount ? 1 : 0;
        if (oldMount.busy() - cwdPins > 0) {
            return Errno.EBUSY.negative();
        }
        final Mount m = new Mount(type, source, "/", options, flags, nextFsid++, clock);
        m.fs = fsType.mount(m, source, options);
        m.root = m.fs.root();
        m.covered = oldRoot;
        oldRoot.mountedHere = m;
        root = m.root;
        if (cwdPins == 1) {
            setCwd(m.root);
        }
        // The old root can no longer be reached by any path: detach it, as pivot_root and umount -l
        // would, so the mount table (/proc/mounts, df) shows the new root only.
        mounts.remove(oldMount);
        mounts.add(0, m);
        oldMount.fs.unmount();
        return 0;
    }

    /**
     * umount(2). Errors: EINVAL not a mount point, EBUSY the root, open files or a working directory
     * inside, or another mount below it.
     */
    public int umount(final String path) {
        try {
            synchronized (mountLock) {
                final Vnode vp = walker.resolve(cwd, path, true);
                final Mount m = vp.mount();
                if (m.root != vp || !mounts.contains(m)) {
                    return Errno.EINVAL.negative();
                }
                if (m.covered == null || m.root == root || m.busy() > 0) {
                    return Errno.EBUSY.negative();
                }
                for (final Mount other : mounts) {
                    if (other.covered != null && other.covered.mount() == m) {
                        return Errno.EBUSY.negative();
                    }
                }
                final int r = m.fs.unmount();
                if (r < 0) {
                    return r;
                }
                m.covered.mountedHere = null;
                mounts.remove(m);
                return 0;
            }
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /** The mount table, in mount order. */
    public List<Mount> mounts() {
        return List.copyOf(mounts);
    }

    /** The mount that holds {@code path} (following symlinks). */
    public Mount mountOf(final String path) throws ErrnoException {
        return walker.resolve(cwd, path, true).mount();
    }

    Vnode rootVnode() {
        return root;
    }

    // ---------------------------------------------------------------- open, close

    /** open(2); see {@link #openat}. */
    public int open(final String path, final int flags, final int mode) {
        return openat(Posix.AT_FDCWD, path, flags, mode);
    }

    /** open(2) with the default mode 0666 (before umask). */
    public int open(final String path, final int flags) {
        return openat(Posix.AT_FDCWD, path, flags, 0666);
    }

    /**
     * openat(2). Flags: the access mode, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY,
     * O_NOFOLLOW, O_NONBLOCK, O_CLOEXEC, O_PATH. Errors: EMFILE, ENOENT, ENOTDIR, ELOOP,
     * ENAMETOOLONG (walk); EEXIST (O_CREAT|O_EXCL on anything that exists, a dangling symlink too);
     * EISDIR (a directory with write access or O_CREAT, or a trailing slash with O_CREAT); ELOOP
     * (O_NOFOLLOW on a symlink); ENOTDIR (O_DIRECTORY on a non-directory); EINVAL (O_CREAT with
     * O_DIRECTORY); EROFS (write access, O_TRUNC or creation on a read-only mount); EBADF (dirfd).
     */
    public int openat(final int dirfd, final String path, final int flags, final int mode) {
        try {
            PathWalker.checkPath(path);
            if (fds.free() == 0) {
                return Errno.EMFILE.negative();
            }
            if ((flags & Posix.O_CREAT) != 0 && (flags & Posix.O_DIRECTORY) != 0) {
                return Errno.EINVAL.negative();
            }
            final Vnode start = startDir(dirfd, path);
            final boolean nofollow = (flags & Posix.O_NOFOLLOW) != 0;
            final Vnode vp;
            boolean created = false;
            if ((flags & Posix.O_CREAT) != 0) {
                final Vnode[] out = new Vnode[1];
                created = openCreate(start, path, flags, mode, out);
                vp = out[0];
            } else {
                vp = walker.resolve(start, path, !nofollow);
            }
            final int acc = flags & Posix.O_ACCMODE;
            if (vp.type() == VType.VLNK && (flags & Posix.O_PATH) == 0) {
                return Errno.ELOOP.negative();
            }
            if ((flags & Posix.O_DIRECTORY) != 0 && !vp.isDir()) {
                return Errno.ENOTDIR.negative();
            }
            if (vp.isDir() && (acc != Posix.O_RDONLY || (flags & Posix.O_CREAT) != 0) && (flags & Posix.O_PATH) == 0) {
                return Errno.EISDIR.negative();
            }
            final boolean wantsWrite = (flags & Posix.O_PATH) == 0
                && (acc != Posix.O_RDONLY || (flags & Posix.O_TRUNC) != 0);
            if (!created && (flags & Posix.O_PATH) == 0 && uid != 0) {
                final int want = (acc == Posix.O_WRONLY ? 0 : Posix.R_OK)
                    | (acc != Posix.O_RDONLY || (flags & Posix.O_TRUNC) != 0 ? Posix.W_OK : 0);
                final int r = permission(vp, want);
                if (r < 0) {
                    return r;
                }
            }
            if (wantsWrite && !created && vp.type().vfsLocked() && vp.mount().readOnly()) {
                return Errno.EROFS.negative();
            }
            if ((flags & Posix.O_PATH) == 0) {
                final int r = vp.ops().open(vp, flags);
                if (r < 0) {
                    return r;
                }
            }
            if ((flags & Posix.O_TRUNC) != 0 && (flags & Posix.O_PATH) == 0 && vp.type() == VType.VREG && !created
                && vp.size() != 0) {
                final Lock wl = vp.lock().writeLock();
                wl.lock();
                try {
                    final long oldSize = vp.size();
                    final int r = vp.ops().truncate(vp, 0);
                    if (r < 0) {
                        return r;
                    }
                    zeroMapped(vp, 0, oldSize);
                    vp.touchModified();
                } finally {
                    wl.unlock();
                }
            }
            final int kept = flags & ~(Posix.O_CREAT | Posix.O_EXCL | Posix.O_NOCTTY | Posix.O_TRUNC | Posix.O_CLOEXEC);
            final OpenFile f = newOpenFile(vp, kept | Posix.O_LARGEFILE);
            if (freedBeforeOpen(vp)) {
                release(f);
                return Errno.ENOENT.negative();
            }
            final int fd = fds.install(f, 0, (flags & Posix.O_CLOEXEC) != 0 ? Posix.FD_CLOEXEC : 0);
            if (fd < 0) {
                release(f);
            }
            opens.increment();
            return fd;
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /**
     * The O_CREAT part of open: find or create the last component, following a symlink in it (a
     * dangling symlink creates its target, as Linux does) unless O_EXCL or O_NOFOLLOW.
     *
     * @return true when this call created the file
     */
    private boolean openCreate(final Vnode start, final String path, final int flags, final int mode, final Vnode[] out)
        throws ErrnoException {
        int links = 0;
        Vnode from = start;
        String p = path;
        while (true) {
            final Nameidata nd = walker.walk(from, p, true, false);
            if (nd.lastType != PathWalker.LAST_NORM || nd.trailingSlash) {
                throw new ErrnoException(Errno.EISDIR);
            }
            final Vnode dir = nd.dir;
            Vnode existing = walker.lookup(dir, nd.name);
            if (existing == null) {
                final Lock wl = dir.lock().writeLock();
                wl.lock();
                try {
                    if (dir.nlink() == 0) {
                        throw new ErrnoException(Errno.ENOENT);
                    }
                    existing = walker.lookupLocked(dir, nd.name);
                    if (existing == null) {
                        if (dir.mount().readOnly()) {
                            throw new ErrnoException(Errno.EROFS);
                        }
                        if (permission(dir, Posix.W_OK | Posix.X_OK) < 0) {
                            throw new ErrnoException(Errno.EACCES);
                        }
                        final Vnode vp = dir.ops().create(dir, nd.name, mode & ~umask & Posix.S_IALLUGO);
                        own(vp);
                        dir.touchModified(vp.mtimeNs()); // one clock read for the new file and its directory
                        dcache.put(dir, nd.name, vp);
                        out[0] = vp;
                        return true;
                    }
                } finally {
                    wl.unlock();
                }
            }
            if ((flags & Posix.O_EXCL) != 0) {
                throw new ErrnoException(Errno.EEXIST);
            }
            existing = PathWalker.crossMounts(existing);
            if (existing.type() == VType.VLNK) {
                if ((flags & Posix.O_NOFOLLOW) != 0) {
                    throw new ErrnoException(Errno.ELOOP);
                }
                if (++links > Posix.MAXSYMLINKS) {
                    throw new ErrnoException(Errno.ELOOP);
                }
                p = PathWalker.readlink(existing);
                if (p.isEmpty()) {
                    throw new ErrnoException(Errno.ENOENT);
                }
                from = dir;
                continue;
            }
            out[0] = existing;
            return false;
        }
    }

    /**
     * Whether {@code vp} was freed between this open's lookup and its open reference: its last name was
     * unlinked and its last open file closed ({@link #maybeInactive}) after the lookup found it. The open
     * then fails with ENOENT, as if it had come after the unlink. Checked after the reference is taken,
     * under the vnode's read lock: {@link #maybeInactive} checks the open count and frees under the write
     * lock, so either it saw this open's reference and kept the data, or it finished first and this sees
     * {@code inactivated}. (Without this check a reader could read a file whose data was already freed.)
     */
    private static boolean freedBeforeOpen(final Vnode vp) {
        final Lock rl = vp.lock().readLock();
        rl.lock();
        try {
            return vp.inactivated;
        } finally {
            rl.unlock();
        }
    }

    private OpenFile newOpenFile(final Vnode vp, final int flags) {
        final OpenFile f = new OpenFile(vp, flags);
        vp.openIncrement();
        vp.mount().pin();
        return f;
    }

    /** close(2). Errors: EBADF. */
    public int close(final int fd) {
        final OpenFile f = fds.remove(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        release(f);
        return 0;
    }

    /** Drop one descriptor's reference; the last one closes the file (and may free an unlinked file). */
    private void release(final OpenFile f) {
        if (f.releaseRef() > 0) {
            return;
        }
        final Vnode vp = f.vnode;
        if ((f.flags & Posix.O_PATH) == 0) {
            vp.ops().close(vp, f.flags);
        }
        vp.mount().unpin();
        if (vp.openDecrement() == 0 && vp.nlink() == 0) {
            maybeInactive(vp);
        }
    }

    static void maybeInactive(final Vnode vp) {
        final Lock wl = vp.lock().writeLock();
        wl.lock();
        try {
            final MappedPages mapped = vp.mapped;
            if (!vp.inactivated && vp.nlink() == 0 && vp.openCount() == 0
                && (mapped == null || mapped.mappings.get() == 0)) {
                vp.inactivated = true;
                vp.ops().inactive(vp);
            }
        } finally {
            wl.unlock();
        }
    }

    // ---------------------------------------------------------------- read and write

    /** read(2) into {@code buf[off, off+len)}. Errors: EBADF (not open for reading), EISDIR, EINVAL, EAGAIN. */
    public long read(final int fd, final byte[] buf, final int off, final int len) {
        if (off < 0 || len < 0 || off > buf.length - len) {
            return Errno.EFAULT.negative();
        }
        return read(fd, ByteBuffer.wrap(buf, off, len));
    }

    /** read(2) into {@code dst}'s remaining bytes, advancing its position. */
    public long read(final int fd, final ByteBuffer dst) {
        final OpenFile f = fds.get(fd);
        if (f == null || !f.readable()) {
            return Errno.EBADF.negative();
        }
        final Vnode vp = f.vnode;
        if (vp.isDir()) {
            return Errno.EISDIR.negative();
        }
        readCalls.increment();
        if (!f.seekable() || vp.type() == VType.VCHR) {
            return countRead(vp.ops().read(vp, 0, dst, f.flags));
        }
        f.lockPosition();
        try {
            final long n = readAt(vp, f.offset, dst, f.flags);
            if (n > 0) {
                f.offset += n;
            }
            return countRead(n);
        } finally {
            f.unlockPosition();
        }
    }

    /** pread(2). Errors: EBADF, EISDIR, EINVAL (negative offset), ESPIPE (pipe). */
    public long pread(final int fd, final byte[] buf, final int off, final int len, final long position) {
        if (off < 0 || len < 0 || off > buf.length - len) {
            return Errno.EFAULT.negative();
        }
        return pread(fd, ByteBuffer.wrap(buf, off, len), position);
    }

    public long pread(final int fd, final ByteBuffer dst, final long position) {
        final OpenFile f = fds.get(fd);
        if (f == null || !f.readable()) {
            return Errno.EBADF.negative();
        }
        if (!f.seekable()) {
            return Errno.ESPIPE.negative();
        }
        if (position < 0) {
            return Errno.EINVAL.negative();
        }
        final Vnode vp = f.vnode;
        if (vp.isDir()) {
            return Errno.EISDIR.negative();
        }
        readCalls.increment();
        return countRead(readAt(vp, position, dst, f.flags));
    }

    private long countRead(final long n) {
        if (n > 0) {
            bytesRead.add(n);
        }
        return n;
    }

    private static long readAt(final Vnode vp, final long offset, final ByteBuffer dst, final int flags) {
        if (!vp.type().vfsLocked()) {
            return vp.ops().read(vp, offset, dst, flags);
        }
        final VnodeLock lock = vp.vlock();
        final int slot = lock.tryFastRead();
        if (slot >= 0) {
            try {
                return readLocked(vp, offset, dst, flags);
            } finally {
                lock.endFastRead(slot);
            }
        }
        final Lock rl = lock.readLock();
        rl.lock();
        try {
            return readLocked(vp, offset, dst, flags);
        } finally {
            rl.unlock();
        }
    }

    /** The read VOP plus the overlay of mapped pages; caller holds the vnode's read side (fast or not). */
    private static long readLocked(final Vnode vp, final long offset, final ByteBuffer dst, final int flags) {
        final int start = dst.position();
        final long n = vp.ops().read(vp, offset, dst, flags);
        final MappedPages mapped = vp.mapped;
        if (mapped != null) {
            mapped.overlay(offset, dst, start, n);
        }
        return n;
    }

    /** write(2). Errors: EBADF (not open for writing), EPIPE, EAGAIN, EFBIG, ENOSPC. */
    public long write(final int fd, final byte[] buf, final int off, final int len) {
        if (off < 0 || len < 0 || off > buf.length - len) {
            return Errno.EFAULT.negative();
        }
        return write(fd, ByteBuffer.wrap(buf, off, len));
    }

    public long write(final int fd, final ByteBuffer src) {
        final OpenFile f = fds.get(fd);
        if (f == null || !f.writable()) {
            return Errno.EBADF.negative();
        }
        final Vnode vp = f.vnode;
        writeCalls.increment();
        if (!f.seekable() || vp.type() == VType.VCHR) {
            return countWrite(vp.ops().write(vp, 0, src, f.flags));
        }
        f.lockPosition();
        try {
            return countWrite(writeAt(vp, f.offset, src, f.flags, (f.flags & Posix.O_APPEND) != 0, f));
        } finally {
            f.unlockPosition();
        }
    }

    /** pwrite(2). As Linux, a file opened with O_APPEND appends regardless of {@code position}. */
    public long pwrite(final int fd, final byte[] buf, final int off, final int len, final long position) {
        if (off < 0 || len < 0 || off > buf.length - len) {
            return Errno.EFAULT.negative();
        }
        return pwrite(fd, ByteBuffer.wrap(buf, off, len), position);
    }

    public long pwrite(final int fd, final ByteBuffer src, final long position) {
        final OpenFile f = fds.get(fd);
        if (f == null || !f.writable()) {
            return Errno.EBADF.negative();
        }
        if (!f.seekable()) {
            return Errno.ESPIPE.negative();
        }
        if (position < 0) {
            return Errno.EINVAL.negative();
        }
        writeCalls.increment();
        return countWrite(writeAt(f.vnode, position, src, f.flags, (f.flags & Posix.O_APPEND) != 0, null));
    }

    private long countWrite(final long n) {
        if (n > 0) {
            bytesWritten.add(n);
        }
        return n;
    }

    /**
     * Write at {@code offset} (or at the end when appending) under the vnode's write lock; on success
     * move {@code file}'s offset (when given; the caller holds its position lock) past the bytes written.
     */
    private static long writeAt(final Vnode vp, final long offset, final ByteBuffer src, final int flags,
        final boolean append, final OpenFile file) {
        if (!vp.type().vfsLocked()) {
            return vp.ops().write(vp, offset, src, flags);
        }
        final Lock wl = vp.lock().writeLock();
        wl.lock();
        try {
            final long at = append ? vp.size() : offset;
            if (src.remaining() == 0) {
                return 0;
            }
            if (at + src.remaining() > MAX_FILE_SIZE) {
                return Errno.EFBIG.negative();
            }
            final int start = src.position();
            final long n = vp.ops().write(vp, at, src, flags);
            if (n > 0) {
                final MappedPages mapped = vp.mapped;
                if (mapped != null) {
                    mapped.update(at, src, start, n);
                }
                vp.touchModified();
                if (file != null) {
                    file.offset = at + n;
                }
            }
            return n;
        } finally {
            wl.unlock();
        }
    }

    /** readv(2). Errors: as read, plus EINVAL for more than {@link Posix#IOV_MAX} buffers. */
    public long readv(final int fd, final ByteBuffer[] iov) {
        if (iov.length > Posix.IOV_MAX) {
            return Errno.EINVAL.negative();
        }
        final OpenFile f = fds.get(fd);
        if (f == null || !f.readable()) {
            return Errno.EBADF.negative();
        }
        if (f.vnode.isDir()) {
            return Errno.EISDIR.negative();
        }
        long total = 0;
        for (final ByteBuffer b : iov) {
            if (!b.hasRemaining()) {
                continue;
            }
            final int want = b.remaining();
            final long n = read(fd, b);
            if (n < 0) {
                return total > 0 ? total : n;
            }
            total += n;
            if (n < want) {
                break;
            }
        }
        return total;
    }

    /** writev(2). Errors: as write, plus EINVAL for more than {@link Posix#IOV_MAX} buffers. */
    public long writev(final int fd, final ByteBuffer[] iov) {
        if (iov.length > Posix.IOV_MAX) {
            return Errno.EINVAL.negative();
        }
        final OpenFile f = fds.get(fd);
        if (f == null || !f.writable()) {
            return Errno.EBADF.negative();
        }
        // One position lock and one vnode lock for the whole vector, so it lands in one piece.
        final Vnode vp = f.vnode;
        if (!f.seekable() || vp.type() == VType.VCHR) {
            long total = 0;
            for (final ByteBuffer b : iov) {
                final long n = vp.ops().write(vp, 0, b, f.flags);
                if (n < 0) {
                    return total > 0 ? total : n;
                }
                total += n;
            }
            return countWrite(total);
        }
        f.lockPosition();
        final Lock wl = vp.lock().writeLock();
        wl.lock();
        try {
            long at = (f.flags & Posix.O_APPEND) != 0 ? vp.size() : f.offset;
            long total = 0;
            for (final ByteBuffer b : iov) {
                if (!b.hasRemaining()) {
                    continue;
                }
                if (at + b.remaining() > MAX_FILE_SIZE) {
                    return total > 0 ? total : Errno.EFBIG.negative();
                }
                final int start = b.position();
                final long n = vp.ops().write(vp, at, b, f.flags);
                if (n < 0) {
                    return total > 0 ? total : n;
                }
                final MappedPages mapped = vp.mapped;
                if (mapped != null) {
                    mapped.update(at, b, start, n);
                }
                at += n;
                total += n;
            }
            if (total > 0) {
                vp.touchModified();
                f.offset = at;
            }
            writeCalls.increment();
            return countWrite(total);
        } finally {
            wl.unlock();
            f.unlockPosition();
        }
    }

    /**
     * lseek(2) with SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE. Errors: EBADF, ESPIPE (pipe),
     * EINVAL (bad whence, negative result), ENXIO (DATA/HOLE at or past the end), EOVERFLOW.
     */
    public long lseek(final int fd, final long offset, final int whence) {
        final OpenFile f = fds.get(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        if (!f.seekable()) {
            return Errno.ESPIPE.negative();
        }
        final Vnode vp = f.vnode;
        if (vp.type() == VType.VCHR) {
            return 0;
        }
        f.lockPosition();
        try {
            final long target;
            switch (whence) {
                case Posix.SEEK_SET -> target = offset;
                case Posix.SEEK_CUR -> {
                    target = f.offset + offset;
                    if (((f.offset ^ target) & (offset ^ target)) < 0) {
                        return Errno.EOVERFLOW.negative();
                    }
                }
                case Posix.SEEK_END -> {
                    target = vp.size() + offset;
                    if (((vp.size() ^ target) & (offset ^ target)) < 0) {
                        return Errno.EOVERFLOW.negative();
                    }
                }
                case Posix.SEEK_DATA, Posix.SEEK_HOLE -> {
                    if (offset < 0) {
                        return Errno.ENXIO.negative();
                    }
                    final long r = seekLocked(vp, offset, whence);
                    if (r >= 0) {
                        f.offset = r;
                    }
                    return r;
                }
                default -> {
                    return Errno.EINVAL.negative();
                }
            }
            if (target < 0) {
                return Errno.EINVAL.negative();
            }
            final long r = seekLocked(vp, target, whence);
            if (r >= 0) {
                f.offset = r;
            }
            return r;
        } finally {
            f.unlockPosition();
        }
    }

    private static long seekLocked(final Vnode vp, final long offset, final int whence) {
        final Lock rl = vp.lock().readLock();
        rl.lock();
        try {
            return vp.ops().seek(vp, offset, whence);
        } finally {
            rl.unlock();
        }
    }

    // ---------------------------------------------------------------- memory mappings

    /**
     * Give the VFS guest memory for the frames of file mappings (the mmu's RAM and page allocator;
     * the VFS subsystem does this at boot when the mmu is there). Until then mapping a file is ENODEV.
     */
    public void attachMemory(final PhysicalMemory memory, final PageAllocator frames) {
        this.frames = frames;
        this.memory = memory;
    }

    /**
     * The file of {@code fd} as the mmu maps it: its pages come from the VFS's page cache of the vnode
     * (frames of guest memory shared by every mapping of the file, kept coherent with read and write;
     * see {@code MappedPages}). The mapping is writable (for a shared {@code PROT_WRITE} mapping)
     * when the descriptor was opened for writing on a writable mount.
     *
     * @throws ErrnoException EBADF ({@code fd} not open, or an O_PATH descriptor), EACCES (not open
     *     for reading: mmap needs read access), ENODEV (not a regular file, a filesystem without page
     *     access, or no guest memory attached)
     */
    public FileMapping mapFile(final int fd) throws ErrnoException {
        final OpenFile f = fds.get(fd);
        if (f == null || (f.flags & Posix.O_PATH) != 0) {
            throw new ErrnoException(Errno.EBADF);
        }
        final Vnode vp = f.vnode;
        if (vp.type() != VType.VREG || memory == null) {
            throw new ErrnoException(Errno.ENODEV);
        }
        if (!f.readable()) {
            throw new ErrnoException(Errno.EACCES);
        }
        MappedPages pages = vp.mapped;
        if (pages == null) {
            synchronized (vp) {
                pages = vp.mapped;
                if (pages == null) {
                    pages = new MappedPages(memory, frames);
                    vp.mapped = pages;
                }
            }
        }
        final Lock rl = vp.lock().readLock();
        rl.lock();
        try {
            vp.ops().cache(vp, 0); // can this filesystem give pages at all? (ENODEV from procfs, devices)
        } finally {
            rl.unlock();
        }
        return new VnodeMapping(vp, pages, f.writable() && !vp.mount().readOnly());
    }

    /**
     * mmap(2) of a file (or anonymous memory with {@code MAP_ANONYMOUS}, where {@code fd} is ignored)
     * into {@code space}. Errors in Linux's order: EINVAL (offset not a multiple of 4096), EBADF,
     * ENODEV, EACCES (see {@link #mapFile}; also a shared writable mapping of a descriptor not open
     * for writing), then the address space's (EINVAL length 0 or bad flags, ENOMEM, EOVERFLOW).
     *
     * @return the mapping's address, or {@code -errno}
     */
    public long mmap(final AddressSpace space, final long addr, final long length, final int prot, final int flags,
        final int fd, final long offset) {
        if ((flags & Mman.MAP_ANONYMOUS) != 0) {
            return space.mmap(addr, length, prot, flags);
        }
        if ((offset & (MappedPages.PAGE - 1)) != 0) {
            return Errno.EINVAL.negative();
        }
        final FileMapping mapping;
        try {
            mapping = mapFile(fd);
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
        return space.mmap(addr, length, prot, flags, mapping, offset);
    }

    /** The vnode of an open descriptor, or null (white-box tests). */
    Vnode vnodeOf(final int fd) {
        final OpenFile f = fds.get(fd);
        return f == null ? null : f.vnode;
    }

    /** Frames held for file mappings of the file at {@code path} (tests, /proc). */
    int mappedFrames(final String path) throws ErrnoException {
        final MappedPages pages = walker.resolve(cwd, path, true).mapped;
        return pages == null ? 0 : pages.size();
    }

    // ---------------------------------------------------------------- attributes

    /** stat(2). Errors: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG. */
    public int stat(final String path, final Stat out) {
        return fstatat(Posix.AT_FDCWD, path, out, 0);
    }

    /** lstat(2): a symlink itself. */
    public int lstat(final String path, final Stat out) {
        return fstatat(Posix.AT_FDCWD, path, out, Posix.AT_SYMLINK_NOFOLLOW);
    }

    /** fstat(2). Errors: EBADF. */
    public int fstat(final int fd, final Stat out) {
        final OpenFile f = fds.get(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        return fill(f.vnode, out);
    }

    /** fstatat(2) with AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH. Errors: as stat, EBADF, EINVAL (flags). */
    public int fstatat(final int dirfd, final String path, final Stat out, final int flags) {
        try {
            if ((flags & ~(Posix.AT_SYMLINK_NOFOLLOW | Posix.AT_EMPTY_PATH)) != 0) {
                return Errno.EINVAL.negative();
            }
            if (path != null && path.isEmpty() && (flags & Posix.AT_EMPTY_PATH) != 0) {
                return dirfd == Posix.AT_FDCWD ? fill(cwd, out) : fstat(dirfd, out);
            }
            PathWalker.checkPath(path);
            final Vnode vp = walker.resolve(startDir(dirfd, path), path, (flags & Posix.AT_SYMLINK_NOFOLLOW) == 0);
            return fill(vp, out);
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    private static int fill(final Vnode vp, final Stat st) {
        st.dev = vp.mount().fsid();
        st.ino = vp.ino();
        st.mode = vp.mode();
        st.nlink = vp.nlink();
        st.uid = vp.uid();
        st.gid = vp.gid();
        st.rdev = vp.rdev();
        st.size = vp.size();
        st.blksize = 4096;
        st.blocks = (vp.size() + 511) / 512;
        st.atimeSec = Math.floorDiv(vp.atimeNs(), 1_000_000_000L);
        st.atimeNsec = Math.floorMod(vp.atimeNs(), 1_000_000_000L);
        st.mtimeSec = Math.floorDiv(vp.mtimeNs(), 1_000_000_000L);
        st.mtimeNsec = Math.floorMod(vp.mtimeNs(), 1_000_000_000L);
        st.ctimeSec = Math.floorDiv(vp.ctimeNs(), 1_000_000_000L);
        st.ctimeNsec = Math.floorMod(vp.ctimeNs(), 1_000_000_000L);
        if (!vp.type().vfsLocked()) {
            return vp.ops().getattr(vp, st);
        }
        final Lock rl = vp.lock().readLock();
        rl.lock();
        try {
            return vp.ops().getattr(vp, st);
        } finally {
            rl.unlock();
        }
    }

    /** truncate(2). Errors: ENOENT..., EISDIR, EINVAL (negative, not a regular file), EROFS, EFBIG. */
    public int truncate(final String path, final long length) {
        try {
            final Vnode vp = walker.resolve(cwd, path, true);
            if (vp.isDir()) {
                return Errno.EISDIR.negative();
            }
            if (length < 0 || vp.type() != VType.VREG) {
                return Errno.EINVAL.negative();
            }
            final int denied = permission(vp, Posix.W_OK);
            if (denied < 0) {
                return denied;
            }
            if (vp.mount().readOnly()) {
                return Errno.EROFS.negative();
            }
            return truncateLocked(vp, length);
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /** ftruncate(2). Errors: EBADF, EINVAL (negative, not open for writing, not a regular file), EFBIG. */
    public int ftruncate(final int fd, final long length) {
        final OpenFile f = fds.get(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        if (length < 0 || !f.writable() || f.vnode.type() != VType.VREG) {
            return Errno.EINVAL.negative();
        }
        return truncateLocked(f.vnode, length);
    }

    /** Bytes {@code [from, to)} left the file (truncate, hole): clear them in mapped frames too. Write lock held. */
    private static void zeroMapped(final Vnode vp, final long from, final long to) {
        final MappedPages mapped = vp.mapped;
        if (mapped != null) {
            mapped.zero(from, Math.max(to, (from + MappedPages.PAGE - 1) & ~(long)(MappedPages.PAGE - 1)));
        }
    }

    private static int truncateLocked(final Vnode vp, final long length) {
        if (length > MAX_FILE_SIZE) {
            return Errno.EFBIG.negative();
        }
        final Lock wl = vp.lock().writeLock();
        wl.lock();
        try {
            final long oldSize = vp.size();
            final int r = vp.ops().truncate(vp, length);
            if (r == 0) {
                zeroMapped(vp, length, oldSize);
                vp.touchModified();
            }
            return r;
        } finally {
            wl.unlock();
        }
    }

    /**
     * fallocate(2): mode 0 allocates (and extends), KEEP_SIZE allocates without extending,
     * PUNCH_HOLE|KEEP_SIZE deallocates (reads as zeros). Errors, in Linux's order: EINVAL (offset &lt; 0
     * or length &lt;= 0), EOPNOTSUPP (unknown mode, PUNCH_HOLE without KEEP_SIZE), EBADF (not open for
     * writing), ESPIPE (pipe), EISDIR, ENODEV (not a regular file), EFBIG.
     */
    public int fallocate(final int fd, final int mode, final long offset, final long length) {
        final OpenFile f = fds.get(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        if (offset < 0 || length <= 0) {
            return Errno.EINVAL.negative();
        }
        if ((mode & ~(Posix.FALLOC_FL_KEEP_SIZE | Posix.FALLOC_FL_PUNCH_HOLE)) != 0) {
            return Errno.EOPNOTSUPP.negative();
        }
        if ((mode & Posix.FALLOC_FL_PUNCH_HOLE) != 0 && (mode & Posix.FALLOC_FL_KEEP_SIZE) == 0) {
            return Errno.EOPNOTSUPP.negative();
        }
        if (!f.writable()) {
            return Errno.EBADF.negative();
        }
        final Vnode vp = f.vnode;
        if (vp.type() == VType.VFIFO) {
            return Errno.ESPIPE.negative();
        }
        if (vp.isDir()) {
            return Errno.EISDIR.negative();
        }
        if (vp.type() != VType.VREG) {
            return Errno.ENODEV.negative();
        }
        if (offset + length < 0 || offset + length > MAX_FILE_SIZE) {
            return Errno.EFBIG.negative();
        }
        final Lock wl = vp.lock().writeLock();
        wl.lock();
        try {
            final int r = vp.ops().fallocate(vp, mode, offset, length);
            if (r == 0 && (mode & Posix.FALLOC_FL_PUNCH_HOLE) != 0) {
                zeroMapped(vp, offset, Math.min(offset + length, vp.size()));
                vp.touchModified();
            }
            return r;
        } finally {
            wl.unlock();
        }
    }

    /** fsync(2). Errors: EBADF, EINVAL (pipe). */
    public int fsync(final int fd) {
        final OpenFile f = fds.get(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        final Vnode vp = f.vnode;
        if (!vp.type().vfsLocked()) {
            return vp.ops().fsync(vp);
        }
        final Lock rl = vp.lock().readLock();
        rl.lock();
        try {
            return vp.ops().fsync(vp);
        } finally {
            rl.unlock();
        }
    }

    /** fdatasync(2): as fsync (no filesystem here separates data from metadata). */
    public int fdatasync(final int fd) {
        return fsync(fd);
    }

    /** chmod(2). Errors: ENOENT..., EROFS. */
    public int chmod(final String path, final int mode) {
        return fchmodat(Posix.AT_FDCWD, path, mode, 0);
    }

    /** fchmodat(2) (flags must be 0: Linux does not change a symlink's mode). */
    public int fchmodat(final int dirfd, final String path, final int mode, final int flags) {
        try {
            if (flags != 0) {
                return flags == Posix.AT_SYMLINK_NOFOLLOW ? Errno.EOPNOTSUPP.negative() : Errno.EINVAL.negative();
            }
            PathWalker.checkPath(path);
            final Vnode vp = walker.resolve(startDir(dirfd, path), path, true);
            if (!owns(vp)) {
                return Errno.EPERM.negative();
            }
            return setattr(vp, VnodeOps.ATTR_MODE, mode, 0, 0);
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /** fchmod(2). Errors: EBADF, EROFS. */
    public int fchmod(final int fd, final int mode) {
        final OpenFile f = fds.get(fd);
        if (f == null || (f.flags & Posix.O_PATH) != 0) {
            return Errno.EBADF.negative();
        }
        if (!owns(f.vnode)) {
            return Errno.EPERM.negative();
        }
        return setattr(f.vnode, VnodeOps.ATTR_MODE, mode, 0, 0);
    }

    /** The user may change {@code vp}'s mode and set its times explicitly: root, or the owner. */
    private boolean owns(final Vnode vp) {
        final int u = uid;
        return u == 0 || vp.uid() == u;
    }

    private static int setattr(final Vnode vp, final int mask, final int mode, final long atime, final long mtime) {
        if (vp.mount().readOnly()) {
            return Errno.EROFS.negative();
        }
        if (!vp.type().vfsLocked()) {
            return vp.ops().setattr(vp, mask, mode, atime, mtime);
        }
        final Lock wl = vp.lock().writeLock();
        wl.lock();
        try {
            return vp.ops().setattr(vp, mask, mode, atime, mtime);
        } finally {
            wl.unlock();
        }
    }

    /**
     * utimensat(2): set access and modification times, each given as seconds and nanoseconds, where a
     * nanosecond value of {@link Posix#UTIME_NOW} means now and {@link Posix#UTIME_OMIT} leaves the time
     * alone. A null {@code path} works on {@code dirfd} itself (futimens). Errors: EINVAL (nanoseconds
     * out of range, bad flags), EBADF, ENOENT..., EROFS.
     */
    public int utimensat(final int dirfd, final String path, final long atimeSec, final long atimeNsec,
        final long mtimeSec, final long mtimeNsec, final int flags) {
        try {
            if ((flags & ~Posix.AT_SYMLINK_NOFOLLOW) != 0 || !validNsec(atimeNsec) || !validNsec(mtimeNsec)) {
                return Errno.EINVAL.negative();
            }
            if (atimeNsec == Posix.UTIME_OMIT && mtimeNsec == Posix.UTIME_OMIT) {
                return 0; // Linux returns before looking the path up
            }
            final Vnode vp;
            if (path == null) {
                if (dirfd == Posix.AT_FDCWD) {
                    return Errno.EFAULT.negative();
                }
                final OpenFile f = fds.get(dirfd);
                if (f == null) {
                    return Errno.EBADF.negative();
                }
                vp = f.vnode;
            } else {
                PathWalker.checkPath(path);
                vp = walker.resolve(startDir(dirfd, path), path, (flags & Posix.AT_SYMLINK_NOFOLLOW) == 0);
            }
            final boolean explicit = atimeNsec != Posix.UTIME_NOW && atimeNsec != Posix.UTIME_OMIT
                || mtimeNsec != Posix.UTIME_NOW && mtimeNsec != Posix.UTIME_OMIT;
            if (!owns(vp)) {
                if (explicit) {
                    return Errno.EPERM.negative();
                }
                final int denied = permission(vp, Posix.W_OK);
                if (denied < 0) {
                    return denied;
                }
            }
            final long now = clock.realtimeNanos();
            int mask = 0;
            long at = 0;
            long mt = 0;
            if (atimeNsec != Posix.UTIME_OMIT) {
                mask |= VnodeOps.ATTR_ATIME;
                at = atimeNsec == Posix.UTIME_NOW ? now : atimeSec * 1_000_000_000L + atimeNsec;
            }
            if (mtimeNsec != Posix.UTIME_OMIT) {
                mask |= VnodeOps.ATTR_MTIME;
                mt = mtimeNsec == Posix.UTIME_NOW ? now : mtimeSec * 1_000_000_000L + mtimeNsec;
            }
            return setattr(vp, mask, 0, at, mt);
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    private static boolean validNsec(final long nsec) {
        return nsec == Posix.UTIME_NOW || nsec == Posix.UTIME_OMIT || nsec >= 0 && nsec < 1_000_000_000L;
    }

    /** access(2). */
    public int access(final String path, final int mode) {
        return faccessat(Posix.AT_FDCWD, path, mode, 0);
    }

    /**
     * faccessat(2): F_OK existence, W_OK fails with EROFS on a read-only mount, then the permission
     * bits ({@link #permission}: for root, X_OK needs an execute bit on non-directories). Errors:
     * EACCES, EROFS, EINVAL (mode, flags), ENOENT...
     */
    public int faccessat(final int dirfd, final String path, final int mode, final int flags) {
        try {
            if ((mode & ~(Posix.R_OK | Posix.W_OK | Posix.X_OK)) != 0
                || (flags & ~(Posix.AT_EACCESS | Posix.AT_SYMLINK_NOFOLLOW | Posix.AT_EMPTY_PATH)) != 0) {
                return Errno.EINVAL.negative();
            }
            PathWalker.checkPath(path);
            final Vnode vp = walker.resolve(startDir(dirfd, path), path, (flags & Posix.AT_SYMLINK_NOFOLLOW) == 0);
            if ((mode & Posix.W_OK) != 0 && vp.type().vfsLocked() && vp.mount().readOnly()) {
                return Errno.EROFS.negative();
            }
            return permission(vp, mode);
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /**
     * The user and group every call runs as ({@code osvj.vfs.uid}, {@code osvj.vfs.gid}): 0 is root.
     * Set at boot, before the application runs.
     */
    public void setCredentials(final int uid, final int gid) {
        this.uid = uid;
        this.gid = gid;
    }

    int uid() {
        return uid;
    }

    /**
     * POSIX's permission check of {@code want} (a mask of {@link Posix#R_OK}, {@link Posix#W_OK},
     * {@link Posix#X_OK}) on {@code vp} for the one user: the owner's bits when the user owns it, else
     * the group's when the group matches, else the others'. Root passes except for execute on a
     * non-directory without any x bit.
     *
     * @return 0 or -EACCES
     */
    int permission(final Vnode vp, final int want) {
        final int mode = vp.mode();
        final int u = uid;
        if (u == 0) {
            return (want & Posix.X_OK) != 0 && !vp.isDir() && (mode & 0111) == 0 ? Errno.EACCES.negative() : 0;
        }
        final int bits = vp.uid() == u ? (mode >> 6) & 7 : vp.gid() == gid ? (mode >> 3) & 7 : mode & 7;
        return (want & ~bits) == 0 ? 0 : Errno.EACCES.negative();
    }

    /** May the user remove or replace {@code vp} in {@code dir}? -EACCES (no write+search), -EPERM (sticky), 0. */
    private int mayDelete(final Vnode dir, final Vnode vp) {
        final int r = permission(dir, Posix.W_OK | Posix.X_OK);
        if (r < 0) {
            return r;
        }
        final int u = uid;
        if (u != 0 && (dir.mode() & Posix.S_ISVTX) != 0 && dir.uid() != u && vp.uid() != u) {
            return Errno.EPERM.negative();
        }
        return 0;
    }

    /** New files, directories and links belong to the user. */
    private void own(final Vnode vp) {
        if (uid != 0 || gid != 0) {
            vp.setOwner(uid, gid);
        }
    }

    /** umask(2): set the creation mask, return the old one. */
    public int umask(final int mask) {
        final int old = umask;
        umask = mask & 0777;
        return old;
    }

    // ---------------------------------------------------------------- names

    /** mkdir(2). Errors: EEXIST (also for "/", "." and a dangling symlink), ENOENT, ENOTDIR, EROFS. */
    public int mkdir(final String path, final int mode) {
        return mkdirat(Posix.AT_FDCWD, path, mode);
    }

    public int mkdirat(final int dirfd, final String path, final int mode) {
        try {
            final Nameidata nd = walker.walk(startDir(dirfd, path), path, true, false);
            if (nd.lastType != PathWalker.LAST_NORM) {
                return Errno.EEXIST.negative();
            }
            final Vnode dir = nd.dir;
            final Lock wl = dir.lock().writeLock();
            wl.lock();
            try {
                if (dir.nlink() == 0) {
                    return Errno.ENOENT.negative();
                }
                if (walker.lookupLocked(dir, nd.name) != null) {
                    return Errno.EEXIST.negative();
                }
                if (dir.mount().readOnly()) {
                    return Errno.EROFS.negative();
                }
                final int denied = permission(dir, Posix.W_OK | Posix.X_OK);
                if (denied < 0) {
                    return denied;
                }
                final Vnode vp = dir.ops().mkdir(dir, nd.name, mode & ~umask & Posix.S_IALLUGO);
                own(vp);
                vp.parent = dir;
                vp.name = nd.name;
                dir.touchModified();
                dcache.put(dir, nd.name, vp);
                return 0;
            } finally {
                wl.unlock();
            }
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /**
     * rmdir(2). Errors: ENOTDIR, ENOTEMPTY (also for a last component {@code ..}), EINVAL (last
     * component {@code .}), EBUSY (the root, a mount point), ENOENT, EROFS.
     */
    public int rmdir(final String path) {
        return rmdirAt(Posix.AT_FDCWD, path);
    }

    private int rmdirAt(final int dirfd, final String path) {
        try {
            final Nameidata nd = walker.walk(startDir(dirfd, path), path, true, false);
            switch (nd.lastType) {
                case PathWalker.LAST_DOT -> {
                    return Errno.EINVAL.negative();
                }
                case PathWalker.LAST_DOTDOT -> {
                    return Errno.ENOTEMPTY.negative();
                }
                case PathWalker.LAST_ROOT -> {
                    return Errno.EBUSY.negative();
                }
                default -> {
                }
            }
            final Vnode dir = nd.dir;
            if (dir.mount().readOnly()) {
                return Errno.EROFS.negative();
            }
            final Lock wl = dir.lock().writeLock();
            wl.lock();
            try {
                final Vnode vp = walker.lookupLocked(dir, nd.name);
                if (vp == null) {
                    return Errno.ENOENT.negative();
                }
                if (!vp.isDir()) {
                    return Errno.ENOTDIR.negative();
                }
                final int denied = mayDelete(dir, vp);
                if (denied < 0) {
                    return denied;
                }
                if (vp.mountedHere != null) {
                    return Errno.EBUSY.negative();
                }
                final Lock vl = vp.lock().writeLock();
                vl.lock();
                try {
                    if (!isEmpty(vp)) {
                        return Errno.ENOTEMPTY.negative();
                    }
                    final int r = dir.ops().rmdir(dir, vp, nd.name);
                    if (r < 0) {
                        return r;
                    }
                    dcache.remove(dir, nd.name);
                    dcache.purge(vp);
                    dir.touchModified();
                    return 0;
                } finally {
                    vl.unlock();
                }
            } finally {
                wl.unlock();
            }
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /** True when directory {@code dir} has no entries; caller holds its lock. */
    private static boolean isEmpty(final Vnode dir) {
        final boolean[] any = new boolean[1];
        final long r = dir.ops().readdir(dir, 0, (ino, name, type, next) -> {
            any[0] = true;
            return false;
        });
        return r >= 0 && !any[0];
    }

    /** unlink(2). Errors: EISDIR (a directory, or "."/"/"), ENOTDIR (trailing slash), ENOENT, EROFS. */
    public int unlink(final String path) {
        return unlinkat(Posix.AT_FDCWD, path, 0);
    }

    /** unlinkat(2); AT_REMOVEDIR makes it rmdir. Errors: as unlink/rmdir, EINVAL (flags). */
    public int unlinkat(final int dirfd, final String path, final int flags) {
        if ((flags & ~Posix.AT_REMOVEDIR) != 0) {
            return Errno.EINVAL.negative();
        }
        if ((flags & Posix.AT_REMOVEDIR) != 0) {
            return rmdirAt(dirfd, path);
        }
        try {
            final Nameidata nd = walker.walk(startDir(dirfd, path), path, true, false);
            if (nd.lastType != PathWalker.LAST_NORM) {
                return Errno.EISDIR.negative();
            }
            final Vnode dir = nd.dir;
            final Lock wl = dir.lock().writeLock();
            wl.lock();
            try {
                final Vnode vp = walker.lookupLocked(dir, nd.name);
                if (vp == null) {
                    return Errno.ENOENT.negative();
                }
                final int denied = mayDelete(dir, vp);
                if (denied < 0) {
                    return denied;
                }
                if (vp.isDir()) {
                    return Errno.EISDIR.negative();
                }
                if (nd.trailingSlash) {
                    return Errno.ENOTDIR.negative();
                }
                if (dir.mount().readOnly()) {
                    return Errno.EROFS.negative();
                }
                final int r;
                final Lock vl = vp.lock().writeLock();
                vl.lock();
                try {
                    r = dir.ops().remove(dir, vp, nd.name);
                    if (r < 0) {
                        return r;
                    }
                    dcache.remove(dir, nd.name);
                    final long now = dir.mount().now();
                    dir.touchModified(now);
                    vp.touchChanged(now);
                } finally {
                    vl.unlock();
                }
                if (vp.nlink() == 0 && vp.openCount() == 0) {
                    maybeInactive(vp);
                }
                return 0;
            } finally {
                wl.unlock();
            }
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /** link(2). Errors: ENOENT, EEXIST, EPERM (a directory), EXDEV, EROFS, ENOTDIR. */
    public int link(final String oldpath, final String newpath) {
        return linkat(Posix.AT_FDCWD, oldpath, Posix.AT_FDCWD, newpath, 0);
    }

    /** linkat(2) with AT_SYMLINK_FOLLOW. */
    public int linkat(final int olddirfd, final String oldpath, final int newdirfd, final String newpath, final int flags) {
        try {
            if ((flags & ~Posix.AT_SYMLINK_FOLLOW) != 0) {
                return Errno.EINVAL.negative();
            }
            final Vnode vp = walker.resolve(startDir(olddirfd, oldpath), oldpath, (flags & Posix.AT_SYMLINK_FOLLOW) != 0);
            final Nameidata nd = walker.walk(startDir(newdirfd, newpath), newpath, true, false);
            if (nd.lastType != PathWalker.LAST_NORM) {
                return Errno.EEXIST.negative();
            }
            final Vnode dir = nd.dir;
            final Lock wl = dir.lock().writeLock();
            wl.lock();
            try {
                if (dir.nlink() == 0) {
                    return Errno.ENOENT.negative();
                }
                if (walker.lookupLocked(dir, nd.name) != null) {
                    return Errno.EEXIST.negative();
                }
                if (nd.trailingSlash) {
                    return Errno.ENOENT.negative();
                }
                if (vp.mount() != dir.mount()) {
                    return Errno.EXDEV.negative();
                }
                if (dir.mount().readOnly()) {
                    return Errno.EROFS.negative();
                }
                final int denied = permission(dir, Posix.W_OK | Posix.X_OK);
                if (denied < 0) {
                    return denied;
                }
                if (vp.isDir()) {
                    return Errno.EPERM.negative();
                }
                final Lock vl = vp.lock().writeLock();
                vl.lock();
                try {
                    if (vp.nlink() == 0) {
                        return Errno.ENOENT.negative();
                    }
                    final int r = dir.ops().link(dir, vp, nd.name);
                    if (r < 0) {
                        return r;
                    }
                    vp.touchChanged();
                    dir.touchModified();
                    dcache.put(dir, nd.name, vp);
                    return 0;
                } finally {
                    vl.unlock();
                }
            } finally {
                wl.unlock();
            }
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /** symlink(2). Errors: ENOENT (empty target, missing parent), EEXIST, ENAMETOOLONG, EROFS. */
    public int symlink(final String target, final String linkpath) {
        return symlinkat(target, Posix.AT_FDCWD, linkpath);
    }

    public int symlinkat(final String target, final int newdirfd, final String linkpath) {
        try {
            if (target == null) {
                return Errno.EFAULT.negative();
            }
            if (target.isEmpty()) {
                return Errno.ENOENT.negative();
            }
            if (PathWalker.utf8Length(target) >= Posix.PATH_MAX) {
                return Errno.ENAMETOOLONG.negative();
            }
            final Nameidata nd = walker.walk(startDir(newdirfd, linkpath), linkpath, true, false);
            if (nd.lastType != PathWalker.LAST_NORM) {
                return Errno.EEXIST.negative();
            }
            final Vnode dir = nd.dir;
            final Lock wl = dir.lock().writeLock();
            wl.lock();
            try {
                if (dir.nlink() == 0) {
                    return Errno.ENOENT.negative();
                }
                if (walker.lookupLocked(dir, nd.name) != null) {
                    return Errno.EEXIST.negative();
                }
                if (nd.trailingSlash) {
                    return Errno.ENOENT.negative();
                }
                if (dir.mount().readOnly()) {
                    return Errno.EROFS.negative();
                }
                final int denied = permission(dir, Posix.W_OK | Posix.X_OK);
                if (denied < 0) {
                    return denied;
                }
                final Vnode vp = dir.ops().symlink(dir, nd.name, target);
                own(vp);
                dir.touchModified();
                dcache.put(dir, nd.name, vp);
                return 0;
            } finally {
                wl.unlock();
            }
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /**
     * readlink(2): the target's UTF-8 bytes into {@code buf}, truncated to its length (no NUL).
     * Errors: EINVAL (not a symlink, empty buffer), ENOENT...
     */
    public int readlink(final String path, final byte[] buf) {
        return readlinkat(Posix.AT_FDCWD, path, buf);
    }

    public int readlinkat(final int dirfd, final String path, final byte[] buf) {
        try {
            if (buf.length == 0) {
                return Errno.EINVAL.negative();
            }
            PathWalker.checkPath(path);
            final Vnode vp = walker.resolve(startDir(dirfd, path), path, false);
            if (vp.type() != VType.VLNK) {
                return Errno.EINVAL.negative();
            }
            final byte[] target = PathWalker.utf8(PathWalker.readlink(vp));
            final int n = Math.min(target.length, buf.length);
            System.arraycopy(target, 0, buf, 0, n);
            return n;
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /** rename(2); see {@link #renameat}. */
    public int rename(final String oldpath, final String newpath) {
        return renameat(Posix.AT_FDCWD, oldpath, Posix.AT_FDCWD, newpath);
    }

    /**
     * renameat(2), atomic: {@code newpath} names either the old or the new file at every instant.
     * Errors: ENOENT; EXDEV (different mounts); EBUSY (".", "..", "/", or a mount point); EROFS;
     * ENOTDIR (directory onto a non-directory, or a trailing slash on a non-directory); EISDIR
     * (non-directory onto a directory); ENOTEMPTY (onto a non-empty directory); EINVAL (a directory
     * into itself or below itself). Renaming a file onto another link of itself does nothing.
     */
    public int renameat(final int olddirfd, final String oldpath, final int newdirfd, final String newpath) {
        try {
            final Nameidata o = walker.walk(startDir(olddirfd, oldpath), oldpath, true, false);
            final Nameidata n = walker.walk(startDir(newdirfd, newpath), newpath, true, false);
            final Vnode sdir = o.dir;
            final Vnode ddir = n.dir;
            if (sdir.mount() != ddir.mount()) {
                return Errno.EXDEV.negative();
            }
            if (o.lastType != PathWalker.LAST_NORM || n.lastType != PathWalker.LAST_NORM) {
                return Errno.EBUSY.negative();
            }
            if (sdir.mount().readOnly()) {
                return Errno.EROFS.negative();
            }
            final Mount m = sdir.mount();
            final boolean crossDir = sdir != ddir;
            if (crossDir) {
                m.renameLock.lock();
            }
            try {
                // Parents before children: an ancestor first, unrelated directories in lock order.
                final Vnode first;
                final Vnode second;
                if (!crossDir) {
                    first = sdir;
                    second = null;
                } else if (isAncestor(sdir, ddir)) {
                    first = sdir;
                    second = ddir;
                } else if (isAncestor(ddir, sdir)) {
                    first = ddir;
                    second = sdir;
                } else if (sdir.lockOrder() < ddir.lockOrder()) {
                    first = sdir;
                    second = ddir;
                } else {
                    first = ddir;
                    second = sdir;
                }
                first.lock().writeLock().lock();
                if (second != null) {
                    second.lock().writeLock().lock();
                }
                try {
                    return renameLocked(o, n, sdir, ddir, crossDir);
                } finally {
                    if (second != null) {
                        second.lock().writeLock().unlock();
                    }
                    first.lock().writeLock().unlock();
                }
            } finally {
                if (crossDir) {
                    m.renameLock.unlock();
                }
            }
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    private int renameLocked(final Nameidata o, final Nameidata n, final Vnode sdir, final Vnode ddir,
        final boolean crossDir) throws ErrnoException {
        if (sdir.nlink() == 0 || ddir.nlink() == 0) {
            return Errno.ENOENT.negative();
        }
        final Vnode svp = walker.lookupLocked(sdir, o.name);
        if (svp == null) {
            return Errno.ENOENT.negative();
        }
        if (!svp.isDir() && (o.trailingSlash || n.trailingSlash)) {
            return Errno.ENOTDIR.negative();
        }
        final Vnode tvp = walker.lookupLocked(ddir, n.name);
        if (svp == tvp) {
            return 0;
        }
        // Linux's may_delete on the source (and on a replaced target), may_create on a new name,
        // and write access to a directory that changes parent (its ".." entry changes).
        int denied = mayDelete(sdir, svp);
        if (denied == 0) {
            denied = tvp != null ? mayDelete(ddir, tvp) : permission(ddir, Posix.W_OK | Posix.X_OK);
        }
        if (denied == 0 && svp.isDir() && crossDir) {
            denied = permission(svp, Posix.W_OK);
        }
        if (denied < 0) {
            return denied;
        }
        if (svp.isDir() && crossDir && isAncestor(svp, ddir)) {
            return Errno.EINVAL.negative();
        }
        if (svp.mountedHere != null || tvp != null && tvp.mountedHere != null) {
            return Errno.EBUSY.negative();
        }
        Lock tl = null;
        if (tvp != null) {
            if (svp.isDir() && !tvp.isDir()) {
                return Errno.ENOTDIR.negative();
            }
            if (!svp.isDir() && tvp.isDir()) {
                return Errno.EISDIR.negative();
            }
            tl = tvp.lock().writeLock();
            tl.lock();
        }
        try {
            if (tvp != null && tvp.isDir() && !isEmpty(tvp)) {
                return Errno.ENOTEMPTY.negative();
            }
            final int r = sdir.ops().rename(sdir, svp, o.name, ddir, tvp, n.name);
            if (r < 0) {
                return r;
            }
            dcache.remove(sdir, o.name);
            dcache.remove(ddir, n.name);
            if (tvp != null && tvp.isDir()) {
                dcache.purge(tvp);
            }
            if (svp.isDir()) {
                svp.parent = ddir;
                svp.name = n.name;
            }
            dcache.put(ddir, n.name, svp);
            svp.touchChanged();
            sdir.touchModified();
            if (crossDir) {
                ddir.touchModified();
            }
        } finally {
            if (tl != null) {
                tl.unlock();
            }
        }
        if (tvp != null && tvp.nlink() == 0 && tvp.openCount() == 0) {
            maybeInactive(tvp);
        }
        return 0;
    }

    /** True when directory {@code a} is {@code b} or above it (by parent pointers, same filesystem). */
    private static boolean isAncestor(final Vnode a, final Vnode b) {
        for (Vnode v = b; v != null; v = v.parent) {
            if (v == a) {
                return true;
            }
        }
        return false;
    }

    /**
     * getdents(2): up to {@code max} entries of the directory open as {@code fd} into {@code out},
     * {@code .} and {@code ..} first. Returns the number added, 0 at the end. Errors: EBADF, ENOTDIR,
     * EINVAL ({@code max <= 0}).
     */
    public int getdents(final int fd, final List<Dirent> out, final int max) {
        final OpenFile f = fds.get(fd);
        if (f == null || (f.flags & Posix.O_PATH) != 0) {
            return Errno.EBADF.negative();
        }
        final Vnode dir = f.vnode;
        if (!dir.isDir()) {
            return Errno.ENOTDIR.negative();
        }
        if (max <= 0) {
            return Errno.EINVAL.negative();
        }
        f.lockPosition();
        final Lock rl = dir.lock().readLock();
        rl.lock();
        try {
            if (dir.nlink() == 0) {
                return 0;
            }
            int count = 0;
            long cookie = f.offset;
            if (cookie == 0) {
                out.add(new Dirent(dir.ino(), Posix.DT_DIR, ".", 1));
                count++;
                cookie = 1;
            }
            if (cookie == 1 && count < max) {
                final Vnode parent = PathWalker.parentOf(dir, root);
                out.add(new Dirent(parent.ino(), Posix.DT_DIR, "..", 2));
                count++;
                cookie = 2;
            }
            if (count < max) {
                final int[] added = {count};
                final long r = dir.ops().readdir(dir, cookie - 2, (ino, name, type, next) -> {
                    if (added[0] >= max) {
                        return false;
                    }
                    out.add(new Dirent(ino, type.dtype(), name, next + 2));
                    added[0]++;
                    return true;
                });
                if (r < 0) {
                    return count > 0 ? count : (int)r;
                }
                cookie = r + 2;
                count = added[0];
            }
            f.offset = cookie;
            return count;
        } finally {
            rl.unlock();
            f.unlockPosition();
        }
    }

    // ---------------------------------------------------------------- working directory

    /** chdir(2). Errors: ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG. */
    public int chdir(final String path) {
        try {
            final Vnode vp = walker.resolve(cwd, path, true);
            if (!vp.isDir()) {
                return Errno.ENOTDIR.negative();
            }
            final int denied = permission(vp, Posix.X_OK);
            if (denied < 0) {
                return denied;
            }
            setCwd(vp);
            return 0;
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /** fchdir(2). Errors: EBADF, ENOTDIR. */
    public int fchdir(final int fd) {
        final OpenFile f = fds.get(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        if (!f.vnode.isDir()) {
            return Errno.ENOTDIR.negative();
        }
        setCwd(f.vnode);
        return 0;
    }

    private synchronized void setCwd(final Vnode vp) {
        final Vnode old = cwd;
        vp.mount().pin();
        cwd = vp;
        if (old != null) {
            old.mount().unpin();
        }
    }

    /** getcwd(3): the working directory's absolute path. Errors: ENOENT (it was removed). */
    public String getcwd() throws ErrnoException {
        final Vnode c = cwd;
        if (c == null) {
            throw new ErrnoException(Errno.ENOENT);
        }
        if (c.nlink() == 0) {
            throw new ErrnoException(Errno.ENOENT);
        }
        return PathWalker.pathOf(c, root);
    }

    // ---------------------------------------------------------------- descriptors

    /** dup(2). Errors: EBADF, EMFILE. */
    public int dup(final int fd) {
        return dupFrom(fd, 0, 0);
    }

    private int dupFrom(final int fd, final int min, final int fdFlags) {
        final OpenFile f = fds.get(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        f.retain();
        final int nfd = fds.install(f, min, fdFlags);
        if (nfd < 0) {
            release(f);
        }
        return nfd;
    }

    /** dup2(2): {@code newfd} closed first if open. Errors: EBADF (either descriptor out of range). */
    public int dup2(final int oldfd, final int newfd) {
        final OpenFile f = fds.get(oldfd);
        if (f == null || newfd < 0 || newfd >= fds.limit()) {
            return Errno.EBADF.negative();
        }
        if (oldfd == newfd) {
            return newfd;
        }
        f.retain();
        final OpenFile old = fds.replace(newfd, f, 0);
        if (old != null) {
            release(old);
        }
        return newfd;
    }

    /**
     * fcntl(2): F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD (FD_CLOEXEC), F_GETFL (access mode and
     * status flags), F_SETFL (only O_APPEND, O_NONBLOCK, O_DIRECT, O_NOATIME change). Errors: EBADF,
     * EINVAL (unknown command, F_DUPFD argument out of range), EMFILE.
     */
    public int fcntl(final int fd, final int cmd, final int arg) {
        final OpenFile f = fds.get(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        switch (cmd) {
            case Posix.F_DUPFD, Posix.F_DUPFD_CLOEXEC -> {
                if (arg < 0 || arg >= fds.limit()) {
                    return Errno.EINVAL.negative();
                }
                return dupFrom(fd, arg, cmd == Posix.F_DUPFD_CLOEXEC ? Posix.FD_CLOEXEC : 0);
            }
            case Posix.F_GETFD -> {
                return fds.flags(fd);
            }
            case Posix.F_SETFD -> {
                fds.setFlags(fd, arg & Posix.FD_CLOEXEC);
                return 0;
            }
            case Posix.F_GETFL -> {
                return f.flags;
            }
            case Posix.F_SETFL -> {
                synchronized (f) {
                    f.flags = f.flags & ~Posix.SETFL_MASK | arg & Posix.SETFL_MASK;
                }
                return 0;
            }
            default -> {
                return Errno.EINVAL.negative();
            }
        }
    }

    /** pipe(2): {@code fds[0]} the read end, {@code fds[1]} the write end. Errors: EMFILE. */
    public int pipe(final int[] out) {
        return pipe2(out, 0);
    }

    /** pipe2(2) with O_NONBLOCK and O_CLOEXEC. Errors: EINVAL (other flags), EMFILE. */
    public int pipe2(final int[] out, final int flags) {
        if ((flags & ~(Posix.O_NONBLOCK | Posix.O_CLOEXEC)) != 0) {
            return Errno.EINVAL.negative();
        }
        final long ino;
        synchronized (this) {
            ino = nextPipeIno++;
        }
        final Vnode vp = new Vnode(pipeMount, ino, VType.VFIFO, 0600, new Pipe(), null);
        final int status = flags & Posix.O_NONBLOCK;
        final int fdFlags = (flags & Posix.O_CLOEXEC) != 0 ? Posix.FD_CLOEXEC : 0;
        final OpenFile r = newOpenFile(vp, Posix.O_RDONLY | status);
        final OpenFile w = newOpenFile(vp, Posix.O_WRONLY | status);
        final int rfd = fds.install(r, 0, fdFlags);
        if (rfd < 0) {
            release(r);
            release(w);
            return rfd;
        }
        final int wfd = fds.install(w, 0, fdFlags);
        if (wfd < 0) {
            close(rfd);
            release(w);
            return wfd;
        }
        out[0] = rfd;
        out[1] = wfd;
        return 0;
    }

    /** ioctl(2) on an open file, passed to the vnode's ioctl VOP. Errors: EBADF, ENOTTY. */
    public int ioctl(final int fd, final long request, final Object arg) {
        final OpenFile f = fds.get(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        return f.vnode.ops().ioctl(f.vnode, request, arg);
    }

    // ---------------------------------------------------------------- filesystem statistics

    /** statfs(2). Errors: ENOENT... */
    public int statfs(final String path, final StatFs out) {
        try {
            return statfs(walker.resolve(cwd, path, true).mount(), out);
        } catch (final ErrnoException e) {
            return e.errno().negative();
        }
    }

    /** fstatfs(2). Errors: EBADF. */
    public int fstatfs(final int fd, final StatFs out) {
        final OpenFile f = fds.get(fd);
        if (f == null) {
            return Errno.EBADF.negative();
        }
        return statfs(f.vnode.mount(), out);
    }

    private static int statfs(final Mount m, final StatFs out) {
        final int r = m.fs.statfs(out);
        out.fsid = m.fsid();
        out.namelen = Posix.NAME_MAX;
        out.flags = m.readOnly() ? 1 : 0;
        return r;
    }

    // ---------------------------------------------------------------- introspection

    /** Counters for /sys and the bench: name to value. */
    public Map<String, Long> counters() {
        final Map<String, Long> m = new LinkedHashMap<>();
        m.put("opens", opens.sum());
        m.put("reads", readCalls.sum());
        m.put("writes", writeCalls.sum());
        m.put("bytes_read", bytesRead.sum());
        m.put("bytes_written", bytesWritten.sum());
        m.put("dentry_hits", dcache.hits.sum());
        m.put("dentry_misses", dcache.misses.sum());
        m.put("dentry_evictions", dcache.evictions.sum());
        m.put("dentries", (long)dcache.size());
        m.put("open_fds", (long)fds.used());
        m.put("max_fds", (long)fds.limit());
        return m;
    }

    /** Descriptors in use. */
    public int openDescriptors() {
        return fds.used();
    }

    /** The descriptor table's size ({@code osvj.vfs.max-fds}). */
    public int maxDescriptors() {
        return fds.limit();
    }

    int dentryCacheSize() {
        return dcache.size();
    }

    long dentryHits() {
        return dcache.hits.sum();
    }

    // ---------------------------------------------------------------- convenience layer (throws)

    /** The whole content of a file. */
    public byte[] readFile(final String path) throws ErrnoException {
        final int fd = (int)Errno.check(open(path, Posix.O_RDONLY));
        try {
            final java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
            final byte[] buf = new byte[65536];
            while (true) {
                final long n = Errno.check(read(fd, buf, 0, buf.length));
                if (n == 0) {
                    return bytes.toByteArray();
                }
                bytes.write(buf, 0, (int)n);
            }
        } finally {
            close(fd);
        }
    }

    /** Create or replace a file with {@code data}. */
    public void writeFile(final String path, final byte[] data) throws ErrnoException {
        final int fd = (int)Errno.check(open(path, Posix.O_WRONLY | Posix.O_CREAT | Posix.O_TRUNC, 0644));
        try {
            int off = 0;
            while (off < data.length) {
                off += (int)Errno.check(write(fd, data, off, data.length - off));
            }
        } finally {
            close(fd);
        }
    }

    /** The entries of a directory, without {@code .} and {@code ..}. */
    public List<Dirent> list(final String path) throws ErrnoException {
        final int fd = (int)Errno.check(open(path, Posix.O_RDONLY | Posix.O_DIRECTORY));
        try {
            final List<Dirent> all = new ArrayList<>();
            while (Errno.check(getdents(fd, all, 256)) > 0) {
                // keep reading
            }
            all.removeIf(d -> ".".equals(d.name()) || "..".equals(d.name()));
            return all;
        } finally {
            close(fd);
        }
    }

    /** stat that throws. */
    public Stat stat(final String path) throws ErrnoException {
        final Stat st = new Stat();
        Errno.check(stat(path, st));
        return st;
    }

    /** lstat that throws. */
    public Stat lstat(final String path) throws ErrnoException {
        final Stat st = new Stat();
        Errno.check(lstat(path, st));
        return st;
    }

    /** readlink that throws and returns the whole target. */
    public String readlink(final String path) throws ErrnoException {
        final byte[] buf = new byte[Posix.PATH_MAX];
        final int n = (int)Errno.check(readlink(path, buf));
        return new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- helpers

    /** The directory a relative path starts from: the working directory or {@code dirfd}'s. */
    private Vnode startDir(final int dirfd, final String path) throws ErrnoException {
        if (path != null && !path.isEmpty() && path.charAt(0) == '/') {
            return root;
        }
        if (dirfd == Posix.AT_FDCWD) {
            return cwd;
        }
        final OpenFile f = fds.get(dirfd);
        if (f == null) {
            throw new ErrnoException(Errno.EBADF);
        }
        if (!f.vnode.isDir()) {
            throw new ErrnoException(Errno.ENOTDIR);
        }
        return f.vnode;
    }
}
