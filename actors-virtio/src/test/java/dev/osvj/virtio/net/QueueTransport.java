package dev.osvj.virtio.net;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Test transport: frames in from a queue the test fills, frames out to a queue the test drains. With
 * a host header length of 12 it acts as a TAP with IFF_VNET_HDR: each inbound element is a
 * {@code virtio_net_hdr} followed by the frame, and {@link #enableOffloads} records what the device
 * enabled.
 */
class QueueTransport implements FrameTransport {
    final BlockingQueue<byte[]> inbound = new LinkedBlockingQueue<>();
    final BlockingQueue<byte[]> outbound = new LinkedBlockingQueue<>();
    private final int headerLength;
    volatile String enabled = "none";

    QueueTransport() {
        this(0);
    }

    QueueTransport(final int headerLength) {
        this.headerLength = headerLength;
    }

    @Override
    public int offloadHeaderLength() {
        return headerLength;
    }

    @Override
    public void enableOffloads(final boolean csum, final boolean tso4) {
        enabled = "csum=" + csum + " tso4=" + tso4;
    }

    @Override
    public int send(final MemorySegment buffer, final long offset, final int length) {
        outbound.add(buffer.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE));
        return 0;
    }

    @Override
    public int poll(final FrameSink sink, final int limit) {
        int n = 0;
        byte[] f;
        while (n < limit && (f = inbound.poll()) != null) {
            sink.onFrame(MemorySegment.ofArray(f), headerLength, f.length - headerLength);
            n++;
        }
        return n;
    }

    @Override
    public String describe() {
        return "queue";
    }

    @Override
    public void close() {
    }
}
