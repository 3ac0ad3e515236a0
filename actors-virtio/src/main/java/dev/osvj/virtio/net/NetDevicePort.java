package dev.osvj.virtio.net;

import java.lang.foreign.MemorySegment;

/**
 * A network interface as the network stack (actors-net) sees it: the virtio-net driver's frame port.
 * Received frames arrive at the {@link FrameSink} given to {@link #receiveInto} as zero-copy views into
 * guest memory, on the driver's interrupt actor. Frames to send go either by copy ({@link #transmit})
 * or zero-copy: {@link #tryClaim} a transmit buffer in guest memory, build the frame at
 * {@link #claimedOffset} of {@link #guestMemory}, then {@link #commit} it (Agrona's tryClaim/commit).
 *
 * <p>Transmit methods are thread-safe and never block: no free transmit buffer is
 * {@link FrameTransport#BACK_PRESSURED}; the stack retries later (its own timers), as with a full NIC
 * ring.
 */
public interface NetDevicePort {
    /** Interface name ("eth0"). */
    String name();

    /** The MAC address, 6 bytes (a copy). */
    byte[] mac();

    /** Largest IP packet: the Ethernet payload size (1500 by default). */
    int mtu();

    /** Link state from the device's STATUS (true when the device has no STATUS feature). */
    boolean linkUp();

    /** Where received frames go (replaces the previous sink; frames before the first call are dropped). */
    void receiveInto(FrameSink sink);

    /**
     * Send a copy of {@code buffer[offset .. offset + length)}.
     *
     * @return 0, {@link FrameTransport#BACK_PRESSURED}, or {@code -EMSGSIZE} for a frame above the MTU.
     */
    int transmit(MemorySegment buffer, long offset, int length);

    /**
     * Claim a transmit buffer for a frame of at most {@code maxLength} bytes.
     *
     * @return a claim handle (&gt;= 0), {@link FrameTransport#BACK_PRESSURED}, or {@code -EMSGSIZE}.
     */
    int tryClaim(int maxLength);

    /** Guest memory, where claimed buffers live. */
    MemorySegment guestMemory();

    /** Offset in {@link #guestMemory} where the claimed frame's first byte goes. */
    long claimedOffset(int claim);

    /** Send the claimed frame of {@code length} bytes (the device is kicked, if it asked to be, before this returns). */
    void commit(int claim, int length);

    /**
     * As {@link #commit}, but a kick the device asked for is owed rather than sent: the frame is in the
     * transmit queue, in commit order, and the caller must call {@link #flushTransmit} once it has released
     * the locks it holds (the stack's per-interface transmit lock), so that a kick the device serves inline
     * (a whole transmit on this thread) does not run under them. The default commits and kicks at once.
     */
    default void commitDeferred(final int claim, final int length) {
        commit(claim, length);
    }

    /**
     * Send the kick owed by {@link #commitDeferred} calls (by this thread or another: one kick after the
     * publishes covers them all); nothing when none is owed (one volatile read). Any thread.
     */
    default void flushTransmit() {
    }

    /** Give a claim back unsent. */
    void abort(int claim);
}
