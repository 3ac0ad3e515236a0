package dev.osvj.system.app.httpd;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Incremental HTTP/1.x request parser for one connection: bytes go in as they arrive ({@link #feed}),
 * complete requests come out in order ({@link #next}), so pipelined requests and requests split at any
 * byte boundary parse the same. Input is untrusted: every limit is checked before anything is
 * allocated for it, and a malformed request is an {@link HttpException} carrying the status to answer
 * (400, 413, 414, 431, 501, 505), never another exception. After one, the parser is spent: the
 * connection answers and closes.
 *
 * <p>Limits: the request line at most {@link #MAX_REQUEST_LINE} bytes (414), the whole head (request
 * line and header lines) {@link #MAX_HEAD} bytes and {@link #MAX_HEADERS} header lines (431), the body
 * {@code maxBody} bytes (413, decided from Content-Length before the body arrives). Bodies come only
 * with Content-Length; Transfer-Encoding in a request is 501. Lines end in CRLF or a bare LF.
 *
 * <p>Buffer: {@code buf[start, end)} holds unparsed bytes; {@code scan} is how far the search for the
 * end of the head has come, {@code lineStart} where the current line began. Not thread-safe: owned by
 * the connection's worker.
 */
final class HttpParser {
    static final int MAX_REQUEST_LINE = 8192;
    static final int MAX_HEAD = 16384;
    static final int MAX_HEADERS = 100;

    private final int maxBody;
    private byte[] buf = new byte[2048];
    private int start;
    private int end;
    private int scan;
    private int lineStart;
    private int headerLines;
    /** End of the head (index after its empty line) once found, else -1. */
    private int headEnd = -1;
    private HttpRequest pendingHead;
    private int bodyLength;

    HttpParser(final int maxBody) {
        this.maxBody = maxBody;
    }

    /** Append received bytes. */
    void feed(final byte[] b, final int off, final int len) {
        if (end + len > buf.length) {
            final int live = end - start;
            if (live + len <= buf.length && start > 0) {
                System.arraycopy(buf, start, buf, 0, live);
            } else {
                final byte[] n = new byte[Math.max(buf.length * 2, live + len)];
                System.arraycopy(buf, start, n, 0, live);
                buf = n;
            }
            shift(start);
        }
        System.arraycopy(b, off, buf, end, len);
        end += len;
    }

    private void shift(final int by) {
        end -= by;
        scan -= by;
        lineStart -= by;
        if (headEnd >= 0) {
            headEnd -= by;
        }
        start -= by;
    }

    /** Bytes received and not yet part of a returned request. */
    int buffered() {
        return end - start;
    }

    /** The next complete request, or {@code null} until more bytes arrive. */
    HttpRequest next() throws HttpException {
        if (headEnd < 0 && !findHead()) {
            return null;
        }
        if (pendingHead == null) {
            pendingHead = parseHead();
        }
        if (end - headEnd < bodyLength) {
            return null;
        }
        final byte[] body = new byte[bodyLength];
        System.arraycopy(buf, headEnd, body, 0, bodyLength);
        final HttpRequest h = pendingHead;
        final HttpRequest r = new HttpRequest(h.method(), h.target(), h.path(), h.query(), h.minor(), h.headers(), body);
        start = headEnd + bodyLength;
        scan = start;
        lineStart = start;
        headEnd = -1;
        headerLines = 0;
        pendingHead = null;
        bodyLength = 0;
        if (start == end) {
            start = 0;
            end = 0;
            scan = 0;
            lineStart = 0;
        }
        return r;
    }

    /** Look for the empty line that ends the head; checks the limits as it goes. */
    private boolean findHead() throws HttpException {
        for (; scan < end; scan++) {
            if (buf[scan] != '\n') {
                continue;
            }
            int len = scan - lineStart;
            if (len > 0 && buf[scan - 1] == '\r') {
                len--;
            }
            if (lineStart == start) {
                if (len == 0) {
                    // Empty lines before a request line are ignored (RFC 9112 section 2.2).
                    start = scan + 1;
                    lineStart = start;
                    continue;
                }
                if (len > MAX_REQUEST_LINE) {
                    throw new HttpException(414, "request line longer than " + MAX_REQUEST_LINE + " bytes");
                }
            } else if (len == 0) {
                headEnd = scan + 1;
                scan = headEnd;
                return true;
            } else if (++headerLines > MAX_HEADERS) {
                throw new HttpException(431, "more than " + MAX_HEADERS + " header lines");
            }
            lineStart = scan + 1;
            if (lineStart - start > MAX_HEAD) {
                throw new HttpException(431, "request head longer than " + MAX_HEAD + " bytes");
            }
        }
        if (lineStart == start && end - start > MAX_REQUEST_LINE + 1) {
            throw new HttpException(414, "request line longer than " + MAX_REQUEST_LINE + " bytes");
        }
        if (end - start > MAX_HEAD + 1) {
            throw new HttpException(431, "request head longer than " + MAX_HEAD + " bytes");
        }
        return false;
    }

    private HttpRequest parseHead() throws HttpException {
        final String head = new String(buf, start, headEnd - start, StandardCharsets.ISO_8859_1);
        final String[] lines = head.split("\r?\n", -1);
        final String line = lines[0];
        final int sp1 = line.indexOf(' ');
        final int sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
        if (sp1 <= 0 || sp2 < 0 || line.indexOf(' ', sp2 + 1) >= 0) {
            throw new HttpException(400, "malformed request line");
        }
        final String method = line.substring(0, sp1);
        final String target = line.substring(sp1 + 1, sp2);
        final String version = line.substring(sp2 + 1);
        if (!isToken(method)) {
            throw new HttpException(400, "malformed method");
        }
        final int minor = version(version);
        final Map<String, List<String>> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            final String h = lines[i];
            if (h.isEmpty()) {
                break;
            }
            if (h.charAt(0) == ' ' || h.charAt(0) == '\t') {
                throw new HttpException(400, "obsolete line folding in header");
            }
            final int colon = h.indexOf(':');
            if (colon <= 0 || !isToken(h.substring(0, colon))) {
                throw new HttpException(400, "malformed header line");
            }
            final String value = h.substring(colon + 1).strip();
            for (int k = 0; k < value.length(); k++) {
                final char c = value.charAt(k);
                if (c < 0x20 && c != '\t' || c == 0x7F) {
                    throw new HttpException(400, "control character in header value");
                }
            }
            headers.computeIfAbsent(h.substring(0, colon).toLowerCase(Locale.ROOT), k -> new ArrayList<>(1)).add(value);
        }
        if (headers.containsKey("transfer-encoding")) {
            throw new HttpException(501, "Transfer-Encoding in requests is not supported; send Content-Length");
        }
        final List<String> host = headers.get("host");
        if (minor == 1 && host == null || host != null && host.size() > 1) {
            throw new HttpException(400, "HTTP/1.1 wants exactly one Host header");
        }
        bodyLength = contentLength(headers.get("content-length"));
        String raw = target;
        if (raw.startsWith("http://") || raw.startsWith("https://")) {
            final int slash = raw.indexOf('/', raw.indexOf("//") + 2);
            raw = slash < 0 ? "/" : raw.substring(slash);
        }
        if (raw.isEmpty() || raw.charAt(0) != '/') {
            throw new HttpException(400, "request target must be an absolute path");
        }
        for (int k = 0; k < raw.length(); k++) {
            final char c = raw.charAt(k);
            if (c <= 0x20 || c >= 0x7F) {
                throw new HttpException(400, "invalid character in request target");
            }
        }
        final int q = raw.indexOf('?');
        final int hash = raw.indexOf('#');
        if (hash >= 0) {
            throw new HttpException(400, "fragment in request target");
        }
        final String decoded = HttpPaths.decode(q < 0 ? raw : raw.substring(0, q));
        if (decoded == null) {
            throw new HttpException(400, "malformed percent-encoding in path");
        }
        final String path = HttpPaths.normalise(decoded);
        if (path == null) {
            throw new HttpException(400, "path climbs above /");
        }
        return new HttpRequest(method, target, path, q < 0 ? "" : raw.substring(q + 1), minor, headers, null);
    }

    private int contentLength(final List<String> values) throws HttpException {
        if (values == null) {
            return 0;
        }
        long n = -1;
        for (final String v : values) {
            for (final String part : v.split(",", -1)) {
                final String s = part.strip();
                if (s.isEmpty() || s.length() > 18 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) {
                    throw new HttpException(400, "malformed Content-Length");
                }
                final long x = Long.parseLong(s);
                if (n >= 0 && x != n) {
                    throw new HttpException(400, "conflicting Content-Length values");
                }
                n = x;
            }
        }
        if (n > maxBody) {
            throw new HttpException(413, "request body of " + n + " bytes is larger than " + maxBody);
        }
        return (int)n;
    }

    private static int version(final String v) throws HttpException {
        if (v.equals("HTTP/1.1")) {
            return 1;
        }
        if (v.equals("HTTP/1.0")) {
            return 0;
        }
        if (v.length() == 8 && v.startsWith("HTTP/") && Character.isDigit(v.charAt(5)) && v.charAt(6) == '.'
            && Character.isDigit(v.charAt(7))) {
            throw new HttpException(505, "HTTP version " + v.substring(5) + " is not supported (1.0 and 1.1 are)");
        }
        throw new HttpException(400, "malformed HTTP version");
    }

    /** RFC 9110 token: visible ASCII except delimiters. */
    static boolean isToken(final String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            final char c = s.charAt(i);
            if (c <= 0x20 || c >= 0x7F || "\"(),/:;<=>?@[\\]{}".indexOf(c) >= 0) {
                return false;
            }
        }
        return true;
    }
}
