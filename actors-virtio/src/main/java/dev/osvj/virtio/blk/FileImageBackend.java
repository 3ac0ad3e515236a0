package dev.osvj.virtio.blk;

import dev.osvj.kernel.Errno;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A block backend over a host file image, memory-mapped whole (read-only or read-write): reads and
 * writes are copies between the mapping and the caller's buffer (guest memory, for the virtio-blk
 * device: one copy, no syscall), and {@link #flush} forces the mapping to disk ({@code msync}).
 *
 * <p>The capacity is the file size rounded down to whole sectors. Requests are checked against it
 * ({@code -EIO} beyond it, as virtio-blk's IOERR); byte granularity is allowed, since a device
 * request's data may be split across guest buffers of any size. Thread-safe: concurrent requests
 * copy concurrently (a block device gives no ordering between overlapping in-flight requests).
 */
public final class FileImageBackend implements BlockDevice {
    private final String name;
    private final Path path;
    private final boolean readOnly;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment image;
    private final long capacity;
    private final String id;

    private FileImageBackend(final String name, final Path path, final boolean readOnly) throws IOException {
        this.name = name;
        this.path = path;
        this.readOnly = readOnly;
        try (FileChannel ch = readOnly
            ? FileChannel.open(path, StandardOpenOption.READ)
            : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            final long size = ch.size();
            this.capacity = size / SECTOR_SIZE * SECTOR_SIZE;
            if (capacity == 0) {
                arena.close();
                throw new IOException(path + ": image smaller than one sector (" + size + " bytes)");
            }
            this.image = ch.map(readOnly ? FileChannel.MapMode.READ_ONLY : FileChannel.MapMode.READ_WRITE, 0, capacity, arena);
        }
        final String file = path.getFileName().toString();
        this.id = file.length() > VirtioBlk.ID_BYTES ? file.substring(0, VirtioBlk.ID_BYTES) : file;
    }

    /**
     * Map an existing image.
     *
     * @throws IOException when the file cannot be opened or is smaller than one sector.
     */
    public static FileImageBackend open(final String name, final Path path, final boolean readOnly) throws IOException {
        return new FileImageBackend(name, path, readOnly);
    }

    @Override
    public String name() {
        return name;
    }

    public Path path() {
        return path;
    }

    @Override
    public long capacity() {
        return capacity;
    }

    @Override
    public int blockSize() {
        return SECTOR_SIZE;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public String id() {
        return id;
    }

    private int check(final long offset, final int length) {
        if (offset < 0 || length < 0) {
            return -Errno.EINVAL.number();
        }
        if (offset > capacity - length) {
            return -Errno.EIO.number();
        }
        return 0;
    }

    @Override
    public int read(final long offset, final MemorySegment buffer, final long bufferOffset, final int length) {
        final int rc = check(offset, length);
        if (rc != 0) {
            return rc;
        }
        MemorySegment.copy(image, offset, buffer, bufferOffset, length);
        return 0;
    }

    @Override
    public int write(final long offset, final MemorySegment buffer, final long bufferOffset, final int length) {
        if (readOnly) {
            return -Errno.EROFS.number();
        }
        final int rc = check(offset, length);
        if (rc != 0) {
            return rc;
        }
        MemorySegment.copy(buffer, bufferOffset, image, offset, length);
        return 0;
    }

    @Override
    public int flush() {
        if (!readOnly) {
            image.force();
        }
        return 0;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            flush();
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "file " + path + (readOnly ? " (ro)" : " (rw)");
    }
}
