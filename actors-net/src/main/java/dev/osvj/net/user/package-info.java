/**
 * The embedded {@code user} network backend ({@link dev.osvj.net.user.UserGateway}): QEMU-style
 * user-mode networking inside the JVM, a second osvj stack as the guest's peer, with a one-address DHCP
 * server, host TCP port forwards ({@code hostfwd}) and the outbound NAT that carries guest TCP
 * connections and UDP datagrams to the host ({@code osvj.net.user.outbound}). The virtio-net device
 * reaches it through the system module's glue.
 *
 * <p>Threading follows passt: one event loop ({@code HostLoop}: a selector over all host sockets, the
 * guest's frames queued by the device thread ({@code GuestLink}; or processed inline on it), and the
 * gateway stack's timers) carries every connection, driven by the gateway sockets' readiness callbacks
 * ({@link dev.osvj.net.stack.Sockets#watch}); no thread per connection. Everything here runs
 * on host threads (the device backend, the loop, the DHCP and NAT threads), never on kernel threads, so
 * the JDK locks it uses are safe (see the carrier-identity rule in {@code dev.osvj.sched}).
 */
package dev.osvj.net.user;
