package dev.osvj.virtio.net;

import dev.osvj.kernel.pcap.PcapWriter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Records every frame a transport sends and receives into a pcap file ({@code --pcap FILE},
 * {@code osvj.net.pcap}, or a device's {@code pcap} option) and passes it on unchanged. For
 * debugging: each recorded frame costs a small buffer object and a write.
 */
public final class PcapTransport implements FrameTransport {
    private final FrameTransport inner;
    private final PcapWriter pcap;
    private final boolean ownsWriter;
    private final LongSupplier epochNanos;
    private final AtomicLong writeErrors = new AtomicLong();

    /**
     * @param ownsWriter close the writer with the transport (a per-device file), or not (the kernel's).
     * @param epochNanos capture timestamps, nanoseconds since the epoch.
     */
    public PcapTransport(final FrameTransport inner, final PcapWriter pcap, final boolean ownsWriter,
        final LongSupplier epochNanos) {
        this.inner = inner;
        this.pcap = pcap;
        this.ownsWriter = ownsWriter;
        this.epochNanos = epochNanos;
    }

    private void record(final MemorySegment buffer, final long offset, final int length) {
        try {
            pcap.write(epochNanos.getAsLong(), buffer.asSlice(offset, length).asByteBuffer());
        } catch (final IOException e) {
            writeErrors.incrementAndGet();
        }
    }

    @Override
    public int send(final MemorySegment buffer, final long offset, final int length) {
        final int rc = inner.send(buffer, offset, length);
        if (rc == 0) {
            record(buffer, offset, length);
        }
        return rc;
    }

    @Override
    public int poll(final FrameSink sink, final int limit) {
        return inner.poll((b, o, l) -> {
            record(b, o, l);
            sink.onFrame(b, o, l);
        }, limit);
    }

    @Override
    public int offloadHeaderLength() {
        return inner.offloadHeaderLength();
    }

    @Override
    public void enableOffloads(final boolean csum, final boolean tso4) {
        inner.enableOffloads(csum, tso4);
    }

    @Override
    public String describe() {
        return inner.describe() + ", pcap";
    }

    @Override
    public void close() {
        inner.close();
        if (ownsWriter) {
            try {
                pcap.close();
            } catch (final IOException e) {
                writeErrors.incrementAndGet();
            }
        }
    }
}
