package dev.osvj.system.glue;

import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.vfs.blk.BlockDevice;
import dev.osvj.vfs.blk.BlockDeviceProvider;
import dev.osvj.virtio.VirtioDevices;

import java.util.List;

/**
 * Connects the virtio-blk devices to the VFS ("block devices bound"). Boots after virtio (which
 * publishes {@link VirtioDevices}) and before the VFS, and publishes a {@link BlockDeviceProvider}
 * whose devices are the virtio-blk drivers adapted by {@link VirtioBlockAdapter}: the VFS attaches
 * them as {@code /dev/<virtio device name>} ({@code /dev/vblk0} for the first
 * {@code osvj.devices} entry of {@code type = blk} without a name) before it mounts
 * {@code osvj.mounts}, so {@code {type = rofs, source = "/dev/vblk0", path = "/app"}} reads its image
 * through virtio.
 *
 * <p>Why a glue subsystem rather than actors-vfs depending on actors-virtio (DESIGN.md draws
 * {@code virtio <- vfs}): the VFS needs only its own block-device interface, the two interfaces differ
 * (sectors and byte buffers against byte offsets and memory segments), and the network stack is
 * wired the same way ({@link NetGlueSubsystem}); so actors-vfs stays testable without virtio and the
 * only module that knows both is the one that assembles the kernel.
 *
 * <p>With no virtio service, or no block device, nothing is published. Declares no keys of its own.
 */
public final class BlkGlueSubsystem implements Subsystem {
    /** Between {@link Order#VIRTIO} and {@link Order#VFS}. */
    static final int ORDER = 350;

    @Override
    public String name() {
        return "blkglue";
    }

    @Override
    public int order() {
        return ORDER;
    }

    @Override
    public String phase() {
        return "block devices bound";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        // no keys: the device keys are actors-virtio's, the mounts actors-vfs's
    }

    @Override
    public void boot(final BootContext context) {
        context.services().find(VirtioDevices.class).ifPresent(devices -> {
            final List<BlockDevice> adapted = devices.blockDevices().stream()
                .<BlockDevice>map(VirtioBlockAdapter::new).toList();
            if (!adapted.isEmpty()) {
                context.services().provide(BlockDeviceProvider.class, () -> adapted);
            }
        });
    }

    @Override
    public void stop(final KernelContext context) {
        // nothing to release: the devices are the virtio subsystem's
    }
}
