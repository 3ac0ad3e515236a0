/**
 * The network-device port: what the stack needs from a NIC driver ({@link dev.osvj.net.dev.NetDevice}),
 * and the devices that live inside this module: the loopback interface and an in-memory "wire"
 * joining two stacks (with optional impairments for lossy-link tests). The virtio-net driver is adapted
 * to the same port by the module that wires the two together.
 *
 * <p>Frames cross the port as {@code (buffer, offset, length)} and are copied on transmit, so the
 * caller's buffer is free again when {@code transmit} returns; nothing is allocated per frame.
 */
package dev.osvj.net.dev;
