package dev.osvj.net.dev;

import org.agrona.DirectBuffer;

/**
 * A network interface card as the stack sees it: Ethernet frames out through {@link #transmit}, frames
 * in through {@link #poll}, and an "interrupt" ({@link #setRxNotifier}) when frames wait. This is the
 * port the virtio-net driver is adapted to (its used-ring interrupt is the notifier, draining the used
 * ring is {@code poll}).
 *
 * <p>Threads: {@code transmit} is called by any thread (application threads sending, the receive path
 * answering); {@code poll} by one receive context at a time (the device's interrupt actor or thread).
 * The notifier runs on the transmitting or device thread and must only schedule work (send a message,
 * unpark), never process frames itself.
 */
public interface NetDevice {
    /** Interface name ({@code lo}, {@code eth0}). */
    String name();

    /** MAC address in the low 48 bits (0 for loopback). */
    long mac();

    /** Largest IP packet the link carries (the Ethernet payload), in bytes. */
    int mtu();

    /**
     * Send one frame; the device copies it before returning.
     *
     * @return true when the frame was queued, false when the device dropped it (queue full, down).
     */
    boolean transmit(DirectBuffer buffer, int offset, int length);

    /**
     * Send what {@link #transmit} left owed: a device may queue a frame in order under the caller's lock
     * and defer the doorbell (which may run a whole transmit on this thread, see the virtio-net driver's
     * inline transmit) until the caller has released its locks. The stack calls this after releasing the
     * interface's transmit lock, after every {@code transmit} made under it. Any thread; the default does
     * nothing (a device that sends from {@code transmit} itself).
     */
    default void flushTransmit() {
    }

    /**
     * Deliver up to {@code budget} received frames to {@code handler}, in order.
     *
     * @return the number delivered; less than {@code budget} means the receive queue is now empty.
     */
    int poll(FrameHandler handler, int budget);

    /**
     * Register the receive "interrupt": run once when frames become available after the receive queue
     * was drained by {@link #poll} (not once per frame).
     */
    void setRxNotifier(Runnable notifier);

    /**
     * Received frames the device itself dropped before the stack saw them (receive queue overflow,
     * impairments); the interface's {@code rx_dropped} includes them. Transmit failures are not counted
     * here: {@link #transmit} returns false and the stack counts them as {@code tx_dropped}.
     */
    long droppedFrames();

    /**
     * Push mode, for a device whose driver has a receive context of its own (the virtio-net driver's
     * interrupt actor draining the used ring): the stack hands its receive path over once, and the
     * device calls {@code receivePath} with each frame as a view into the receive buffer, from that one
     * context, instead of waiting to be {@link #poll polled}. This is OSv's design, where the driver's
     * receive routine runs the classifier, and it avoids a copy into an intermediate queue.
     *
     * @return true when the device delivers this way from now on (then {@link #poll} delivers nothing
     *     and the stack needs no receive actor for it); false (the default) for polled devices.
     */
    default boolean deliverInline(final FrameHandler receivePath) {
        return false;
    }
}
