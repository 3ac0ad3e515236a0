package dev.osvj.vfs.blk;

import dev.osvj.kernel.Errno;

import java.nio.ByteBuffer;

/**
 * A block device of 512-byte sectors: what rofs reads through (via a {@link PageCache}) and what
 * {@code /dev/vblkN} shows. Implementations: {@link MappedFileBlockDevice} (a host image file, memory
 * mapped), {@link MemoryBlockDevice} (heap, for tests); the virtio-blk driver is adapted to this
 * interface when it exists. All implementations pass the same contract test.
 *
 * <p>Transfers are whole sectors: {@code buffer.remaining()} must be a multiple of {@link #SECTOR_SIZE}
 * and the range must lie inside the device. Results are 0 or {@code -errno}: EINVAL (misaligned
 * length), EIO (out of range, device error), EROFS (write to a read-only device). Thread-safe:
 * transfers to different sectors may run concurrently; overlapping ones have no ordering guarantee.
 */
public interface BlockDevice extends AutoCloseable {
    /** Bytes per sector. */
    int SECTOR_SIZE = 512;

    /** Device name as devfs shows it ({@code vblk0}). */
    String name();

    /** Size in sectors. */
    long sectors();

    /** True when writes fail with EROFS. */
    boolean readOnly();

    /** Read {@code dst.remaining()} bytes from sector {@code sector}, advancing {@code dst}'s position. */
    int read(long sector, ByteBuffer dst);

    /** Write {@code src.remaining()} bytes at sector {@code sector}, advancing {@code src}'s position. */
    int write(long sector, ByteBuffer src);

    /** Make completed writes durable. */
    int flush();

    /** Size in bytes. */
    default long size() {
        return sectors() * SECTOR_SIZE;
    }

    @Override
    void close();

    /** The common argument check: 0, or the {@code -errno} result a transfer must return. */
    static int check(final BlockDevice dev, final long sector, final ByteBuffer buf) {
        final int len = buf.remaining();
        if (len % SECTOR_SIZE != 0) {
            return Errno.EINVAL.negative();
        }
        if (sector < 0 || sector > dev.sectors() || len / SECTOR_SIZE > dev.sectors() - sector) {
            return Errno.EIO.negative();
        }
        return 0;
    }
}
