package dev.osvj.vswitch;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The messages between a switch port and its switch, one per Aeron message (fragmented and reassembled
 * by Aeron when longer than the channel's MTU). A 4-byte header, then the body:
 *
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------+---------------+-------------------------------+
 *  |    Version    |     Type      |     Flags     |Reserved (zero)|
 *  +---------------+---------------+-------------------------------+
 *  |                          Body                               ...
 *
 *  FRAME (port to switch and switch to port): the body is one Ethernet frame, destination MAC first,
 *  no FCS.
 *
 *  Flags: zero except in a HELLO, where bit 0 (TRUNK) says the port is a trunk link from another
 *  switch (split horizon: frames from a trunk are never forwarded to another trunk).
 *
 *  HELLO (port to switch, the first message of a port's uplink session):
 *  +---------------------------------------------------------------+
 *  |                   Downlink stream id (LE)                     |
 *  +-------------------------------+-------------------------------+
 *  |   Name length (LE, bytes)     |   Name (UTF-8)              ...
 *  +-------------------------------+-------------------------------+
 *  |   Channel length (LE, bytes)  |   Downlink channel (ASCII)  ...
 *  +-------------------------------+-------------------------------+
 *
 *  BYE (port to switch): no body; the port is leaving (its session closes next).
 * </pre>
 *
 * Static accessors over a {@link DirectBuffer} at an offset (the Aeron fragment), Agrona
 * flyweight style; the parser ({@link #hello}) checks every length against the message length and
 * returns {@code null} for a malformed HELLO instead of throwing.
 */
final class PortMessage {
    /** Protocol version in byte 0. */
    static final byte VERSION = 1;
    /** Type: an Ethernet frame. */
    static final byte FRAME = 1;
    /** Type: a port introduces itself. */
    static final byte HELLO = 2;
    /** Type: a port leaves. */
    static final byte BYE = 3;

    static final int VERSION_OFFSET = 0;
    static final int TYPE_OFFSET = 1;
    static final int FLAGS_OFFSET = 2;
    /** HELLO flag: the port is another switch's trunk link. */
    static final byte FLAG_TRUNK = 1;
    /** Header length: the body starts here. */
    static final int HEADER_LENGTH = 4;
    static final int HELLO_STREAM_OFFSET = HEADER_LENGTH;
    static final int HELLO_NAME_OFFSET = HELLO_STREAM_OFFSET + 4;

    private PortMessage() {
    }

    /** Write the 4-byte header of {@code type} at {@code offset}. */
    static void putHeader(final MutableDirectBuffer buffer, final int offset, final byte type) {
        buffer.putByte(offset + VERSION_OFFSET, VERSION);
        buffer.putByte(offset + TYPE_OFFSET, type);
        buffer.putShort(offset + 2, (short)0);
    }

    /** The message's type, or 0 when it is too short or of another version. */
    static byte type(final DirectBuffer buffer, final int offset, final int length) {
        if (length < HEADER_LENGTH || buffer.getByte(offset + VERSION_OFFSET) != VERSION) {
            return 0;
        }
        return buffer.getByte(offset + TYPE_OFFSET);
    }

    /** A parsed HELLO; {@code trunk}: the port is another switch's trunk link ({@link #FLAG_TRUNK}). */
    record Hello(int downlinkStream, String name, String downlinkChannel, boolean trunk) {
        /** A station's HELLO (not a trunk). */
        Hello(final int downlinkStream, final String name, final String downlinkChannel) {
            this(downlinkStream, name, downlinkChannel, false);
        }
    }

    /**
     * Encode a HELLO at {@code offset}.
     *
     * @return the message length.
     */
    static int putHello(final MutableDirectBuffer buffer, final int offset, final Hello hello) {
        putHeader(buffer, offset, HELLO);
        buffer.putByte(offset + FLAGS_OFFSET, hello.trunk() ? FLAG_TRUNK : 0);
        buffer.putInt(offset + HELLO_STREAM_OFFSET, hello.downlinkStream(), ByteOrder.LITTLE_ENDIAN);
        int at = offset + HELLO_NAME_OFFSET;
        at = putString(buffer, at, hello.name().getBytes(StandardCharsets.UTF_8));
        at = putString(buffer, at, hello.downlinkChannel().getBytes(StandardCharsets.US_ASCII));
        return at - offset;
    }

    private static int putString(final MutableDirectBuffer buffer, final int at, final byte[] bytes) {
        if (bytes.length > 0xFFFF) {
            throw new IllegalArgumentException("HELLO string longer than 65535 bytes");
        }
        buffer.putShort(at, (short)bytes.length, ByteOrder.LITTLE_ENDIAN);
        buffer.putBytes(at + 2, bytes);
        return at + 2 + bytes.length;
    }

    /** Parse a HELLO of {@code length} bytes at {@code offset}; {@code null} when malformed. */
    static Hello hello(final DirectBuffer buffer, final int offset, final int length) {
        if (type(buffer, offset, length) != HELLO || length < HELLO_NAME_OFFSET + 4) {
            return null;
        }
        final int end = offset + length;
        final int stream = buffer.getInt(offset + HELLO_STREAM_OFFSET, ByteOrder.LITTLE_ENDIAN);
        final int nameLength = buffer.getShort(offset + HELLO_NAME_OFFSET, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int nameAt = offset + HELLO_NAME_OFFSET + 2;
        if (nameAt + nameLength + 2 > end) {
            return null;
        }
        final int channelLength = buffer.getShort(nameAt + nameLength, ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int channelAt = nameAt + nameLength + 2;
        if (channelAt + channelLength > end) {
            return null;
        }
        return new Hello(stream, buffer.getStringWithoutLengthUtf8(nameAt, nameLength),
            buffer.getStringWithoutLengthAscii(channelAt, channelLength),
            (buffer.getByte(offset + FLAGS_OFFSET) & FLAG_TRUNK) != 0);
    }
}
