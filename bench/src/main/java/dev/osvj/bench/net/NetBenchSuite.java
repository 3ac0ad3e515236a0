package dev.osvj.bench.net;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchSuite;
import dev.osvj.net.dev.LoopbackDevice;
import dev.osvj.net.dev.Wire;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.stack.StackDriver;
import dev.osvj.net.stack.StackSettings;
import dev.osvj.net.wire.Addresses;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/osvj bench net}: request/response and bulk TCP through osvj's stack, with the Linux
 * baseline (the same Java client and server logic on host JVM sockets over Linux loopback) measured in
 * the same run. Stacks are driven by {@link StackDriver} threads (the kernel drives them with actors;
 * the data path is the same).
 *
 * <p>Metrics: {@code rr.channels_vs_traditional} (net channels vs the layered receive path, two stacks
 * joined by an in-memory wire; target >= 1.3), {@code rr.loopback_vs_linux_loopback} and
 * {@code stream.loopback_vs_linux_loopback} (osvj's loopback vs Linux loopback). The issue's
 * {@code rr.user_vs_linux_loopback}, {@code rr.tap_vs_linux_loopback} and
 * {@code stream.tap_vs_linux_loopback} need the user gateway and the tap backend, not built yet.
 */
public final class NetBenchSuite implements BenchSuite {
    private static final int MSG = 64;
    private static final int PORT = 7;

    @Override
    public String name() {
        return "net";
    }

    @Override
    public String description() {
        return "TCP request/response and bulk: net channels vs layered, osvj loopback vs Linux loopback";
    }

    /** One byte stream, osvj or host. */
    private interface Conn extends AutoCloseable {
        void write(byte[] b, int len) throws IOException;

        /** Read exactly {@code len} bytes; false at EOF. */
        boolean readFully(byte[] b, int len) throws IOException;

        @Override
        void close() throws IOException;
    }

    private record Result(double tps, double p50us, double p99us) {
    }

    @Override
    public void run(final BenchContext bench) throws Exception {
        final long rrNs = (bench.quick() ? 3 : 15) * 1_000_000_000L;
        final long streamBytes = bench.quick() ? 64L << 20 : 512L << 20;

        bench.progress("rr over a wire: net channels");
        final Result ch = rrWire(true, rrNs);
        bench.progress("rr over a wire: layered");
        final Result layered = rrWire(false, rrNs);
        bench.metric("rr.channels_vs_traditional", ch.tps() / layered.tps(), "ratio", "higher",
            detail("channels_tps", ch.tps(), "traditional_tps", layered.tps(), "channels_p99_us", ch.p99us(),
                "traditional_p99_us", layered.p99us(), "channels_p50_us", ch.p50us(), "traditional_p50_us",
                layered.p50us()));

        bench.progress("rr: Linux loopback (host JVM sockets)");
        final Result linux = rrHost(rrNs);
        bench.progress("rr: osvj loopback");
        final Result lo = rrLoopback(rrNs);
        bench.metric("rr.loopback_vs_linux_loopback", lo.tps() / linux.tps(), "ratio", "higher",
            detail("osvj_tps", lo.tps(), "linux_tps", linux.tps(), "osvj_p99_us", lo.p99us(), "linux_p99_us",
                linux.p99us()));

        bench.progress("stream: Linux loopback");
        final double linuxBps = streamHost(streamBytes);
        bench.progress("stream: osvj loopback");
        final double loBps = streamLoopback(streamBytes);
        bench.metric("stream.loopback_vs_linux_loopback", loBps / linuxBps, "ratio", "higher",
            detail("osvj_mbit_s", loBps * 8 / 1e6, "linux_mbit_s", linuxBps * 8 / 1e6));
    }

    private static Map<String, Object> detail(final Object... kv) {
        final Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String)kv[i], kv[i + 1]);
        }
        return m;
    }

    // ----- the shared client and server logic --------------------------------------------------

    private static void echoServer(final Conn c) {
        final byte[] b = new byte[MSG];
        try (c) {
            while (c.readFully(b, MSG)) {
                c.write(b, MSG);
            }
        } catch (final IOException e) {
            // client gone
        }
    }

    private static Result rrClient(final Conn c, final long durationNs) throws IOException {
        final byte[] b = new byte[MSG];
        final Histogram h = new Histogram(3_600_000_000_000L, 3);
        // warm-up: a tenth of the time, not recorded
        final long warm = System.nanoTime() + durationNs / 10;
        while (System.nanoTime() < warm) {
            c.write(b, MSG);
            c.readFully(b, MSG);
        }
        final long start = System.nanoTime();
        final long end = start + durationNs;
        long n = 0;
        long t = start;
        while (t < end) {
            c.write(b, MSG);
            if (!c.readFully(b, MSG)) {
                throw new IOException("server closed");
            }
            final long now = System.nanoTime();
            h.recordValue(now - t);
            t = now;
            n++;
        }
        c.close();
        return new Result(n * 1e9 / (t - start), h.getValueAtPercentile(50) / 1000.0, h.getValueAtPercentile(99) / 1000.0);
    }

    private static double streamClient(final Conn c, final long bytes) throws IOException {
        final byte[] b = new byte[64 * 1024];
        final long start = System.nanoTime();
        long left = bytes;
        while (left > 0) {
            final int n = (int)Math.min(b.length, left);
            c.write(b, n);
            left -= n;
        }
        c.close();
        return start;
    }

    private static long streamSink(final Conn c) {
        final byte[] b = new byte[64 * 1024];
        long total = 0;
        try (c) {
            while (true) {
                final int n = ((OsvjConn)c).readSome(b);
                if (n <= 0) {
                    break;
                }
                total += n;
            }
        } catch (final IOException e) {
            // done
        }
        return total;
    }

    // ----- osvj ----------------------------------------------------------------------------------

    private static final class OsvjConn implements Conn {
        private final Sockets api;
        private final int fd;

        OsvjConn(final Sockets api, final int fd) {
            this.api = api;
            this.fd = fd;
            api.setsockopt(fd, Sockets.IPPROTO_TCP, Sockets.TCP_NODELAY, 1);
        }

        @Override
        public void write(final byte[] b, final int len) throws IOException {
            int off = 0;
            while (off < len) {
                final int n = api.send(fd, b, off, len - off, 0);
                if (n <= 0) {
                    throw new IOException("send: " + n);
                }
                off += n;
            }
        }

        @Override
        public boolean readFully(final byte[] b, final int len) throws IOException {
            int off = 0;
            while (off < len) {
                final int n = api.recv(fd, b, off, len - off, 0);
                if (n == 0) {
                    return false;
                }
                if (n < 0) {
                    throw new IOException("recv: " + n);
                }
                off += n;
            }
            return true;
        }

        int readSome(final byte[] b) throws IOException {
            final int n = api.recv(fd, b, 0, b.length, 0);
            if (n < 0) {
                throw new IOException("recv: " + n);
            }
            return n;
        }

        @Override
        public void close() {
            api.close(fd);
        }
    }

    private static NetStack stack(final boolean channels) {
        return new NetStack(StackSettings.defaults().withNetChannels(channels), System::nanoTime);
    }

    private static int listen(final Sockets api) {
        final int l = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        api.setsockopt(l, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1);
        check(api.bind(l, 0, PORT), "bind");
        check(api.listen(l, 16), "listen");
        return l;
    }

    private static int check(final int r, final String what) {
        if (r < 0) {
            throw new IllegalStateException(what + ": errno " + -r);
        }
        return r;
    }

    private static Result rrOsvj(final Sockets server, final Sockets client, final int dst, final long ns)
        throws Exception {
        final int l = listen(server);
        final CompletableFuture<Void> srv = CompletableFuture.runAsync(
            () -> echoServer(new OsvjConn(server, check(server.accept(l, null), "accept"))));
        final int c = client.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        check(client.connect(c, dst, PORT), "connect");
        final Result r = rrClient(new OsvjConn(client, c), ns);
        srv.get(30, TimeUnit.SECONDS);
        server.close(l);
        return r;
    }

    private static Result rrWire(final boolean channels, final long ns) throws Exception {
        final Wire wire = new Wire(1500);
        final NetStack a = stack(channels);
        a.addInterface(wire.a(), false, Addresses.parseIpv4("10.0.0.1"), 0xFFFFFF00, 0);
        final NetStack b = stack(channels);
        b.addInterface(wire.b(), false, Addresses.parseIpv4("10.0.0.2"), 0xFFFFFF00, 0);
        try (StackDriver da = new StackDriver(a, "bench-a"); StackDriver db = new StackDriver(b, "bench-b")) {
            return rrOsvj(b.sockets(), a.sockets(), Addresses.parseIpv4("10.0.0.2"), ns);
        }
    }

    private static Result rrLoopback(final long ns) throws Exception {
        final NetStack s = stack(true);
        s.addInterface(new LoopbackDevice(), true, 0, 0, 0);
        try (StackDriver d = new StackDriver(s, "bench-lo")) {
            return rrOsvj(s.sockets(), s.sockets(), 0x7F000001, ns);
        }
    }

    private static double streamLoopback(final long bytes) throws Exception {
        final NetStack s = stack(true);
        s.addInterface(new LoopbackDevice(), true, 0, 0, 0);
        final Sockets api = s.sockets();
        try (StackDriver d = new StackDriver(s, "bench-lo")) {
            final int l = listen(api);
            final CompletableFuture<Long> sink = CompletableFuture.supplyAsync(
                () -> streamSink(new OsvjConn(api, check(api.accept(l, null), "accept"))));
            final int c = api.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
            api.setsockopt(c, Sockets.SOL_SOCKET, Sockets.SO_SNDBUF, 256 * 1024);
            check(api.connect(c, 0x7F000001, PORT), "connect");
            final long start = (long)streamClient(new OsvjConn(api, c), bytes);
            final long got = sink.get(300, TimeUnit.SECONDS);
            final long elapsed = System.nanoTime() - start;
            if (got != bytes) {
                throw new IllegalStateException("stream lost bytes: " + got + " of " + bytes);
            }
            api.close(l);
            return bytes * 1e9 / elapsed;
        }
    }

    // ----- host JVM sockets over Linux loopback (the baseline) ----------------------------------

    private static final class HostConn implements Conn {
        private final Socket s;
        private final InputStream in;
        private final OutputStream out;

        HostConn(final Socket s) throws IOException {
            this.s = s;
            s.setTcpNoDelay(true);
            this.in = s.getInputStream();
            this.out = s.getOutputStream();
        }

        @Override
        public void write(final byte[] b, final int len) throws IOException {
            out.write(b, 0, len);
        }

        @Override
        public boolean readFully(final byte[] b, final int len) throws IOException {
            int off = 0;
            while (off < len) {
                final int n = in.read(b, off, len - off);
                if (n < 0) {
                    return false;
                }
                off += n;
            }
            return true;
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    private static Result rrHost(final long ns) throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 16, InetAddress.getLoopbackAddress())) {
            final CompletableFuture<Void> srv = CompletableFuture.runAsync(() -> {
                try {
                    echoServer(new HostConn(ss.accept()));
                } catch (final IOException e) {
                    throw new RuntimeException(e);
                }
            });
            final Result r = rrClient(new HostConn(new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort())), ns);
            srv.get(30, TimeUnit.SECONDS);
            return r;
        }
    }

    private static double streamHost(final long bytes) throws Exception {
        try (ServerSocket ss = new ServerSocket(0, 16, InetAddress.getLoopbackAddress())) {
            final CompletableFuture<Long> sink = CompletableFuture.supplyAsync(() -> {
                try (Socket s = ss.accept(); InputStream in = s.getInputStream()) {
                    final byte[] b = new byte[64 * 1024];
                    long total = 0;
                    int n;
                    while ((n = in.read(b)) > 0) {
                        total += n;
                    }
                    return total;
                } catch (final IOException e) {
                    throw new RuntimeException(e);
                }
            });
            final long start = (long)streamClient(new HostConn(new Socket(InetAddress.getLoopbackAddress(),
                ss.getLocalPort())), bytes);
            final long got = sink.get(300, TimeUnit.SECONDS);
            final long elapsed = System.nanoTime() - start;
            if (got != bytes) {
                throw new IllegalStateException("stream lost bytes");
            }
            return bytes * 1e9 / elapsed;
        }
    }
}
