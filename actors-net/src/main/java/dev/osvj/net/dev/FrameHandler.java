package dev.osvj.net.dev;

import org.agrona.MutableDirectBuffer;

/**
 * Receives frames from a device during {@link NetDevice#poll}. The frame is valid only during the
 * call (the device reuses the memory afterwards); the handler may modify it in place.
 */
@FunctionalInterface
public interface FrameHandler {
    void onFrame(MutableDirectBuffer buffer, int offset, int length);
}
