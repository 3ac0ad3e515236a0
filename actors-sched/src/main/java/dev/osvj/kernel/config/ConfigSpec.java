package dev.osvj.kernel.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException.BadValue;
import com.typesafe.config.ConfigException.WrongType;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The declared shape of a configuration subtree: every key, its type and its range. Subsystems
 * declare their keys here (the same keys their {@code reference.conf} documents); {@link #validate}
 * then reports every problem at once, each with key path, expected and got, and treats any key it
 * does not know as an error with a "did you mean" suggestion.
 *
 * <p>Paths are absolute ({@code osvj.cpus}) for the kernel-wide spec and relative for the element
 * spec of an {@link #objectList object list}.
 */
public final class ConfigSpec {
    /** Checks one present value; appends problems, never throws. */
    @FunctionalInterface
    public interface Check {
        void check(Config config, String path, String shownPath, List<ConfigProblem> problems);
    }

    private final String root;
    private final Map<String, Check> rules = new LinkedHashMap<>();
    private final Set<String> openPrefixes = new TreeSet<>();

    /** @param root the subtree this spec owns; unknown keys are looked for only below it ("" = all). */
    public ConfigSpec(final String root) {
        this.root = root;
    }

    public String root() {
        return root;
    }

    /** Declared key paths in declaration order. */
    public Set<String> paths() {
        return Collections.unmodifiableSet(rules.keySet());
    }

    /** Prefixes below which any key is accepted (maps such as environment variables). */
    public Set<String> openPrefixes() {
        return Collections.unmodifiableSet(openPrefixes);
    }

    public ConfigSpec rule(final String path, final Check check) {
        if (rules.putIfAbsent(path, check) != null) {
            throw new IllegalStateException("config key declared twice: " + path);
        }
        return this;
    }

    public ConfigSpec integer(final String path, final long min, final long max) {
        return rule(path, (c, p, shown, out) -> {
            final String expected = "expected an integer " + min + ".." + max;
            final ConfigValue v = c.getValue(p);
            final Long n = asLong(v);
            if (n == null || n < min || n > max) {
                out.add(new ConfigProblem(shown, expected + ", got " + show(v)));
            }
        });
    }

    public ConfigSpec bool(final String path) {
        return rule(path, (c, p, shown, out) -> {
            try {
                c.getBoolean(p);
            } catch (final WrongType e) {
                out.add(new ConfigProblem(shown, "expected true or false, got " + show(c.getValue(p))));
            }
        });
    }

    public ConfigSpec string(final String path) {
        return rule(path, (c, p, shown, out) -> {
            final ConfigValue v = c.getValue(p);
            if (v.valueType() == ConfigValueType.OBJECT || v.valueType() == ConfigValueType.LIST
                || v.valueType() == ConfigValueType.NULL) {
                out.add(new ConfigProblem(shown, "expected a string, got " + show(v)));
            }
        });
    }

    /** A string matching {@code pattern}; {@code what} names the expected form ("a MAC address"). */
    public ConfigSpec string(final String path, final Pattern pattern, final String what) {
        return rule(path, (c, p, shown, out) -> {
            final ConfigValue v = c.getValue(p);
            if (v.valueType() != ConfigValueType.STRING && v.valueType() != ConfigValueType.NUMBER
                || !pattern.matcher(String.valueOf(v.unwrapped())).matches()) {
                out.add(new ConfigProblem(shown, "expected " + what + ", got " + show(v)));
            }
        });
    }

    public ConfigSpec oneOf(final String path, final String... values) {
        final List<String> allowed = List.of(values);
        return rule(path, (c, p, shown, out) -> {
            final ConfigValue v = c.getValue(p);
            if (v.valueType() != ConfigValueType.STRING || !allowed.contains((String)v.unwrapped())) {
                out.add(new ConfigProblem(shown, "expected one of " + String.join(", ", allowed) + ", got " + show(v)));
            }
        });
    }

    /** A size in bytes; HOCON size units are accepted ({@code 512M}, {@code 2 GiB}). */
    public ConfigSpec bytes(final String path, final long min, final long max) {
        return rule(path, (c, p, shown, out) -> {
            final String expected = "expected a size in bytes such as 512M, " + sizeText(min) + ".." + sizeText(max);
            final ConfigValue v = c.getValue(p);
            try {
                final long n = c.getBytes(p);
                if (n < min || n > max) {
                    out.add(new ConfigProblem(shown, expected + ", got " + show(v)));
                }
            } catch (final WrongType | BadValue e) {
                out.add(new ConfigProblem(shown, expected + ", got " + show(v)));
            }
        });
    }

    /** A duration; HOCON duration units are accepted ({@code 100ms}, {@code 5s}). */
    public ConfigSpec duration(final String path, final Duration min, final Duration max) {
        return rule(path, (c, p, shown, out) -> {
            final String expected = "expected a duration such as 100ms, " + durationText(min) + ".." + durationText(max);
            final ConfigValue v = c.getValue(p);
            try {
                final Duration d = c.getDuration(p);
                if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
                    out.add(new ConfigProblem(shown, expected + ", got " + show(v)));
                }
            } catch (final WrongType | BadValue e) {
                out.add(new ConfigProblem(shown, expected + ", got " + show(v)));
            }
        });
    }

    public ConfigSpec stringList(final String path) {
        return rule(path, (c, p, shown, out) -> {
            final ConfigValue v = c.getValue(p);
            if (!(v instanceof ConfigList list)) {
                out.add(new ConfigProblem(shown, "expected a list of strings, got " + show(v)));
                return;
            }
            for (int i = 0; i < list.size(); i++) {
                final ConfigValue e = list.get(i);
                if (e.valueType() == ConfigValueType.OBJECT || e.valueType() == ConfigValueType.LIST
                    || e.valueType() == ConfigValueType.NULL) {
                    out.add(new ConfigProblem(shown + "[" + i + "]", "expected a string, got " + show(e)));
                }
            }
        });
    }

    /**
     * A list of objects, each validated against the element spec built by {@code element} (paths
     * relative to the element), with unknown keys reported as {@code path[i].key}.
     */
    public ConfigSpec objectList(final String path, final Consumer<ConfigSpec> element) {
        final ConfigSpec elementSpec = new ConfigSpec("");
        element.accept(elementSpec);
        return rule(path, (c, p, shown, out) -> {
            final ConfigValue v = c.getValue(p);
            if (!(v instanceof ConfigList list)) {
                out.add(new ConfigProblem(shown, "expected a list of objects, got " + show(v)));
                return;
            }
            for (int i = 0; i < list.size(); i++) {
                final ConfigValue e = list.get(i);
                if (!(e instanceof ConfigObject obj)) {
                    out.add(new ConfigProblem(shown + "[" + i + "]", "expected an object, got " + show(e)));
                    continue;
                }
                elementSpec.validateInto(obj.toConfig(), shown + "[" + i + "].", out);
            }
        });
    }

    /** Any keys below {@code prefix} are accepted, each a string (environment-style maps). */
    public ConfigSpec openObject(final String prefix) {
        openPrefixes.add(prefix);
        return rule(prefix, (c, p, shown, out) -> {
            final ConfigValue v = c.getValue(p);
            if (!(v instanceof ConfigObject obj)) {
                out.add(new ConfigProblem(shown, "expected an object, got " + show(v)));
                return;
            }
            for (final Map.Entry<String, ConfigValue> e : obj.toConfig().entrySet()) {
                final ConfigValueType t = e.getValue().valueType();
                if (t == ConfigValueType.OBJECT || t == ConfigValueType.LIST || t == ConfigValueType.NULL) {
                    out.add(new ConfigProblem(shown + "." + e.getKey(), "expected a string, got " + show(e.getValue())));
                }
            }
        });
    }

    /** Merge another spec's rules (each subsystem contributes one). */
    public ConfigSpec include(final ConfigSpec other) {
        other.rules.forEach(this::rule);
        openPrefixes.addAll(other.openPrefixes);
        return this;
    }

    /** Validate {@code config}; the returned list is sorted by key path and empty when all is well. */
    public List<ConfigProblem> validate(final Config config) {
        final List<ConfigProblem> problems = new ArrayList<>();
        validateInto(config, "", problems);
        Collections.sort(problems);
        return problems;
    }

    private void validateInto(final Config config, final String shownPrefix, final List<ConfigProblem> out) {
        for (final Map.Entry<String, Check> rule : rules.entrySet()) {
            final String path = rule.getKey();
            if (!config.hasPathOrNull(path)) {
                if (!ancestorIsScalar(config, path)) {
                    out.add(new ConfigProblem(shownPrefix + path, "missing; every osvj key has a default in reference.conf, so this key was removed or set to an object without it"));
                }
                continue;
            }
            rule.getValue().check(config, path, shownPrefix + path, out);
        }
        final Config scope = root.isEmpty() ? config : config.hasPath(root) ? subtree(config) : null;
        if (scope == null) {
            return;
        }
        for (final Map.Entry<String, ConfigValue> leaf : scope.entrySet()) {
            final String path = root.isEmpty() ? leaf.getKey() : root + "." + leaf.getKey();
            if (rules.containsKey(path) || underOpen(path)) {
                continue;
            }
            final String shown = shownPrefix + path;
            if (isPrefixOfRule(path)) {
                out.add(new ConfigProblem(shown, "expected an object, got " + show(leaf.getValue())));
            } else if (!underRule(path)) {
                final String suggestion = suggest(path);
                out.add(new ConfigProblem(shown, suggestion == null
                    ? "unknown key"
                    : "unknown key; did you mean " + shownPrefix + suggestion + "?"));
            }
        }
    }

    /** True when a parent of {@code path} is set to a non-object (reported once, at the parent). */
    private static boolean ancestorIsScalar(final Config config, final String path) {
        int dot = path.indexOf('.');
        while (dot > 0) {
            final String parent = path.substring(0, dot);
            if (config.hasPathOrNull(parent) && (config.getIsNull(parent) || !(config.getValue(parent) instanceof ConfigObject))) {
                return true;
            }
            dot = path.indexOf('.', dot + 1);
        }
        return false;
    }

    private Config subtree(final Config config) {
        final ConfigValue v = config.getValue(root);
        return v instanceof ConfigObject o ? o.toConfig() : com.typesafe.config.ConfigFactory.empty();
    }

    private boolean underOpen(final String path) {
        for (final String p : openPrefixes) {
            if (path.startsWith(p + ".")) {
                return true;
            }
        }
        return false;
    }

    /** A leaf below a declared list or scalar key (its own check reports it). */
    private boolean underRule(final String path) {
        for (final String p : rules.keySet()) {
            if (path.startsWith(p + ".")) {
                return true;
            }
        }
        return false;
    }

    private boolean isPrefixOfRule(final String path) {
        for (final String p : rules.keySet()) {
            if (p.startsWith(path + ".")) {
                return true;
            }
        }
        return false;
    }

    /** The closest declared key by edit distance, or null when none is close enough to help. */
    String suggest(final String path) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        final String leaf = path.substring(path.lastIndexOf('.') + 1);
        for (final String candidate : rules.keySet()) {
            final int d = levenshtein(path, candidate);
            if (d < bestDistance) {
                bestDistance = d;
                best = candidate;
            }
        }
        if (best != null && bestDistance <= Math.max(2, leaf.length() / 2)) {
            return best;
        }
        // A key at the wrong level (osvj.tau instead of osvj.sched.tau): same last segment.
        for (final String candidate : rules.keySet()) {
            if (candidate.endsWith("." + leaf)) {
                return candidate;
            }
        }
        return null;
    }

    static int levenshtein(final String a, final String b) {
        final int[] prev = new int[b.length() + 1];
        final int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                final int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            System.arraycopy(cur, 0, prev, 0, cur.length);
        }
        return prev[b.length()];
    }

    private static Long asLong(final ConfigValue v) {
        final Object raw = v.unwrapped();
        if (raw instanceof Integer || raw instanceof Long) {
            return ((Number)raw).longValue();
        }
        if (raw instanceof String s) {
            try {
                return Long.parseLong(s.trim());
            } catch (final NumberFormatException e) {
                return null;
            }
        }
        return null;
    }

    /** How a found value is shown in a message: strings quoted, numbers and booleans as written. */
    public static String show(final ConfigValue v) {
        return switch (v.valueType()) {
            case STRING -> "\"" + v.unwrapped() + "\"";
            case NUMBER, BOOLEAN -> String.valueOf(v.unwrapped());
            case NULL -> "null";
            case LIST -> "a list";
            case OBJECT -> "an object";
        };
    }

    private static String sizeText(final long bytes) {
        final String[] units = {"", "K", "M", "G", "T"};
        long n = bytes;
        int u = 0;
        while (u < units.length - 1 && n >= 1024 && n % 1024 == 0) {
            n /= 1024;
            u++;
        }
        return n + units[u];
    }

    private static String durationText(final Duration d) {
        if (d.toNanos() % 1_000_000_000L == 0) {
            return d.toSeconds() + "s";
        }
        if (d.toNanos() % 1_000_000L == 0) {
            return d.toMillis() + "ms";
        }
        return d.toNanos() / 1000 + "us";
    }
}
