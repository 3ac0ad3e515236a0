package dev.osvj.system.app.httpd;

import dev.osvj.kernel.KernelContext;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.wire.Addresses;
import dev.osvj.system.app.Application;
import dev.osvj.vfs.Vfs;

import java.util.List;

/**
 * {@code osvj.app.name = httpd}: an HTTP/1.1 server over the kernel's sockets serving static files from
 * the VFS and, with {@code --api}, the management REST API modelled on OSv's httpserver-api and a
 * dashboard. Options ({@link HttpdOptions}):
 * <pre>
 *   -p, --port=PORT          TCP port (default 8000; 0 = any free port)
 *   -l, --listen=ADDR        IPv4 address to listen on (default 127.0.0.1, loopback only;
 *                            0.0.0.0 to be reachable through a hostfwd or another interface)
 *   --root=DIR               serve the VFS directory DIR at / (default: none)
 *   --index                  a directory answers with its index.html (default: 404, no listing)
 *   --api                    the management API (/os, /file, /fs, /network, /hardware, /trace,
 *                            /metrics) and /dashboard ({@link ManagementApi})
 *   --token=T                the API wants "Authorization: Bearer T" (401 without it)
 *   -t, --threads=N          worker threads (default osvj.cpus)
 *   -c, --max-connections=N  open connections at most (default 1024)
 *   --max-body=BYTES         largest request body (default 65536; more is 413)
 * </pre>
 * API paths take precedence over files of the same name under {@code --root}. Requests that are
 * neither answer 404. The running server is published as the {@link HttpServer} service.
 */
public final class HttpdApplication implements Application {
    @Override
    public String name() {
        return "httpd";
    }

    @Override
    public String description() {
        return "HTTP/1.1 server: static files from the VFS, the management REST API, the dashboard";
    }

    @Override
    public void start(final KernelContext kernel, final List<String> args) {
        final HttpdOptions options = HttpdOptions.parse(args, kernel.config().getInt("osvj.cpus"));
        final StaticFiles files = options.root() != null || options.api()
            ? new StaticFiles(kernel.services().require(Vfs.class)) : null;
        final ManagementApi api = options.api() ? new ManagementApi(kernel, files, options.token()) : null;
        final String root = options.root() == null ? null : options.root().equals("/") ? "" : options.root();
        final HttpConnection.Handler handler = req -> {
            if (api != null && ManagementApi.owns(req.path())) {
                return api.handle(req);
            }
            if (root != null) {
                return files.serve(req, root + req.path(), options.index());
            }
            throw new HttpException(404, "not found: " + req.path());
        };
        final HttpServer server = HttpServer.start(kernel.services().require(Sockets.class),
            dev.osvj.system.app.AppSubsystem.threads(kernel, false), options,
            HttpConnection.handler(handler, HttpServer.logTo(kernel.log())), kernel.clock());
        kernel.services().provide(HttpServer.class, server);
        kernel.log().append("INFO", "httpd", "listening on " + Addresses.ipv4(options.listenIp()) + ":" + server.port()
            + (options.root() != null ? ", files from " + options.root() : "")
            + (options.api() ? ", management API" + (options.token() != null ? " (bearer token)" : "") : "")
            + ", " + options.threads() + " threads");
    }

    @Override
    public void stop(final KernelContext kernel) throws InterruptedException {
        final HttpServer server = kernel.services().find(HttpServer.class).orElse(null);
        if (server != null) {
            server.close();
        }
    }
}
