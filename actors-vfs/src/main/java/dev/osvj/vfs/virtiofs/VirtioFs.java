package dev.osvj.vfs.virtiofs;

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
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * {@code virtiofs}: a shared host folder, read-only, through a {@link FuseClient} (OSv's
 * fs/virtiofs). Mount source is the device's tag: {@code {type = virtiofs, source = "host0", path = "/host"}}.
 *
 * <p>One vnode per FUSE node id, created at its first lookup (later lookups of a cached vnode give
 * their reference back with FORGET at once; the mount's references are forgotten at unmount).
 * Attributes come from the server (host modes, owners, times); {@code stat} asks again, so a file that
 * grows on the host shows its new size. Names are not kept in the VFS's dentry cache ({@link
 * Instance#cacheDentries}): a file the host creates or removes shows at the next lookup. A regular file's FUSE handle is opened at the first open of
 * the vnode and released at its last close; a directory listing opens and releases a handle per
 * {@code readdir} call and continues by the FUSE offset, which is the readdir cookie.
 *
 * <p>Everything that writes is EROFS ({@link #readOnly}). Confinement to the folder is the server's
 * (the device refuses {@code ..} and never follows links); symbolic links come back as text and the
 * VFS resolves them in the guest's namespace, so a link to {@code ../../etc} names the guest's /etc.
 */
public final class VirtioFs implements FileSystemType {
    /** statfs type: Linux's FUSE_SUPER_MAGIC. */
    public static final long FUSE_SUPER_MAGIC = 0x65735546L;

    private final Supplier<List<FuseClient>> clients;

    /** @param clients the FUSE sessions available (one per virtio-fs device), looked up at each mount */
    public VirtioFs(final Supplier<List<FuseClient>> clients) {
        this.clients = clients;
    }

    @Override
    public String name() {
        return "virtiofs";
    }

    @Override
    public FileSystem mount(final Mount mount, final String source, final Map<String, String> options)
        throws ErrnoException {
        final FuseClient client = clients.get().stream().filter(c -> c.tag().equals(source)).findFirst()
            .orElseThrow(() -> new ErrnoException(Errno.ENXIO, "virtiofs: no virtio-fs device with tag \"" + source
                + "\" (osvj.devices: {type = fs, tag = \"" + source + "\", path = ...})"));
        final FuseClient.Attr root = client.getattr(FuseClient.ROOT_ID);
        if ((root.mode() & Posix.S_IFMT) != Posix.S_IFDIR) {
            throw new ErrnoException(Errno.ENOTDIR, "virtiofs: the shared folder of " + source + " is not a directory");
        }
        return new Instance(mount, client, root);
    }

    static VType type(final int mode) {
        return switch (mode & Posix.S_IFMT) {
            case Posix.S_IFDIR -> VType.VDIR;
            case Posix.S_IFREG -> VType.VREG;
            case Posix.S_IFLNK -> VType.VLNK;
            case Posix.S_IFCHR -> VType.VCHR;
            case Posix.S_IFBLK -> VType.VBLK;
            case Posix.S_IFIFO -> VType.VFIFO;
            case Posix.S_IFSOCK -> VType.VSOCK;
            default -> VType.VNON;
        };
    }

    static VType dtype(final int dt) {
        for (final VType t : VType.values()) {
            if (t.dtype() == dt && t != VType.VBAD) {
                return t;
            }
        }
        return VType.VNON;
    }

    /** One mounted session. */
    static final class Instance implements FileSystem, VnodeOps {
        private final Mount mount;
        private final FuseClient client;
        private final Vnode root;
        /** node id -> vnode; each entry holds one FUSE lookup reference (the root none). */
        private final ConcurrentHashMap<Long, Vnode> vnodes = new ConcurrentHashMap<>();
        /** node id -> [handle, opens] of regular files open in the guest. */
        private final ConcurrentHashMap<Long, long[]> handles = new ConcurrentHashMap<>();

        Instance(final Mount mount, final FuseClient client, final FuseClient.Attr rootAttr) {
            this.mount = mount;
            this.client = client;
            this.root = vnode(FuseClient.ROOT_ID, rootAttr);
            vnodes.put(FuseClient.ROOT_ID, root);
        }

        private Vnode vnode(final long nodeid, final FuseClient.Attr a) {
            final Vnode v = new Vnode(mount, a.ino(), type(a.mode()), a.mode() & 07777, this, nodeid);
            apply(v, a);
            return v;
        }

        private static void apply(final Vnode v, final FuseClient.Attr a) {
            v.setSize(a.size());
            v.setNlink(a.nlink());
            v.setOwner(a.uid(), a.gid());
            v.setAtimeNs(a.atimeNs());
            v.setMtimeNs(a.mtimeNs());
            v.setCtimeNs(a.ctimeNs());
        }

        private static long nodeid(final Vnode vp) {
            return (Long)vp.data();
        }

        @Override
        public Vnode root() {
            return root;
        }

        @Override
        public boolean readOnly() {
            return true;
        }

        /** The host changes the folder behind the VFS's back: every name is asked of the server (LOOKUP). */
        @Override
        public boolean cacheDentries() {
            return false;
        }

        @Override
        public int statfs(final StatFs out) {
            final int r = client.statfs(out);
            out.type = FUSE_SUPER_MAGIC;
            return r;
        }

        @Override
        public int unmount() {
            for (final Map.Entry<Long, long[]> h : handles.entrySet()) {
                client.release(h.getKey(), h.getValue()[0], false);
            }
            handles.clear();
            for (final Long id : vnodes.keySet()) {
                if (id != FuseClient.ROOT_ID) {
                    client.forget(id, 1);
                }
            }
            vnodes.clear();
            return 0;
        }

        @Override
        public Vnode lookup(final Vnode dir, final String name) throws ErrnoException {
            if (!dir.isDir()) {
                throw new ErrnoException(Errno.ENOTDIR);
            }
            final FuseClient.Entry e;
            try {
                e = client.lookup(nodeid(dir), name);
            } catch (final ErrnoException ex) {
                if (ex.errno() == Errno.ENOENT) {
                    return null;
                }
                throw ex;
            }
            final Vnode fresh = vnode(e.nodeid(), e.attr());
            final Vnode known = vnodes.putIfAbsent(e.nodeid(), fresh);
            if (known == null) {
                return fresh;
            }
            client.forget(e.nodeid(), 1); // the cached vnode already holds a reference
            apply(known, e.attr());
            return known;
        }

        @Override
        public int getattr(final Vnode vp, final Stat st) {
            final FuseClient.Attr a;
            try {
                a = client.getattr(nodeid(vp));
            } catch (final ErrnoException e) {
                return e.errno().negative();
            }
            vp.setSize(a.size());
            st.size = a.size();
            st.blocks = a.blocks();
            st.nlink = a.nlink();
            st.atimeSec = Math.floorDiv(a.atimeNs(), 1_000_000_000L);
            st.atimeNsec = Math.floorMod(a.atimeNs(), 1_000_000_000L);
            st.mtimeSec = Math.floorDiv(a.mtimeNs(), 1_000_000_000L);
            st.mtimeNsec = Math.floorMod(a.mtimeNs(), 1_000_000_000L);
            st.ctimeSec = Math.floorDiv(a.ctimeNs(), 1_000_000_000L);
            st.ctimeNsec = Math.floorMod(a.ctimeNs(), 1_000_000_000L);
            return 0;
        }

        @Override
        public int open(final Vnode vp, final int flags) {
            if ((flags & Posix.O_ACCMODE) != Posix.O_RDONLY || (flags & Posix.O_TRUNC) != 0) {
                return Errno.EROFS.negative();
            }
            if (vp.type() != VType.VREG) {
                return 0; // directories are listed with a handle per readdir
            }
            final long id = nodeid(vp);
            final int[] result = {0};
            handles.compute(id, (k, h) -> {
                if (h != null) {
                    h[1]++;
                    return h;
                }
                final long fh = client.open(id, false);
                if (fh < 0) {
                    result[0] = (int)fh;
                    return null;
                }
                return new long[] {fh, 1};
            });
            return result[0];
        }

        @Override
        public int close(final Vnode vp, final int flags) {
            if (vp.type() != VType.VREG) {
                return 0;
            }
            final long id = nodeid(vp);
            final int[] result = {0};
            handles.computeIfPresent(id, (k, h) -> {
                if (--h[1] > 0) {
                    return h;
                }
                result[0] = client.release(id, h[0], false);
                return null;
            });
            return result[0];
        }

        @Override
        public long read(final Vnode vp, final long offset, final ByteBuffer dst, final int ioflags) {
            if (vp.isDir()) {
                return Errno.EISDIR.negative();
            }
            if (vp.type() != VType.VREG) {
                return Errno.EINVAL.negative();
            }
            if (!dst.hasRemaining()) {
                return 0;
            }
            final long id = nodeid(vp);
            final long[] h = handles.get(id);
            if (h != null) {
                return client.read(id, h[0], offset, dst);
            }
            // read without an open file (the page cache of an mmap): a handle for this call
            final long fh = client.open(id, false);
            if (fh < 0) {
                return fh;
            }
            try {
                return client.read(id, fh, offset, dst);
            } finally {
                client.release(id, fh, false);
            }
        }

        @Override
        public long readdir(final Vnode dir, final long cookie, final DirentSink sink) {
            if (!dir.isDir()) {
                return Errno.ENOTDIR.negative();
            }
            final long id = nodeid(dir);
            final long fh = client.open(id, true);
            if (fh < 0) {
                return fh;
            }
            try {
                long at = cookie;
                final boolean[] full = {false};
                while (!full[0]) {
                    final long[] cur = {at};
                    final long next = client.readdir(id, fh, at, (ino, nextOffset, type, name) -> {
                        if (!sink.accept(ino, name, dtype(type), nextOffset)) {
                            full[0] = true;
                            return false;
                        }
                        cur[0] = nextOffset;
                        return true;
                    });
                    if (next < 0) {
                        return next;
                    }
                    if (full[0]) {
                        return cur[0];
                    }
                    if (next == at) {
                        return at; // end of the directory
                    }
                    at = next;
                }
                return at;
            } finally {
                client.release(id, fh, true);
            }
        }

        @Override
        public String readlink(final Vnode vp) throws ErrnoException {
            if (vp.type() != VType.VLNK) {
                throw new ErrnoException(Errno.EINVAL);
            }
            return client.readlink(nodeid(vp));
        }

        @Override
        public ByteBuffer cache(final Vnode vp, final long pageOffset) throws ErrnoException {
            return VnodeOps.pageByRead(this, vp, pageOffset);
        }

        @Override
        public int setattr(final Vnode vp, final int mask, final int mode, final long atimeNs, final long mtimeNs) {
            return Errno.EROFS.negative();
        }
    }
}
