package dev.osvj.net.dev;

import org.agrona.MutableDirectBuffer;

/**
 * Receives frames from a device during {@link NetDevice#poll}. The frame is valid only during the
 * call (the device reuses the memory afterwards); the handler may modify it in place.
 *
 * <p>Checksum offload: a device whose driver knows a frame's layer-4 checksum is good without computing
 * it (virtio-net NEEDS_CSUM or DATA_VALID from the host) calls
 * {@link #onFrame(MutableDirectBuffer, int, int, int)} with {@link #CHECKSUM_VALID}, and only on a
 * handler that {@link #acceptsChecksumValid() accepts it}; the frame's checksum field may then hold only
 * the pseudo-header sum, so the handler must not verify it (the IPv4 header checksum is still complete).
 */
@FunctionalInterface
public interface FrameHandler {
    /** Receive flag: the frame's TCP/UDP/ICMP checksum is known good and must not be verified. */
    int CHECKSUM_VALID = 1;

    void onFrame(MutableDirectBuffer buffer, int offset, int length);

    /** A frame with receive flags ({@link #CHECKSUM_VALID}); only called on handlers that accept them. */
    default void onFrame(final MutableDirectBuffer buffer, final int offset, final int length, final int flags) {
        onFrame(buffer, offset, length);
    }

    /** True when this handler honours {@link #CHECKSUM_VALID} (the stack's receive path does). */
    default boolean acceptsChecksumValid() {
        return false;
    }
}
