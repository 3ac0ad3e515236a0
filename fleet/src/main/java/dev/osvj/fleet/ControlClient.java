package dev.osvj.fleet;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** One request to a fleet's {@link ControlServer}: the status line and the data lines of the reply. */
public final class ControlClient {
    /** A reply: {@code status} is the first line ({@code ok ...}, {@code usage: ...}, {@code error: ...}). */
    public record Reply(String status, List<String> lines) {
        public boolean ok() {
            return status.startsWith("ok");
        }

        public boolean usageError() {
            return status.startsWith("usage:");
        }

        public List<InstanceStatus> rows() {
            return lines.stream().map(ControlServer::parseRow).toList();
        }
    }

    private ControlClient() {
    }

    /** Send {@code request} to 127.0.0.1:{@code port}; the socket times out after {@code timeoutMs} of silence. */
    public static Reply send(final int port, final String request, final int timeoutMs) throws IOException {
        return send(InetAddress.getLoopbackAddress().getHostAddress(), port, request, timeoutMs);
    }

    /** Send {@code request} to {@code host:port} (a cluster node's control endpoint). */
    public static Reply send(final String host, final int port, final String request, final int timeoutMs) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getByName(host), port), timeoutMs);
            s.setSoTimeout(timeoutMs);
            final OutputStream out = s.getOutputStream();
            out.write((request + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            final BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            final String status = in.readLine();
            if (status == null) {
                throw new IOException("the fleet closed the connection without a reply");
            }
            final List<String> lines = new ArrayList<>();
            String line;
            while ((line = in.readLine()) != null && !line.equals(".")) {
                lines.add(line);
            }
            return new Reply(status, lines);
        }
    }
}
