package dev.osvj.virtio.net;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/** Test transport: frames in from a queue the test fills, frames out to a queue the test drains. */
final class QueueTransport implements FrameTransport {
    final BlockingQueue<byte[]> inbound = new LinkedBlockingQueue<>();
    final BlockingQueue<byte[]> outbound = new LinkedBlockingQueue<>();

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
            sink.onFrame(MemorySegment.ofArray(f), 0, f.length);
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
