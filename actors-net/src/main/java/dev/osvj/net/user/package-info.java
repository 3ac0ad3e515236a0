/**
 * The embedded {@code user} network backend ({@link dev.osvj.net.user.UserGateway}): QEMU-style
 * user-mode networking inside the JVM, a second osvj stack as the guest's peer, with a one-address DHCP
 * server, host TCP port forwards ({@code hostfwd}) and the outbound NAT that carries guest TCP
 * connections and UDP datagrams to the host ({@code osvj.net.user.outbound}). The virtio-net device
 * reaches it through the system module's glue.
 *
 * <p>Threading follows passt: one event loop ({@code HostLoop}: a selector over all host sockets, the
 * guest's frames that found the loop busy ({@code GuestLink}), and the gateway stack's timers) carries
 * every connection, driven by the gateway sockets' readiness callbacks
 * ({@link dev.osvj.net.stack.Sockets#watch}); no thread per connection. Guest frames are processed on
 * the thread that transmits them when the stack is free: with the virtio-net device's inline transmit
 * that is a kernel thread (the guest driver's), which only ever {@code tryLock}s here, never waits and
 * reaches no scheduler preemption point, so the JDK locks it takes are safe (see the carrier-identity
 * rule in {@code dev.osvj.sched}). Everything else runs on host threads (the loop, the device backend,
 * the DHCP and NAT threads).
 */
package dev.osvj.net.user;
