package dev.osvj.system.app.httpd;

import dev.osvj.kernel.Errno;
import dev.osvj.vfs.Posix;
import dev.osvj.vfs.Stat;
import dev.osvj.vfs.Vfs;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * Files from the kernel's VFS over HTTP: GET and HEAD of files of any size (up to 64 KiB read into the
 * response, larger ones streamed from the open file chunk by chunk), a strong ETag from inode, size and
 * modification time with If-None-Match (304), single byte ranges with If-Range (206, 416 for a range
 * past the end; several ranges or a malformed Range header get the whole file, as RFC 9110 allows),
 * and no directory listings: a directory answers with its {@code index.html} when that is enabled,
 * else 404.
 *
 * <p>Confinement: the request path is already normalised by the parser (no {@code ..} above
 * {@code /}), so {@code root + path} names a file under {@code root}. Everything goes through
 * {@link Vfs}, never the host file system. Symbolic links are followed as the VFS resolves them.
 */
final class StaticFiles {
    /** Bodies up to this many bytes are read into memory; larger ones are streamed ({@link FileBody}). */
    static final int IN_MEMORY = HttpConnection.OutBuffer.CHUNK;
    static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'",
        Locale.ROOT).withZone(ZoneOffset.UTC);

    private final Vfs vfs;

    StaticFiles(final Vfs vfs) {
        this.vfs = vfs;
    }

    /**
     * Answer {@code req} with the file at VFS path {@code file}.
     *
     * @param index whether a directory answers with its index.html.
     */
    HttpResponse serve(final HttpRequest req, final String file, final boolean index) throws HttpException {
        final boolean head = req.method().equals("HEAD");
        if (!head && !req.method().equals("GET")) {
            throw new MethodNotAllowed("GET, HEAD");
        }
        String path = file;
        final Stat st = new Stat();
        int r = vfs.stat(path, st);
        if (r == 0 && st.isDirectory()) {
            if (!index) {
                throw new HttpException(404, "not found: " + req.path() + " is a directory (directory listing is off)");
            }
            path = (path.endsWith("/") ? path : path + "/") + "index.html";
            r = vfs.stat(path, st);
        }
        if (r < 0) {
            throw errno(r, req.path());
        }
        if (!st.isRegular()) {
            throw new HttpException(404, "not found: " + req.path() + " is not a regular file");
        }
        final String etag = "\"" + Long.toHexString(st.ino) + "-" + Long.toHexString(st.size) + "-"
            + Long.toHexString(st.mtimeNanos()) + "\"";
        final HttpResponse ok = new HttpResponse(200).header("Content-Type", contentType(path))
            .header("ETag", etag).header("Last-Modified", HTTP_DATE.format(Instant.ofEpochSecond(st.mtimeSec)))
            .header("Accept-Ranges", "bytes");
        final String inm = req.header("if-none-match");
        if (inm != null && matches(inm, etag)) {
            final HttpResponse nm = new HttpResponse(304).header("ETag", etag);
            return nm;
        }
        final long size = st.size;
        long from = 0;
        long to = size - 1;
        HttpResponse resp = ok;
        final String range = req.header("range");
        final String ifRange = req.header("if-range");
        if (range != null && (ifRange == null || ifRange.equals(etag))) {
            final long[] span = range(range, size);
            if (span == UNSATISFIABLE) {
                throw new RangeNotSatisfiable(size);
            }
            if (span != null) {
                from = span[0];
                to = span[1];
                resp = new HttpResponse(206);
                resp.headers.addAll(ok.headers);
                resp.header("Content-Range", "bytes " + from + "-" + to + "/" + size);
            }
        }
        final long len = to - from + 1;
        if (head) {
            resp.length = len;
            return resp;
        }
        if (len <= IN_MEMORY) {
            resp.body = read(path, from, (int)len, req.path());
            return resp;
        }
        final int fd = vfs.open(path, Posix.O_RDONLY);
        if (fd < 0) {
            throw errno(fd, req.path());
        }
        resp.length = len;
        resp.file = new FileBody(vfs, fd, from, len);
        return resp;
    }

    private byte[] read(final String path, final long from, final int len, final String shown) throws HttpException {
        final int fd = vfs.open(path, Posix.O_RDONLY);
        if (fd < 0) {
            throw errno(fd, shown);
        }
        try {
            final byte[] out = new byte[len];
            int done = 0;
            while (done < len) {
                final long n = vfs.pread(fd, out, done, len - done, from + done);
                if (n < 0) {
                    throw errno((int)n, shown);
                }
                if (n == 0) {
                    throw new HttpException(500, "file shrank while it was read: " + shown);
                }
                done += (int)n;
            }
            return out;
        } finally {
            vfs.close(fd);
        }
    }

    static HttpException errno(final int r, final String path) {
        final Errno e = Errno.fromResult(r);
        return switch (e) {
            case ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG -> new HttpException(404, "not found: " + path);
            case EACCES, EPERM -> new HttpException(403, "forbidden: " + path);
            default -> new HttpException(500, path + ": " + e);
        };
    }

    private static boolean matches(final String header, final String etag) {
        for (final String t : header.split(",")) {
            final String s = t.strip();
            if (s.equals("*") || s.equals(etag) || s.equals("W/" + etag)) {
                return true;
            }
        }
        return false;
    }

    static final long[] UNSATISFIABLE = new long[0];

    /**
     * One byte range of {@code bytes=...} over a file of {@code size} bytes: {@code {first, last}}
     * (inclusive), {@link #UNSATISFIABLE}, or {@code null} to ignore the header (malformed, another unit,
     * several ranges).
     */
    static long[] range(final String header, final long size) {
        final String h = header.strip();
        if (!h.regionMatches(true, 0, "bytes=", 0, 6)) {
            return null;
        }
        final String spec = h.substring(6).strip();
        if (spec.indexOf(',') >= 0) {
            return null;
        }
        final int dash = spec.indexOf('-');
        if (dash < 0) {
            return null;
        }
        final long a = digits(spec.substring(0, dash).strip());
        final long b = digits(spec.substring(dash + 1).strip());
        if (dash == 0 || spec.substring(0, dash).isBlank()) {
            if (b < 0) {
                return null;
            }
            if (b == 0 || size == 0) {
                return UNSATISFIABLE;
            }
            return new long[] {Math.max(0, size - b), size - 1};
        }
        if (a < 0 || spec.substring(dash + 1).strip().length() > 0 && b < 0) {
            return null;
        }
        if (b >= 0 && b < a) {
            return null;
        }
        if (a >= size) {
            return UNSATISFIABLE;
        }
        return new long[] {a, b < 0 ? size - 1 : Math.min(b, size - 1)};
    }

    /** Non-negative decimal up to 18 digits, else -1. */
    private static long digits(final String s) {
        if (s.isEmpty() || s.length() > 18) {
            return -1;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return -1;
            }
        }
        return Long.parseLong(s);
    }

    static String contentType(final String path) {
        final int dot = path.lastIndexOf('.');
        final String ext = dot < path.lastIndexOf('/') || dot < 0 ? "" : path.substring(dot + 1).toLowerCase(Locale.ROOT);
        return switch (ext) {
            case "html", "htm" -> "text/html; charset=utf-8";
            case "css" -> "text/css; charset=utf-8";
            case "js", "mjs" -> "text/javascript; charset=utf-8";
            case "json" -> "application/json";
            case "txt", "conf", "md" -> "text/plain; charset=utf-8";
            case "svg" -> "image/svg+xml";
            case "png" -> "image/png";
            case "jpg", "jpeg" -> "image/jpeg";
            case "gif" -> "image/gif";
            case "ico" -> "image/x-icon";
            case "wasm" -> "application/wasm";
            default -> "application/octet-stream";
        };
    }

    /** 405 with its Allow header. */
    static final class MethodNotAllowed extends HttpException {
        final String allow;

        MethodNotAllowed(final String allow) {
            super(405, "method not allowed; allowed: " + allow);
            this.allow = allow;
        }
    }

    /** 416 with its Content-Range header. */
    static final class RangeNotSatisfiable extends HttpException {
        final long size;

        RangeNotSatisfiable(final long size) {
            super(416, "range not satisfiable: the file has " + size + " bytes");
            this.size = size;
        }
    }
}
