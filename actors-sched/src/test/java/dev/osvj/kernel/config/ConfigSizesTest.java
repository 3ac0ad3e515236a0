package dev.osvj.kernel.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.function.ToLongFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigSizesTest {
    private static final Config CONFIG = ConfigFactory.parseString("""
        mega = 16M
        kibi = "64 KiB"
        kilo = 10kB
        plain = 4096
        quoted = "4096"
        giga = 2G
        words = "3 mebibytes"
        tera = 1TB
        bytes = 12 bytes
        fraction = 1.5M
        spaced = "  7 K  "
        bad = 12 parsecs
        huge = 100000000000 GiB
        list = [1, 2]
        """);

    @Test
    void shouldReadEverySizeAsGetBytesDoes() {
        for (final String path : List.of("mega", "kibi", "kilo", "plain", "quoted", "giga", "words", "tera", "bytes",
            "fraction", "spaced")) {
            assertEquals(CONFIG.getBytes(path).longValue(), ConfigSizes.bytes(CONFIG, path), path);
        }
        assertEquals(16L << 20, ConfigSizes.bytes(CONFIG, "mega"));
        assertEquals(10_000, ConfigSizes.bytes(CONFIG, "kilo"));
    }

    @Test
    void shouldFailAsGetBytesDoes() {
        assertThrows(ConfigException.BadValue.class, () -> ConfigSizes.bytes(CONFIG, "bad"));
        assertThrows(ConfigException.BadValue.class, () -> ConfigSizes.bytes(CONFIG, "huge"));
        assertThrows(ConfigException.WrongType.class, () -> ConfigSizes.bytes(CONFIG, "list"));
        assertThrows(ConfigException.Missing.class, () -> ConfigSizes.bytes(CONFIG, "absent"));
    }

    @Test
    void shouldReadASizeWithAUnitWithoutThrowingInside(@TempDir final Path dir) throws Exception {
        // The detector first sees getBytes's own internal exceptions, so a zero below means something.
        assertTrue(exceptionsThrownBy(c -> c.getBytes("mega"), dir.resolve("getBytes.jfr")) >= 3);
        assertEquals(0, exceptionsThrownBy(c -> ConfigSizes.bytes(c, "mega"), dir.resolve("sizes.jfr")));
    }

    /** Exceptions constructed on this thread while {@code read} runs, from JFR's jdk.JavaExceptionThrow. */
    private static long exceptionsThrownBy(final ToLongFunction<Config> read, final Path file) throws Exception {
        final long thread = Thread.currentThread().threadId();
        try (Recording r = new Recording()) {
            r.enable("jdk.JavaExceptionThrow").withoutStackTrace();
            r.start();
            read.applyAsLong(CONFIG);
            r.stop();
            r.dump(file);
        }
        long n = 0;
        for (final RecordedEvent e : RecordingFile.readAllEvents(file)) {
            if (e.getThread() != null && e.getThread().getJavaThreadId() == thread) {
                n++;
            }
        }
        return n;
    }
}
