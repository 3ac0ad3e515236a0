package dev.osvj.virtio.net;

import dev.osvj.kernel.Errno;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;

/**
 * Ethernet frames as UDP datagrams, QEMU's {@code -netdev dgram} format: one frame per datagram, no
 * header. Bound to a local address and connected to the peer's; non-blocking. A received datagram is
 * handed to the sink as a view into the receive buffer; a datagram the kernel's socket buffer cannot
 * take is {@link #BACK_PRESSURED}.
 */
public final class DgramTransport implements FrameTransport {
    private final DatagramChannel channel;
    private final String description;
    private final ByteBuffer rx = ByteBuffer.allocateDirect(StreamTransport.MAX_FRAME);
    private final MemorySegment rxView = MemorySegment.ofBuffer(rx);
    private final ByteBuffer tx = ByteBuffer.allocateDirect(StreamTransport.MAX_FRAME);
    private final MemorySegment txView = MemorySegment.ofBuffer(tx);

    private DgramTransport(final DatagramChannel channel, final String description) throws IOException {
        this.channel = channel;
        this.description = description;
        channel.configureBlocking(false);
    }

    /**
     * @param local  {@code udp:HOST:PORT} (or {@code HOST:PORT}) to bind.
     * @param remote {@code udp:HOST:PORT} of the peer.
     */
    public static DgramTransport open(final String local, final String remote) throws IOException {
        final DatagramChannel ch = DatagramChannel.open();
        try {
            ch.bind(parse(local));
            ch.connect(parse(remote));
        } catch (final IOException | RuntimeException e) {
            ch.close();
            throw new IOException("dgram " + local + " -> " + remote + ": " + e.getMessage(), e);
        }
        return new DgramTransport(ch, "dgram " + local + " -> " + remote);
    }

    static InetSocketAddress parse(final String address) {
        final String a = address.startsWith("udp:") ? address.substring(4) : address;
        final int colon = a.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("expected udp:HOST:PORT, got " + address);
        }
        return new InetSocketAddress(a.substring(0, colon), Integer.parseInt(a.substring(colon + 1)));
    }

    /** The bound local port (when 0 was asked for). */
    public int localPort() throws IOException {
        return ((InetSocketAddress)channel.getLocalAddress()).getPort();
    }

    @Override
    public int send(final MemorySegment buffer, final long offset, final int length) {
        if (length > tx.capacity()) {
            return -Errno.EMSGSIZE.number();
        }
        tx.clear();
        MemorySegment.copy(buffer, offset, txView, 0, length);
        tx.limit(length);
        try {
            return channel.write(tx) == length ? 0 : BACK_PRESSURED;
        } catch (final IOException e) {
            return -Errno.ECONNREFUSED.number(); // nobody listens at the peer's port (ICMP unreachable)
        }
    }

    @Override
    public int poll(final FrameSink sink, final int limit) {
        int frames = 0;
        while (frames < limit) {
            rx.clear();
            final int n;
            try {
                n = channel.read(rx);
            } catch (final IOException e) {
                return frames; // an ICMP error for an earlier send; the next read goes on
            }
            if (n <= 0) {
                break;
            }
            sink.onFrame(rxView, 0, n);
            frames++;
        }
        return frames;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (final IOException ignored) {
            // closing
        }
    }
}
