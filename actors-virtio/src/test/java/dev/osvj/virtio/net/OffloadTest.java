package dev.osvj.virtio.net;

import dev.osvj.virtio.InterruptActor;
import dev.osvj.virtio.InterruptLine;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-net receive offloads (GUEST_CSUM, GUEST_TSO4) on literal frames: the device offers them only
 * over a transport with host headers, passes the host's header through, and the driver completes
 * partial checksums, also of a TCP super-frame spread over many receive buffers.
 */
class OffloadTest {
    private static final ActorTestKit TESTKIT = ActorTestKit.create();
    private static final HexFormat HEX = HexFormat.of();
    /** Ethernet + IPv4 + TCP (PSH|ACK, 10.98.0.1:5002 > 10.98.0.2:49500) + "hello, offload!". */
    private static final String FRAME_HEAD = "5254001234560affeeddcc0108004500003700014000400625fa0a6200010a620002"
        + "138ac15c000003e8000007d0501802 00";
    /** The TCP checksum field holding only the pseudo-header sum (0x14f0), as the host leaves it... */
    private static final byte[] PARTIAL = HEX.parseHex((FRAME_HEAD + "14f00000" + "68656c6c6f2c206f66666c6f616421")
        .replace(" ", ""));
    /** ...and the complete checksum (0xfeb0). */
    private static final byte[] COMPLETE = HEX.parseHex((FRAME_HEAD + "feb00000" + "68656c6c6f2c206f66666c6f616421")
        .replace(" ", ""));
    private static final int CSUM_START = 34;
    private static final int CSUM_OFFSET = 16;

    @AfterAll
    static void shutdown() {
        TESTKIT.shutdownTestKit();
    }

    /** The harness with the driver's interrupts going through an interrupt actor, as in the kernel. */
    private static NetHarness withInterruptActor(final NetHarness h) {
        final ActorRef<InterruptActor.Command> actor = TESTKIT.spawn(InterruptActor.create(h.driver, new AtomicLong()));
        h.driver.interruptLine(new InterruptLine(actor, 2));
        return h;
    }

    /** virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers (LE). */
    private static byte[] header(final int flags, final int gsoType, final int gsoSize, final int csumStart,
        final int csumOffset) {
        return ByteBuffer.allocate(VirtioNet.HEADER_LENGTH).order(java.nio.ByteOrder.LITTLE_ENDIAN)
            .put((byte)flags).put((byte)gsoType).putShort((short)54).putShort((short)gsoSize)
            .putShort((short)csumStart).putShort((short)csumOffset).putShort((short)0).array();
    }

    private static byte[] concat(final byte[] a, final byte[] b) {
        final byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** RFC 1071 the plain way (16 bits at a time), independent of the implementation under test. */
    private static int checksum(final byte[] b, final int from, final int to, final long initial) {
        long s = initial;
        for (int i = from; i < to; i += 2) {
            s += ((b[i] & 0xff) << 8) | (i + 1 < to ? b[i + 1] & 0xff : 0);
        }
        while ((s >>> 16) != 0) {
            s = (s >>> 16) + (s & 0xffff);
        }
        return (int)s;
    }

    @Test
    void shouldCompleteAPartialChecksumOnLiteralBytes() {
        final MemorySegment frame = MemorySegment.ofArray(PARTIAL.clone());
        assertTrue(VirtioNet.completeChecksum(frame, 0, PARTIAL.length, CSUM_START, CSUM_OFFSET));
        assertArrayEquals(COMPLETE, frame.toArray(ValueLayout.JAVA_BYTE));
        assertFalse(VirtioNet.completeChecksum(frame, 0, PARTIAL.length, CSUM_START, PARTIAL.length),
            "a checksum field outside the frame");
    }

    @Test
    void shouldNotOfferOffloadsWithoutHostHeaders() {
        try (NetHarness h = new NetHarness(new QueueTransport(), 1500, 64)) {
            assertFalse(h.driver.hasFeature(VirtioNet.F_GUEST_CSUM));
            assertFalse(h.driver.hasFeature(VirtioNet.F_GUEST_TSO4));
        }
    }

    @Test
    void shouldCompleteChecksumsOfFramesAndOfATso4SuperFrameAcrossBuffers() throws Exception {
        final QueueTransport wire = new QueueTransport(VirtioNet.HEADER_LENGTH);
        try (NetHarness h = withInterruptActor(new NetHarness(wire, 1500, 64))) {
            assertTrue(h.driver.hasFeature(VirtioNet.F_GUEST_CSUM));
            assertTrue(h.driver.hasFeature(VirtioNet.F_GUEST_TSO4));
            assertEquals("csum=true tso4=true", wire.enabled);
            // a small frame with NEEDS_CSUM: delivered with the literal complete checksum
            wire.inbound.add(concat(header(VirtioNet.FLAG_NEEDS_CSUM, VirtioNet.GSO_NONE, 0, CSUM_START, CSUM_OFFSET),
                PARTIAL));
            assertArrayEquals(COMPLETE, h.received.poll(30, TimeUnit.SECONDS));
            // a TCPv4 super-frame of 30000 payload bytes (the host's 64 KiB GSO segments, smaller),
            // merged from 8 receive pages, its checksum completed over all of it
            final byte[][] pair = superFrame(30_000);
            final byte[] big = pair[0];
            final byte[] expected = pair[1];
            wire.inbound.add(concat(header(VirtioNet.FLAG_NEEDS_CSUM, VirtioNet.GSO_TCPV4, 1448, CSUM_START, CSUM_OFFSET),
                big));
            // a frame whose checksum offsets lie outside it is dropped and counted, the next one flows
            wire.inbound.add(concat(header(VirtioNet.FLAG_NEEDS_CSUM, VirtioNet.GSO_NONE, 0, CSUM_START, 4000),
                PARTIAL));
            wire.inbound.add(concat(header(VirtioNet.FLAG_DATA_VALID, VirtioNet.GSO_NONE, 0, 0, 0), COMPLETE));
            final byte[] got = h.received.poll(30, TimeUnit.SECONDS);
            assertNotNull(got);
            assertEquals(expected.length, got.length);
            assertArrayEquals(expected, got);
            assertArrayEquals(COMPLETE, h.received.poll(30, TimeUnit.SECONDS), "a DATA_VALID frame is passed as it is");
            assertTrue(h.driver.describe().contains("rx_err=1"), h.driver.describe());
            assertTrue(h.driver.describe().contains("rx_csum=2"), h.driver.describe());
            assertEquals(0, h.device.rxNoBuffer());
        }
    }
    /**
     * A TCPv4 super-frame with {@code payload} bytes as the host hands it over: [0] with the partial
     * (pseudo-header) checksum the host leaves with NEEDS_CSUM, [1] the same with the complete checksum.
     */
    private static byte[][] superFrame(final int payload) {
        final byte[] big = new byte[54 + payload];
        System.arraycopy(PARTIAL, 0, big, 0, 54);
        for (int i = 0; i < payload; i++) {
            big[54 + i] = (byte)(i * 31 + 7);
        }
        big[16] = (byte)((40 + payload) >>> 8); // IPv4 total length
        big[17] = (byte)(40 + payload);
        final int tcpLength = 20 + payload;
        final long pseudo = 0x0a62 + 0x0001 + 0x0a62 + 0x0002 + 6 + tcpLength;
        big[50] = 0;
        big[51] = 0;
        final int partial = checksum(new byte[0], 0, 0, pseudo);
        big[50] = (byte)(partial >>> 8);
        big[51] = (byte)partial;
        final byte[] expected = big.clone();
        expected[50] = 0;
        expected[51] = 0;
        final int full = ~checksum(expected, 34, expected.length, pseudo) & 0xffff;
        expected[50] = (byte)(full >>> 8);
        expected[51] = (byte)full;
        return new byte[][] {big, expected};
    }

    /** A frame and the receive flags it came with. */
    private record Received(byte[] frame, int flags) {
    }

    @Test
    void shouldHandLargeOffloadedFramesWithoutAChecksumPassToASinkThatTrustsTheFlag() throws Exception {
        final QueueTransport wire = new QueueTransport(VirtioNet.HEADER_LENGTH);
        try (NetHarness h = withInterruptActor(new NetHarness(wire, 1500, 64))) {
            final BlockingQueue<Received> got = new LinkedBlockingQueue<>();
            h.driver.receiveInto(new FrameSink() {
                @Override
                public void onFrame(final MemorySegment buffer, final long offset, final int length) {
                    onFrame(buffer, offset, length, 0);
                }

                @Override
                public void onFrame(final MemorySegment buffer, final long offset, final int length, final int flags) {
                    got.add(new Received(buffer.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE), flags));
                }

                @Override
                public boolean acceptsChecksumValid() {
                    return true;
                }
            });
            final byte[][] pair = superFrame(30_000);
            // a small NEEDS_CSUM frame (a handshake, an ACK) is still completed: an ordinary frame
            wire.inbound.add(concat(header(VirtioNet.FLAG_NEEDS_CSUM, VirtioNet.GSO_NONE, 0, CSUM_START, CSUM_OFFSET),
                PARTIAL));
            // the super-frame goes on as the host left it (partial checksum), flagged: no pass over 30 KB
            wire.inbound.add(concat(header(VirtioNet.FLAG_NEEDS_CSUM, VirtioNet.GSO_TCPV4, 1448, CSUM_START, CSUM_OFFSET),
                pair[0]));
            // offsets outside the frame are still caught without a checksum pass
            wire.inbound.add(concat(header(VirtioNet.FLAG_NEEDS_CSUM, VirtioNet.GSO_TCPV4, 1448, CSUM_START, 40_000),
                pair[0]));
            // DATA_VALID on a large frame: flagged too; without any flag: no flag
            wire.inbound.add(concat(header(VirtioNet.FLAG_DATA_VALID, VirtioNet.GSO_NONE, 0, 0, 0), pair[1]));
            wire.inbound.add(concat(header(0, VirtioNet.GSO_NONE, 0, 0, 0), pair[1]));
            final Received small = got.poll(30, TimeUnit.SECONDS);
            assertArrayEquals(COMPLETE, small.frame());
            assertEquals(0, small.flags());
            final Received trusted = got.poll(30, TimeUnit.SECONDS);
            assertArrayEquals(pair[0], trusted.frame(), "the partial checksum left as it is");
            assertEquals(FrameSink.CHECKSUM_VALID, trusted.flags());
            final Received valid = got.poll(30, TimeUnit.SECONDS);
            assertArrayEquals(pair[1], valid.frame());
            assertEquals(FrameSink.CHECKSUM_VALID, valid.flags());
            final Received plain = got.poll(30, TimeUnit.SECONDS);
            assertArrayEquals(pair[1], plain.frame());
            assertEquals(0, plain.flags());
            assertEquals(2, h.driver.rxChecksumsTrusted());
            assertEquals(1, h.driver.rxChecksumsCompleted());
            assertTrue(h.driver.describe().contains("rx_err=1"), h.driver.describe());
        }
    }
    @Test
    void shouldDeliverSuperFramesInPlaceWhenTheirBuffersAreAdjacentAndByCopyWhenTheyWrap() throws Exception {
        final QueueTransport wire = new QueueTransport(VirtioNet.HEADER_LENGTH);
        try (NetHarness h = withInterruptActor(new NetHarness(wire, 1500, 64))) {
            // 40 super-frames of 8 to 12 pages through 64 receive buffers: most lie in adjacent buffers,
            // the ones that wrap from the last buffer to the first do not
            for (int i = 0; i < 40; i++) {
                final byte[] frame = superFrame(30_000 + 1000 * (i % 17))[1];
                frame[60] = (byte)i;
                frame[frame.length - 1] = (byte)(i * 3);
                wire.inbound.add(concat(header(0, VirtioNet.GSO_NONE, 0, 0, 0), frame));
                final byte[] got = h.received.poll(30, TimeUnit.SECONDS);
                assertNotNull(got, "frame " + i);
                assertArrayEquals(frame, got, "frame " + i);
            }
            assertTrue(h.allViewsInGuestMemory);
            assertTrue(h.driver.rxMergedInPlace() > 0, h.driver.describe());
            assertTrue(h.driver.rxMergedByCopy() > 0, "a frame wrapped: " + h.driver.describe());
            assertEquals(40, h.driver.rxMergedInPlace() + h.driver.rxMergedByCopy());
            assertEquals(0, h.device.rxNoBuffer());
        }
    }
}
