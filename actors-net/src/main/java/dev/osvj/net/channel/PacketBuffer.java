package dev.osvj.net.channel;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * A received frame copied out of the device's queue (the osvj "mbuf"): a heap array wrapped by an
 * {@link UnsafeBuffer}, and the frame's length. Ownership moves with the reference: the classifier
 * (producer) fills it and offers it to a channel; the consumer processes it and returns it to its
 * {@link PacketPool}. Nobody touches a buffer they do not own.
 */
public final class PacketBuffer {
    final PacketPool pool;
    public final UnsafeBuffer buffer;
    /** Frame length in bytes. */
    public int length;
    /** Index of the interface the frame arrived on. */
    public int ifIndex;
    /**
     * Set by the classifier, which already parsed the frame: where the TCP segment starts and how long
     * it is, and the IPv4 source and destination, so the channel's consumer goes straight to TCP
     * instead of parsing Ethernet and IP again. Valid only for buffers taken from a net channel.
     */
    public int tcpOffset;
    public int tcpLength;
    public int ipSource;
    public int ipDestination;
    /**
     * The device vouched for the frame's layer-4 checksum ({@code FrameHandler.CHECKSUM_VALID}, receive
     * offloads): its checksum field may hold only a partial sum and must not be verified. Cleared by
     * {@link PacketPool#copyOf}; whoever sets it sets it right after the copy.
     */
    public boolean checksumValid;

    PacketBuffer(final PacketPool pool, final int capacity) {
        this.pool = pool;
        this.buffer = new UnsafeBuffer(new byte[capacity]);
    }

    public int capacity() {
        return buffer.capacity();
    }

    /** Give the buffer back to its pool; the caller must not use it afterwards. */
    public void release() {
        pool.release(this);
    }
}
