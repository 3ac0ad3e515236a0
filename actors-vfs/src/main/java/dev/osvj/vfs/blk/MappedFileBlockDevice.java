package dev.osvj.vfs.blk;

import dev.osvj.kernel.Errno;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A block device backed by a host image file, memory-mapped (DESIGN.md's block backend). The whole
 * file is one shared mapping, so transfers are memory copies and reads of different sectors run in
 * parallel; {@link #flush} forces dirty pages to the file. A file whose size is not a multiple of 512
 * exposes only its whole sectors.
 */
public final class MappedFileBlockDevice implements BlockDevice {
    private final String name;
    private final Arena arena;
    private final MemorySegment map;
    private final boolean readOnly;
    private final long sectors;

    private MappedFileBlockDevice(final String name, final Arena arena, final MemorySegment map, final boolean readOnly) {
        this.name = name;
        this.arena = arena;
        this.map = map;
        this.readOnly = readOnly;
        this.sectors = map.byteSize() / SECTOR_SIZE;
    }

    /** Map an existing image file. */
    public static MappedFileBlockDevice open(final String name, final Path file, final boolean readOnly) throws IOException {
        final Arena arena = Arena.ofShared();
        try (FileChannel ch = readOnly
            ? FileChannel.open(file, StandardOpenOption.READ)
            : FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            final MemorySegment map = ch.map(readOnly ? FileChannel.MapMode.READ_ONLY : FileChannel.MapMode.READ_WRITE,
                0, ch.size(), arena);
            return new MappedFileBlockDevice(name, arena, map, readOnly);
        } catch (final IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Create (or extend) {@code file} to {@code bytes} (rounded up to a sector) and map it read-write. */
    public static MappedFileBlockDevice create(final String name, final Path file, final long bytes) throws IOException {
        final long size = (bytes + SECTOR_SIZE - 1) / SECTOR_SIZE * SECTOR_SIZE;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
            StandardOpenOption.WRITE)) {
            if (ch.size() < size) {
                ch.write(ByteBuffer.wrap(new byte[1]), size - 1);
            }
        }
        return open(name, file, false);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long sectors() {
        return sectors;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public int read(final long sector, final ByteBuffer dst) {
        final int bad = BlockDevice.check(this, sector, dst);
        if (bad < 0) {
            return bad;
        }
        final int len = dst.remaining();
        MemorySegment.ofBuffer(dst).copyFrom(map.asSlice(sector * SECTOR_SIZE, len));
        dst.position(dst.position() + len);
        return 0;
    }

    @Override
    public int write(final long sector, final ByteBuffer src) {
        if (readOnly) {
            return Errno.EROFS.negative();
        }
        final int bad = BlockDevice.check(this, sector, src);
        if (bad < 0) {
            return bad;
        }
        final int len = src.remaining();
        map.asSlice(sector * SECTOR_SIZE, len).copyFrom(MemorySegment.ofBuffer(src));
        src.position(src.position() + len);
        return 0;
    }

    /** One byte, for tests that check what reached the file. */
    byte byteAt(final long offset) {
        return map.get(ValueLayout.JAVA_BYTE, offset);
    }

    @Override
    public int flush() {
        if (!readOnly) {
            map.force();
        }
        return 0;
    }

    @Override
    public void close() {
        flush();
        arena.close();
    }
}
