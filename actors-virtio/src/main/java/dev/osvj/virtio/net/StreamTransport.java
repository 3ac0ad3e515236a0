package dev.osvj.virtio.net;

import dev.osvj.kernel.Errno;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Ethernet frames over a stream socket, QEMU's {@code -netdev stream} format (what passt speaks on
 * its UNIX socket): each frame is preceded by its length as a 4-byte big-endian integer.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |                  frame length (u32, big-endian)               |
 * +---------------------------------------------------------------+
 * |                  Ethernet frame (length bytes) ...            |
 * </pre>
 *
 * The socket is non-blocking. Received bytes are parsed in place in a direct receive buffer and each
 * whole frame is handed to the sink as a view into it (no copy). Sent frames are appended to a direct
 * send buffer and written as far as the socket takes them; a frame that does not fit in what is left
 * of the send buffer is {@link #BACK_PRESSURED}. A length above {@link #MAX_FRAME} means the peer does
 * not speak this format: the connection is closed and counted, never trusted.
 */
public final class StreamTransport implements FrameTransport {
    /** Largest frame accepted from the peer: 64 KiB, any MTU an Ethernet peer uses. */
    public static final int MAX_FRAME = 65_536;
    static final int BUFFER_BYTES = 256 * 1024;

    private final SocketChannel channel;
    private final String address;
    private final ByteBuffer rx = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.BIG_ENDIAN);
    private final MemorySegment rxView = MemorySegment.ofBuffer(rx);
    private final ByteBuffer tx = ByteBuffer.allocateDirect(BUFFER_BYTES).order(ByteOrder.BIG_ENDIAN);
    private final MemorySegment txView = MemorySegment.ofBuffer(tx);
    private final AtomicLong protocolErrors = new AtomicLong();
    private volatile boolean open = true;

    private StreamTransport(final SocketChannel channel, final String address) throws IOException {
        this.channel = channel;
        this.address = address;
        channel.configureBlocking(false);
    }

    /**
     * Connect to {@code address}: {@code unix:/path}, a bare path, or {@code tcp:host:port}.
     *
     * @throws IOException when the peer does not answer.
     */
    public static StreamTransport connect(final String address) throws IOException {
        final SocketAddress target = parse(address);
        final SocketChannel ch = target instanceof UnixDomainSocketAddress
            ? SocketChannel.open(StandardProtocolFamily.UNIX)
            : SocketChannel.open();
        try {
            ch.connect(target);
        } catch (final IOException e) {
            ch.close();
            throw new IOException("stream " + address + ": " + e.getMessage(), e);
        }
        return new StreamTransport(ch, address);
    }

    /** Wrap an already connected channel (a test's or an accepting server's). */
    public static StreamTransport of(final SocketChannel channel, final String description) throws IOException {
        return new StreamTransport(channel, description);
    }

    static SocketAddress parse(final String address) {
        if (address.startsWith("tcp:")) {
            final String rest = address.substring(4);
            final int colon = rest.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("expected tcp:HOST:PORT, got " + address);
            }
            return new InetSocketAddress(rest.substring(0, colon), Integer.parseInt(rest.substring(colon + 1)));
        }
        final String path = address.startsWith("unix:") ? address.substring(5) : address;
        return UnixDomainSocketAddress.of(Path.of(path));
    }

    @Override
    public int send(final MemorySegment buffer, final long offset, final int length) {
        if (!open) {
            return -Errno.ENOTCONN.number();
        }
        if (tx.remaining() < 4 + length) {
            flush();
            if (tx.remaining() < 4 + length) {
                return BACK_PRESSURED;
            }
        }
        final int at = tx.position();
        tx.putInt(length);
        MemorySegment.copy(buffer, offset, txView, at + 4, length);
        tx.position(at + 4 + length);
        flush();
        return 0;
    }

    private void flush() {
        if (tx.position() == 0) {
            return;
        }
        tx.flip();
        try {
            channel.write(tx);
        } catch (final IOException e) {
            open = false;
        } finally {
            tx.compact();
        }
    }

    @Override
    public int poll(final FrameSink sink, final int limit) {
        if (!open) {
            return 0;
        }
        flush();
        try {
            if (channel.read(rx) < 0) {
                open = false;
            }
        } catch (final IOException e) {
            open = false;
        }
        rx.flip();
        int frames = 0;
        while (frames < limit && rx.remaining() >= 4) {
            final int at = rx.position();
            final int length = rx.getInt(at);
            if (length < 0 || length > MAX_FRAME) {
                protocolErrors.incrementAndGet();
                open = false;
                rx.clear();
                return frames;
            }
            if (rx.remaining() < 4 + length) {
                break;
            }
            sink.onFrame(rxView, at + 4, length);
            rx.position(at + 4 + length);
            frames++;
        }
        rx.compact();
        return frames;
    }

    /** False once the peer closed the connection or spoke something else. */
    public boolean isOpen() {
        return open;
    }

    public long protocolErrors() {
        return protocolErrors.get();
    }

    @Override
    public String describe() {
        return "stream " + address + (open ? "" : " (closed)");
    }

    @Override
    public void close() {
        open = false;
        try {
            channel.close();
        } catch (final IOException ignored) {
            // closing: nothing left to do
        }
    }
}
