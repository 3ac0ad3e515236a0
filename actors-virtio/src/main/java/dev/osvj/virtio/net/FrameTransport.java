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

    /** "stream unix:/run/passt.sock", for lsdev. */
    String describe();

    @Override
    void close();
}
