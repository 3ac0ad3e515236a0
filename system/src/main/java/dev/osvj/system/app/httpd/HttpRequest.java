package dev.osvj.system.app.httpd;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One parsed request. {@code path} is percent-decoded and normalised (never climbs above {@code /});
 * header names are lower case; a header sent several times keeps every value in order.
 *
 * @param method  the request method, case-sensitive as sent (a token).
 * @param target  the request target as sent.
 * @param path    decoded, normalised absolute path.
 * @param query   the raw query after '?', or "" for none.
 * @param minor   HTTP/1.minor: 0 or 1.
 * @param headers lower-case name to its values.
 * @param body    the body (Content-Length bytes; empty without one).
 */
record HttpRequest(String method, String target, String path, String query, int minor,
                   Map<String, List<String>> headers, byte[] body) {
    /** First value of a header, or {@code null}. */
    String header(final String name) {
        final List<String> v = headers.get(name.toLowerCase(Locale.ROOT));
        return v == null || v.isEmpty() ? null : v.getFirst();
    }

    /** Whether the connection stays open after the response (HTTP/1.1 default, 1.0 with keep-alive). */
    boolean keepAlive() {
        final String c = header("connection");
        final boolean close = c != null && hasToken(c, "close");
        if (minor >= 1) {
            return !close;
        }
        return c != null && hasToken(c, "keep-alive") && !close;
    }

    private static boolean hasToken(final String list, final String token) {
        for (final String t : list.split(",")) {
            if (t.trim().equalsIgnoreCase(token)) {
                return true;
            }
        }
        return false;
    }
}
