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
 * backend thread's duty cycle, one thread at a time (a transport may opt in to more: {@link #send} on
 * the kicking thread, {@link #transmitsInline()}, and receive straight into the guest's queue from its
 * own thread, {@link #connectReceiver}). Expected outcomes are return codes, never
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

    /**
     * Inline transmit capability: true when this transport's {@link #send} may run on the thread that
     * kicks the device's transmit queue (the guest's driver, usually a kernel thread on a vCPU carrier),
     * so the device moves the guest's frames to the wire right there instead of waking its backend
     * thread (an in-kernel device, as KVM's in-kernel emulation or a vhost that polls from the exit).
     * Read at every kick; the device falls back to its backend thread whenever the inline path is busy
     * (see {@code VirtioDevice}'s inline kicks).
     *
     * <p>A transport that answers true promises that {@link #send} on such a thread:
     * <ul>
     *   <li>never blocks and never waits for another thread: its locks are only {@code tryLock}ed, and
     *       what it cannot do now it queues for its own thread (or reports {@link #BACK_PRESSURED});
     *       host I/O is non-blocking only;</li>
     *   <li>never reaches a scheduler preemption point (no {@code KThread.preemptionPoint}, no kernel
     *       {@code Mutex}, no kernel wait): the kicking kernel thread holds JDK locks (the driver's
     *       transmit lock, the device's work lock) that its carrier owns, so it must not be switched out
     *       until the send returns (the carrier-identity rule of {@code dev.osvj.sched});</li>
     *   <li>is still called by one thread at a time, as from the backend (the device serialises both).</li>
     * </ul>
     * Default false: every send runs on the device's backend thread.
     */
    default boolean transmitsInline() {
        return false;
    }

    /**
     * Whether {@link #poll} may have a frame now: false only when the transport knows nothing waits,
     * because every frame it queues for {@link #poll} is queued in this JVM and followed by a wake-up of
     * the polling thread (a switch port whose switch runs here: it counts what it queued). The device's
     * backend thread then skips its receive poll, and with it the receive lock that direct receivers
     * ({@link #connectReceiver}) take, while the wire is idle: an idle backend thread does not make a
     * direct receive find the lock held. Called by the thread that calls {@link #poll} (the device's
     * backend), before it would; a volatile read or two. Default true (poll always).
     */
    default boolean mayHaveFrames() {
        return true;
    }

    /**
     * Whether the device's backend thread must poll this transport now and then: false when every frame it
     * queues for {@link #poll} is followed by a wake-up of the polling thread ({@link #mayHaveFrames}'s
     * condition, as a standing property), so an idle backend may park until a kick or that wake-up. Default
     * true (sockets, taps: frames arrive without telling the backend).
     */
    default boolean needsPolling() {
        return true;
    }

    /**
     * Direct receive capability: the device hands the transport its receive entry
     * ({@link DirectReceiver}) once, before any frame moves; a transport whose peer runs in this JVM (a
     * gateway, a switch) may then write frames straight into the guest's receive queue from its own
     * thread instead of leaving them for {@link #poll} on the device's backend thread. Ignored by
     * default (frames go through {@link #poll}).
     */
    default void connectReceiver(final DirectReceiver receiver) {
    }

    /**
     * A device's direct receive entry (see {@link #connectReceiver}): {@code offerRx} copies one frame
     * into the guest's next receive buffer(s) and interrupts the driver unless it suppressed interrupts.
     * The caller keeps per-flow order itself: after any result other than {@link #RX_TAKEN} it must
     * deliver this frame, and every later one, through its {@link #poll} queue until that queue is
     * drained, then it may offer directly again (the device polls the queue once the guest posted
     * buffers, so such frames are delayed, never lost).
     */
    @FunctionalInterface
    interface DirectReceiver {
        /** The frame is in the guest's receive queue (or was dropped and counted, as a NIC drops). */
        int RX_TAKEN = 0;
        /** The guest has no receive buffer posted: the caller keeps the frame (its {@link #poll} queue). */
        int RX_NO_ROOM = 1;
        /** The device is not running (not yet DRIVER_OK, reset, or needs a reset). */
        int RX_DOWN = 2;
        /** {@code mayWait} was false and another thread is receiving into the device right now. */
        int RX_BUSY = 3;

        /**
         * Receive {@code buffer[offset .. offset + length)} (copied before the call returns).
         *
         * @param mayWait true: wait while another thread receives into this device (a host thread);
         *     false: never wait, answer {@link #RX_BUSY} instead (a kernel thread, or a thread inside an
         *     inline transmit, which must not block).
         */
        int offerRx(MemorySegment buffer, long offset, int length, boolean mayWait);
    }

    /** "stream unix:/run/passt.sock", for lsdev. */
    String describe();

    @Override
    void close();
}
