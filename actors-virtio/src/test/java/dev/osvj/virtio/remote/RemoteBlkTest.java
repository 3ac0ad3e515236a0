package dev.osvj.virtio.remote;

import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.virtio.GuestMemory;
import dev.osvj.virtio.blk.BlockDevice;
import dev.osvj.virtio.blk.BlockDeviceContract;
import dev.osvj.virtio.blk.VirtioBlkDriver;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The block-device contract with the virtio-blk backend in a child JVM (vhost-user style): guest
 * memory is a shared memory file both processes map, the virtqueue in it carries the requests, and
 * only register accesses, kicks and interrupts cross the UNIX socket.
 */
class RemoteBlkTest extends BlockDeviceContract {
    static final long RAM = 8L << 20;
    private RemoteTransport transport;

    @Override
    protected BlockDevice open(final Path image, final boolean readOnly) throws Exception {
        final File ramFile = image.resolveSibling("guest-ram-" + System.nanoTime()).toFile();
        final PhysicalMemory ram = PhysicalMemory.mapFile(ramFile, RAM);
        closeLater(() -> {
            ram.close();
            ramFile.delete();
        });
        final GuestMemory guest = new GuestMemory(ram, new PageAllocator(ram, 0));
        transport = RemoteTransport.launchBlk(ramFile, RAM, image, readOnly, 128);
        closeLater(transport);
        return new VirtioBlkDriver("vblk-remote", transport, guest, 64);
    }

    @Test
    void shouldRunTheDeviceInAnotherProcess() throws Exception {
        final BlockDevice d = open(image(), true);
        closeLater(d);
        assertNotEquals(ProcessHandle.current().pid(), transport.process().pid());
        assertTrue(transport.process().isAlive());
        assertTrue(transport.location().startsWith("child JVM pid "));
        final MemorySegment buf = MemorySegment.ofArray(new byte[4096]);
        assertEquals(0, d.read(4096, buf, 0, 4096));
        assertEquals(pattern(4096 + 100), buf.get(ValueLayout.JAVA_BYTE, 100));
    }
}
