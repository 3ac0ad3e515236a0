package dev.osvj.vfs.blk;

import dev.osvj.kernel.Errno;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The contract every {@link BlockDevice} passes (STYLE habit 10). Public and shipped in the module's
 * test jar so that adapters in other modules (the system module's virtio-blk adapter) run it too.
 */
public abstract class BlockDeviceContract {
    /** A writable device of {@code sectors} sectors, zero-filled. */
    protected abstract BlockDevice writable(long sectors) throws Exception;

    /** A read-only device holding {@code content}. */
    protected abstract BlockDevice readOnly(byte[] content) throws Exception;

    @Test
    public void shouldReadBackWhatWasWritten() throws Exception {
        try (BlockDevice dev = writable(64)) {
            assertEquals(64, dev.sectors());
            assertEquals(64 * 512, dev.size());
            final byte[] data = new byte[3 * 512];
            new Random(1).nextBytes(data);
            assertEquals(0, dev.write(10, ByteBuffer.wrap(data)));
            final ByteBuffer back = ByteBuffer.allocate(3 * 512);
            assertEquals(0, dev.read(10, back));
            assertEquals(back.capacity(), back.position(), "read advances the buffer");
            assertArrayEquals(data, back.array());
            final ByteBuffer zero = ByteBuffer.allocate(512);
            assertEquals(0, dev.read(9, zero));
            assertArrayEquals(new byte[512], zero.array());
            assertEquals(0, dev.flush());
        }
    }

    @Test
    public void shouldRefuseMisalignedAndOutOfRangeTransfers() throws Exception {
        try (BlockDevice dev = writable(8)) {
            assertEquals(Errno.EINVAL.negative(), dev.read(0, ByteBuffer.allocate(100)));
            assertEquals(Errno.EINVAL.negative(), dev.write(0, ByteBuffer.allocate(513)));
            assertEquals(Errno.EIO.negative(), dev.read(8, ByteBuffer.allocate(512)));
            assertEquals(Errno.EIO.negative(), dev.read(7, ByteBuffer.allocate(1024)));
            assertEquals(Errno.EIO.negative(), dev.write(-1, ByteBuffer.allocate(512)));
            assertEquals(0, dev.read(7, ByteBuffer.allocate(512)));
            assertEquals(0, dev.read(8, ByteBuffer.allocate(0)));
        }
    }

    @Test
    public void shouldRefuseWritesWhenReadOnly() throws Exception {
        final byte[] content = new byte[1024];
        content[600] = 42;
        try (BlockDevice dev = readOnly(content)) {
            assertEquals(true, dev.readOnly());
            assertEquals(Errno.EROFS.negative(), dev.write(0, ByteBuffer.allocate(512)));
            final ByteBuffer b = ByteBuffer.allocate(512);
            assertEquals(0, dev.read(1, b));
            assertEquals(42, b.get(600 - 512));
        }
    }
}
