package dev.osvj.fleet;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InstanceConfigsTest {
    private static final String FLEET = """
        osvj.fleet {
          networks = [ { name = back, subnet = "10.69.0.0/24", backend = vswitch } ]
          services = [
            { name = web, app = echo, cpus = 2, memory = 32M, replicas = 0, network = back,
              settings = { net.tcp.send-buffer = 128K, mmu.zero-pool = 4M } },
            { name = plain, app = echo, cpus = 1, memory = 16M, replicas = 0 } ]
        }
        """;

    /** What kernelConfig computed before: the instance's keys over the whole reference, resolved per instance. */
    private static Config resolvedWhole(final FleetConfig f, final FleetConfig.ServiceSpec s, final int replica) {
        return InstanceConfigs.instanceKeys(f, s, replica, replica + 1)
            .withFallback(ConfigFactory.defaultReferenceUnresolved()).resolve();
    }

    @Test
    void shouldGiveTheSameConfigurationAsResolvingTheWholeReferencePerInstance() throws Exception {
        final FleetConfig f = FleetTesting.fleet(FLEET);
        for (final FleetConfig.ServiceSpec s : f.services()) {
            for (int replica = 0; replica < 2; replica++) {
                final Config fast = InstanceConfigs.kernelConfig(f, s, replica, replica + 1);
                assertEquals(resolvedWhole(f, s, replica).root(), fast.root(), s.name() + "-" + replica);
                assertEquals(s.name() + "-" + replica, fast.getString("osvj.name"));
            }
        }
        final Config web = InstanceConfigs.kernelConfig(f, f.service("web").orElseThrow(), 0, 1);
        assertEquals(128 * 1024, web.getBytes("osvj.net.tcp.send-buffer"));
        assertEquals(32L << 20, web.getBytes("osvj.memory"));
    }

    @Test
    void shouldNotResolveTheReferenceAgainForEveryInstance(@TempDir final Path dir) throws Exception {
        final FleetConfig f = FleetTesting.fleet(FLEET);
        final FleetConfig.ServiceSpec web = f.service("web").orElseThrow();
        InstanceConfigs.kernelConfig(f, web, 0, 1); // the once-per-JVM resolution happens here
        // Resolving the whole merge throws Typesafe Config's internal NotPossibleToResolve on the way:
        // the detector sees those first, so the zero below means the reference was not resolved again.
        final long thread = Thread.currentThread().threadId();
        assertTrue(exceptions(dir.resolve("whole.jfr"), thread, () -> resolvedWhole(f, web, 1)) > 0);
        assertEquals(0, exceptions(dir.resolve("fast.jfr"), thread, () -> InstanceConfigs.kernelConfig(f, web, 1, 2)));
    }

    @FunctionalInterface
    private interface Work {
        void run() throws Exception;
    }

    /** Exceptions constructed on thread {@code thread} while {@code work} runs (JFR's jdk.JavaExceptionThrow). */
    private static long exceptions(final Path file, final long thread, final Work work) throws Exception {
        try (Recording r = new Recording()) {
            r.enable("jdk.JavaExceptionThrow").withoutStackTrace();
            r.start();
            work.run();
            r.stop();
            r.dump(file);
        }
        return RecordingFile.readAllEvents(file).stream()
            .filter((RecordedEvent e) -> e.getThread() != null && e.getThread().getJavaThreadId() == thread).count();
    }
}
