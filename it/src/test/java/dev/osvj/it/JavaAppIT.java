package dev.osvj.it;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code osvj.app.name = java}: programs compiled and jarred here, put in a rofs image with
 * {@code bin/osvj mkimage}, run by a real {@code bin/osvj run} from the mounted image; their output is
 * on the process's stdout and the process ends with their exit code.
 */
class JavaAppIT {
    private static final Duration LIMIT = Duration.ofMinutes(3);

    @TempDir
    static Path dir;

    private static Path image;

    @BeforeAll
    static void buildImage() throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src/demo"));
        Files.writeString(src.resolve("Hello.java"), """
            package demo;
            public class Hello {
                public static void main(String[] args) throws Exception {
                    try (var in = Hello.class.getResourceAsStream("/greeting.txt")) {
                        System.out.println(new String(in.readAllBytes()).trim() + " " + String.join(" ", args));
                    }
                }
            }
            """);
        Files.writeString(src.resolve("Boom.java"), """
            package demo;
            public class Boom {
                public static void main(String[] args) {
                    throw new IllegalStateException("boom from the image");
                }
            }
            """);
        Files.writeString(src.resolve("Exit.java"), """
            package demo;
            public class Exit {
                public static void main(String[] args) {
                    System.out.println("exiting with " + args[0]);
                    System.exit(Integer.parseInt(args[0]));
                }
            }
            """);
        final Path classes = Files.createDirectories(dir.resolve("classes"));
        final ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        final int rc = ToolProvider.getSystemJavaCompiler().run(null, diagnostics, diagnostics, "-d", classes.toString(),
            "--release", "21", src.resolve("Hello.java").toString(), src.resolve("Boom.java").toString(),
            src.resolve("Exit.java").toString());
        assertEquals(0, rc, diagnostics::toString);

        final Path root = Files.createDirectories(dir.resolve("root"));
        try (OutputStream out = Files.newOutputStream(root.resolve("hello.jar"))) {
            final Manifest mf = new Manifest();
            mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
            mf.getMainAttributes().put(Attributes.Name.MAIN_CLASS, "demo.Hello");
            try (JarOutputStream jar = new JarOutputStream(out, mf)) {
                for (final String c : List.of("demo/Hello.class", "demo/Boom.class", "demo/Exit.class")) {
                    jar.putNextEntry(new JarEntry(c));
                    jar.write(Files.readAllBytes(classes.resolve(c)));
                    jar.closeEntry();
                }
                jar.putNextEntry(new JarEntry("greeting.txt"));
                jar.write("hello from a rofs image:".getBytes(StandardCharsets.UTF_8));
                jar.closeEntry();
            }
        }
        image = dir.resolve("java.img");
        try (OsvjProcess mk = OsvjProcess.start(Map.of(), "mkimage", root.toString(), image.toString())) {
            assertEquals(0, mk.awaitExit(LIMIT), () -> "stderr: " + mk.stderr());
        }
    }

    private static Path conf(final String name, final List<String> args) throws Exception {
        final Path conf = dir.resolve(name + ".conf");
        Files.writeString(conf, """
            osvj {
              console.enabled = false
              vfs.disks = [{ file = "%s", read-only = true }]
              mounts = [
                { type = devfs, source = none, path = "/dev", options = "" }
                { type = rofs, source = "/dev/vblk0", path = "/app", options = "" }
              ]
              app.name = java
              app.args = [%s]
            }
            """.formatted(image, args.stream().map(a -> "\"" + a + "\"").collect(Collectors.joining(", "))));
        return conf;
    }

    @Test
    void shouldRunTheJarsMainFromTheImageAndExitWithZero() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run", conf("hello", List.of("-jar", "/app/hello.jar", "arg1")).toString())) {
            osvj.awaitOut(l -> l.equals("Cmdline: java -jar /app/hello.jar arg1"), LIMIT);
            osvj.awaitOut(l -> l.equals("hello from a rofs image: arg1"), LIMIT);
            osvj.awaitOut(l -> l.equals("java: /app/hello.jar exited with code 0"), LIMIT);
            assertEquals(0, osvj.awaitExit(LIMIT), () -> "stderr: " + osvj.stderr());
        }
    }

    @Test
    void shouldExitWithOneWhenMainThrows() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run",
            conf("boom", List.of("-cp", "/app/hello.jar", "demo.Boom")).toString())) {
            osvj.awaitOut(l -> l.equals("java: demo.Boom exited with code 1"), LIMIT);
            assertEquals(1, osvj.awaitExit(LIMIT), () -> "stderr: " + osvj.stderr());
            assertTrue(osvj.stderr().stream().anyMatch(l -> l.contains("java.lang.IllegalStateException: boom from the image")),
                osvj.stderr().toString());
        }
    }

    @Test
    void shouldEndTheProcessWithTheStatusGivenToSystemExit() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run",
            conf("exit", List.of("-cp", "/app/hello.jar", "demo.Exit", "3")).toString())) {
            osvj.awaitOut(l -> l.equals("exiting with 3"), LIMIT);
            assertEquals(3, osvj.awaitExit(LIMIT), () -> "stderr: " + osvj.stderr());
        }
    }

    @Test
    void shouldReportAMissingJarAndExitWithOne() throws Exception {
        try (OsvjProcess osvj = OsvjProcess.start(Map.of(), "run", conf("missing", List.of("-jar", "/app/absent.jar")).toString())) {
            assertEquals(1, osvj.awaitExit(LIMIT));
            assertTrue(osvj.stderr().stream().anyMatch(l -> l.contains("java: /app/absent.jar: No such file or directory")),
                osvj.stderr().toString());
        }
    }
}
