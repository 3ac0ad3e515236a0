package dev.osvj.vfs.ramfs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.vfs.DirentSink;
import dev.osvj.vfs.FileSystem;
import dev.osvj.vfs.FileSystemType;
import dev.osvj.vfs.Mount;
import dev.osvj.vfs.Posix;
import dev.osvj.vfs.Stat;
import dev.osvj.vfs.StatFs;
import dev.osvj.vfs.VType;
import dev.osvj.vfs.Vnode;
import dev.osvj.vfs.VnodeOps;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * ramfs: files in memory, the root filesystem (and {@code /tmp}). Directories are {@link RamDir}s,
 * files {@link RamData} segment lists as in OSv, symlinks their target string.
 *
 * <p>Mount options: {@code size=BYTES} (with K/M/G suffixes) bounds the bytes held by file data;
 * beyond it writes fail with ENOSPC. Without it the bound is the JVM's maximum heap.
 * {@code mode=OCTAL} sets the root directory's permissions (default 0755; {@code mode=1777} for a
 * {@code /tmp} every user may write, as tmpfs's option).
 */
public final class RamFs implements FileSystemType {
    /** Linux's RAMFS_MAGIC. */
    public static final long RAMFS_MAGIC = 0x858458f6L;

    @Override
    public String name() {
        return "ramfs";
    }

    @Override
    public FileSystem mount(final Mount mount, final String source, final Map<String, String> options)
        throws ErrnoException {
        long limit = Runtime.getRuntime().maxMemory();
        final String size = options.get("size");
        if (size != null) {
            limit = parseSize(size);
        }
        int rootMode = 0755;
        final String mode = options.get("mode");
        if (mode != null) {
            try {
                rootMode = Integer.parseInt(mode.trim(), 8);
            } catch (final NumberFormatException e) {
                throw new ErrnoException(Errno.EINVAL, "mode=" + mode);
            }
            if (rootMode < 0 || rootMode > 07777) {
                throw new ErrnoException(Errno.EINVAL, "mode=" + mode);
            }
        }
        return new Instance(mount, limit, rootMode);
    }

    /** {@code 64M} style sizes; EINVAL when malformed. */
    static long parseSize(final String text) throws ErrnoException {
        final String t = text.trim().toUpperCase(java.util.Locale.ROOT);
        if (t.isEmpty()) {
            throw new ErrnoException(Errno.EINVAL, "size=" + text);
        }
        long mult = 1;
        String digits = t;
        final char last = t.charAt(t.length() - 1);
        switch (last) {
            case 'K' -> mult = 1L << 10;
            case 'M' -> mult = 1L << 20;
            case 'G' -> mult = 1L << 30;
            default -> {
            }
        }
        if (mult != 1) {
            digits = t.substring(0, t.length() - 1);
        }
        try {
            final long n = Long.parseLong(digits);
            if (n <= 0) {
                throw new ErrnoException(Errno.EINVAL, "size=" + text);
            }
            return n * mult;
        } catch (final NumberFormatException e) {
            throw new ErrnoException(Errno.EINVAL, "size=" + text);
        }
    }

    /** One mounted ramfs. */
    static final class Instance implements FileSystem, VnodeOps {
        private final Mount mount;
        private final long limit;
        private final AtomicLong nextIno = new AtomicLong(1);
        private final AtomicLong used = new AtomicLong();
        private final AtomicLong inodes = new AtomicLong();
        private final PagePool pages = new PagePool();
        private final Vnode root;

        Instance(final Mount mount, final long limit, final int rootMode) {
            this.mount = mount;
            this.limit = limit;
            this.root = newVnode(VType.VDIR, rootMode, new RamDir());
        }

        private Vnode newVnode(final VType type, final int mode, final Object data) {
            inodes.incrementAndGet();
            return new Vnode(mount, nextIno.getAndIncrement(), type, mode, this, data);
        }

        @Override
        public Vnode root() {
            return root;
        }

        @Override
        public int statfs(final StatFs out) {
            out.type = RAMFS_MAGIC;
            out.bsize = RamData.PAGE;
            out.blocks = limit / RamData.PAGE;
            out.bfree = Math.max(0, limit - used.get()) / RamData.PAGE;
            out.bavail = out.bfree;
            out.files = inodes.get();
            out.ffree = Long.MAX_VALUE / 2;
            return 0;
        }

        private static RamDir dir(final Vnode vp) {
            return (RamDir)vp.data();
        }

        // ------------------------------------------------------------------ files

        @Override
        public long read(final Vnode vp, final long offset, final ByteBuffer dst, final int ioflags) {
            if (vp.isDir()) {
                return Errno.EISDIR.negative();
            }
            if (!(vp.data() instanceof RamData data)) {
                return Errno.EINVAL.negative();
            }
            return data.read(offset, dst, vp.size());
        }

        @Override
        public long write(final Vnode vp, final long offset, final ByteBuffer src, final int ioflags) {
            if (!(vp.data() instanceof RamData data)) {
                return vp.isDir() ? Errno.EISDIR.negative() : Errno.EINVAL.negative();
            }
            final int n = src.remaining();
            final long end = offset + n;
            final long grow = Math.max(0, end - data.capacity());
            if (grow > 0 && used.get() + grow > limit) {
                return Errno.ENOSPC.negative();
            }
            used.addAndGet(data.ensureCapacity(offset, end));
            used.addAndGet(data.write(offset, src));
            if (end > vp.size()) {
                vp.setSize(end);
            }
            return n;
        }

        @Override
        public int truncate(final Vnode vp, final long length) {
            if (!(vp.data() instanceof RamData data)) {
                return Errno.EINVAL.negative();
            }
            final long size = vp.size();
            if (length < size) {
                used.addAndGet(-data.shrinkTo(length));
                used.addAndGet(-data.zero(length, size));
            }
            vp.setSize(length);
            return 0;
        }

        @Override
        public int fallocate(final Vnode vp, final int mode, final long offset, final long length) {
            if (!(vp.data() instanceof RamData data)) {
                return Errno.ENODEV.negative();
            }
            final long end = offset + length;
            if ((mode & Posix.FALLOC_FL_PUNCH_HOLE) != 0) {
                used.addAndGet(-data.zero(offset, Math.min(end, vp.size())));
                return 0;
            }
            final long grow = Math.max(0, end - data.capacity());
            if (grow > 0 && used.get() + grow > limit) {
                return Errno.ENOSPC.negative();
            }
            used.addAndGet(data.ensureCapacity(end));
            // Refill holes inside the range so later writes need no allocation.
            final long refill = Math.min(end, data.capacity());
            long at = offset;
            while (at < refill) {
                final long hole = data.nextHole(at, refill);
                if (hole >= refill) {
                    break;
                }
                final long next = data.nextData(hole, refill);
                final long stop = next < 0 ? refill : next;
                used.addAndGet(data.write(hole, ByteBuffer.allocate((int)Math.min(stop - hole, RamData.MAX_SEGMENT))));
                at = stop;
            }
            if ((mode & Posix.FALLOC_FL_KEEP_SIZE) == 0 && end > vp.size()) {
                vp.setSize(end);
            }
            return 0;
        }

        @Override
        public long seek(final Vnode vp, final long offset, final int whence) {
            if (!(vp.data() instanceof RamData data)) {
                return VnodeOps.super.seek(vp, offset, whence);
            }
            final long size = vp.size();
            return switch (whence) {
                case Posix.SEEK_DATA -> {
                    if (offset >= size) {
                        yield Errno.ENXIO.negative();
                    }
                    final long d = data.nextData(offset, size);
                    yield d < 0 ? Errno.ENXIO.negative() : d;
                }
                case Posix.SEEK_HOLE -> offset >= size ? Errno.ENXIO.negative() : data.nextHole(offset, size);
                default -> offset;
            };
        }

        @Override
        public int getattr(final Vnode vp, final Stat st) {
            if (vp.data() instanceof RamData data) {
                st.blocks = data.blocks512(Math.max(vp.size(), data.capacity()));
            } else if (vp.isDir()) {
                st.size = 4096;
                st.blocks = 8;
            }
            return 0;
        }

        @Override
        public void inactive(final Vnode vp) {
            if (vp.data() instanceof RamData data) {
                used.addAndGet(-data.shrinkTo(0));
            }
            inodes.decrementAndGet();
        }

        @Override
        public ByteBuffer cache(final Vnode vp, final long pageOffset) throws ErrnoException {
            if (!(vp.data() instanceof RamData data)) {
                throw new ErrnoException(Errno.ENODEV);
            }
            final ByteBuffer page = ByteBuffer.allocate(RamData.PAGE);
            data.read(pageOffset, page, vp.size());
            return page.clear().asReadOnlyBuffer();
        }

        // ------------------------------------------------------------------ names

        @Override
        public Vnode lookup(final Vnode dir, final String name) throws ErrnoException {
            if (!dir.isDir()) {
                throw new ErrnoException(Errno.ENOTDIR);
            }
            return dir(dir).get(name);
        }

        @Override
        public long readdir(final Vnode dir, final long cookie, final DirentSink sink) {
            if (!dir.isDir()) {
                return Errno.ENOTDIR.negative();
            }
            final RamDir d = dir(dir);
            long next = cookie;
            for (int i = d.firstAtOrAfter(cookie); i < d.length(); i++) {
                final RamDir.Entry e = d.entryAt(i);
                if (e.removed) {
                    continue;
                }
                if (!sink.accept(e.vnode.ino(), e.name, e.vnode.type(), e.seq + 1)) {
                    return e.seq;
                }
                next = e.seq + 1;
            }
            return next;
        }

        @Override
        public Vnode create(final Vnode dir, final String name, final int mode) {
            final Vnode vp = newVnode(VType.VREG, mode, new RamData(pages));
            dir(dir).add(name, vp);
            return vp;
        }

        @Override
        public Vnode mkdir(final Vnode dir, final String name, final int mode) {
            final Vnode vp = newVnode(VType.VDIR, mode, new RamDir());
            dir(dir).add(name, vp);
            dir.setNlink(dir.nlink() + 1);
            return vp;
        }

        @Override
        public Vnode symlink(final Vnode dir, final String name, final String target) {
            final Vnode vp = newVnode(VType.VLNK, 0777, target);
            vp.setSize(target.getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
            dir(dir).add(name, vp);
            return vp;
        }

        @Override
        public String readlink(final Vnode vp) throws ErrnoException {
            if (!(vp.data() instanceof String target)) {
                throw new ErrnoException(Errno.EINVAL);
            }
            return target;
        }

        @Override
        public int link(final Vnode dir, final Vnode vp, final String name) {
            dir(dir).add(name, vp);
            vp.setNlink(vp.nlink() + 1);
            return 0;
        }

        @Override
        public int remove(final Vnode dir, final Vnode vp, final String name) {
            if (dir(dir).remove(name) == null) {
                return Errno.ENOENT.negative();
            }
            vp.setNlink(vp.nlink() - 1);
            return 0;
        }

        @Override
        public int rmdir(final Vnode dir, final Vnode vp, final String name) {
            if (!dir(vp).byName.isEmpty()) {
                return Errno.ENOTEMPTY.negative();
            }
            if (dir(dir).remove(name) == null) {
                return Errno.ENOENT.negative();
            }
            vp.setNlink(0);
            dir.setNlink(dir.nlink() - 1);
            inodes.decrementAndGet();
            return 0;
        }

        @Override
        public int rename(final Vnode sdir, final Vnode vp, final String sname, final Vnode ddir, final Vnode target,
            final String dname) {
            if (target != null) {
                dir(ddir).remove(dname);
                if (target.isDir()) {
                    target.setNlink(0);
                    ddir.setNlink(ddir.nlink() - 1);
                    inodes.decrementAndGet();
                } else {
                    target.setNlink(target.nlink() - 1);
                }
            }
            dir(sdir).remove(sname);
            dir(ddir).add(dname, vp);
            if (vp.isDir() && sdir != ddir) {
                sdir.setNlink(sdir.nlink() - 1);
                ddir.setNlink(ddir.nlink() + 1);
            }
            return 0;
        }
    }
}
