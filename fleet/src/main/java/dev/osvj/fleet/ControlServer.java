package dev.osvj.fleet;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * The control endpoint of a deployed fleet (127.0.0.1) or of a cluster node (the node's address, any
 * node serving the whole cluster's fleet through the placement singleton): TCP, one request line per connection,
 * answered with a status line, zero or more data lines and a line with a single {@code .}.
 *
 * <pre>
 *   request                 status line                    data lines
 *   status                  ok                             one per instance, tab-separated:
 *                                                          name service node state address boot_ms uptime_ms detail restarts
 *   scale SERVICE N         ok scaled SERVICE to N         the status rows after the change
 *   stop                    ok stopping                    -
 *   anything else           usage: MESSAGE                 -
 *   a failed request        error: MESSAGE                 -
 * </pre>
 *
 * Requests are served one at a time on the server's thread (a local scale blocks later requests until
 * its instances have booted; a cluster's scale returns once the singleton has placed the replicas, the
 * rows then show them BOOTING or not yet); {@code stop} calls the stop action and returns at once.
 */
public final class ControlServer implements AutoCloseable {
    private final ServerSocket socket;
    private final FleetControl fleet;
    private final Thread thread;

    private ControlServer(final ServerSocket socket, final FleetControl fleet) {
        this.socket = socket;
        this.fleet = fleet;
        this.thread = Thread.ofPlatform().daemon().name("fleet-control").unstarted(this::serve);
    }

    /** Bind 127.0.0.1:{@code port} (0 = any free port) and start serving. */
    public static ControlServer start(final int port, final FleetManager manager, final Runnable onStop) throws IOException {
        return start(InetAddress.getLoopbackAddress(), port, FleetControl.local(manager, onStop));
    }

    /** Bind {@code host:port} (0 = any free port) and serve {@code fleet}. */
    static ControlServer start(final InetAddress host, final int port, final FleetControl fleet) throws IOException {
        final ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(host, port));
        final ControlServer server = new ControlServer(s, fleet);
        server.thread.start();
        return server;
    }

    public int port() {
        return socket.getLocalPort();
    }

    private void serve() {
        while (!socket.isClosed()) {
            try (Socket c = socket.accept();
                 BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8));
                 PrintWriter out = new PrintWriter(c.getOutputStream(), false, StandardCharsets.UTF_8)) {
                final String line = in.readLine();
                handle(line == null ? "" : line.trim(), out);
                out.print(".\n");
                out.flush();
            } catch (final IOException e) {
                // a client that went away, or the socket closed by close()
            } catch (final InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    void handle(final String request, final PrintWriter out) throws InterruptedException {
        final String[] words = request.isEmpty() ? new String[0] : request.split("\\s+");
        final String verb = words.length == 0 ? "" : words[0];
        switch (verb) {
            case "status" -> {
                final List<InstanceStatus> rows;
                try {
                    rows = fleet.status();
                } catch (final IllegalStateException e) {
                    out.print("error: " + e.getMessage() + "\n");
                    return;
                }
                out.print("ok\n");
                rows(out, rows);
            }
            case "scale" -> {
                if (words.length != 3 || !words[2].matches("\\d{1,4}")) {
                    out.print("usage: scale SERVICE N\n");
                    return;
                }
                final String done;
                final List<InstanceStatus> rows;
                try {
                    done = fleet.scale(words[1], Integer.parseInt(words[2]));
                    rows = fleet.status();
                } catch (final IllegalArgumentException e) {
                    out.print("usage: " + e.getMessage() + "\n");
                    return;
                } catch (final IllegalStateException e) {
                    out.print("error: " + e.getMessage() + "\n");
                    return;
                }
                out.print("ok " + done + "\n");
                rows(out, rows);
            }
            case "stop" -> {
                out.print("ok stopping\n");
                out.flush();
                fleet.stop();
            }
            default -> out.print("usage: expected status, scale SERVICE N or stop, got \"" + request + "\"\n");
        }
    }

    private static void rows(final PrintWriter out, final List<InstanceStatus> rows) {
        for (final InstanceStatus r : rows) {
            out.print(row(r) + "\n");
        }
    }

    /** One data line (no newline): the wire format of a row, also inside cluster messages. */
    static String row(final InstanceStatus r) {
        return String.join("\t", r.name(), r.service(), r.node(), r.state().name(), r.address(),
            Double.isNaN(r.bootMillis()) ? "-" : String.format(Locale.ROOT, "%.2f", r.bootMillis()),
            Long.toString(r.uptimeMillis()), r.detail().replace('\t', ' ').replace('\n', ' '),
            Integer.toString(r.restarts()));
    }

    /** Parse one data line of a {@code status} or {@code scale} reply. */
    static InstanceStatus parseRow(final String line) {
        final String[] f = line.split("\t", -1);
        return new InstanceStatus(f[0], f[1], f[2], InstanceState.valueOf(f[3]), f[4],
            f[5].equals("-") ? Double.NaN : Double.parseDouble(f[5]), Long.parseLong(f[6]), f.length > 7 ? f[7] : "",
            f.length > 8 ? Integer.parseInt(f[8]) : 0);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
