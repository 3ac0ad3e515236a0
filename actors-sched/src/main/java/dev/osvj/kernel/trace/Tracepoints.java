package dev.osvj.kernel.trace;

import jdk.jfr.Event;
import jdk.jfr.Name;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The tracepoint registry. A tracepoint is a JDK Flight Recorder event type ({@code jdk.jfr.Event}
 * subclass with a {@code @Name} such as {@code osvj.boot.Phase}); subsystems declare theirs here and
 * {@link TraceSession} enables the ones a pattern selects, so JDK Mission Control and {@code jfr print}
 * read the recording. A disabled JFR event costs one {@code shouldCommit()} check at the site, like
 * OSv's patched-out tracepoints.
 */
public final class Tracepoints {
    private final Map<String, Class<? extends Event>> byName = new TreeMap<>();

    public Tracepoints() {
        declare(BootPhaseEvent.class);
    }

    public synchronized void declare(final Class<? extends Event> eventType) {
        byName.put(nameOf(eventType), eventType);
    }

    /** Declared tracepoint names, sorted. */
    public synchronized List<String> names() {
        return List.copyOf(byName.keySet());
    }

    /**
     * The event types a pattern list selects: comma-separated globs ({@code *} = any characters),
     * matched case-insensitively against the full name and the name without {@code osvj.}.
     */
    public synchronized List<Class<? extends Event>> select(final String patterns) {
        final List<Class<? extends Event>> out = new ArrayList<>();
        if (patterns == null || patterns.isBlank()) {
            return out;
        }
        final List<Pattern> globs = new ArrayList<>();
        for (final String p : patterns.split(",")) {
            if (!p.isBlank()) {
                globs.add(glob(p.trim()));
            }
        }
        for (final Map.Entry<String, Class<? extends Event>> e : byName.entrySet()) {
            final String full = e.getKey().toLowerCase(Locale.ROOT);
            final String shortName = full.startsWith("osvj.") ? full.substring(5) : full;
            for (final Pattern g : globs) {
                if (g.matcher(full).matches() || g.matcher(shortName).matches()) {
                    out.add(e.getValue());
                    break;
                }
            }
        }
        return Collections.unmodifiableList(out);
    }

    public static String nameOf(final Class<? extends Event> eventType) {
        final Name name = eventType.getAnnotation(Name.class);
        return name != null ? name.value() : eventType.getName();
    }

    private static Pattern glob(final String glob) {
        final StringBuilder re = new StringBuilder();
        for (final char ch : glob.toLowerCase(Locale.ROOT).toCharArray()) {
            if (ch == '*') {
                re.append(".*");
            } else if (ch == '?') {
                re.append('.');
            } else {
                re.append(Pattern.quote(String.valueOf(ch)));
            }
        }
        return Pattern.compile(re.toString());
    }
}
