/**
 * The embedded {@code user} network backend ({@link dev.osvj.net.user.UserGateway}): QEMU-style
 * user-mode networking inside the JVM, a second osvj stack as the guest's peer, with a one-address DHCP
 * server, host TCP port forwards ({@code hostfwd}) and the outbound NAT that carries guest TCP
 * connections and UDP datagrams to the host ({@code osvj.net.user.outbound}). The virtio-net device
 * reaches it through the system module's glue.
 */
package dev.osvj.net.user;
