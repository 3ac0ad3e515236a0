package dev.osvj.vfs;

import dev.osvj.kernel.ErrnoException;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A tiny read-only test filesystem: a root directory of regular files whose content is given, with
 * hooks around read and a count of lookups, to observe what the VFS does.
 */
final class StaticFs implements FileSystemType {
    /** Called inside the read VOP, with the vnode's lock held as the VFS holds it. */
    interface ReadHook {
        void inRead(Vnode vp) throws Exception;
    }

    final Map<String, byte[]> files = new LinkedHashMap<>();
    final AtomicInteger lookups = new AtomicInteger();
    volatile ReadHook readHook = vp -> {
    };

    @Override
    public String name() {
        return "staticfs";
    }

    @Override
    public FileSystem mount(final Mount mount, final String source, final Map<String, String> options) {
        final Map<String, Vnode> nodes = new LinkedHashMap<>();
        final VnodeOps ops = new VnodeOps() {
            @Override
            public Vnode lookup(final Vnode dir, final String name) {
                lookups.incrementAndGet();
                return nodes.get(name);
            }

            @Override
            public long readdir(final Vnode dir, final long cookie, final DirentSink sink) {
                long i = 0;
                for (final Vnode v : nodes.values()) {
                    if (i >= cookie && !sink.accept(v.ino(), (String)v.data(), v.type(), i + 1)) {
                        return i;
                    }
                    i++;
                }
                return i;
            }

            @Override
            public long read(final Vnode vp, final long offset, final ByteBuffer dst, final int ioflags) {
                try {
                    readHook.inRead(vp);
                } catch (final Exception e) {
                    return dev.osvj.kernel.Errno.EIO.negative();
                }
                final byte[] data = files.get((String)vp.data());
                if (offset >= data.length) {
                    return 0;
                }
                final int n = (int)Math.min(dst.remaining(), data.length - offset);
                dst.put(data, (int)offset, n);
                return n;
            }
        };
        final Vnode root = new Vnode(mount, 1, VType.VDIR, 0755, ops, "/");
        long ino = 2;
        for (final Map.Entry<String, byte[]> e : files.entrySet()) {
            final Vnode v = new Vnode(mount, ino++, VType.VREG, 0444, ops, e.getKey());
            v.setSize(e.getValue().length);
            nodes.put(e.getKey(), v);
        }
        return new FileSystem() {
            @Override
            public Vnode root() {
                return root;
            }

            @Override
            public int statfs(final StatFs out) {
                return 0;
            }

            @Override
            public boolean readOnly() {
                return true;
            }
        };
    }

    static Vfs mountedAt(final StaticFs fs, final String path) throws ErrnoException {
        final Vfs vfs = TestVfs.ramfsRoot();
        vfs.registerFileSystem(fs);
        TestVfs.check(vfs.mkdir(path, 0755));
        TestVfs.check(vfs.mount("staticfs", "none", path, Map.of()));
        return vfs;
    }
}
