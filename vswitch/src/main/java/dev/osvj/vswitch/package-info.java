/**
 * The virtual switch between kernel instances (issue 10): a learning L2 switch whose ports are Aeron
 * publications and subscriptions, and the {@code vswitch} net backend that puts a virtio-net device
 * on it.
 *
 * <h2>Public API</h2>
 * <ul>
 *   <li>{@link dev.osvj.vswitch.SwitchHost}: an embedded Aeron media driver, a client and the switch
 *       thread; {@code start()}, {@code startSwitch(SwitchSpec)}, {@code find(name)}, {@code close()}.</li>
 *   <li>{@link dev.osvj.vswitch.SwitchSpec}: a switch's name (which gives its stream ids), UDP endpoint,
 *       MTU, ageing time and limits.</li>
 *   <li>{@link dev.osvj.vswitch.VSwitch}: a running switch: port counters ({@link dev.osvj.vswitch.PortStats},
 *       {@link dev.osvj.vswitch.Drop}), the MAC table, {@code connect(portName)} for stations in the
 *       host's JVM (gateways, tests), {@code addTrunk(hostPort)}/{@code removeTrunk}/{@code trunks()}
 *       for a mesh of switches across hosts.</li>
 *   <li>{@link dev.osvj.vswitch.SwitchPort}: a port seen from its station, a virtio-net
 *       {@code FrameTransport}.</li>
 *   <li>{@link dev.osvj.vswitch.VSwitchSubsystem}: joins the devices with {@code backend = vswitch} at
 *       boot, hosts the switches of {@code osvj.vswitch.switches}, and registers the {@code vswitch}
 *       command.</li>
 * </ul>
 *
 * <h2>Threads and memory ordering</h2>
 * One switch thread per {@code SwitchHost} runs every switch of the host and the host's Aeron client
 * conductor (an {@code AgentInvoker}); the embedded media driver has one thread of its own. A switch's forwarding state
 * ({@code SwitchCore}, the egress publications, the trunks) has one user at a time, under the switch's
 * forwarding lock: the switch thread for a duty cycle, or the sending thread of a port in the same JVM
 * that cuts a frame through ({@code VSwitch.cutThrough}); counters are written with plain reads and
 * release stores ({@code lazySet}) by whoever holds the lock; other threads read counters with volatile loads and ask for table-derived answers
 * through the switch's command queue (a many-to-one queue the switch thread drains each duty cycle).
 * A port's {@code send} and {@code poll} are called by one thread at a time (the device's backend
 * thread). Frames cross between threads only inside Aeron's log buffers (its own release/acquire
 * protocol); the switch forwards by copying from the ingress term buffer into each egress log, so no
 * buffer is shared after a call returns. The switch thread unparks an in-JVM port's polling thread
 * once per duty cycle in which it sent it frames, and a port's send unparks the switch thread, so
 * neither waits for the other's idle backoff.
 *
 * <p>Direct receive (cut-through on): a frame for a port whose virtio-net device is in this JVM
 * ({@code SwitchPort.deliverTo}) is written by the forwarding thread straight into that device's
 * receive queue ({@code VirtioNetDevice.offerRx}, under the device's receive lock, taken after the
 * forwarding lock and never the other way), so the destination's device thread is neither woken nor
 * involved; the frame goes to the downlink instead when the guest has no receive buffer, and so do
 * the frames after it until the device's thread has read the downlink up to the publication's
 * position (the subscriber position, a volatile counter), which keeps the frames in order.
 */
package dev.osvj.vswitch;
