package dev.osvj.kernel.config;

/**
 * One thing wrong with a configuration: the key path and a sentence saying what was expected and
 * what was found, printed as {@code osvj.cpus: expected an integer 1..64, got "two"}.
 */
public record ConfigProblem(String path, String message) implements Comparable<ConfigProblem> {
    @Override
    public String toString() {
        return path + ": " + message;
    }

    @Override
    public int compareTo(final ConfigProblem o) {
        final int c = path.compareTo(o.path);
        return c != 0 ? c : message.compareTo(o.message);
    }
}
