package dev.osvj.vfs.blk;

import dev.osvj.kernel.Errno;

import java.nio.ByteBuffer;

/** A block device in a heap array: for tests, and for images built in memory. */
public final class MemoryBlockDevice implements BlockDevice {
    private final String name;
    private final byte[] data;
    private final boolean readOnly;

    /** @param data the device content; its length must be a multiple of 512 */
    public MemoryBlockDevice(final String name, final byte[] data, final boolean readOnly) {
        if (data.length % SECTOR_SIZE != 0) {
            throw new IllegalArgumentException("size " + data.length + " is not a multiple of " + SECTOR_SIZE);
        }
        this.name = name;
        this.data = data;
        this.readOnly = readOnly;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long sectors() {
        return data.length / SECTOR_SIZE;
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
        dst.put(data, (int)(sector * SECTOR_SIZE), dst.remaining());
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
        src.get(data, (int)(sector * SECTOR_SIZE), src.remaining());
        return 0;
    }

    @Override
    public int flush() {
        return 0;
    }

    @Override
    public void close() {
    }
}
