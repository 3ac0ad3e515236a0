package dev.osvj.kernel.config;

import java.util.List;

/** A configuration that cannot be used: every problem found, in key order. Nothing was started. */
public final class ConfigException extends Exception {
    private final List<ConfigProblem> problems;

    public ConfigException(final List<ConfigProblem> problems) {
        super(render(problems), null, false, false);
        this.problems = List.copyOf(problems);
    }

    public ConfigException(final String path, final String message) {
        this(List.of(new ConfigProblem(path, message)));
    }

    public List<ConfigProblem> problems() {
        return problems;
    }

    private static String render(final List<ConfigProblem> problems) {
        final StringBuilder sb = new StringBuilder();
        for (final ConfigProblem p : problems) {
            if (!sb.isEmpty()) {
                sb.append('\n');
            }
            sb.append(p);
        }
        return sb.toString();
    }
}
