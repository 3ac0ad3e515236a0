/**
 * Glue between modules that do not know each other, booted between the subsystems it connects:
 * <ul>
 *   <li>{@link dev.osvj.system.glue.BlkGlueSubsystem} (order 350, after virtio, before the VFS) publishes
 *       the VFS's {@link dev.osvj.vfs.blk.BlockDeviceProvider} with every virtio-blk driver adapted by
 *       {@link dev.osvj.system.glue.VirtioBlockAdapter}, so they appear as {@code /dev/<name>} and rofs
 *       mounts images served by virtio-blk;</li>
 *   <li>{@link dev.osvj.system.glue.NetGlueSubsystem} (order 450, before the network stack) publishes the
 *       stack's {@link dev.osvj.net.dev.NetDeviceProvider} for {@code backend = virtio} interfaces,
 *       adapting each {@link dev.osvj.virtio.net.NetDevicePort} with
 *       {@link dev.osvj.system.glue.VirtioNetAdapter} (zero-copy receive) and plugging the embedded
 *       {@link dev.osvj.net.user.UserGateway} into {@code backend = user} devices with
 *       {@link dev.osvj.system.glue.UserFrameTransport};</li>
 *   <li>{@link dev.osvj.system.glue.ProcGlueSubsystem} (order 550, after the network stack) registers
 *       {@code /proc/meminfo}, {@code /proc/net/*}, {@code /proc/stat} and {@code /proc/cpuinfo} over
 *       the mmu's, the stack's and the scheduler's live numbers.</li>
 * </ul>
 * Also home of the built-in {@code echo} application.
 */
package dev.osvj.system.glue;
