package dev.osvj.system.app.java;

import com.typesafe.config.Config;
import dev.osvj.kernel.KernelClock;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.system.app.AppSubsystem;
import dev.osvj.system.boot.Kernel;
import dev.osvj.system.boot.Subsystems;
import dev.osvj.system.config.KernelConfigLoader;
import dev.osvj.vfs.Vfs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@code java} application against an in-process kernel: programs compiled at test time, put in
 * the kernel's ramfs as JARs and class directories, loaded through the VFS and run.
 */
class JavaApplicationTest {
    private static final String HELLO = """
        package demo;
        public class Hello {
            public static void main(String[] args) throws Exception {
                System.out.println("hello " + String.join(",", args));
                try (var in = Hello.class.getResourceAsStream("/greeting.txt")) {
                    System.out.println("resource " + (in == null ? "missing" : new String(in.readAllBytes()).trim()));
                }
                var ctx = Thread.currentThread().getContextClassLoader().getResource("demo/data/n.txt");
                System.out.println("url " + (ctx == null ? "missing" : ctx.getProtocol()));
                try {
                    Class.forName("dev.osvj.kernel.KernelContext");
                    System.out.println("kernel visible");
                } catch (ClassNotFoundException e) {
                    System.out.println("kernel hidden");
                }
                System.out.println("thread " + Thread.currentThread().getName());
            }
        }
        """;
    private static final String BOOM = """
        package demo;
        public class Boom {
            public static void main(String[] args) {
                throw new IllegalStateException("boom " + args.length);
            }
        }
        """;
    private static final String NO_MAIN = """
        package demo;
        public class NoMain {
            public void main() {
            }
        }
        """;

    private static Kernel kernel;
    private static Vfs vfs;
    private static Path classes;

    @TempDir
    static Path tmp;

    private PrintStream savedOut;
    private PrintStream savedErr;
    private final ByteArrayOutputStream captured = new ByteArrayOutputStream();

    @BeforeAll
    static void boot() throws Exception {
        classes = compile(tmp, Map.of("demo/Hello.java", HELLO, "demo/Boom.java", BOOM, "demo/NoMain.java", NO_MAIN));
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        final Config config = KernelConfigLoader.load(null, List.of("osvj.name=java-test"), new Properties(), subsystems,
            tracepoints);
        kernel = Kernel.boot(config, subsystems, tracepoints,
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        vfs = kernel.services().require(Vfs.class);
        vfs.mkdir("/tmp/app", 0755);
        vfs.mkdir("/tmp/app/classes", 0755);
        vfs.mkdir("/tmp/app/classes/demo", 0755);
        vfs.writeFile("/tmp/app/classes/demo/Hello.class", Files.readAllBytes(classes.resolve("demo/Hello.class")));
        vfs.writeFile("/tmp/app/classes/greeting.txt", "from a directory\n".getBytes(StandardCharsets.UTF_8));
        vfs.writeFile("/tmp/app/hello.jar", jar(classes, "demo.Hello", "from a jar"));
        vfs.writeFile("/tmp/app/boom.jar", jar(classes, "demo.Boom", "x"));
        vfs.writeFile("/tmp/app/nomanifest.jar", jar(classes, null, "x"));
        vfs.writeFile("/tmp/app/nomain.jar", jar(classes, "demo.NoMain", "x"));
        vfs.writeFile("/tmp/app/missing-class.jar", jar(classes, "demo.Absent", "x"));
        vfs.writeFile("/tmp/app/not-a.jar", "just text".getBytes(StandardCharsets.UTF_8));
    }

    @AfterAll
    static void powerOff() throws Exception {
        kernel.powerOff(0);
        assertEquals(0, kernel.awaitPoweredOff(Duration.ofSeconds(30)));
    }

    @BeforeEach
    void capture() {
        savedOut = System.out;
        savedErr = System.err;
        final PrintStream tee = new PrintStream(new OutputStream() {
            @Override
            public void write(final int b) {
                synchronized (captured) {
                    captured.write(b);
                }
            }

            @Override
            public void write(final byte[] b, final int off, final int len) {
                synchronized (captured) {
                    captured.write(b, off, len);
                }
            }
        }, true, StandardCharsets.UTF_8);
        System.setOut(tee);
        System.setErr(tee);
    }

    @AfterEach
    void restore() {
        System.setOut(savedOut);
        System.setErr(savedErr);
        savedOut.print(output());
    }

    private String output() {
        synchronized (captured) {
            return captured.toString(StandardCharsets.UTF_8);
        }
    }

    /** Run {@code args} to completion; the program's exit code. */
    private int run(final String... args) throws Exception {
        final CompletableFuture<Integer> exit = new CompletableFuture<>();
        final JavaApplication app = new JavaApplication(exit::complete);
        app.start(kernel, List.of(args));
        final int code = exit.get(60, TimeUnit.SECONDS);
        app.mainThread().join(TimeUnit.SECONDS.toMillis(60));
        return code;
    }

    @Test
    void shouldRunTheMainClassOfAJarWithItsArgumentsAndResources() throws Exception {
        assertEquals(0, run("-jar", "/tmp/app/hello.jar", "a", "b"));
        final String out = output();
        assertTrue(out.contains("hello a,b\n"), out);
        assertTrue(out.contains("resource from a jar\n"), out);
        assertTrue(out.contains("url vfs\n"), out);
        assertTrue(out.contains("kernel hidden\n"), out);
        assertTrue(out.contains("thread java:/tmp/app/hello.jar\n"), out);
        assertTrue(out.endsWith("java: /tmp/app/hello.jar exited with code 0\n"), out);
        assertTrue(kernel.log().lines().stream().anyMatch(l -> l.contains("java: /tmp/app/hello.jar exited with code 0")));
    }

    @Test
    void shouldRunAMainClassFromADirectoryOnTheClassPath() throws Exception {
        assertEquals(0, run("-cp", "/tmp/app/classes:/tmp/app/boom.jar", "demo.Hello"));
        final String out = output();
        assertTrue(out.contains("hello \n"), out);
        // the directory is first on the class path, so its greeting.txt wins; demo/data/n.txt is the JAR's
        assertTrue(out.contains("resource from a directory\n"), out);
        assertTrue(out.contains("url vfs\n"), out);
        assertTrue(out.endsWith("java: demo.Hello exited with code 0\n"), out);
    }

    @Test
    void shouldLoadClassesAndResourcesFromADirectoryAlone() throws Exception {
        assertEquals(0, run("-classpath", "/tmp/app/classes/", "demo.Hello", "x"));
        final String out = output();
        assertTrue(out.contains("hello x\n"), out);
        assertTrue(out.contains("resource from a directory\n"), out);
        assertTrue(out.contains("url missing\n"), out);
    }

    @Test
    void shouldExitWithOneAndAStackTraceWhenMainThrows() throws Exception {
        assertEquals(1, run("-jar", "/tmp/app/boom.jar", "p", "q"));
        final String out = output();
        assertTrue(out.contains("Exception in thread \"java:/tmp/app/boom.jar\" java.lang.IllegalStateException: boom 2"), out);
        assertTrue(out.contains("at app//demo.Boom.main(Boom.java:4)"), out);
        assertTrue(out.endsWith("java: /tmp/app/boom.jar exited with code 1\n"), out);
    }

    @Test
    void shouldRefuseAMissingJarWithAClearMessage() {
        final Exception e = assertThrows(IllegalArgumentException.class,
            () -> new JavaApplication(c -> { }).start(kernel, List.of("-jar", "/tmp/app/absent.jar")));
        assertEquals("java: /tmp/app/absent.jar: No such file or directory", e.getMessage());
    }

    @Test
    void shouldRefuseAJarWithoutMainClass() {
        final Exception e = assertThrows(IllegalArgumentException.class,
            () -> new JavaApplication(c -> { }).start(kernel, List.of("-jar", "/tmp/app/nomanifest.jar")));
        assertEquals("java: no main manifest attribute, in /tmp/app/nomanifest.jar", e.getMessage());
    }

    @Test
    void shouldRefuseAMainClassThatIsNotThere() {
        final Exception e = assertThrows(IllegalArgumentException.class,
            () -> new JavaApplication(c -> { }).start(kernel, List.of("-jar", "/tmp/app/missing-class.jar")));
        assertEquals("java: could not find or load main class demo.Absent", e.getMessage());
        final Exception cp = assertThrows(IllegalArgumentException.class,
            () -> new JavaApplication(c -> { }).start(kernel, List.of("-cp", "/tmp/app/classes", "demo.Boom")));
        assertEquals("java: could not find or load main class demo.Boom", cp.getMessage());
    }

    @Test
    void shouldRefuseAClassWithoutStaticMain() {
        final Exception e = assertThrows(IllegalArgumentException.class,
            () -> new JavaApplication(c -> { }).start(kernel, List.of("-jar", "/tmp/app/nomain.jar")));
        assertTrue(e.getMessage().startsWith("java: main method not found in class demo.NoMain"), e.getMessage());
    }

    @Test
    void shouldRefuseAFileThatIsNotAJarAndBadArguments() {
        final Exception e = assertThrows(IllegalArgumentException.class,
            () -> new JavaApplication(c -> { }).start(kernel, List.of("-jar", "/tmp/app/not-a.jar")));
        assertTrue(e.getMessage().startsWith("java: /tmp/app/not-a.jar: not a JAR file"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new JavaApplication(c -> { }).start(kernel, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new JavaApplication(c -> { }).start(kernel, List.of("-jar")));
        assertThrows(IllegalArgumentException.class,
            () -> new JavaApplication(c -> { }).start(kernel, List.of("-cp", "app/classes", "demo.Hello")));
        final Exception opt = assertThrows(IllegalArgumentException.class,
            () -> new JavaApplication(c -> { }).start(kernel, List.of("-verbose", "x")));
        assertTrue(opt.getMessage().contains("unknown option \"-verbose\""), opt.getMessage());
    }

    /** A whole kernel booted with {@code osvj.app.name = java}: it powers off with the program's code. */
    @Test
    void shouldPowerTheKernelOffWithTheExitCodeOfTheProgram() throws Exception {
        final List<Subsystem> subsystems = Subsystems.discover();
        final Tracepoints tracepoints = new Tracepoints();
        subsystems.forEach(s -> s.declareTracepoints(tracepoints));
        final Config config = KernelConfigLoader.load(null, List.of("osvj.name=java-app", "osvj.app.name=java",
            "osvj.app.args=[\"-jar\", \"/tmp/boom.jar\"]"), new Properties(), subsystems, tracepoints);
        final Kernel k = Kernel.boot(config, subsystems, tracepoints,
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), KernelClock.SYSTEM);
        k.services().require(Vfs.class).writeFile("/tmp/boom.jar", jar(classes, "demo.Boom", "x"));
        final AppSubsystem.AppLauncher app = k.services().require(AppSubsystem.AppLauncher.class);
        assertEquals("java -jar /tmp/boom.jar", app.cmdline());
        app.start(k);
        assertEquals(1, k.awaitPoweredOff(Duration.ofSeconds(60)));
        assertTrue(output().contains("java: /tmp/boom.jar exited with code 1"), output());
    }

    // ---------------------------------------------------------------- building programs

    /** Compile {@code sources} (relative path to text) into a fresh directory under {@code dir}. */
    static Path compile(final Path dir, final Map<String, String> sources) throws Exception {
        final Path src = Files.createDirectories(dir.resolve("src"));
        final Path out = Files.createDirectories(dir.resolve("classes"));
        final List<String> args = new ArrayList<>(List.of("-d", out.toString(), "--release", "21"));
        for (final Map.Entry<String, String> e : sources.entrySet()) {
            final Path f = src.resolve(e.getKey());
            Files.createDirectories(f.getParent());
            Files.writeString(f, e.getValue());
            args.add(f.toString());
        }
        final JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        final ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        assertEquals(0, javac.run(null, diagnostics, diagnostics, args.toArray(String[]::new)), diagnostics::toString);
        return out;
    }

    /** A JAR of every class under {@code classes}, {@code greeting.txt} and {@code demo/data/n.txt}. */
    static byte[] jar(final Path classes, final String mainClass, final String greeting) throws Exception {
        final Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (mainClass != null) {
            mf.getMainAttributes().put(Attributes.Name.MAIN_CLASS, mainClass);
        }
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (JarOutputStream jar = new JarOutputStream(bytes, mf); Stream<Path> files = Files.walk(classes)) {
            for (final Path f : files.filter(Files::isRegularFile).filter(p -> !p.getFileName().toString().equals("Boom.class")
                || "demo.Boom".equals(mainClass)).toList()) {
                jar.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                jar.write(Files.readAllBytes(f));
                jar.closeEntry();
            }
            jar.putNextEntry(new JarEntry("greeting.txt"));
            jar.write((greeting + "\n").getBytes(StandardCharsets.UTF_8));
            jar.closeEntry();
            jar.putNextEntry(new JarEntry("demo/data/n.txt"));
            jar.write("1".getBytes(StandardCharsets.UTF_8));
            jar.closeEntry();
        }
        return bytes.toByteArray();
    }
}
