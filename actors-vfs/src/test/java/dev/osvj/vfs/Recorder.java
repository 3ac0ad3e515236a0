package dev.osvj.vfs;

import dev.osvj.kernel.Errno;

import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Wraps a {@link Sys} and logs every call as {@code name(path args) = result}, normalised so osvj and
 * the host compare equal when they behave the same: errors by errno name, new descriptors as
 * {@code fd}, data read as text, stat as type/permissions/size/links.
 */
final class Recorder {
    private static final Set<String> RETURNS_FD = Set.of("open", "openat", "dup", "dup2");

    final List<String> log = new ArrayList<>();

    Sys wrap(final Sys target) {
        return (Sys)Proxy.newProxyInstance(Sys.class.getClassLoader(), new Class<?>[]{Sys.class}, (proxy, m, args) -> {
            final long r = (long)m.invoke(target, args);
            final StringBuilder sb = new StringBuilder(m.getName()).append('(');
            for (final Object a : args) {
                if (a instanceof String s) {
                    sb.append('"').append(s.length() > 40 ? s.substring(0, 20) + "..." + s.length() : s).append("\" ");
                }
            }
            sb.append(") = ");
            if (r < 0) {
                final Errno e = Errno.fromResult(r);
                sb.append(e == null ? Long.toString(r) : e.name());
            } else if (RETURNS_FD.contains(m.getName())
                || "fcntl".equals(m.getName()) && ((int)args[1] == Posix.F_DUPFD || (int)args[1] == Posix.F_DUPFD_CLOEXEC)) {
                sb.append("fd");
            } else {
                sb.append(r);
            }
            switch (m.getName()) {
                case "read", "pread", "readlink" -> {
                    if (r > 0) {
                        sb.append(" \"").append(new String((byte[])args["readlink".equals(m.getName()) ? 1 : 1], 0, (int)r,
                            StandardCharsets.ISO_8859_1)).append('"');
                    }
                }
                case "stat", "lstat", "fstat", "fstatat" -> {
                    if (r == 0) {
                        final Stat st = (Stat)args["fstatat".equals(m.getName()) ? 2 : 1];
                        sb.append(" mode=0").append(Integer.toOctalString(st.mode & ~Posix.S_IFMT))
                            .append(" type=0").append(Integer.toOctalString(st.mode & Posix.S_IFMT));
                        if (!st.isDirectory()) {
                            sb.append(" size=").append(st.size).append(" nlink=").append(st.nlink);
                        }
                    }
                }
                default -> {
                }
            }
            log.add(sb.toString());
            return r;
        });
    }
}
