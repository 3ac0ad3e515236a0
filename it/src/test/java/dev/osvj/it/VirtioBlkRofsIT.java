package dev.osvj.it;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The OSv way to ship an application: {@code bin/osvj mkimage} builds a rofs image from a host folder,
 * the kernel gets it as a virtio-blk device ({@code osvj.devices}), finds it at {@code /dev/vblk0} and
 * mounts it with rofs; the console reads a file of it, and /proc shows the subsystems' numbers.
 */
class VirtioBlkRofsIT {
    private static final Duration LIMIT = Duration.ofMinutes(3);

    @TempDir
    Path dir;

    @Test
    void shouldMountAnImageServedByVirtioBlkAndCatAFile() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src/etc"));
        Files.writeString(src.resolve("motd"), "hello from virtio-blk\n");
        final Path image = dir.resolve("app.img");
        try (OsvjProcess mk = OsvjProcess.start(Map.of(), "mkimage", dir.resolve("src").toString(), image.toString())) {
            assertEquals(0, mk.awaitExit(LIMIT), () -> "stderr: " + mk.stderr());
        }

        final Path conf = dir.resolve("virtio-rofs.conf");
        Files.writeString(conf, """
            osvj {
              devices = [{ type = blk, path = "%s", read-only = true }]
              mounts = [
                { type = devfs, source = none, path = "/dev", options = "" }
                { type = procfs, source = none, path = "/proc", options = "" }
                { type = rofs, source = "/dev/vblk0", path = "/app", options = "" }
              ]
            }
            """.formatted(image));
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run", conf.toString())) {
            osvj.awaitOut(l -> l.contains("VFS: /dev/vblk0 is virtio-blk vblk0"), LIMIT);
            osvj.awaitOut(l -> l.startsWith("Booted up in"), LIMIT);
            osvj.type("cat /app/etc/motd");
            osvj.awaitOut(l -> l.endsWith("hello from virtio-blk"), LIMIT);
            osvj.type("cat /proc/meminfo");
            osvj.awaitOut(l -> l.matches(".*PageTables: +\\d+ kB"), LIMIT);
            osvj.type("cat /proc/net/dev");
            osvj.awaitOut(l -> l.matches(".*lo:( +\\d+){16}"), LIMIT);
            osvj.type("poweroff");
            assertEquals(0, osvj.awaitExit(LIMIT), () -> "stderr: " + osvj.stderr());
        }
    }
}
