package dev.osvj.system.app.httpd;

import dev.osvj.net.wire.Addresses;

import java.util.List;

/**
 * Arguments of {@code osvj.app.name = httpd} ({@code osvj.app.args}):
 * <pre>
 *   -p, --port=PORT          TCP port (default 8000, OSv's httpserver port; 0 = any free port)
 *   -l, --listen=ADDR        IPv4 address to listen on (default 127.0.0.1: loopback only;
 *                            0.0.0.0 = every interface, needed behind a hostfwd)
 *   --root=DIR               serve the files under this VFS directory at /  (default: no static files)
 *   --index                  answer a directory with its index.html (off by default: 404)
 *   --api                    serve the management REST API (/os, /file, /fs, /network, /hardware,
 *                            /trace, /metrics) and the dashboard at /dashboard
 *   --token=T                the API and the dashboard's JSON want "Authorization: Bearer T" (else 401)
 *   -t, --threads=N          worker threads (default osvj.cpus)
 *   -c, --max-connections=N  open connections at most (default 1024; more are closed at once)
 *   --max-body=BYTES         largest request body (default 65536; more is 413)
 * </pre>
 *
 * @param port           TCP port, 0..65535.
 * @param listenIp       IPv4 address in host order; 0 = any.
 * @param root           VFS directory served at {@code /}, absolute and normalised, or {@code null}.
 * @param index          whether a directory answers with its {@code index.html}.
 * @param api            whether the management API and the dashboard are served.
 * @param token          the bearer token the API wants, or {@code null} for none.
 * @param threads        worker threads, at least 1.
 * @param maxConnections open connections at most.
 * @param maxBody        largest request body in bytes.
 */
public record HttpdOptions(int port, int listenIp, String root, boolean index, boolean api, String token, int threads,
                           int maxConnections, int maxBody) {
    /** Default port, as OSv's httpserver-api. */
    public static final int DEFAULT_PORT = 8000;
    private static final int LOOPBACK = 0x7F000001;

    /**
     * Parse {@code args}; {@code cpus} is the default thread count.
     *
     * @throws IllegalArgumentException naming the bad argument.
     */
    public static HttpdOptions parse(final List<String> args, final int cpus) {
        int port = DEFAULT_PORT;
        int listen = LOOPBACK;
        String root = null;
        boolean index = false;
        boolean api = false;
        String token = null;
        int threads = Math.max(1, cpus);
        int conns = 1024;
        int maxBody = 64 * 1024;
        for (int i = 0; i < args.size(); i++) {
            String name = args.get(i);
            String value = null;
            final int eq = name.indexOf('=');
            if (name.startsWith("--") && eq > 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            switch (name) {
                case "--api" -> api = true;
                case "--index" -> index = true;
                case "-p", "--port", "-l", "--listen", "--root", "--token", "-t", "--threads", "-c",
                     "--max-connections", "--max-body" -> {
                    if (value == null) {
                        if (i + 1 >= args.size()) {
                            throw new IllegalArgumentException("httpd: " + name + " wants a value");
                        }
                        value = args.get(++i);
                    }
                    switch (name) {
                        case "-p", "--port" -> port = number(name, value, 0, 65535);
                        case "-l", "--listen" -> listen = ipv4(value);
                        case "--root" -> root = normaliseRoot(value);
                        case "--token" -> {
                            if (value.isEmpty()) {
                                throw new IllegalArgumentException("httpd: --token must not be empty");
                            }
                            token = value;
                        }
                        case "-t", "--threads" -> threads = number(name, value, 1, 256);
                        case "-c", "--max-connections" -> conns = number(name, value, 1, 1 << 20);
                        default -> maxBody = number(name, value, 0, 1 << 30);
                    }
                }
                default -> throw new IllegalArgumentException("httpd: unknown option " + name
                    + " (supported: -p -l --root --index --api --token -t -c --max-body)");
            }
        }
        return new HttpdOptions(port, listen, root, index, api, token, threads, conns, maxBody);
    }

    private static int number(final String name, final String value, final int min, final int max) {
        try {
            final int v = Integer.parseInt(value);
            if (v < min || v > max) {
                throw new IllegalArgumentException("httpd: " + name + " wants " + min + ".." + max + ", got " + value);
            }
            return v;
        } catch (final NumberFormatException e) {
            throw new IllegalArgumentException("httpd: " + name + " wants a number, got \"" + value + "\"", e);
        }
    }

    private static int ipv4(final String value) {
        try {
            return Addresses.parseIpv4(value);
        } catch (final RuntimeException e) {
            throw new IllegalArgumentException("httpd: -l wants an IPv4 address, got \"" + value + "\"", e);
        }
    }

    private static String normaliseRoot(final String value) {
        final String p = HttpPaths.normalise(value);
        if (p == null || !value.startsWith("/")) {
            throw new IllegalArgumentException("httpd: --root wants an absolute path without .., got \"" + value + "\"");
        }
        return p;
    }
}
