package dev.osvj.vfs.blk;

import java.util.List;

/**
 * The block devices of drivers the VFS does not know, published as a service by a subsystem that boots
 * before the VFS (the system module's glue adapts the virtio-blk drivers of actors-virtio, so that
 * actors-vfs does not depend on actors-virtio). The VFS subsystem looks it up once at boot and
 * attaches every device as {@code /dev/<name>} before the {@code osvj.vfs.disks} images and before it
 * mounts {@code osvj.mounts}, so an fstab entry such as {@code source = "/dev/vblk0"} can name them.
 *
 * <p>The provider keeps ownership: the VFS never closes these devices (their driver's subsystem does
 * when it stops). Names must be unique among themselves; the disk images take the first free
 * {@code vblkN} names after them.
 */
@FunctionalInterface
public interface BlockDeviceProvider {
    /** The devices to attach, in the order {@code /dev} lists them; called once, during the VFS's boot. */
    List<BlockDevice> blockDevices();
}
