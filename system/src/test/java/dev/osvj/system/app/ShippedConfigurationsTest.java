package dev.osvj.system.app;

import com.typesafe.config.Config;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.system.app.memcached.MemcachedOptions;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The configurations shipped in {@code conf/} pass the kernel's configuration loader (every key known,
 * every value valid, as {@code bin/osvj run} checks them before anything starts), and the application
 * ones say what their comments promise.
 */
class ShippedConfigurationsTest {
    private final List<Subsystem> subsystems = Subsystems.discover();

    private Config load(final String name) throws Exception {
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        return KernelConfigLoader.load(Path.of("..", "conf", name), List.of(), new Properties(), subsystems,
            tracepoints);
    }

    @ParameterizedTest
    @ValueSource(strings = {"default.conf", "shell.conf", "memcached.conf", "httpd.conf", "passt.conf", "tap.conf"})
    void shouldLoadEveryShippedConfiguration(final String name) throws Exception {
        final Config config = load(name);
        final String app = config.getString("osvj.app.name");
        if (app.equals("memcached")) {
            final MemcachedOptions options = MemcachedOptions.parse(config.getStringList("osvj.app.args"),
                config.getInt("osvj.cpus"));
            assertEquals(11211, options.port(), name);
            assertEquals(64L << 20, options.memoryLimit(), name);
        }
    }

    @Test
    void shouldServeMemcachedFromHostPort11211ThroughTheUserGatewayByDefault() throws Exception {
        final Config config = load("default.conf");
        assertEquals("memcached", config.getString("osvj.app.name"));
        assertTrue(config.getBoolean("osvj.console.enabled"), "the console stays");
        assertEquals("user", config.getConfigList("osvj.devices").get(0).getString("backend"));
        final Config eth0 = config.getConfigList("osvj.net.interfaces").get(1);
        assertEquals(List.of("tcp:127.0.0.1:11211-:11211"), eth0.getStringList("hostfwd"));
    }

    @Test
    void shouldKeepTheConsoleShellConfiguration() throws Exception {
        final Config config = load("shell.conf");
        assertEquals("shell", config.getString("osvj.app.name"));
        assertTrue(config.getConfigList("osvj.devices").isEmpty());
    }

    @Test
    void shouldReachPasstAndTapThroughTheirBackends() throws Exception {
        final Config passt = load("passt.conf").getConfigList("osvj.devices").get(0);
        assertEquals("stream", passt.getString("backend"));
        assertEquals("unix:/tmp/osvj-passt.sock", passt.getString("address"));
        final Config tap = load("tap.conf").getConfigList("osvj.devices").get(0);
        assertEquals("tap", tap.getString("backend"));
        assertEquals("osvj", tap.getString("netns"));
    }
}
