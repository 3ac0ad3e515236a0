package dev.osvj.virtio.fs;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.virtio.VirtioSubsystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Validation of {@code {type = fs, tag, path}} elements of {@code osvj.devices}. */
class VirtioFsConfigTest {
    @TempDir
    Path dir;

    private List<String> problems(final String devices) {
        final ConfigSpec spec = new ConfigSpec("osvj.virtio");
        new VirtioSubsystem().declareConfig(spec);
        final Config c = ConfigFactory.parseString("osvj.devices = " + devices).withFallback(ConfigFactory.load()).resolve();
        return spec.validate(c).stream().map(ConfigProblem::toString).toList();
    }

    @Test
    void shouldAcceptAnExistingFolderWithATag() {
        assertEquals(List.of(), problems("[{type = fs, tag = host0, path = \"" + dir + "\"}]"));
    }

    @Test
    void shouldRefuseMissingOrBadPathsAndTags() throws Exception {
        final Path file = Files.writeString(dir.resolve("file"), "x");
        final List<String> p = problems("[{type = fs, tag = host0}, {type = fs, tag = a, path = \"" + dir.resolve("nope")
            + "\"}, {type = fs, tag = a, path = \"" + file + "\"}, {type = fs, path = \"" + dir + "\"},"
            + " {type = fs, tag = \"" + "t".repeat(37) + "\", path = \"" + dir + "\"}, {type = fs, tag = a, path = \""
            + dir + "\", read-only = true}]");
        assertTrue(p.contains("osvj.devices[0].path: needed: the host folder the device serves read-only"), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("osvj.devices[1].path: not an existing directory")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("osvj.devices[2].path: not an existing directory")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("osvj.devices[3].tag: expected the mount tag")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("osvj.devices[4].tag: expected the mount tag")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("osvj.devices[5].read-only: unknown key")), p.toString());
    }
}
