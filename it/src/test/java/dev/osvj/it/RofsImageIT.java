package dev.osvj.it;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code bin/osvj mkimage} builds a rofs image from a host folder; a kernel mounts it and reads it. */
class RofsImageIT {
    private static final Duration LIMIT = Duration.ofMinutes(3);

    @TempDir
    Path dir;

    @Test
    void shouldBuildAnImageThatTheKernelMountsAndReads() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src/etc"));
        Files.writeString(src.resolve("motd"), "hello from rofs\n");
        Files.createSymbolicLink(dir.resolve("src/motd-link"), Path.of("etc/motd"));
        final Path image = dir.resolve("app.img");
        try (OsvjProcess mk = OsvjProcess.start(Map.of(), "mkimage", dir.resolve("src").toString(), image.toString())) {
            assertEquals(0, mk.awaitExit(LIMIT), () -> "stderr: " + mk.stderr());
            assertTrue(Files.size(image) > 0);
        }

        final Path conf = dir.resolve("rofs.conf");
        Files.writeString(conf, """
            osvj {
              vfs.disks = [{ file = "%s", read-only = true }]
              mounts = [
                { type = devfs, source = none, path = "/dev", options = "" }
                { type = rofs, source = "/dev/vblk0", path = "/app", options = "" }
              ]
            }
            """.formatted(image));
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run", conf.toString())) {
            osvj.awaitOut(l -> l.startsWith("Booted up in"), LIMIT);
            osvj.type("cat /app/motd-link");
            osvj.awaitOut(l -> l.endsWith("hello from rofs"), LIMIT);
            osvj.type("echo x > /app/new");
            osvj.awaitOut(l -> l.endsWith("sh: /app/new: Read-only file system"), LIMIT);
            osvj.type("echo written >> /log");
            osvj.type("cat /log");
            osvj.awaitOut(l -> l.endsWith("written"), LIMIT);
            osvj.type("poweroff");
            assertEquals(0, osvj.awaitExit(LIMIT), () -> "stderr: " + osvj.stderr());
        }
    }

    @Test
    void shouldRefuseASpecialFileWithAClearMessage() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("special"));
        final Process mkfifo = new ProcessBuilder("mkfifo", src.resolve("pipe").toString()).start();
        assertEquals(0, mkfifo.waitFor());
        try (OsvjProcess mk = OsvjProcess.start(Map.of(), "mkimage", src.toString(), dir.resolve("x.img").toString())) {
            assertEquals(1, mk.awaitExit(LIMIT));
            assertTrue(mk.stderr().stream().anyMatch(l -> l.startsWith("mkimage: ") && l.contains("pipe")), mk.stderr().toString());
            assertTrue(Files.notExists(dir.resolve("x.img")));
        }
    }
}
