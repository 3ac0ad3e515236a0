package dev.osvj.kernel.pcap;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes Ethernet frames to a classic libpcap file (what {@code --pcap FILE} records; tcpdump -r,
 * tshark and Wireshark read it). Little-endian, microsecond timestamps, LINKTYPE_ETHERNET.
 *
 * <pre>
 * global header (24 bytes)
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |                    magic 0xa1b2c3d4                            |
 * +-------------------------------+-------------------------------+
 * |     version major (2)         |      version minor (4)        |
 * +-------------------------------+-------------------------------+
 * |                    thiszone (0)                               |
 * |                    sigfigs (0)                                |
 * |                    snaplen                                    |
 * |                    network (1 = Ethernet)                     |
 * +---------------------------------------------------------------+
 * record header (16 bytes), then incl_len bytes of frame
 * |  ts_sec  |  ts_usec  |  incl_len  |  orig_len  |
 * </pre>
 *
 * Thread-safe: frames from several interfaces may be written concurrently; each record is written
 * whole. Frames longer than the snap length are truncated ({@code incl_len < orig_len}).
 */
public final class PcapWriter implements AutoCloseable {
    public static final int MAGIC = 0xa1b2c3d4;
    public static final int LINKTYPE_ETHERNET = 1;
    public static final int GLOBAL_HEADER_LENGTH = 24;
    public static final int RECORD_HEADER_LENGTH = 16;

    private final FileChannel channel;
    private final int snapLength;
    private final ByteBuffer header = ByteBuffer.allocate(RECORD_HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    private long frames;

    public PcapWriter(final Path file, final int snapLength) throws IOException {
        this.snapLength = snapLength;
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING);
        final ByteBuffer global = ByteBuffer.allocate(GLOBAL_HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        global.putInt(MAGIC).putShort((short)2).putShort((short)4).putInt(0).putInt(0)
            .putInt(snapLength).putInt(LINKTYPE_ETHERNET).flip();
        writeFully(global);
    }

    /**
     * Append one frame.
     *
     * @param epochNanos capture time, nanoseconds since the Unix epoch.
     * @param frame      the frame bytes from position to limit; the buffer's position is not changed.
     */
    public synchronized void write(final long epochNanos, final ByteBuffer frame) throws IOException {
        final int length = frame.remaining();
        final int captured = Math.min(length, snapLength);
        header.clear();
        header.putInt((int)(epochNanos / 1_000_000_000L)).putInt((int)(epochNanos % 1_000_000_000L / 1000))
            .putInt(captured).putInt(length).flip();
        writeFully(header);
        final ByteBuffer body = frame.duplicate();
        body.limit(body.position() + captured);
        writeFully(body);
        frames++;
    }

    public synchronized long frames() {
        return frames;
    }

    private void writeFully(final ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        channel.force(false);
        channel.close();
    }
}
