package dev.osvj.virtio.fs;

import dev.osvj.kernel.Errno;
import dev.osvj.virtio.DeviceType;
import dev.osvj.virtio.VirtioDevice;
import dev.osvj.virtio.ring.DescriptorChain;
import dev.osvj.virtio.ring.VirtqueueDevice;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The virtio-fs device (backend side, the role of virtiofsd): serves FUSE requests ({@link Fuse}) from
 * one host folder, read-only. Queue 0 is the hiprio queue (FORGET), queue 1 the one request queue.
 *
 * <p><b>Confinement.</b> A node is a path of names below the root, each name checked (not empty, not
 * {@code .} or {@code ..}, no {@code /} or NUL) and each looked up without following symbolic links,
 * so a node is never a link that was followed; a symbolic link is a node of its own whose target
 * READLINK returns as text for the guest to resolve in its namespace. Before every host access the
 * node's real path is checked to be still under the root's real path, which catches a directory
 * replaced by a link on the host after its lookup (a residual race between that check and the access
 * remains: the JDK has no openat; documented in the report, not hidden).
 *
 * <p><b>Errors.</b> Writing opcodes answer EROFS; unknown ones ENOSYS; a chain without a whole
 * {@code fuse_in_header}, whose {@code len} disagrees with the readable bytes, or whose arguments are
 * short answers EINVAL; an unknown node id ENOENT, an unknown file handle EBADF; never an exception
 * out of {@link #doWork} (a bug of ours answers EIO). A chain with no room for a {@code fuse_out_header} (other than FORGET) is returned
 * unused and counted as malformed.
 *
 * <p>Served on the device agent's thread only: the node and handle tables need no locks.
 */
public final class VirtioFsDevice extends VirtioDevice {
    static final int BATCH = 64;
    /** Most open file and directory handles at once; more answer ENFILE. */
    static final int MAX_HANDLES = 4096;
    /** Largest READ or READDIR reply payload served (bigger requests are cut to it). */
    static final int MAX_READ = 1 << 20;
    static final int HIPRIO = 0;
    static final int REQUESTS = 1;

    private final Path root;
    private final Path realRoot;
    private final String tag;
    /** node id -> names below the root ("" is the root). */
    private final Map<Long, Node> nodes = new HashMap<>();
    private final Map<String, Node> byPath = new HashMap<>();
    private final Map<Long, Object> handles = new HashMap<>();
    /** The request as copied from the chain: header, arguments (a name of up to 255 bytes and its NUL). */
    private final MemorySegment in = Arena.ofAuto().allocate(Fuse.IN_HEADER + 4096, 8);
    private final MemorySegment outHeader = Arena.ofAuto().allocate(Fuse.OUT_HEADER, 8);
    private final MemorySegment out = Arena.ofAuto().allocate(4096, 8);
    private final ByteBuffer data = ByteBuffer.allocateDirect(64 * 1024);
    private final MemorySegment dataSegment = MemorySegment.ofBuffer(data);
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong malformed = new AtomicLong();
    private long nextNode = Fuse.ROOT_ID + 1;
    private long nextHandle = 1;
    private DescriptorChain hiprioChain;
    private DescriptorChain requestChain;

    private static final class Node {
        final long id;
        final String rel;
        long lookups;

        Node(final long id, final String rel) {
            this.id = id;
            this.rel = rel;
        }
    }

    /** A directory handle: the entries as listed at OPENDIR, in name order. */
    private record DirHandle(long node, List<String> names, List<Long> inos, List<Integer> types) {
    }

    /**
     * @param guest     guest memory as the device maps it.
     * @param tag       the mount tag the guest sees in the config space (1..36 UTF-8 bytes).
     * @param root      the host folder served; must be an existing directory.
     * @param queueSize the largest queue the device accepts.
     */
    public VirtioFsDevice(final MemorySegment guest, final String tag, final Path root, final int queueSize)
        throws IOException {
        super(DeviceType.FS, guest, 0, 2, queueSize, Fuse.CONFIG_SIZE);
        final byte[] t = tag.getBytes(StandardCharsets.UTF_8);
        if (t.length == 0 || t.length > Fuse.TAG_BYTES) {
            throw new IllegalArgumentException("virtio-fs tag must be 1.." + Fuse.TAG_BYTES + " bytes: \"" + tag + "\"");
        }
        if (!Files.isDirectory(root)) {
            throw new NoSuchFileException(root.toString(), null, "not an existing directory");
        }
        this.tag = tag;
        this.root = root.toAbsolutePath().normalize();
        this.realRoot = root.toRealPath();
        for (int i = 0; i < Fuse.TAG_BYTES; i += 4) {
            int word = 0;
            for (int b = 0; b < 4; b++) {
                word |= (i + b < t.length ? t[i + b] & 0xff : 0) << (8 * b);
            }
            putConfig32(Fuse.CONFIG_TAG + i, word);
        }
        putConfig32(Fuse.CONFIG_NUM_REQUEST_QUEUES, 1);
        final Node r = new Node(Fuse.ROOT_ID, "");
        r.lookups = 1;
        nodes.put(r.id, r);
        byPath.put("", r);
    }

    public String tag() {
        return tag;
    }

    public Path root() {
        return root;
    }

    /** Node ids the backend currently knows (root included), for tests of FORGET. */
    int nodeCount() {
        return nodes.size();
    }

    int handleCount() {
        return handles.size();
    }

    @Override
    protected void activate() {
        hiprioChain = queue(HIPRIO) == null ? null : queue(HIPRIO).newChain();
        requestChain = queue(REQUESTS) == null ? null : queue(REQUESTS).newChain();
    }

    @Override
    protected int doWork() {
        return serveQueue(queue(HIPRIO), hiprioChain) + serveQueue(queue(REQUESTS), requestChain);
    }

    private int serveQueue(final VirtqueueDevice q, final DescriptorChain chain) {
        if (q == null) {
            return 0;
        }
        int done = 0;
        while (done < BATCH) {
            final int head = q.pop(chain);
            if (head == VirtqueueDevice.NONE) {
                break;
            }
            done++;
            if (head >= 0) {
                int written;
                try {
                    written = serve(chain);
                } catch (final RuntimeException e) {
                    // A bug of ours must not reach the driver as a hang: answer EIO when there is room.
                    written = reply(chain, Errno.EIO.negative(), 0, 0);
                }
                q.pushUsed(head, written);
            }
        }
        if (done > 0) {
            q.publishUsed();
        }
        return done;
    }

    /** Serve one chain; returns the bytes written into its writable part. */
    private int serve(final DescriptorChain c) {
        final long readable = c.readableBytes();
        if (readable < Fuse.IN_HEADER) {
            malformed.incrementAndGet();
            return c.writableBytes() >= Fuse.OUT_HEADER ? reply(c, Errno.EINVAL.negative(), 0, 0) : 0;
        }
        final int n = (int)Math.min(readable, in.byteSize());
        c.copyFromReadable(0, in, 0, n);
        final long len = Integer.toUnsignedLong(Fuse.u32(in, 0));
        final int opcode = Fuse.u32(in, 4);
        final long unique = Fuse.u64(in, 8);
        final long nodeid = Fuse.u64(in, 16);
        if (opcode == Fuse.FORGET) {
            if (len == readable && readable >= Fuse.IN_HEADER + Fuse.FORGET_IN) {
                forget(nodeid, Fuse.u64(in, Fuse.IN_HEADER));
            } else {
                malformed.incrementAndGet();
            }
            return 0; // FORGET has no reply
        }
        if (c.writableBytes() < Fuse.OUT_HEADER) {
            malformed.incrementAndGet();
            return 0;
        }
        requests.incrementAndGet();
        if (len != readable || readable > in.byteSize()) {
            return reply(c, Errno.EINVAL.negative(), unique, 0);
        }
        final int argLength = (int)(len - Fuse.IN_HEADER);
        final int result = switch (opcode) {
            case Fuse.INIT -> init(argLength);
            case Fuse.LOOKUP -> lookup(nodeid, argLength);
            case Fuse.GETATTR -> getattr(nodeid);
            case Fuse.READLINK -> readlink(c, nodeid, unique);
            case Fuse.OPEN -> open(nodeid, argLength, false);
            case Fuse.OPENDIR -> open(nodeid, argLength, true);
            case Fuse.READ -> read(c, nodeid, argLength, unique);
            case Fuse.READDIR -> readdir(c, nodeid, argLength, unique);
            case Fuse.RELEASE -> release(argLength, false);
            case Fuse.RELEASEDIR -> release(argLength, true);
            case Fuse.STATFS -> statfs(nodeid);
            case Fuse.FLUSH, Fuse.FSYNC, Fuse.FSYNCDIR, Fuse.DESTROY -> 0;
            default -> Fuse.writes(opcode) ? Errno.EROFS.negative() : Errno.ENOSYS.negative();
        };
        if (result == DONE) {
            return written;
        }
        return reply(c, result < 0 ? result : 0, unique, result < 0 ? 0 : result);
    }

    /** Marker result: the handler wrote its reply itself (into {@link #written}). */
    private static final int DONE = Integer.MIN_VALUE;
    private int written;

    /** Write the out header and {@code length} bytes of {@link #out}; returns the bytes written. */
    private int reply(final DescriptorChain c, final int error, final long unique, final int length) {
        if (error < 0) {
            errors.incrementAndGet();
        }
        final int body = (int)Math.min(length, c.writableBytes() - Fuse.OUT_HEADER);
        final MemorySegment header = outHeader;
        Fuse.putOutHeader(header, 0, Fuse.OUT_HEADER + body, error, unique);
        c.copyToWritable(0, header, 0, Fuse.OUT_HEADER);
        if (body > 0) {
            c.copyToWritable(Fuse.OUT_HEADER, out, 0, body);
        }
        return Fuse.OUT_HEADER + body;
    }

    private int init(final int argLength) {
        if (argLength < Fuse.INIT_IN) {
            return Errno.EINVAL.negative();
        }
        final int major = Fuse.u32(in, Fuse.IN_HEADER);
        if (major != Fuse.KERNEL_VERSION) {
            return Errno.EPROTONOSUPPORT.negative();
        }
        final int minor = Math.min(Fuse.u32(in, Fuse.IN_HEADER + 4), Fuse.KERNEL_MINOR_VERSION);
        out.asSlice(0, Fuse.INIT_OUT).fill((byte)0);
        Fuse.put32(out, 0, Fuse.KERNEL_VERSION);
        Fuse.put32(out, 4, minor);
        Fuse.put32(out, 8, Fuse.u32(in, Fuse.IN_HEADER + 8));
        Fuse.put32(out, 12, 0); // no optional features
        Fuse.put16(out, 16, 16);
        Fuse.put16(out, 18, 12);
        Fuse.put32(out, 20, 0); // max_write: nothing is written
        Fuse.put32(out, 24, 1); // time_gran: nanoseconds
        Fuse.put16(out, 28, MAX_READ / 4096);
        return Fuse.INIT_OUT;
    }

    /** The name argument of LOOKUP: NUL-terminated within the arguments, checked; null when bad. */
    private String name(final int argLength) {
        int end = 0;
        while (end < argLength && in.get(ValueLayout.JAVA_BYTE, Fuse.IN_HEADER + end) != 0) {
            end++;
        }
        if (end == 0 || end > 255) {
            return null;
        }
        final byte[] b = new byte[end];
        MemorySegment.copy(in, ValueLayout.JAVA_BYTE, Fuse.IN_HEADER, b, 0, end);
        return new String(b, StandardCharsets.UTF_8);
    }

    private int lookup(final long parentId, final int argLength) {
        final Node parent = nodes.get(parentId);
        if (parent == null) {
            return Errno.ENOENT.negative();
        }
        final String name = name(argLength);
        if (name == null) {
            return Errno.EINVAL.negative();
        }
        if (".".equals(name) || "..".equals(name) || name.indexOf('/') >= 0) {
            return Errno.EACCES.negative(); // never a step outside, nor an alias of a path
        }
        final Path dir = confined(parent);
        if (dir == null) {
            return Errno.EACCES.negative();
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return Errno.ENOTDIR.negative();
        }
        final String rel = parent.rel.isEmpty() ? name : parent.rel + "/" + name;
        final Path p = root.resolve(rel);
        final int r = attr(p, out, 40);
        if (r < 0) {
            return r;
        }
        Node node = byPath.get(rel);
        if (node == null) {
            node = new Node(nextNode++, rel);
            nodes.put(node.id, node);
            byPath.put(rel, node);
        }
        node.lookups++;
        Fuse.put64(out, 0, node.id);
        Fuse.put64(out, 8, 0);
        Fuse.put64(out, 16, 1);
        Fuse.put64(out, 24, 1);
        Fuse.put32(out, 32, 0);
        Fuse.put32(out, 36, 0);
        return Fuse.ENTRY_OUT;
    }

    private void forget(final long nodeid, final long nlookup) {
        final Node n = nodes.get(nodeid);
        if (n == null || nodeid == Fuse.ROOT_ID) {
            return;
        }
        n.lookups -= Math.min(n.lookups, nlookup);
        if (n.lookups == 0) {
            nodes.remove(nodeid);
            byPath.remove(n.rel);
        }
    }

    /**
     * The host path of {@code n} when its real path is still under the root (no component of it was
     * replaced by a link that leaves the folder), else null. The final component is not followed.
     */
    private Path confined(final Node n) {
        final Path p = n.rel.isEmpty() ? root : root.resolve(n.rel);
        try {
            final Path parent = n.rel.isEmpty() ? realRoot : p.getParent().toRealPath();
            if (!parent.startsWith(realRoot)) {
                return null;
            }
            return n.rel.isEmpty() ? realRoot : parent.resolve(p.getFileName());
        } catch (final IOException e) {
            return null;
        }
    }

    private Path path(final long nodeid) {
        final Node n = nodes.get(nodeid);
        return n == null ? null : confined(n);
    }

    private int getattr(final long nodeid) {
        if (!nodes.containsKey(nodeid)) {
            return Errno.ENOENT.negative();
        }
        final Path p = path(nodeid);
        if (p == null) {
            return Errno.EACCES.negative();
        }
        final int r = attr(p, out, 16);
        if (r < 0) {
            return r;
        }
        Fuse.put64(out, 0, 1);
        Fuse.put32(out, 8, 0);
        Fuse.put32(out, 12, 0);
        return Fuse.ATTR_OUT;
    }

    /** Fill a fuse_attr of {@code p} (not following a final link) at {@code at} of {@code dst}. */
    private static int attr(final Path p, final MemorySegment dst, final int at) {
        final Map<String, Object> a;
        try {
            a = Files.readAttributes(p, "unix:ino,size,mode,nlink,uid,gid,rdev,lastAccessTime,lastModifiedTime,ctime",
                LinkOption.NOFOLLOW_LINKS);
        } catch (final IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return errno(e);
        }
        final long size = (Long)a.get("size");
        Fuse.put64(dst, at, (Long)a.get("ino"));
        Fuse.put64(dst, at + 8, size);
        Fuse.put64(dst, at + 16, (size + 511) / 512);
        putTime(dst, at + 24, at + 48, (FileTime)a.get("lastAccessTime"));
        putTime(dst, at + 32, at + 52, (FileTime)a.get("lastModifiedTime"));
        putTime(dst, at + 40, at + 56, (FileTime)a.get("ctime"));
        Fuse.put32(dst, at + 60, (Integer)a.get("mode"));
        Fuse.put32(dst, at + 64, (Integer)a.get("nlink"));
        Fuse.put32(dst, at + 68, (Integer)a.get("uid"));
        Fuse.put32(dst, at + 72, (Integer)a.get("gid"));
        Fuse.put32(dst, at + 76, (int)(long)(Long)a.get("rdev"));
        Fuse.put32(dst, at + 80, 4096);
        Fuse.put32(dst, at + 84, 0);
        return 0;
    }

    private static void putTime(final MemorySegment dst, final int secAt, final int nsecAt, final FileTime t) {
        final long ns = t == null ? 0 : t.to(TimeUnit.NANOSECONDS);
        Fuse.put64(dst, secAt, Math.floorDiv(ns, 1_000_000_000L));
        Fuse.put32(dst, nsecAt, (int)Math.floorMod(ns, 1_000_000_000L));
    }

    private static int errno(final Exception e) {
        if (e instanceof NoSuchFileException) {
            return Errno.ENOENT.negative();
        }
        if (e instanceof NotDirectoryException) {
            return Errno.ENOTDIR.negative();
        }
        if (e instanceof AccessDeniedException) {
            return Errno.EACCES.negative();
        }
        if (e instanceof java.nio.file.FileSystemLoopException) {
            return Errno.ELOOP.negative();
        }
        if (e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null
            && fse.getReason().contains("symbolic links")) {
            return Errno.ELOOP.negative();
        }
        return Errno.EIO.negative();
    }

    private int readlink(final DescriptorChain c, final long nodeid, final long unique) {
        if (!nodes.containsKey(nodeid)) {
            return Errno.ENOENT.negative();
        }
        final Path p = path(nodeid);
        if (p == null) {
            return Errno.EACCES.negative();
        }
        if (!Files.isSymbolicLink(p)) {
            return Errno.EINVAL.negative();
        }
        final byte[] target;
        try {
            target = Files.readSymbolicLink(p).toString().getBytes(StandardCharsets.UTF_8);
        } catch (final IOException e) {
            return errno(e);
        }
        if (target.length > out.byteSize()) {
            return Errno.ENAMETOOLONG.negative();
        }
        MemorySegment.copy(target, 0, out, ValueLayout.JAVA_BYTE, 0, target.length);
        return target.length;
    }

    private int open(final long nodeid, final int argLength, final boolean dir) {
        if (argLength < Fuse.OPEN_IN) {
            return Errno.EINVAL.negative();
        }
        if (!nodes.containsKey(nodeid)) {
            return Errno.ENOENT.negative();
        }
        final int flags = Fuse.u32(in, Fuse.IN_HEADER);
        if ((flags & Fuse.O_ACCMODE) != 0 || (flags & (Fuse.O_CREAT | Fuse.O_TRUNC)) != 0) {
            return Errno.EROFS.negative();
        }
        if (handles.size() >= MAX_HANDLES) {
            return Errno.ENFILE.negative();
        }
        final Path p = path(nodeid);
        if (p == null) {
            return Errno.EACCES.negative();
        }
        final Object handle;
        if (dir) {
            if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                return Files.exists(p, LinkOption.NOFOLLOW_LINKS) ? Errno.ENOTDIR.negative() : Errno.ENOENT.negative();
            }
            final List<String> names = new ArrayList<>();
            try (DirectoryStream<Path> s = Files.newDirectoryStream(p)) {
                for (final Path e : s) {
                    names.add(e.getFileName().toString());
                }
            } catch (final IOException e) {
                return errno(e);
            }
            names.sort(null);
            final List<Long> inos = new ArrayList<>(names.size());
            final List<Integer> types = new ArrayList<>(names.size());
            for (final String name : names) {
                long ino = 0;
                int type = 0;
                try {
                    final Map<String, Object> a = Files.readAttributes(p.resolve(name), "unix:ino,mode",
                        LinkOption.NOFOLLOW_LINKS);
                    ino = (Long)a.get("ino");
                    type = ((Integer)a.get("mode") >>> 12) & 0xf; // DT_* is S_IFMT >> 12
                } catch (final IOException | RuntimeException e) {
                    // vanished since the listing: DT_UNKNOWN
                }
                inos.add(ino);
                types.add(type);
            }
            handle = new DirHandle(nodeid, names, inos, types);
        } else {
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                return Errno.EISDIR.negative();
            }
            if (Files.isSymbolicLink(p)) {
                return Errno.ELOOP.negative(); // O_NOFOLLOW semantics: the guest resolves links itself
            }
            try {
                handle = FileChannel.open(p, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            } catch (final IOException | RuntimeException e) {
                return errno(e);
            }
        }
        final long fh = nextHandle++;
        handles.put(fh, handle);
        out.asSlice(0, Fuse.OPEN_OUT).fill((byte)0);
        Fuse.put64(out, 0, fh);
        return Fuse.OPEN_OUT;
    }

    private int read(final DescriptorChain c, final long nodeid, final int argLength, final long unique) {
        if (argLength < Fuse.READ_IN) {
            return Errno.EINVAL.negative();
        }
        final Object h = handles.get(Fuse.u64(in, Fuse.IN_HEADER));
        if (!(h instanceof FileChannel ch)) {
            return h == null ? Errno.EBADF.negative() : Errno.EISDIR.negative();
        }
        final long offset = Fuse.u64(in, Fuse.IN_HEADER + 8);
        if (offset < 0) {
            return Errno.EINVAL.negative();
        }
        final long size = Math.min(Math.min(Integer.toUnsignedLong(Fuse.u32(in, Fuse.IN_HEADER + 16)), MAX_READ),
            c.writableBytes() - Fuse.OUT_HEADER);
        long done = 0;
        try {
            while (done < size) {
                data.clear().limit((int)Math.min(data.capacity(), size - done));
                final int n = ch.read(data, offset + done);
                if (n <= 0) {
                    break;
                }
                c.copyToWritable(Fuse.OUT_HEADER + done, dataSegment, 0, n);
                done += n;
            }
        } catch (final IOException e) {
            return errno(e);
        }
        final MemorySegment header = outHeader;
        Fuse.putOutHeader(header, 0, (int)(Fuse.OUT_HEADER + done), 0, unique);
        c.copyToWritable(0, header, 0, Fuse.OUT_HEADER);
        written = (int)(Fuse.OUT_HEADER + done);
        return DONE;
    }

    private int readdir(final DescriptorChain c, final long nodeid, final int argLength, final long unique) {
        if (argLength < Fuse.READ_IN) {
            return Errno.EINVAL.negative();
        }
        final Object h = handles.get(Fuse.u64(in, Fuse.IN_HEADER));
        if (!(h instanceof DirHandle d)) {
            return h == null ? Errno.EBADF.negative() : Errno.ENOTDIR.negative();
        }
        final long offset = Fuse.u64(in, Fuse.IN_HEADER + 8);
        final long size = Math.min(Math.min(Integer.toUnsignedLong(Fuse.u32(in, Fuse.IN_HEADER + 16)), MAX_READ),
            c.writableBytes() - Fuse.OUT_HEADER);
        long pos = 0;
        for (long i = Math.max(0, offset); i < d.names().size(); i++) {
            final byte[] name = d.names().get((int)i).getBytes(StandardCharsets.UTF_8);
            final int entry = Fuse.direntSize(name.length);
            if (pos + entry > size || entry > out.byteSize()) {
                break;
            }
            out.asSlice(0, entry).fill((byte)0);
            Fuse.put64(out, 0, d.inos().get((int)i));
            Fuse.put64(out, 8, i + 1);
            Fuse.put32(out, 16, name.length);
            Fuse.put32(out, 20, d.types().get((int)i));
            MemorySegment.copy(name, 0, out, ValueLayout.JAVA_BYTE, Fuse.DIRENT_NAME, name.length);
            c.copyToWritable(Fuse.OUT_HEADER + pos, out, 0, entry);
            pos += entry;
        }
        final MemorySegment header = outHeader;
        Fuse.putOutHeader(header, 0, (int)(Fuse.OUT_HEADER + pos), 0, unique);
        c.copyToWritable(0, header, 0, Fuse.OUT_HEADER);
        written = (int)(Fuse.OUT_HEADER + pos);
        return DONE;
    }

    private int release(final int argLength, final boolean dir) {
        if (argLength < Fuse.RELEASE_IN) {
            return Errno.EINVAL.negative();
        }
        final long fh = Fuse.u64(in, Fuse.IN_HEADER);
        final Object h = handles.get(fh);
        if (h == null || (h instanceof DirHandle) != dir) {
            return Errno.EBADF.negative();
        }
        handles.remove(fh);
        if (h instanceof FileChannel ch) {
            try {
                ch.close();
            } catch (final IOException e) {
                return Errno.EIO.negative();
            }
        }
        return 0;
    }

    private int statfs(final long nodeid) {
        if (!nodes.containsKey(nodeid)) {
            return Errno.ENOENT.negative();
        }
        try {
            final FileStore store = Files.getFileStore(realRoot);
            final long bsize = 4096;
            out.asSlice(0, Fuse.STATFS_OUT).fill((byte)0);
            Fuse.put64(out, 0, store.getTotalSpace() / bsize);
            Fuse.put64(out, 8, store.getUnallocatedSpace() / bsize); // the host's numbers, as virtiofsd gives them
            Fuse.put64(out, 16, store.getUsableSpace() / bsize);
            Fuse.put64(out, 24, nodes.size());
            Fuse.put64(out, 32, 0);
            Fuse.put32(out, 40, (int)bsize);
            Fuse.put32(out, 44, 255);
            Fuse.put32(out, 48, (int)bsize);
        } catch (final IOException e) {
            return errno(e);
        }
        return Fuse.STATFS_OUT;
    }

    @Override
    public String deviceCounters() {
        return "requests=" + requests.get() + " errors=" + errors.get() + " malformed=" + malformed.get() + " nodes="
            + nodes.size() + " handles=" + handles.size();
    }

    @Override
    public String location() {
        return "host folder " + root + " (tag " + tag + ", read-only)";
    }

    @Override
    public void close() {
        super.close();
        for (final Object h : handles.values()) {
            if (h instanceof FileChannel ch) {
                try {
                    ch.close();
                } catch (final IOException e) {
                    // closing at shutdown: nothing to report to
                }
            }
        }
        handles.clear();
    }
}
