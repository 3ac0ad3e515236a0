package dev.osvj.system.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValueFactory;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigException;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.trace.Tracepoints;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Loads a kernel configuration in layers, lowest first: every module's {@code reference.conf} (each
 * key documented there), the configuration file ({@code conf/default.conf} unless another is named),
 * {@code -Dosvj.*} system properties, then {@code --set key=value} overrides. The result is validated
 * against the spec the kernel core and every subsystem declare: all problems are reported at once and
 * nothing starts while there is one.
 */
public final class KernelConfigLoader {
    private KernelConfigLoader() {
    }

    /** Load and validate; throws with every problem found. */
    public static Config load(final Path confFile, final List<String> sets, final Properties systemProperties,
        final List<Subsystem> subsystems, final Tracepoints tracepoints) throws ConfigException {
        final Config config = layer(confFile, sets, systemProperties);
        final List<ConfigProblem> problems = new ArrayList<>(spec(subsystems).validate(config));
        if (problems.isEmpty()) {
            checkTracePatterns(config, tracepoints, problems);
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return config;
    }

    /** The layered, resolved configuration, not yet validated. */
    public static Config layer(final Path confFile, final List<String> sets, final Properties systemProperties)
        throws ConfigException {
        Config file = ConfigFactory.empty();
        if (confFile != null) {
            if (!Files.isRegularFile(confFile)) {
                throw new ConfigException(confFile.toString(), "no such configuration file");
            }
            try {
                file = ConfigFactory.parseFile(confFile.toFile(),
                    ConfigParseOptions.defaults().setSyntax(ConfigSyntax.CONF).setAllowMissing(false));
            } catch (final com.typesafe.config.ConfigException e) {
                throw new ConfigException(confFile.toString(), syntaxMessage(e));
            }
        }
        Config overrides = ConfigFactory.empty();
        for (final String set : sets) {
            overrides = parseSet(set).withFallback(overrides);
        }
        final Config props = systemPropertiesUnderOsvj(systemProperties);
        try {
            return overrides.withFallback(props).withFallback(file)
                .withFallback(ConfigFactory.defaultReferenceUnresolved()).resolve();
        } catch (final com.typesafe.config.ConfigException e) {
            throw new ConfigException(confFile == null ? "config" : confFile.toString(), syntaxMessage(e));
        }
    }

    /** The whole declared spec: the kernel core's keys and every subsystem's. */
    public static ConfigSpec spec(final List<Subsystem> subsystems) {
        final ConfigSpec spec = new ConfigSpec("osvj");
        KernelCoreConfig.declare(spec);
        for (final Subsystem s : subsystems) {
            s.declareConfig(spec);
        }
        return spec;
    }

    /**
     * One {@code --set key=value}. The value is HOCON ({@code 4}, {@code true}, {@code [a, b]},
     * {@code 512M}, {@code [{type = net, address = "unix:/x"}]}); an unquoted scalar HOCON would misread
     * (a path with {@code //}, {@code #}, {@code :}) is taken as a plain string. A list or object value
     * is always HOCON: its strings with such characters are quoted inside it.
     */
    static Config parseSet(final String set) throws ConfigException {
        final int eq = set.indexOf('=');
        if (eq <= 0) {
            throw new ConfigException("--set " + set, "expected key=value");
        }
        final String key = set.substring(0, eq).trim();
        final String value = set.substring(eq + 1).trim();
        if (!key.matches("[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*")) {
            throw new ConfigException("--set " + set, "expected a key path such as osvj.cpus, got \"" + key + "\"");
        }
        final boolean quoted = value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"");
        final boolean structured = value.startsWith("[") || value.startsWith("{");
        if (quoted || structured || !value.contains("//") && !value.contains("#") && !value.contains(":")) {
            try {
                return ConfigFactory.parseString(key + " = " + (value.isEmpty() ? "\"\"" : value));
            } catch (final com.typesafe.config.ConfigException e) {
                // not HOCON: fall through to a plain string
            }
        }
        return ConfigFactory.empty().withValue(key, ConfigValueFactory.fromAnyRef(value));
    }

    private static Config systemPropertiesUnderOsvj(final Properties props) {
        final Properties selected = new Properties();
        for (final Map.Entry<Object, Object> e : props.entrySet()) {
            final String k = String.valueOf(e.getKey());
            // osvj.home is the launcher's install directory, not a kernel setting.
            if (k.startsWith("osvj.") && !k.equals("osvj.home")) {
                selected.put(k, e.getValue());
            }
        }
        return ConfigFactory.parseProperties(selected);
    }

    private static void checkTracePatterns(final Config config, final Tracepoints tracepoints, final List<ConfigProblem> out) {
        final String patterns = config.getString("osvj.trace.enable");
        for (final String p : patterns.split(",")) {
            if (!p.isBlank() && tracepoints.select(p).isEmpty()) {
                out.add(new ConfigProblem("osvj.trace.enable", "pattern \"" + p.trim()
                    + "\" matches no tracepoint; tracepoints: " + String.join(", ", tracepoints.names())));
            }
        }
    }

    private static String syntaxMessage(final com.typesafe.config.ConfigException e) {
        final String msg = e.getMessage();
        // Typesafe prefixes the origin ("conf/x.conf: 3: ..."); keep the line number and the reason.
        final int colon = msg.indexOf(": ");
        return colon > 0 && msg.substring(0, colon).endsWith(".conf") ? msg.substring(colon + 2) : msg;
    }
}
