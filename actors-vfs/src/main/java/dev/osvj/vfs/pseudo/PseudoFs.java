package dev.osvj.vfs.pseudo;

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
import dev.osvj.vfs.blk.BlockDevice;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A pseudo filesystem whose entries other code registers: the shared base of devfs, procfs and sysfs.
 * This is the provider interface of those filesystems: a subsystem that booted after the VFS (or the
 * system module, for subsystems that booted before it) calls {@link #file}, {@link #device},
 * {@link #symlink} or {@link #remove} on the published {@link ProcFs}, {@link SysFs} or {@link DevFs}
 * service, at any time; intermediate directories appear by themselves. Registering a path again
 * replaces its entry.
 *
 * <p>Generated files compute their content on every read (like Linux's seq files, a reader that reads
 * in pieces while the content changes may see a mix) and report size 0, as /proc does. The tree is
 * concurrent: registration never blocks readers. The VFS keeps no dentries of pseudo filesystems, so a
 * removed entry disappears at once.
 */
public class PseudoFs implements FileSystemType {
    private static final AtomicLong SEQ = new AtomicLong(1);

    /** A node of the tree. */
    abstract static sealed class Node permits Dir, TextFile, Device, BlockNode, Link {
        final long seq = SEQ.getAndIncrement();
        final String name;
        final int mode;

        Node(final String name, final int mode) {
            this.name = name;
            this.mode = mode;
        }

        abstract VType type();
    }

    static final class Dir extends Node {
        final ConcurrentHashMap<String, Node> byName = new ConcurrentHashMap<>();
        final ConcurrentSkipListMap<Long, Node> bySeq = new ConcurrentSkipListMap<>();

        Dir(final String name) {
            super(name, 0555);
        }

        @Override
        VType type() {
            return VType.VDIR;
        }
    }

    static final class TextFile extends Node {
        final Supplier<String> content;
        final Consumer<String> writer;

        TextFile(final String name, final int mode, final Supplier<String> content, final Consumer<String> writer) {
            super(name, mode);
            this.content = content;
            this.writer = writer;
        }

        @Override
        VType type() {
            return VType.VREG;
        }
    }

    static final class Device extends Node {
        final CharDevice device;

        Device(final String name, final int mode, final CharDevice device) {
            super(name, mode);
            this.device = device;
        }

        @Override
        VType type() {
            return VType.VCHR;
        }
    }

    static final class BlockNode extends Node {
        final BlockDevice device;

        BlockNode(final String name, final int mode, final BlockDevice device) {
            super(name, mode);
            this.device = device;
        }

        @Override
        VType type() {
            return VType.VBLK;
        }
    }

    static final class Link extends Node {
        final String target;

        Link(final String name, final String target) {
            super(name, 0777);
            this.target = target;
        }

        @Override
        VType type() {
            return VType.VLNK;
        }
    }

    private final String typeName;
    private final long magic;
    private final Dir root = new Dir("");

    protected PseudoFs(final String typeName, final long magic) {
        this.typeName = typeName;
        this.magic = magic;
    }

    @Override
    public String name() {
        return typeName;
    }

    // ------------------------------------------------------------------ registration (provider API)

    /** A read-only generated text file (mode 0444). */
    public void file(final String path, final Supplier<String> content) {
        put(path, new TextFile(leaf(path), 0444, content, null));
    }

    /** A generated text file; when {@code writer} is not null, writes hand it the written text (mode 0644). */
    public void file(final String path, final Supplier<String> content, final Consumer<String> writer) {
        put(path, new TextFile(leaf(path), writer == null ? 0444 : 0644, content, writer));
    }

    /** A character device node. */
    public void device(final String path, final int mode, final CharDevice device) {
        put(path, new Device(leaf(path), mode, device));
    }

    /** A block device node. */
    public void blockDevice(final String path, final int mode, final BlockDevice device) {
        put(path, new BlockNode(leaf(path), mode, device));
    }

    public void symlink(final String path, final String target) {
        put(path, new Link(leaf(path), target));
    }

    /** An (empty) directory. */
    public void directory(final String path) {
        dirOf(path, true);
    }

    /** Remove an entry (a directory with everything below it); false when there was none. */
    public boolean remove(final String path) {
        final Dir parent = parentOf(path, false);
        if (parent == null) {
            return false;
        }
        final Node n = parent.byName.remove(leaf(path));
        if (n == null) {
            return false;
        }
        parent.bySeq.remove(n.seq);
        return true;
    }

    /** True when {@code path} is registered. */
    public boolean exists(final String path) {
        final Dir parent = parentOf(path, false);
        return parent != null && parent.byName.containsKey(leaf(path));
    }

    private static String leaf(final String path) {
        final String p = strip(path);
        final int slash = p.lastIndexOf('/');
        final String leaf = slash < 0 ? p : p.substring(slash + 1);
        if (leaf.isEmpty() || ".".equals(leaf) || "..".equals(leaf)) {
            throw new IllegalArgumentException("bad pseudo file path: " + path);
        }
        return leaf;
    }

    private static String strip(final String path) {
        String p = path;
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        return p;
    }

    private synchronized void put(final String path, final Node node) {
        final Dir parent = parentOf(path, true);
        final Node old = parent.byName.put(node.name, node);
        if (old != null) {
            parent.bySeq.remove(old.seq);
        }
        parent.bySeq.put(node.seq, node);
    }

    private Dir parentOf(final String path, final boolean create) {
        final String p = strip(path);
        final int slash = p.lastIndexOf('/');
        return slash < 0 ? root : dirOf(p.substring(0, slash), create);
    }

    private synchronized Dir dirOf(final String path, final boolean create) {
        Dir cur = root;
        for (final String part : strip(path).split("/")) {
            if (part.isEmpty()) {
                continue;
            }
            final Node n = cur.byName.get(part);
            if (n instanceof Dir d) {
                cur = d;
            } else if (create) {
                final Dir d = new Dir(part);
                if (n != null) {
                    cur.bySeq.remove(n.seq);
                }
                cur.byName.put(part, d);
                cur.bySeq.put(d.seq, d);
                cur = d;
            } else {
                return null;
            }
        }
        return cur;
    }

    // ------------------------------------------------------------------ the filesystem

    @Override
    public FileSystem mount(final Mount mount, final String source, final Map<String, String> options) {
        return new Instance(mount);
    }

    private final class Instance implements FileSystem, VnodeOps {
        private final Mount mount;
        private final ConcurrentHashMap<Node, Vnode> vnodes = new ConcurrentHashMap<>();
        private final Vnode rootVnode;

        Instance(final Mount mount) {
            this.mount = mount;
            this.rootVnode = vnode(root);
        }

        private Vnode vnode(final Node n) {
            return vnodes.computeIfAbsent(n, node -> {
                final Vnode v = new Vnode(mount, node == root ? 1 : node.seq + 1, node.type(), node.mode, this, node);
                switch (node) {
                    case Link l -> v.setSize(l.target.getBytes(StandardCharsets.UTF_8).length);
                    case BlockNode b -> v.setSize(b.device.size());
                    default -> {
                    }
                }
                return v;
            });
        }

        @Override
        public Vnode root() {
            return rootVnode;
        }

        @Override
        public int statfs(final StatFs out) {
            out.type = magic;
            out.bsize = 4096;
            return 0;
        }

        @Override
        public boolean cacheDentries() {
            return false;
        }

        @Override
        public Vnode lookup(final Vnode dir, final String name) throws ErrnoException {
            if (!(dir.data() instanceof Dir d)) {
                throw new ErrnoException(Errno.ENOTDIR);
            }
            final Node n = d.byName.get(name);
            return n == null ? null : vnode(n);
        }

        @Override
        public long readdir(final Vnode dir, final long cookie, final DirentSink sink) {
            if (!(dir.data() instanceof Dir d)) {
                return Errno.ENOTDIR.negative();
            }
            long next = cookie;
            for (final Node n : d.bySeq.tailMap(cookie, true).values()) {
                if (!sink.accept(n == root ? 1 : n.seq + 1, n.name, n.type(), n.seq + 1)) {
                    return n.seq;
                }
                next = n.seq + 1;
            }
            return next;
        }

        @Override
        public int open(final Vnode vp, final int flags) {
            if (vp.data() instanceof TextFile t && t.writer == null && (flags & Posix.O_ACCMODE) != Posix.O_RDONLY) {
                return Errno.EACCES.negative();
            }
            return 0;
        }

        @Override
        public long read(final Vnode vp, final long offset, final ByteBuffer dst, final int ioflags) {
            return switch ((Node)vp.data()) {
                case TextFile t -> {
                    final byte[] bytes = t.content.get().getBytes(StandardCharsets.UTF_8);
                    if (offset >= bytes.length) {
                        yield 0;
                    }
                    final int n = (int)Math.min(dst.remaining(), bytes.length - offset);
                    dst.put(bytes, (int)offset, n);
                    yield n;
                }
                case Device d -> d.device.read(dst, ioflags);
                case BlockNode b -> blockRead(b.device, offset, dst);
                case Dir d -> Errno.EISDIR.negative();
                case Link l -> Errno.EINVAL.negative();
            };
        }

        @Override
        public long write(final Vnode vp, final long offset, final ByteBuffer src, final int ioflags) {
            return switch ((Node)vp.data()) {
                case TextFile t -> {
                    if (t.writer == null) {
                        yield Errno.EACCES.negative();
                    }
                    final byte[] bytes = new byte[src.remaining()];
                    src.get(bytes);
                    t.writer.accept(new String(bytes, StandardCharsets.UTF_8));
                    yield bytes.length;
                }
                case Device d -> d.device.write(src, ioflags);
                case BlockNode b -> blockWrite(b.device, offset, src);
                case Dir d -> Errno.EISDIR.negative();
                case Link l -> Errno.EINVAL.negative();
            };
        }

        @Override
        public int ioctl(final Vnode vp, final long request, final Object arg) {
            return vp.data() instanceof Device d ? d.device.ioctl(request, arg) : Errno.ENOTTY.negative();
        }

        @Override
        public int truncate(final Vnode vp, final long length) {
            return vp.data() instanceof TextFile t && t.writer != null ? 0 : Errno.EACCES.negative();
        }

        @Override
        public String readlink(final Vnode vp) throws ErrnoException {
            if (vp.data() instanceof Link l) {
                return l.target;
            }
            throw new ErrnoException(Errno.EINVAL);
        }

        @Override
        public int getattr(final Vnode vp, final Stat st) {
            if (vp.data() instanceof Dir d) {
                st.nlink = 2 + d.byName.values().stream().filter(n -> n instanceof Dir).count();
            }
            return 0;
        }
    }

    /** Byte-addressed read of a block device through a sector-aligned bounce buffer. */
    static long blockRead(final BlockDevice dev, final long offset, final ByteBuffer dst) {
        final long size = dev.size();
        if (offset >= size || !dst.hasRemaining()) {
            return 0;
        }
        final int n = (int)Math.min(Math.min(dst.remaining(), size - offset), 1 << 20);
        final long first = offset / BlockDevice.SECTOR_SIZE;
        final long last = (offset + n - 1) / BlockDevice.SECTOR_SIZE;
        final ByteBuffer bounce = ByteBuffer.allocate((int)(last - first + 1) * BlockDevice.SECTOR_SIZE);
        final int r = dev.read(first, bounce);
        if (r < 0) {
            return r;
        }
        dst.put(bounce.array(), (int)(offset - first * BlockDevice.SECTOR_SIZE), n);
        return n;
    }

    /** Byte-addressed write of a block device: read-modify-write of the covered sectors. */
    static long blockWrite(final BlockDevice dev, final long offset, final ByteBuffer src) {
        final long size = dev.size();
        if (offset >= size) {
            return Errno.ENOSPC.negative();
        }
        final int n = (int)Math.min(Math.min(src.remaining(), size - offset), 1 << 20);
        final long first = offset / BlockDevice.SECTOR_SIZE;
        final long last = (offset + n - 1) / BlockDevice.SECTOR_SIZE;
        final ByteBuffer bounce = ByteBuffer.allocate((int)(last - first + 1) * BlockDevice.SECTOR_SIZE);
        int r = dev.read(first, bounce);
        if (r < 0) {
            return r;
        }
        src.get(bounce.array(), (int)(offset - first * BlockDevice.SECTOR_SIZE), n);
        r = dev.write(first, bounce.clear());
        return r < 0 ? r : n;
    }
}
