package dev.osvj.system.glue;

import dev.osvj.kernel.Errno;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.vfs.blk.BlockDevice;
import dev.osvj.vfs.blk.BlockDeviceContract;
import dev.osvj.vfs.blk.PageCache;
import dev.osvj.virtio.DeviceAgent;
import dev.osvj.virtio.GuestMemory;
import dev.osvj.virtio.blk.FileImageBackend;
import dev.osvj.virtio.blk.VirtioBlkDevice;
import dev.osvj.virtio.blk.VirtioBlkDriver;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The VFS's block-device contract through the adapter, over the whole virtio path: the guest driver,
 * the split virtqueue in guest memory and the virtio-blk device on its backend thread, serving a host
 * file image. Plus what the adapter adds: names, buffer positions on success and failure, direct
 * buffers, and the page cache rofs reads through.
 */
class VirtioBlockAdapterTest extends BlockDeviceContract {
    @TempDir
    Path dir;

    private final Deque<AutoCloseable> resources = new ArrayDeque<>();
    private int images;

    /** A virtio-blk driver named {@code name} over {@code image}, with its device running. */
    private VirtioBlkDriver driver(final String name, final Path image, final boolean readOnly) throws Exception {
        final PhysicalMemory ram = PhysicalMemory.allocate(8L << 20);
        resources.push(ram::close);
        final GuestMemory guest = new GuestMemory(ram, new PageAllocator(ram, 0));
        final VirtioBlkDevice device = new VirtioBlkDevice(ram.segment(), FileImageBackend.open(name, image, readOnly),
            64, 32, 128 * 1024);
        resources.push(device);
        final DeviceAgent agent = new DeviceAgent("blk-adapter-test");
        agent.add(device);
        final AgentRunner runner = DeviceAgent.start(agent, new BackoffIdleStrategy(10, 10, 1000, 1_000_000));
        resources.push(runner);
        final VirtioBlkDriver driver = new VirtioBlkDriver(name, device, guest, 64);
        resources.push(driver);
        return driver;
    }

    @AfterEach
    void closeAll() throws Exception {
        while (!resources.isEmpty()) {
            resources.pop().close();
        }
    }

    @Override
    protected BlockDevice writable(final long sectors) throws Exception {
        final Path image = dir.resolve("w" + images++ + ".img");
        Files.write(image, new byte[(int)sectors * 512]);
        return new VirtioBlockAdapter(driver("vblk0", image, false));
    }

    @Override
    protected BlockDevice readOnly(final byte[] content) throws Exception {
        final Path image = dir.resolve("r" + images++ + ".img");
        Files.write(image, content);
        return new VirtioBlockAdapter(driver("vblk1", image, true));
    }

    @Test
    void shouldTakeTheVirtioDeviceNameAndSize() throws Exception {
        final Path image = dir.resolve("named.img");
        Files.write(image, new byte[10 * 512 + 100]);
        final BlockDevice dev = new VirtioBlockAdapter(driver("appdisk", image, true));
        assertEquals("appdisk", dev.name());
        assertEquals(10, dev.sectors(), "whole sectors of the image");
        assertEquals(true, dev.readOnly());
    }

    @Test
    void shouldMoveTheBufferPositionOnlyOnSuccessAndServeDirectBuffers() throws Exception {
        final byte[] content = new byte[8 * 512];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte)(i * 31 + 7);
        }
        final BlockDevice dev = readOnly(content);
        final ByteBuffer direct = ByteBuffer.allocateDirect(4 * 512);
        direct.position(512).limit(3 * 512);
        assertEquals(0, dev.read(2, direct));
        assertEquals(3 * 512, direct.position());
        assertEquals(content[2 * 512], direct.get(512));
        assertEquals(content[4 * 512 - 1], direct.get(3 * 512 - 1));
        final ByteBuffer tooFar = ByteBuffer.allocate(2 * 512);
        assertEquals(Errno.EIO.negative(), dev.read(7, tooFar));
        assertEquals(0, tooFar.position(), "a failed read leaves the buffer");
        final ByteBuffer w = ByteBuffer.allocate(512);
        assertEquals(Errno.EROFS.negative(), dev.write(0, w));
        assertEquals(0, w.position());
    }

    @Test
    void shouldFeedThePageCacheRofsReadsThrough() throws Exception {
        final byte[] content = new byte[16 * 4096];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte)(i / 4096 + i);
        }
        final PageCache cache = new PageCache(readOnly(content), 4);
        final byte[] got = new byte[3 * 4096 + 10];
        assertEquals(0, cache.read(4096L + 5, ByteBuffer.wrap(got)));
        assertEquals(4, cache.misses(), "pages 1 to 4 came through virtio");
        for (int i = 0; i < got.length; i++) {
            assertEquals(content[4096 + 5 + i], got[i], "byte " + i);
        }
    }
}
