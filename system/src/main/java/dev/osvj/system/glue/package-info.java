/**
 * Glue between modules that do not know each other: the virtio-net driver (actors-virtio) and the
 * network stack (actors-net). {@link dev.osvj.system.glue.NetGlueSubsystem} boots between them and
 * publishes the stack's {@link dev.osvj.net.dev.NetDeviceProvider} for {@code backend = virtio}
 * interfaces, adapting each {@link dev.osvj.virtio.net.NetDevicePort} with
 * {@link dev.osvj.system.glue.VirtioNetAdapter} (zero-copy receive) and plugging the embedded
 * {@link dev.osvj.net.user.UserGateway} into {@code backend = user} devices with
 * {@link dev.osvj.system.glue.UserFrameTransport}. Also home of the built-in {@code echo} application.
 */
package dev.osvj.system.glue;
