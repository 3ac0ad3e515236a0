package dev.osvj.vswitch;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The port protocol's bytes, on literal messages (emitted into buffers pre-filled with 0xA5). */
class PortMessageTest {
    private static UnsafeBuffer filled(final int length) {
        final byte[] b = new byte[length];
        Arrays.fill(b, (byte)0xA5);
        return new UnsafeBuffer(b);
    }

    @Test
    void shouldEmitTheFrameHeader() {
        final UnsafeBuffer b = filled(6);
        PortMessage.putHeader(b, 1, PortMessage.FRAME);
        assertArrayEquals(new byte[] {(byte)0xA5, 1, 1, 0, 0, (byte)0xA5}, b.byteArray());
        assertEquals(PortMessage.FRAME, PortMessage.type(b, 1, 4));
        assertEquals(0, PortMessage.type(b, 1, 3), "too short");
        b.putByte(1, (byte)2);
        assertEquals(0, PortMessage.type(b, 1, 4), "another version");
    }

    @Test
    void shouldEmitAndParseAHello() {
        final UnsafeBuffer b = filled(64);
        final int n = PortMessage.putHello(b, 0, new PortMessage.Hello(0x01020304, "a/é", "aeron:ipc"));
        final byte[] expected = {
            1, 2, 0, 0,                         // version 1, HELLO, reserved
            4, 3, 2, 1,                         // downlink stream, little-endian
            4, 0, 'a', '/', (byte)0xC3, (byte)0xA9, // name: 4 UTF-8 bytes
            9, 0, 'a', 'e', 'r', 'o', 'n', ':', 'i', 'p', 'c'};
        assertEquals(expected.length, n);
        assertArrayEquals(expected, Arrays.copyOf(b.byteArray(), n));
        assertEquals((byte)0xA5, b.getByte(n), "nothing written past the message");
        assertEquals(new PortMessage.Hello(0x01020304, "a/é", "aeron:ipc"), PortMessage.hello(b, 0, n));
    }

    @Test
    void shouldCarryTheTrunkFlagInTheThirdHeaderByte() {
        final UnsafeBuffer b = filled(64);
        final int n = PortMessage.putHello(b, 0, new PortMessage.Hello(7, "t", "aeron:udp?endpoint=h:1", true));
        assertEquals(1, b.getByte(0));
        assertEquals(PortMessage.HELLO, b.getByte(1));
        assertEquals(PortMessage.FLAG_TRUNK, b.getByte(2));
        assertEquals(0, b.getByte(3));
        assertEquals(new PortMessage.Hello(7, "t", "aeron:udp?endpoint=h:1", true), PortMessage.hello(b, 0, n));
    }

    @Test
    void shouldRefuseTruncatedHellos() {
        final UnsafeBuffer b = filled(64);
        final int n = PortMessage.putHello(b, 0, new PortMessage.Hello(7, "port", "aeron:ipc"));
        for (int cut = 0; cut < n; cut++) {
            assertNull(PortMessage.hello(b, 0, cut), "length " + cut);
        }
        b.putShort(8, (short)200); // a name length past the end
        assertNull(PortMessage.hello(b, 0, n));
    }
}
