package dev.osvj.system.glue;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.vfs.StatFs;
import dev.osvj.vfs.virtiofs.FuseClient;
import dev.osvj.virtio.fs.VirtioFsDriver;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * A virtio-fs driver seen as the VFS's {@link FuseClient}: the same calls, the driver's records
 * converted to the VFS's, and reads into the buffer's remaining bytes ({@code MemorySegment.ofBuffer},
 * no copy here) moving its position by the bytes read. Thread-safe as the driver is; does not own it.
 */
final class VirtioFsAdapter implements FuseClient {
    private final VirtioFsDriver driver;

    VirtioFsAdapter(final VirtioFsDriver driver) {
        this.driver = driver;
    }

    private static Attr attr(final VirtioFsDriver.Attr a) {
        return new Attr(a.ino(), a.size(), a.blocks(), a.atimeNs(), a.mtimeNs(), a.ctimeNs(), a.mode(), a.nlink(), a.uid(),
            a.gid());
    }

    @Override
    public String tag() {
        return driver.tag();
    }

    @Override
    public Entry lookup(final long parent, final String name) throws ErrnoException {
        final VirtioFsDriver.Entry e = driver.lookup(parent, name);
        return new Entry(e.nodeid(), attr(e.attr()));
    }

    @Override
    public Attr getattr(final long nodeid) throws ErrnoException {
        return attr(driver.getattr(nodeid));
    }

    @Override
    public long open(final long nodeid, final boolean dir) {
        return driver.open(nodeid, dir);
    }

    @Override
    public int release(final long nodeid, final long fh, final boolean dir) {
        return driver.release(nodeid, fh, dir);
    }

    @Override
    public long read(final long nodeid, final long fh, final long offset, final ByteBuffer dst) {
        final int length = dst.remaining();
        final long n = driver.read(nodeid, fh, offset, MemorySegment.ofBuffer(dst), 0, length);
        if (n > 0) {
            dst.position(dst.position() + (int)n);
        }
        return n;
    }

    @Override
    public long readdir(final long nodeid, final long fh, final long offset, final DirentConsumer sink) {
        return driver.readdir(nodeid, fh, offset, sink::accept);
    }

    @Override
    public String readlink(final long nodeid) throws ErrnoException {
        return driver.readlink(nodeid);
    }

    @Override
    public int statfs(final StatFs out) {
        try {
            final VirtioFsDriver.Statfs s = driver.statfs();
            out.bsize = s.bsize();
            out.blocks = s.blocks();
            out.bfree = s.bfree();
            out.bavail = s.bavail();
            out.files = s.files();
            out.ffree = s.ffree();
            return 0;
        } catch (final ErrnoException e) {
            return e.errno() == null ? Errno.EIO.negative() : e.errno().negative();
        }
    }

    @Override
    public void forget(final long nodeid, final long nlookup) {
        driver.forget(nodeid, nlookup);
    }

    @Override
    public String toString() {
        return "virtio-fs " + driver.name() + " (tag " + driver.tag() + ")";
    }
}
