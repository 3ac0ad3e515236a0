package dev.osvj.vfs.rofs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.vfs.DirentSink;
import dev.osvj.vfs.FileSystem;
import dev.osvj.vfs.FileSystemType;
import dev.osvj.vfs.Mount;
import dev.osvj.vfs.Stat;
import dev.osvj.vfs.StatFs;
import dev.osvj.vfs.VType;
import dev.osvj.vfs.Vnode;
import dev.osvj.vfs.VnodeOps;
import dev.osvj.vfs.blk.BlockDevice;
import dev.osvj.vfs.blk.PageCache;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * rofs: OSv's read-only image filesystem ({@link RofsFormat}), read from a {@link BlockDevice} through
 * a {@link PageCache}. Mount source is the device's path ({@code /dev/vblk0}); the structure area is
 * read and validated once at mount ({@link RofsImage}); file data is read on demand through the page
 * cache, so concurrent readers of one file share pages and never hold a lock across device I/O.
 *
 * <p>Every write is EROFS (the VFS answers it from {@link FileSystem#readOnly()}). Permissions are
 * 0555 (0777 for symlinks); times are the mount time; link counts of directories are 2 plus their
 * subdirectories.
 */
public final class RofsFs implements FileSystemType {
    /** statfs type: the image magic. */
    public static final long ROFS_MAGIC = RofsFormat.MAGIC;

    private final Function<String, BlockDevice> devices;
    private final int cachePages;

    /**
     * @param devices    finds the block device of a mount source ({@code /dev/vblk0}), or null
     * @param cacheBytes the page cache size of each mount, in bytes
     */
    public RofsFs(final Function<String, BlockDevice> devices, final long cacheBytes) {
        this.devices = devices;
        this.cachePages = (int)Math.max(1, Math.min(Integer.MAX_VALUE, cacheBytes / PageCache.PAGE_SIZE));
    }

    @Override
    public String name() {
        return "rofs";
    }

    @Override
    public FileSystem mount(final Mount mount, final String source, final Map<String, String> options)
        throws ErrnoException {
        final BlockDevice dev = devices.apply(source);
        if (dev == null) {
            throw new ErrnoException(Errno.ENXIO, "rofs: no block device " + source);
        }
        if (dev.sectors() < 1) {
            throw new ErrnoException(Errno.EINVAL, "rofs: " + source + " is empty");
        }
        final ByteBuffer block0 = ByteBuffer.allocate(RofsFormat.BLOCK_SIZE);
        if (dev.read(0, block0) < 0) {
            throw new ErrnoException(Errno.EIO, "rofs: reading the superblock of " + source);
        }
        final RofsFormat.SuperBlock sb = RofsFormat.SuperBlock.read(block0.flip());
        if (sb.magic() != RofsFormat.MAGIC) {
            throw new ErrnoException(Errno.EINVAL, "rofs: " + source + " has no rofs superblock (magic 0x"
                + Long.toHexString(sb.magic()) + ")");
        }
        if (sb.version() != RofsFormat.VERSION || sb.blockSize() != RofsFormat.BLOCK_SIZE) {
            throw new ErrnoException(Errno.EINVAL, "rofs: unsupported version " + sb.version() + " or block size "
                + sb.blockSize());
        }
        if (sb.structureFirstBlock() < 1 || sb.structureBlocks() < 0 || sb.structureBlocks() > Integer.MAX_VALUE / 512
            || sb.structureFirstBlock() > dev.sectors() || sb.structureBlocks() > dev.sectors() - sb.structureFirstBlock()) {
            throw new ErrnoException(Errno.EINVAL, "rofs: structure area outside the device");
        }
        final ByteBuffer structure = ByteBuffer.allocate((int)sb.structureBlocks() * RofsFormat.BLOCK_SIZE);
        if (dev.read(sb.structureFirstBlock(), structure) < 0) {
            throw new ErrnoException(Errno.EIO, "rofs: reading the structure area of " + source);
        }
        final RofsImage image = RofsImage.parse(sb, structure.flip(), dev.sectors());
        return new Instance(mount, image, new PageCache(dev, cachePages));
    }

    /** One mounted image. */
    static final class Instance implements FileSystem, VnodeOps {
        private final Mount mount;
        private final RofsImage image;
        private final PageCache cache;
        private final ConcurrentHashMap<Long, Vnode> vnodes = new ConcurrentHashMap<>();
        private final Vnode root;

        Instance(final Mount mount, final RofsImage image, final PageCache cache) {
            this.mount = mount;
            this.image = image;
            this.cache = cache;
            this.root = vget(RofsFormat.ROOT_INODE);
        }

        PageCache cache() {
            return cache;
        }

        /** The one vnode of inode {@code ino} (OSv's vget on (mount, ino)). */
        private Vnode vget(final long ino) {
            return vnodes.computeIfAbsent(ino, n -> {
                final int i = (int)(n - 1);
                final long type = image.inodeMode[i] & 0xF000;
                final Vnode v;
                if (type == RofsFormat.MODE_DIR) {
                    v = new Vnode(mount, n, VType.VDIR, 0555, this, null);
                    v.setNlink(2 + image.subdirs[i]);
                    v.setSize(RofsFormat.BLOCK_SIZE);
                } else if (type == RofsFormat.MODE_SYMLINK) {
                    v = new Vnode(mount, n, VType.VLNK, 0777, this, null);
                    v.setSize(image.symlinks[(int)image.inodeData[i]].getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
                } else {
                    v = new Vnode(mount, n, VType.VREG, 0555, this, null);
                    v.setSize(image.inodeCount[i]);
                }
                return v;
            });
        }

        @Override
        public Vnode root() {
            return root;
        }

        @Override
        public boolean readOnly() {
            return true;
        }

        @Override
        public int statfs(final StatFs out) {
            out.type = ROFS_MAGIC;
            out.bsize = RofsFormat.BLOCK_SIZE;
            out.blocks = cache.device().sectors();
            out.bfree = 0;
            out.bavail = 0;
            out.files = image.inodeMode.length;
            out.ffree = 0;
            return 0;
        }

        private int index(final Vnode vp) {
            return (int)(vp.ino() - 1);
        }

        @Override
        public Vnode lookup(final Vnode dir, final String name) throws ErrnoException {
            if (!dir.isDir()) {
                throw new ErrnoException(Errno.ENOTDIR);
            }
            final int i = index(dir);
            final long first = image.inodeData[i];
            final long end = first + image.inodeCount[i];
            for (long e = first; e < end; e++) {
                if (image.direntName[(int)e].equals(name)) {
                    return vget(image.direntInode[(int)e]);
                }
            }
            return null;
        }

        @Override
        public long readdir(final Vnode dir, final long cookie, final DirentSink sink) {
            if (!dir.isDir()) {
                return Errno.ENOTDIR.negative();
            }
            final int i = index(dir);
            final long first = image.inodeData[i];
            final long count = image.inodeCount[i];
            long c = cookie;
            while (c < count) {
                final int e = (int)(first + c);
                final Vnode child = vget(image.direntInode[e]);
                if (!sink.accept(child.ino(), image.direntName[e], child.type(), c + 1)) {
                    return c;
                }
                c++;
            }
            return c;
        }

        @Override
        public long read(final Vnode vp, final long offset, final ByteBuffer dst, final int ioflags) {
            if (vp.isDir()) {
                return Errno.EISDIR.negative();
            }
            if (vp.type() != VType.VREG) {
                return Errno.EINVAL.negative();
            }
            final long size = vp.size();
            if (offset >= size || !dst.hasRemaining()) {
                return 0;
            }
            final int n = (int)Math.min(dst.remaining(), size - offset);
            final long base = image.inodeData[index(vp)] * RofsFormat.BLOCK_SIZE;
            final ByteBuffer slice = dst.slice(dst.position(), n);
            final int r = cache.read(base + offset, slice);
            if (r < 0) {
                return r;
            }
            dst.position(dst.position() + n);
            return n;
        }

        @Override
        public String readlink(final Vnode vp) throws ErrnoException {
            if (vp.type() != VType.VLNK) {
                throw new ErrnoException(Errno.EINVAL);
            }
            return image.symlinks[(int)image.inodeData[index(vp)]];
        }

        @Override
        public int getattr(final Vnode vp, final Stat st) {
            st.blocks = vp.type() == VType.VREG ? (vp.size() + 511) / 512 : 0;
            return 0;
        }

        @Override
        public ByteBuffer cache(final Vnode vp, final long pageOffset) throws ErrnoException {
            return VnodeOps.pageByRead(this, vp, pageOffset);
        }

        @Override
        public int fsync(final Vnode vp) {
            return 0;
        }

        @Override
        public long seek(final Vnode vp, final long offset, final int whence) {
            return VnodeOps.super.seek(vp, offset, whence);
        }
    }
}
