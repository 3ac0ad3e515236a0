package dev.osvj.virtio.remote;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;

/**
 * The control protocol between the kernel and a device backend in another process (vhost-user
 * style): register accesses of the {@link dev.osvj.virtio.VirtioTransport} one way, interrupts the
 * other, over a UNIX stream socket. Guest memory is not on the socket: both processes map the same
 * shared memory file, and the virtqueues in it carry the data.
 *
 * <pre>
 * message (40 bytes, little-endian)
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |                         type (u32)                            |  0
 * |                 arg (u32: queue, config offset)               |  4
 * |              size (u32: queue size, config width)             |  8
 * |                 status (u32, replies: 0 ok, 1 refused)        | 12
 * |                 a (u64)                                       | 16
 * |                 b (u64)                                       | 24
 * |                 c (u64)                                       | 32
 * +---------------------------------------------------------------+
 * </pre>
 *
 * Requests from the kernel get exactly one {@link #REPLY} each, in order; {@link #KICK} gets none.
 * The backend sends {@link #INTERRUPT} (arg = queue, -1 = config change) at any time.
 */
final class RemoteProtocol {
    static final int MESSAGE_BYTES = 40;

    static final int REPLY = 1;
    static final int INTERRUPT = 2;
    static final int KICK = 3;
    static final int GET_TYPE = 10;
    static final int GET_FEATURES = 11;
    static final int SET_FEATURES = 12;
    static final int GET_NEGOTIATED = 13;
    static final int GET_STATUS = 14;
    static final int SET_STATUS = 15;
    static final int QUEUE_COUNT = 16;
    static final int QUEUE_MAX = 17;
    static final int SETUP_QUEUE = 18;
    static final int CONFIG_GENERATION = 19;
    static final int READ_CONFIG = 20;

    private RemoteProtocol() {
    }

    /** One message, reusable. */
    static final class Message {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(MESSAGE_BYTES).order(ByteOrder.LITTLE_ENDIAN);

        Message set(final int type, final int arg, final int size, final int status, final long a, final long b, final long c) {
            buffer.clear();
            buffer.putInt(type).putInt(arg).putInt(size).putInt(status).putLong(a).putLong(b).putLong(c).flip();
            return this;
        }

        int type() {
            return buffer.getInt(0);
        }

        int arg() {
            return buffer.getInt(4);
        }

        int size() {
            return buffer.getInt(8);
        }

        int status() {
            return buffer.getInt(12);
        }

        long a() {
            return buffer.getLong(16);
        }

        long b() {
            return buffer.getLong(24);
        }

        long c() {
            return buffer.getLong(32);
        }

        void write(final SocketChannel ch) throws IOException {
            buffer.rewind();
            while (buffer.hasRemaining()) {
                ch.write(buffer);
            }
        }

        /** Read one whole message (blocking channel); EOFException when the peer closed. */
        void read(final SocketChannel ch) throws IOException {
            buffer.clear();
            while (buffer.hasRemaining()) {
                if (ch.read(buffer) < 0) {
                    throw new EOFException("peer closed");
                }
            }
            buffer.flip();
        }
    }
}
