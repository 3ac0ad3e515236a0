package dev.osvj.vswitch;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.config.ConfigSpec;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vswitch subsystem reads its size key ({@code osvj.vswitch.term-length}) with the kernel's
 * {@code ConfigSizes.bytes}, as the other subsystems do: same values and problems as
 * {@code Config.getBytes}, without the three exceptions Typesafe Config builds inside it for a size
 * with a unit, at every boot's validation.
 */
class VSwitchSizesTest {
    private static final Config CONFIG = ConfigFactory.parseString("osvj.vswitch.term-length = 256K")
        .withFallback(ConfigFactory.load()).resolve();

    @Test
    void shouldReadTheTermLength() {
        assertEquals(256 * 1024, VSwitchSubsystem.hostOptions(CONFIG).termLength());
        assertEquals(1 << 20, VSwitchSubsystem.hostOptions(ConfigFactory.load()).termLength());
        final ConfigSpec spec = new ConfigSpec("osvj.vswitch");
        new VSwitchSubsystem().declareConfig(spec);
        assertEquals(List.of(), spec.validate(CONFIG));
        assertTrue(spec.validate(ConfigFactory.parseString("osvj.vswitch.term-length = 96K").withFallback(CONFIG))
            .stream().anyMatch(p -> p.toString().startsWith("osvj.vswitch.term-length: expected a power of two")));
    }

    @Test
    void shouldCheckAndReadTheTermLengthWithoutThrowingInside(@TempDir final Path dir) throws Exception {
        final ConfigSpec spec = new ConfigSpec("osvj.vswitch");
        new VSwitchSubsystem().declareConfig(spec);
        // The detector first sees getBytes's own internal exceptions, so a zero below means something.
        assertTrue(exceptionsThrownBy(() -> CONFIG.getBytes("osvj.vswitch.term-length"), dir.resolve("getBytes.jfr")) >= 3);
        spec.validate(CONFIG); // once before: the first run links its lambdas, which throws inside the JDK
        VSwitchSubsystem.hostOptions(CONFIG);
        assertEquals(0, exceptionsThrownBy(() -> spec.validate(CONFIG), dir.resolve("validate.jfr")));
        assertEquals(0, exceptionsThrownBy(() -> VSwitchSubsystem.hostOptions(CONFIG), dir.resolve("options.jfr")));
    }

    /** Exceptions constructed on this thread while {@code read} runs, from JFR's jdk.JavaExceptionThrow. */
    private static long exceptionsThrownBy(final Runnable read, final Path file) throws Exception {
        final long thread = Thread.currentThread().threadId();
        try (Recording r = new Recording()) {
            r.enable("jdk.JavaExceptionThrow").withoutStackTrace();
            r.start();
            read.run();
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
