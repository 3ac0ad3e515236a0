package dev.osvj.system.app.httpd;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Paths of request targets: percent-decoding (UTF-8, strict) and normalisation of {@code .} and
 * {@code ..}. Both return {@code null} for input they refuse instead of throwing: a {@code ..} that
 * would climb above {@code /}, a bad escape, invalid UTF-8, a NUL. Nothing here touches the VFS.
 */
final class HttpPaths {
    private HttpPaths() {
    }

    /** Decode {@code %XX} escapes of a path (a '+' stays a '+'); {@code null} if malformed. */
    static String decode(final String raw) {
        if (raw.indexOf('%') < 0) {
            return raw.indexOf('\0') >= 0 ? null : raw;
        }
        final ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            final char c = raw.charAt(i);
            if (c == '%') {
                if (i + 2 >= raw.length()) {
                    return null;
                }
                final int hi = Character.digit(raw.charAt(i + 1), 16);
                final int lo = Character.digit(raw.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    return null;
                }
                out.write(hi << 4 | lo);
                i += 2;
            } else if (c > 0x7F) {
                return null;
            } else {
                out.write(c);
            }
        }
        try {
            final String s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(out.toByteArray())).toString();
            return s.indexOf('\0') >= 0 ? null : s;
        } catch (final CharacterCodingException e) {
            return null;
        }
    }

    /**
     * {@code /a/./b//c/../d} to {@code /a/b/d}; {@code null} when a {@code ..} would leave the root or the
     * path is not absolute. A trailing slash is kept ({@code /a/} stays {@code /a/}) except for the root.
     */
    static String normalise(final String path) {
        if (path.isEmpty() || path.charAt(0) != '/' || path.indexOf('\0') >= 0) {
            return null;
        }
        final Deque<String> parts = new ArrayDeque<>();
        for (final String seg : path.split("/", -1)) {
            if (seg.isEmpty() || seg.equals(".")) {
                continue;
            }
            if (seg.equals("..")) {
                if (parts.isEmpty()) {
                    return null;
                }
                parts.removeLast();
            } else {
                parts.addLast(seg);
            }
        }
        if (parts.isEmpty()) {
            return "/";
        }
        final StringBuilder b = new StringBuilder(path.length());
        for (final String p : parts) {
            b.append('/').append(p);
        }
        if (path.endsWith("/")) {
            b.append('/');
        }
        return b.toString();
    }
}
