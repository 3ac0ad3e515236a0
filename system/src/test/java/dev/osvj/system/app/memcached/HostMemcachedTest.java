package dev.osvj.system.app.memcached;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link HostMemcached}: osvj's memcached engines and item store (in a booted kernel's guest memory) on
 * JDK sockets over the host's loopback: text and binary round trips, a pipelined burst larger than the
 * socket buffers (the OP_WRITE back-pressure path), the connection limit.
 */
class HostMemcachedTest {
    private static final int CONN_LIMIT = 3;
    private static Kernel kernel;
    private static HostMemcached server;

    @BeforeAll
    static void boot() throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        final Config config = KernelConfigLoader.load(null, List.of("osvj.name=host-memcached-test"), new Properties(),
            subsystems, tracepoints);
        kernel = Kernel.boot(config, subsystems, tracepoints,
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        final int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        server = HostMemcached.start(kernel, MemcachedOptions.parse(List.of("-p", Integer.toString(port), "-m", "16",
            "-t", "2", "-c", Integer.toString(CONN_LIMIT)), 1));
        assertEquals(port, server.port());
    }

    @AfterAll
    static void powerOff() throws Exception {
        server.close();
        kernel.powerOff(0);
        assertEquals(0, kernel.awaitPoweredOff(Duration.ofSeconds(30)));
    }

    private static Socket connect() throws IOException {
        final Socket s = new Socket(InetAddress.getLoopbackAddress(), server.port());
        s.setSoTimeout(30_000);
        s.setTcpNoDelay(true);
        return s;
    }

    /** Send {@code request} and read exactly {@code replyLength} bytes back. */
    private static String roundTrip(final Socket s, final String request, final int replyLength) throws IOException {
        s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
        final byte[] reply = new DataInputStream(s.getInputStream()).readNBytes(replyLength);
        return new String(reply, StandardCharsets.US_ASCII);
    }

    @Test
    void shouldStoreAndAnswerTextRequestsOverHostLoopback() throws Exception {
        try (Socket s = connect()) {
            assertEquals("STORED\r\n", roundTrip(s, "set text:a 7 0 5\r\nhello\r\n", 8));
            final String value = "VALUE text:a 7 5\r\nhello\r\nEND\r\n";
            assertEquals(value, roundTrip(s, "get text:a\r\n", value.length()));
            assertEquals("DELETED\r\n", roundTrip(s, "delete text:a\r\n", 9));
            assertEquals("END\r\n", roundTrip(s, "get text:a\r\n", 5));
        }
    }

    @Test
    void shouldSpeakTheBinaryProtocolWhenTheFirstByteIsItsMagic() throws Exception {
        try (Socket s = connect()) {
            final byte[] key = "bin:missing".getBytes(StandardCharsets.US_ASCII);
            final ByteBuffer get = ByteBuffer.allocate(24 + key.length);
            get.put((byte)0x80).put((byte)0x00).putShort((short)key.length).put((byte)0).put((byte)0).putShort((short)0)
                .putInt(key.length).putInt(0x0BADCAFE).putLong(0).put(key);
            s.getOutputStream().write(get.array());
            final ByteBuffer reply = ByteBuffer.wrap(new DataInputStream(s.getInputStream()).readNBytes(24));
            assertEquals((byte)0x81, reply.get(0), "response magic");
            assertEquals(0x0001, reply.getShort(6), "status: key not found");
            assertEquals(0x0BADCAFE, reply.getInt(12), "opaque echoed");
            final int body = reply.getInt(8);
            assertEquals(body, s.getInputStream().readNBytes(body).length);
        }
    }

    @Test
    void shouldSendEveryReplyOfABurstLargerThanTheSocketBuffers() throws Exception {
        final byte[] value = new byte[100_000];
        Arrays.fill(value, (byte)'v');
        final int gets = 100; // 10 MB of replies: the server must wait for the client to read them
        try (Socket s = connect()) {
            final OutputStream out = s.getOutputStream();
            out.write(("set big 0 0 " + value.length + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(value);
            out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
            assertEquals("STORED\r\n", new String(s.getInputStream().readNBytes(8), StandardCharsets.US_ASCII));
            out.write("get big\r\n".repeat(gets).getBytes(StandardCharsets.US_ASCII));
            final byte[] header = ("VALUE big 0 " + value.length + "\r\n").getBytes(StandardCharsets.US_ASCII);
            final InputStream in = s.getInputStream();
            for (int i = 0; i < gets; i++) {
                assertArrayEquals(header, in.readNBytes(header.length), "reply " + i);
                assertArrayEquals(value, in.readNBytes(value.length), "reply " + i);
                assertEquals("\r\nEND\r\n", new String(in.readNBytes(7), StandardCharsets.US_ASCII));
            }
        }
    }

    @Test
    void shouldRefuseAConnectionOverTheLimit() throws Exception {
        LoopbackClient.await(() -> server.connections() == 0, "earlier connections to close");
        final Socket[] open = new Socket[CONN_LIMIT];
        try {
            for (int i = 0; i < CONN_LIMIT; i++) {
                open[i] = connect();
                assertEquals("END\r\n", roundTrip(open[i], "get limit:" + i + "\r\n", 5));
            }
            try (Socket extra = connect()) {
                final String refused = "ERROR Too many open connections\r\n";
                assertEquals(refused, new String(extra.getInputStream().readNBytes(refused.length()), StandardCharsets.US_ASCII));
                assertEquals(-1, extra.getInputStream().read(), "closed after the refusal");
            }
        } finally {
            for (final Socket s : open) {
                if (s != null) {
                    s.close();
                }
            }
        }
        LoopbackClient.await(() -> server.connections() == 0, "the connections to close");
    }
}
