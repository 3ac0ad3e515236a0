package dev.osvj.virtio.net;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** The stream transport against a peer socket: length-prefixed framing, split reads, bad peers. */
class StreamTransportTest {
    @TempDir
    Path dir;

    private static void writeAll(final SocketChannel ch, final byte[] bytes) throws Exception {
        final ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static List<byte[]> pollUntil(final StreamTransport t, final int count) {
        final List<byte[]> got = new ArrayList<>();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (got.size() < count && System.nanoTime() < deadline) {
            t.poll((b, o, l) -> got.add(b.asSlice(o, l).toArray(ValueLayout.JAVA_BYTE)), 16);
        }
        return got;
    }

    @Test
    void shouldFrameWithBigEndianLengthPrefixesAcrossSplitReads() throws Exception {
        final Path sock = dir.resolve("s.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            try (StreamTransport t = StreamTransport.connect("unix:" + sock); SocketChannel peer = server.accept()) {
                // Outbound: 00 00 00 03 | 0a 0b 0c
                assertEquals(0, t.send(MemorySegment.ofArray(new byte[] {9, 10, 11, 12, 13}), 1, 3));
                final ByteBuffer in = ByteBuffer.allocate(7);
                while (in.hasRemaining()) {
                    peer.read(in);
                }
                assertArrayEquals(HexFormat.of().parseHex("000000030a0b0c"), in.array());
                // Inbound: two frames, the second split inside its length prefix and its body.
                writeAll(peer, HexFormat.of().parseHex("00000002aabb0000"));
                assertEquals(1, pollUntil(t, 1).size());
                writeAll(peer, HexFormat.of().parseHex("0004010203"));
                assertEquals(0, t.poll((b, o, l) -> { }, 16), "half a frame is not a frame");
                writeAll(peer, HexFormat.of().parseHex("04"));
                final List<byte[]> got = pollUntil(t, 1);
                assertArrayEquals(new byte[] {1, 2, 3, 4}, got.get(0));
            }
        }
    }

    @Test
    void shouldCloseOnALengthNoEthernetPeerWouldSend() throws Exception {
        final Path sock = dir.resolve("bad.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            try (StreamTransport t = StreamTransport.connect(sock.toString()); SocketChannel peer = server.accept()) {
                writeAll(peer, "GET / HTTP/1.1\r\n".getBytes());
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (t.isOpen() && System.nanoTime() < deadline) {
                    t.poll((b, o, l) -> { throw new AssertionError("no frame expected"); }, 16);
                }
                assertFalse(t.isOpen());
                assertEquals(1, t.protocolErrors());
            }
        }
    }

    @Test
    void shouldCarryFramesBetweenTwoGuestsOverUdpDatagrams() throws Exception {
        try (DgramTransport a = DgramTransport.open("udp:127.0.0.1:0", "udp:127.0.0.1:9")) {
            final int portA = a.localPort();
            try (DgramTransport b = DgramTransport.open("udp:127.0.0.1:0", "udp:127.0.0.1:" + portA);
                 DgramTransport a2 = reconnect(a, portA, b.localPort())) {
                assertEquals(0, b.send(MemorySegment.ofArray(new byte[] {1, 2, 3}), 0, 3));
                final List<byte[]> got = new ArrayList<>();
                final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (got.isEmpty() && System.nanoTime() < deadline) {
                    a2.poll((buf, o, l) -> got.add(buf.asSlice(o, l).toArray(ValueLayout.JAVA_BYTE)), 4);
                }
                assertNotNull(got.isEmpty() ? null : got.get(0));
                assertArrayEquals(new byte[] {1, 2, 3}, got.get(0));
            }
        }
    }

    /** Rebind a's port, now connected to b (a dgram transport is bound and connected at open). */
    private static DgramTransport reconnect(final DgramTransport a, final int portA, final int portB) throws Exception {
        a.close();
        return DgramTransport.open("udp:127.0.0.1:" + portA, "udp:127.0.0.1:" + portB);
    }
}
