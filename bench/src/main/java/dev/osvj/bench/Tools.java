package dev.osvj.bench;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The host tools the baselines need, found on {@code PATH}. The runner names every missing one in one
 * line before it starts; a suite that needs a missing tool skips the metrics that need it (or fails
 * with a clear message when nothing is left to measure).
 */
public final class Tools {
    /** Tool, the Debian package that has it, the suites that use it, what it is for. */
    private record Tool(String name, String debianPackage, List<String> suites, String purpose) {
    }

    private static final List<Tool> TOOLS = List.of(
        new Tool("gcc", "gcc", List.of("sched", "mmu", "claims"), "C baselines"),
        new Tool("taskset", "util-linux", List.of("sched", "claims"), "CPU pinning of the C baselines"),
        new Tool("memcached", "memcached", List.of("apps", "claims"), "the native memcached peer"));

    private Tools() {
    }

    /** The executable {@code name} on PATH, if any. */
    public static Optional<Path> find(final String name) {
        final String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin");
        for (final String dir : path.split(File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            final Path p = Path.of(dir, name);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /**
     * One line naming the missing tools the given suites use, with the Debian packages that provide them,
     * or empty when nothing is missing.
     */
    public static String missingLine(final Collection<String> suites) {
        final Map<String, List<String>> missing = new LinkedHashMap<>();
        final TreeSet<String> packages = new TreeSet<>();
        for (final Tool t : TOOLS) {
            final List<String> users = new ArrayList<>(t.suites());
            users.retainAll(suites);
            if (!users.isEmpty() && find(t.name()).isEmpty()) {
                missing.put(t.name() + " (" + t.purpose() + " of " + String.join(", ", users) + ")", users);
                packages.add(t.debianPackage());
            }
        }
        if (missing.isEmpty()) {
            return "";
        }
        return "osvj bench: missing tools: " + String.join("; ", missing.keySet())
            + ": the metrics that need them are missing from this run (Debian: apt-get install " + String.join(" ", packages) + ")";
    }
}
