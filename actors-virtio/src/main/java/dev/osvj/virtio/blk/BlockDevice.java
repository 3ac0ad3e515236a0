package dev.osvj.virtio.blk;

import java.lang.foreign.MemorySegment;

/**
 * A block device: what the VFS reads filesystems from (rofs through virtio-blk) and what a virtio-blk
 * device serves its requests from. Implemented by the host-side backends ({@link FileImageBackend})
 * and by the guest-side {@link VirtioBlkDriver}; every implementation runs the same contract test.
 *
 * <p>Offsets and lengths are bytes and, for portable callers, multiples of {@link #SECTOR_SIZE}
 * (the virtio driver refuses others with {@code -EINVAL}). Results follow the kernel's convention:
 * {@code 0} on success or a negative errno: {@code -EIO} for a request beyond the capacity or a device
 * error (virtio IOERR), {@code -EROFS} for a write to a read-only device, {@code -EINVAL} for a
 * misaligned request. Nothing here throws for an expected failure.
 *
 * <p>Buffers are (segment, offset, length) triples, Agrona style, so nothing is allocated per
 * request. When the segment is guest memory the virtio driver hands the device its physical address
 * (zero copy); other segments are copied through a bounce buffer in guest memory.
 *
 * <p>Thread-safe: requests may come from several threads at once; calls block until the request
 * completed (a kernel thread waiting for its disk).
 */
public interface BlockDevice extends AutoCloseable {
    /** The unit of virtio-blk addressing (capacity and sector numbers). */
    int SECTOR_SIZE = 512;

    /** The device's name ("vblk0"). */
    String name();

    /** Capacity in bytes, a multiple of {@link #SECTOR_SIZE}. */
    long capacity();

    /** Logical block size in bytes (virtio BLK_SIZE), a power of two, at least 512. */
    int blockSize();

    boolean readOnly();

    /** The device's serial number (virtio GET_ID), at most 20 bytes. */
    String id();

    /** Read {@code length} bytes at device {@code offset} into {@code buffer[bufferOffset..]}. */
    int read(long offset, MemorySegment buffer, long bufferOffset, int length);

    /** Write {@code length} bytes from {@code buffer[bufferOffset..]} at device {@code offset}. */
    int write(long offset, MemorySegment buffer, long bufferOffset, int length);

    /** Make every completed write durable (virtio FLUSH; a host file image forces it to disk). */
    int flush();

    @Override
    void close();
}
