package dev.osvj.virtio.net;

import java.lang.foreign.MemorySegment;

/**
 * Receives Ethernet frames as zero-copy views: {@code buffer[offset .. offset + length)} is one whole
 * frame (destination MAC first, no FCS, no virtio header). The view is valid only during the call:
 * the bytes belong to the caller (a guest receive buffer, or a transport's receive buffer) and are
 * reused as soon as the call returns; a receiver that keeps a frame copies it. Called on one thread
 * at a time; must not block.
 */
@FunctionalInterface
public interface FrameSink {
    void onFrame(MemorySegment buffer, long offset, int length);
}
