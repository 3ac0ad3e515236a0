package dev.osvj.virtio.net;

import java.lang.foreign.MemorySegment;

/**
 * Receives Ethernet frames as zero-copy views: {@code buffer[offset .. offset + length)} is one whole
 * frame (destination MAC first, no FCS, no virtio header). The view is valid only during the call:
 * the bytes belong to the caller (a guest receive buffer, or a transport's receive buffer) and are
 * reused as soon as the call returns; a receiver that keeps a frame copies it. Called on one thread
 * at a time; must not block.
 *
 * <p>Checksum offload: a sink that {@link #acceptsChecksumValid() accepts it} may get frames through
 * {@link #onFrame(MemorySegment, long, int, int)} with {@link #CHECKSUM_VALID}: the frame's layer-4
 * checksum is known good without being computed (the host marked it NEEDS_CSUM, a partial checksum
 * of data it produced itself, or DATA_VALID, checked by the host), and its checksum field may hold
 * only the pseudo-header sum, so the receiver must not verify it (as Linux treats
 * {@code CHECKSUM_PARTIAL}/{@code CHECKSUM_UNNECESSARY}). Other sinks only ever get frames whose
 * checksums are complete.
 */
@FunctionalInterface
public interface FrameSink {
    /** {@link #onFrame(MemorySegment, long, int, int)} flag: the layer-4 checksum needs no check. */
    int CHECKSUM_VALID = 1;

    void onFrame(MemorySegment buffer, long offset, int length);

    /** A frame with receive flags ({@link #CHECKSUM_VALID}); only for sinks that accept them. */
    default void onFrame(final MemorySegment buffer, final long offset, final int length, final int flags) {
        onFrame(buffer, offset, length);
    }

    /** True when this sink honours {@link #CHECKSUM_VALID} (default false: checksums are completed for it). */
    default boolean acceptsChecksumValid() {
        return false;
    }
}
