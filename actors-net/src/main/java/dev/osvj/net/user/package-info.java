/**
 * The embedded {@code user} network backend ({@link dev.osvj.net.user.UserGateway}): QEMU-style
 * user-mode networking inside the JVM, a second osvj stack as the guest's peer, with a one-address DHCP
 * server and host TCP port forwards ({@code hostfwd}). The virtio-net device reaches it through the
 * system module's glue.
 */
package dev.osvj.net.user;
