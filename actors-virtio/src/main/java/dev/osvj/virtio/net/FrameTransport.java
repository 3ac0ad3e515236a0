package dev.osvj.virtio.net;

import dev.osvj.kernel.Errno;

import java.lang.foreign.MemorySegment;

/**
 * The host side of a network interface: where a virtio-net device's frames go and come from (the
 * "wire"). Implementations: {@link StreamTransport} (QEMU {@code -netdev stream}, passt),
 * {@link DgramTransport} ({@code -netdev dgram}), {@link TapTransport} (a Linux TAP device), and the
 * embedded {@code user} gateway of actors-net, plugged in through {@link PluggableTransport}.
 *
 * <p>Non-blocking and polled: the virtio-net device calls {@link #send} and {@link #poll} from its
 * backend thread's duty cycle, one thread at a time. Expected outcomes are return codes, never
 * exceptions: a frame the transport cannot take now is {@link #BACK_PRESSURED} (the device drops and
 * counts it, as a NIC does when the wire is busy).
 */
public interface FrameTransport extends AutoCloseable {
    /** {@link #send} result: no room now; the frame was not sent. */
    int BACK_PRESSURED = -Errno.EAGAIN.number();

    /**
     * Send one frame, {@code buffer[offset .. offset + length)}; the bytes may be reused on return.
     *
     * @return 0, {@link #BACK_PRESSURED}, or another negative errno (the link is down).
     */
    int send(MemorySegment buffer, long offset, int length);

    /**
     * Hand up to {@code limit} received frames to {@code sink}.
     *
     * @return the number of frames delivered (0 when none is waiting).
     */
    int poll(FrameSink sink, int limit);

    /**
     * Bytes of host offload header in front of every frame {@link #poll} delivers: 0 (the default),
     * or 12 when the 12 bytes before each frame's {@code offset} are a {@code virtio_net_hdr} from the
     * host (a TAP with IFF_VNET_HDR), whose flags, GSO and checksum fields the device passes on to the
     * guest. Only then does the device offer the guest receive offloads (GUEST_CSUM, GUEST_TSO4).
     */
    default int offloadHeaderLength() {
        return 0;
    }

    /**
     * The guest accepted these receive offloads (after feature negotiation): partial checksums
     * ({@code csum}) and TCPv4 super-frames ({@code tso4}); the host may now send them. Ignored by
     * transports without offloads. Called by the device when the driver sets DRIVER_OK.
     */
    default void enableOffloads(final boolean csum, final boolean tso4) {
    }

    /** "stream unix:/run/passt.sock", for lsdev. */
    String describe();

    @Override
    void close();
}
