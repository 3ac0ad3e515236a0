package dev.osvj.virtio.blk;

import dev.osvj.kernel.Errno;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The block-device contract every {@link BlockDevice} runs: reads return the image's bytes, writes
 * read back, FLUSH makes writes durable in the host file, requests beyond the capacity fail with
 * {@code -EIO} (and the device keeps working), a read-only device refuses writes with
 * {@code -EROFS}, and concurrent requests do not mix. Subclasses say how to open a device over an
 * image file.
 */
public abstract class BlockDeviceContract {
    protected static final int IMAGE_BYTES = 1 << 20;

    @TempDir
    protected Path dir;
    private final List<AutoCloseable> opened = new ArrayList<>();

    /** Open a block device over {@code image}. */
    protected abstract BlockDevice open(Path image, boolean readOnly) throws Exception;

    /** Register something to close after the test (devices, memory, threads), closed in reverse. */
    protected final void closeLater(final AutoCloseable c) {
        opened.add(c);
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = opened.size() - 1; i >= 0; i--) {
            opened.get(i).close();
        }
    }

    protected static byte pattern(final long i) {
        return (byte)(i * 31 + (i >>> 9));
    }

    protected Path image() throws Exception {
        final byte[] b = new byte[IMAGE_BYTES];
        for (int i = 0; i < b.length; i++) {
            b[i] = pattern(i);
        }
        final Path p = dir.resolve("disk.img");
        Files.write(p, b);
        return p;
    }

    private BlockDevice device(final boolean readOnly) throws Exception {
        final BlockDevice d = open(image(), readOnly);
        closeLater(d);
        return d;
    }

    @Test
    void shouldReportCapacityBlockSizeAndId() throws Exception {
        final BlockDevice d = device(false);
        assertEquals(IMAGE_BYTES, d.capacity());
        assertEquals(512, d.blockSize());
        assertEquals("disk.img", d.id());
    }

    @Test
    void shouldReadTheImageBytes() throws Exception {
        final BlockDevice d = device(true);
        final MemorySegment buf = MemorySegment.ofArray(new byte[8192]);
        assertEquals(0, d.read(0x3000, buf, 0, 8192));
        for (int i = 0; i < 8192; i++) {
            assertEquals(pattern(0x3000 + i), buf.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
        }
        // A large read, bigger than one bounce buffer, into a native buffer at an offset.
        final MemorySegment big = Arena.ofAuto().allocate(300 * 1024 + 7);
        assertEquals(0, d.read(IMAGE_BYTES - 300 * 1024, big, 7, 300 * 1024));
        assertEquals(pattern(IMAGE_BYTES - 300 * 1024), big.get(ValueLayout.JAVA_BYTE, 7));
        assertEquals(pattern(IMAGE_BYTES - 1), big.get(ValueLayout.JAVA_BYTE, 7 + 300 * 1024 - 1));
    }

    @Test
    void shouldReadBackWhatWasWrittenAndFlushItToTheFile() throws Exception {
        final Path image = image();
        final BlockDevice d = open(image, false);
        final byte[] data = new byte[4096];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte)(0x5a ^ i);
        }
        assertEquals(0, d.write(512 * 9, MemorySegment.ofArray(data), 0, data.length));
        final byte[] back = new byte[4096];
        assertEquals(0, d.read(512 * 9, MemorySegment.ofArray(back), 0, back.length));
        assertArrayEquals(data, back);
        assertEquals(0, d.flush());
        // Durable in the host file (read through the page cache, independent of the device's mapping).
        final byte[] file = Files.readAllBytes(image);
        for (int i = 0; i < data.length; i++) {
            assertEquals(data[i], file[512 * 9 + i]);
        }
        assertEquals(pattern(512 * 9 - 1), file[512 * 9 - 1], "bytes before the write unchanged");
        assertEquals(pattern(512 * 9 + 4096), file[512 * 9 + 4096], "bytes after the write unchanged");
        d.close();
    }

    @Test
    void shouldFailRequestsBeyondTheCapacityWithEioAndKeepWorking() throws Exception {
        final BlockDevice d = device(false);
        final MemorySegment buf = MemorySegment.ofArray(new byte[1024]);
        assertEquals(-Errno.EIO.number(), d.read(IMAGE_BYTES, buf, 0, 512));
        assertEquals(-Errno.EIO.number(), d.read(IMAGE_BYTES - 512, buf, 0, 1024));
        assertEquals(-Errno.EIO.number(), d.write(IMAGE_BYTES + 512L * 1000, buf, 0, 512));
        assertEquals(-Errno.EIO.number(), d.read(Long.MAX_VALUE / 1024 * 512, buf, 0, 512));
        assertEquals(0, d.read(IMAGE_BYTES - 512, buf, 0, 512));
        assertEquals(pattern(IMAGE_BYTES - 512), buf.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void shouldRefuseWritesOnAReadOnlyDevice() throws Exception {
        final Path image = image();
        final BlockDevice d = open(image, true);
        closeLater(d);
        assertTrue(d.readOnly());
        final MemorySegment buf = MemorySegment.ofArray(new byte[512]);
        buf.fill((byte)1);
        assertEquals(-Errno.EROFS.number(), d.write(0, buf, 0, 512));
        assertEquals(0, d.flush());
        assertEquals(0, d.read(0, buf, 0, 512));
        assertEquals(pattern(0), buf.get(ValueLayout.JAVA_BYTE, 0));
        assertEquals(pattern(1), Files.readAllBytes(image)[1]);
    }

    @Test
    void shouldServeConcurrentRequestsWithoutMixingThem() throws Exception {
        final BlockDevice d = device(false);
        final ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            final List<Future<?>> jobs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                final int thread = t;
                jobs.add(pool.submit(() -> {
                    final MemorySegment buf = MemorySegment.ofArray(new byte[4096]);
                    for (int i = 0; i < 200; i++) {
                        final long off = ((thread * 200L + i) * 4096) % (IMAGE_BYTES / 2);
                        if (thread == 3) {
                            buf.fill((byte)i);
                            assertEquals(0, d.write(IMAGE_BYTES / 2 + (i % 64) * 4096L, buf, 0, 4096));
                        } else {
                            assertEquals(0, d.read(off, buf, 0, 4096));
                            assertEquals(pattern(off + 4095), buf.get(ValueLayout.JAVA_BYTE, 4095));
                        }
                    }
                    return null;
                }));
            }
            for (final Future<?> f : jobs) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
