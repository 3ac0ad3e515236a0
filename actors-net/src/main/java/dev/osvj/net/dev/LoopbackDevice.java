package dev.osvj.net.dev;

import org.agrona.DirectBuffer;

/**
 * The loopback interface ({@code lo}): every transmitted frame comes back in through the receive
 * queue. Frames are queued, never delivered inline, so a transmit made while holding a socket lock
 * cannot re-enter the stack on the same thread.
 */
public final class LoopbackDevice extends RingDevice {
    /** Linux's loopback MTU. */
    public static final int DEFAULT_MTU = 65536;

    public LoopbackDevice(final int mtu) {
        super("lo", 0, mtu, 4 << 20);
    }

    public LoopbackDevice() {
        this(DEFAULT_MTU);
    }

    @Override
    public boolean transmit(final DirectBuffer buffer, final int offset, final int length) {
        return deliver(buffer, offset, length);
    }
}
