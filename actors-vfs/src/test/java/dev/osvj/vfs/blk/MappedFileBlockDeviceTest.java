package dev.osvj.vfs.blk;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MappedFileBlockDeviceTest extends BlockDeviceContract {
    @TempDir
    Path dir;

    @Override
    protected BlockDevice writable(final long sectors) throws Exception {
        return MappedFileBlockDevice.create("vblk0", dir.resolve("disk.img"), sectors * 512);
    }

    @Override
    protected BlockDevice readOnly(final byte[] content) throws Exception {
        final Path f = dir.resolve("ro.img");
        Files.write(f, content);
        return MappedFileBlockDevice.open("vblk1", f, true);
    }

    @Test
    void shouldReachTheHostFileAfterFlush() throws Exception {
        final Path f = dir.resolve("persist.img");
        try (MappedFileBlockDevice dev = MappedFileBlockDevice.create("vblk2", f, 4096)) {
            final ByteBuffer b = ByteBuffer.allocate(512);
            b.put(0, (byte)7);
            dev.write(3, b);
            dev.flush();
        }
        assertEquals(7, Files.readAllBytes(f)[3 * 512]);
        assertEquals(4096, Files.size(f));
    }

    @Test
    void shouldExposeOnlyWholeSectors() throws Exception {
        final Path f = dir.resolve("odd.img");
        Files.write(f, new byte[1000]);
        try (MappedFileBlockDevice dev = MappedFileBlockDevice.open("vblk3", f, true)) {
            assertEquals(1, dev.sectors());
        }
    }
}
