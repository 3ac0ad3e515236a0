package dev.osvj.system.glue;

import dev.osvj.kernel.Errno;
import dev.osvj.vfs.blk.BlockDevice;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * A virtio-blk driver ({@link dev.osvj.virtio.blk.BlockDevice}: byte offsets, memory segments) seen as
 * the VFS's {@link BlockDevice} (sector numbers, byte buffers), so that rofs reads its image through
 * virtio and {@code /dev/<name>} shows the device under the virtio device's name.
 *
 * <p>A transfer checks its arguments the VFS way first ({@link BlockDevice#check}: EINVAL for a
 * length that is not whole sectors, EIO outside the device; EROFS for a write to a read-only device),
 * then hands the buffer's remaining bytes to the driver as one request,
 * {@code MemorySegment.ofBuffer(buffer)} from its position: no copy here. The driver sends a segment
 * in guest memory to the device by physical address and copies any other (heap or direct buffers, as
 * rofs's page cache uses) through its per-request bounce buffer. On success the buffer's position
 * moves to its limit; on failure it stays and the driver's {@code -errno} is returned.
 *
 * <p>Thread-safe as the driver is (requests from several threads at once, each blocking until its
 * completion). The adapter does not own the driver: {@link #close} does nothing, the virtio subsystem
 * closes its devices when it stops.
 */
final class VirtioBlockAdapter implements BlockDevice {
    private final dev.osvj.virtio.blk.BlockDevice driver;
    private final long sectors;

    VirtioBlockAdapter(final dev.osvj.virtio.blk.BlockDevice driver) {
        this.driver = driver;
        this.sectors = driver.capacity() / SECTOR_SIZE;
    }

    @Override
    public String name() {
        return driver.name();
    }

    @Override
    public long sectors() {
        return sectors;
    }

    @Override
    public boolean readOnly() {
        return driver.readOnly();
    }

    @Override
    public int read(final long sector, final ByteBuffer dst) {
        final int bad = BlockDevice.check(this, sector, dst);
        if (bad < 0) {
            return bad;
        }
        final int length = dst.remaining();
        if (length == 0) {
            return 0;
        }
        final int r = driver.read(sector * SECTOR_SIZE, MemorySegment.ofBuffer(dst), 0, length);
        if (r == 0) {
            dst.position(dst.limit());
        }
        return r;
    }

    @Override
    public int write(final long sector, final ByteBuffer src) {
        if (driver.readOnly()) {
            return Errno.EROFS.negative();
        }
        final int bad = BlockDevice.check(this, sector, src);
        if (bad < 0) {
            return bad;
        }
        final int length = src.remaining();
        if (length == 0) {
            return 0;
        }
        final int r = driver.write(sector * SECTOR_SIZE, MemorySegment.ofBuffer(src), 0, length);
        if (r == 0) {
            src.position(src.limit());
        }
        return r;
    }

    @Override
    public int flush() {
        return driver.flush();
    }

    @Override
    public void close() {
        // the virtio subsystem owns the driver
    }

    @Override
    public String toString() {
        return "virtio-blk " + driver.name() + (driver.id().isEmpty() ? "" : " (id " + driver.id() + ")");
    }
}
