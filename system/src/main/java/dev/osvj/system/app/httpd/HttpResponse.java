package dev.osvj.system.app.httpd;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A response being built: status, headers, body (bytes, or a file streamed in chunks), and an action
 * to run once it has been sent (poweroff answers before it powers off). {@link #encode} writes the
 * status line, the headers with Content-Length (always: bodies are never chunked), {@code Connection:
 * close} when the connection ends, and the body unless the request was HEAD.
 */
final class HttpResponse {
    static final String TEXT = "text/plain; charset=utf-8";
    static final String JSON = "application/json";

    final int status;
    final List<String[]> headers = new ArrayList<>(6);
    byte[] body = new byte[0];
    /**
     * Content-Length to announce when it differs from {@link #body} (HEAD of a file, whose body is not
     * read; a {@link #file} body).
     */
    long length = -1;
    /** A body streamed from a file instead of {@link #body} ({@link #length} bytes), or null. */
    FileBody file;
    Runnable afterSend;

    HttpResponse(final int status) {
        this.status = status;
    }

    /** A plain-text response whose body is {@code text} and a newline. */
    static HttpResponse text(final int status, final String text) {
        return new HttpResponse(status).header("Content-Type", TEXT).body((text + "\n").getBytes(StandardCharsets.UTF_8));
    }

    HttpResponse header(final String name, final String value) {
        headers.add(new String[] {name, value});
        return this;
    }

    HttpResponse body(final byte[] b) {
        body = b;
        return this;
    }

    String header(final String name) {
        for (final String[] h : headers) {
            if (h[0].equalsIgnoreCase(name)) {
                return h[1];
            }
        }
        return null;
    }

    /**
     * Serialise onto {@code out}; {@code head}: headers only; {@code close}: announce the close;
     * {@code keepAlive}: announce that the connection stays open ({@code Connection: keep-alive}, which
     * an HTTP/1.0 client that asked for it needs: without it, it takes the response as ending with the
     * connection, as ApacheBench's {@code -k} does).
     */
    void encode(final ByteSink out, final boolean head, final boolean close, final boolean keepAlive,
        final String date) {
        final StringBuilder b = new StringBuilder(160);
        b.append("HTTP/1.1 ").append(status).append(' ').append(reason(status)).append("\r\n");
        b.append("Server: osvj-httpd\r\n");
        if (date != null) {
            b.append("Date: ").append(date).append("\r\n");
        }
        for (final String[] h : headers) {
            b.append(h[0]).append(": ").append(h[1]).append("\r\n");
        }
        if (status != 304 && status >= 200 && status != 204) {
            b.append("Content-Length: ").append(length >= 0 ? length : body.length).append("\r\n");
        }
        if (close) {
            b.append("Connection: close\r\n");
        } else if (keepAlive) {
            b.append("Connection: keep-alive\r\n");
        }
        b.append("\r\n");
        out.write(b.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (!head && status != 304 && status != 204) {
            if (file != null) {
                out.stream(file);
                file = null;
            } else {
                out.write(body);
            }
        } else if (file != null) {
            file.close();
            file = null;
        }
    }

    static String reason(final int status) {
        return switch (status) {
            case 200 -> "OK";
            case 204 -> "No Content";
            case 206 -> "Partial Content";
            case 304 -> "Not Modified";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 413 -> "Content Too Large";
            case 414 -> "URI Too Long";
            case 416 -> "Range Not Satisfiable";
            case 431 -> "Request Header Fields Too Large";
            case 500 -> "Internal Server Error";
            case 501 -> "Not Implemented";
            case 503 -> "Service Unavailable";
            case 505 -> "HTTP Version Not Supported";
            default -> "Status " + status;
        };
    }

    /** Where responses are encoded: the connection's output buffer. */
    interface ByteSink {
        void write(byte[] b);

        /** Queue a file body behind what was written; the sink owns it from now on. */
        void stream(FileBody file);
    }
}
