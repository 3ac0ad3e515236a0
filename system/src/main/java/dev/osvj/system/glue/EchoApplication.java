package dev.osvj.system.glue;

import dev.osvj.kernel.KernelContext;
import dev.osvj.net.stack.SockAddr;
import dev.osvj.net.stack.Sockets;
import dev.osvj.system.app.AppSubsystem;
import dev.osvj.system.app.Application;
import dev.osvj.system.app.EpollServer;

import java.util.List;

/**
 * The built-in {@code echo} application (RFC 862), so the whole network path can be tried with
 * {@code nc} before any real application exists: {@code osvj.app.name = echo}, optional argument
 * the port (default 7). It listens on TCP and UDP {@code 0.0.0.0:PORT} through the kernel's
 * {@link Sockets} (the same calls an application makes); every TCP connection gets back each byte it
 * sends until it closes (a half-close is answered by closing once everything is echoed), and every
 * UDP datagram is sent back to its sender.
 *
 * <p>Threads: an acceptor thread, a UDP thread, and one thread per connection (blocking socket calls),
 * all application kernel threads on the vCPUs unless {@code osvj.app.threads = platform} (then host
 * platform threads): a thread blocked in a socket call gives its vCPU to the others.
 * {@code start} returns once both sockets listen, so a client may connect as soon as the
 * {@code Cmdline: echo} line is printed.
 */
public final class EchoApplication implements Application {
    /** The listening sockets while the application runs (closed by {@link #stop}). */
    private volatile Sockets sockets;
    private volatile int tcpListener = -1;
    private volatile int udpSocket = -1;

    /** RFC 862's port. */
    public static final int DEFAULT_PORT = 7;

    @Override
    public String name() {
        return "echo";
    }

    @Override
    public String description() {
        return "RFC 862 echo server on TCP and UDP (argument: port, default 7)";
    }

    @Override
    public void start(final KernelContext kernel, final List<String> args) {
        final Sockets sockets = kernel.services().find(Sockets.class)
            .orElseThrow(() -> new IllegalStateException("echo: no network stack in this kernel"));
        final int port;
        try {
            port = args.isEmpty() ? DEFAULT_PORT : Integer.parseInt(args.get(0));
        } catch (final NumberFormatException e) {
            throw new IllegalArgumentException("echo: expected a port number, got \"" + args.get(0) + "\"");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("echo: port " + port + " is not in 1..65535");
        }
        final int tcp = sockets.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        check(sockets.setsockopt(tcp, Sockets.SOL_SOCKET, Sockets.SO_REUSEADDR, 1), "setsockopt");
        check(sockets.bind(tcp, 0, port), "bind tcp port " + port);
        check(sockets.listen(tcp, 128), "listen");
        final int udp = sockets.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
        check(sockets.bind(udp, 0, port), "bind udp port " + port);
        this.sockets = sockets;
        this.tcpListener = tcp;
        this.udpSocket = udp;
        final EpollServer.Threads threads = AppSubsystem.threads(kernel, true);
        threads.start("echo-accept", 0, () -> acceptLoop(threads, sockets, tcp));
        threads.start("echo-udp", 1, () -> udpLoop(sockets, udp));
        kernel.log().append("INFO", "app", "echo: listening on tcp and udp port " + port);
    }

    /** Close the listeners: the accept and datagram loops end; open connections end with the stack. */
    @Override
    public void stop(final KernelContext kernel) {
        final Sockets s = sockets;
        if (s != null) {
            if (tcpListener >= 0) {
                s.close(tcpListener);
            }
            if (udpSocket >= 0) {
                s.close(udpSocket);
            }
            sockets = null;
        }
    }

    private static void check(final int result, final String what) {
        if (result < 0) {
            throw new IllegalStateException("echo: " + what + " failed: errno " + -result);
        }
    }

    private static void acceptLoop(final EpollServer.Threads threads, final Sockets sockets, final int listener) {
        int next = 0;
        while (true) {
            final int c = sockets.accept(listener, null);
            if (c < 0) {
                return; // listener closed
            }
            try {
                threads.start("echo-conn-" + c, next++, () -> serve(sockets, c)); // spread over the vCPUs
            } catch (final IllegalStateException e) {
                sockets.close(c); // no thread (the kernel is stopping): refuse the connection
            }
        }
    }

    private static void serve(final Sockets sockets, final int fd) {
        final byte[] b = new byte[16 * 1024];
        try {
            int n;
            while ((n = sockets.recv(fd, b, 0, b.length, 0)) > 0) {
                int w = 0;
                while (w < n) {
                    final int r = sockets.send(fd, b, w, n - w, 0);
                    if (r < 0) {
                        return;
                    }
                    w += r;
                }
            }
        } finally {
            sockets.close(fd);
        }
    }

    private static void udpLoop(final Sockets sockets, final int fd) {
        final byte[] b = new byte[65_536];
        final SockAddr from = new SockAddr();
        while (true) {
            final int n = sockets.recvfrom(fd, b, 0, b.length, 0, from);
            if (n < 0) {
                return;
            }
            sockets.sendto(fd, b, 0, n, 0, from.ip, from.port);
        }
    }
}
