package dev.osvj.system.app.java;

import dev.osvj.kernel.KernelContext;
import dev.osvj.system.app.Application;
import dev.osvj.vfs.Vfs;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.jar.Attributes;
import java.util.jar.Manifest;

/**
 * {@code osvj.app.name = java}: runs a Java program's {@code main(String[])} from JARs and directories
 * in the VFS (typically a rofs image), as OSv's {@code java.so} does. Arguments, like the
 * {@code java} launcher's:
 * <pre>
 *   -jar /app/hello.jar [ARG...]                         Main-Class from the JAR's manifest
 *   -cp /app/lib/a.jar:/app/classes com.example.Main [ARG...]   (also -classpath, --class-path)
 * </pre>
 *
 * <p>Model (OSv's single application): the program runs on a platform thread of its own, named
 * {@code java:LABEL}, whose context class loader is a {@link VfsClassLoader} (parent: the platform
 * class loader, so the program sees the JDK and its class path but none of osvj's classes; it is named
 * {@code app}, like the JDK's application class loader, so stack frames read {@code app//demo.Main.main}). When
 * {@code main} returns the exit code is 0; when it throws, the stack trace goes to stderr as the
 * {@code java} launcher prints it and the exit code is 1. Either way
 * {@code java: LABEL exited with code N} is printed on the console and logged to dmesg, and the
 * kernel powers off with that code (the VM ends with its application). Threads the program started
 * do not keep the kernel up.
 *
 * <p>Console: {@code System.out}/{@code System.err} are the JVM's, global to the process; the program
 * writes to them directly, which under {@code bin/osvj run} is the console (the process's stdout and
 * stderr, shared with the kernel's own lines). There is no per-application routing stream.
 *
 * <p>{@code System.exit(n)}: JDK 25 has no SecurityManager to intercept it, so it ends the whole
 * process at once with status {@code n}, without an orderly poweroff (no stop hooks, no
 * {@code exited with code} line). Programs should return from {@code main} instead.
 *
 * <p>Errors found before the program runs (a missing JAR or directory, no {@code Main-Class}, the
 * class or its {@code public static void main(String[])} not found, bad arguments) make
 * {@link #start} throw with a one-line message; the launcher prints it and powers off with code 1.
 */
public final class JavaApplication implements Application {
    /** Joined at poweroff when the program is still running. */
    private static final long STOP_JOIN_MILLIS = 2_000;

    private final IntConsumer exitHook;
    private volatile Thread mainThread;

    /** The built-in application: powers the kernel off with the program's exit code. */
    public JavaApplication() {
        this(null);
    }

    /** For tests: {@code exitHook} receives the exit code instead of a poweroff (null: power off). */
    JavaApplication(final IntConsumer exitHook) {
        this.exitHook = exitHook;
    }

    @Override
    public String name() {
        return "java";
    }

    @Override
    public String description() {
        return "a Java program's main from the VFS (-jar JAR | -cp PATH:PATH CLASS) [ARG...]";
    }

    /** A parsed command line. */
    record Command(List<String> classPath, String jar, String mainClass, List<String> args) {
        /** What the exit line names: the JAR with -jar, else the main class. */
        String label() {
            return jar != null ? jar : mainClass;
        }

        static Command parse(final List<String> argv) {
            if (argv.isEmpty()) {
                throw new IllegalArgumentException("java: usage: -jar JAR [ARG...] | -cp PATH[:PATH...] CLASS [ARG...]");
            }
            final String opt = argv.get(0);
            switch (opt) {
                case "-jar" -> {
                    if (argv.size() < 2) {
                        throw new IllegalArgumentException("java: -jar requires a JAR file");
                    }
                    return new Command(List.of(argv.get(1)), argv.get(1), null, List.copyOf(argv.subList(2, argv.size())));
                }
                case "-cp", "-classpath", "--class-path" -> {
                    if (argv.size() < 3) {
                        throw new IllegalArgumentException("java: " + opt + " requires a class path and a main class");
                    }
                    final List<String> cp = Arrays.stream(argv.get(1).split(":")).filter(s -> !s.isEmpty()).toList();
                    if (cp.isEmpty()) {
                        throw new IllegalArgumentException("java: empty class path");
                    }
                    return new Command(cp, null, argv.get(2), List.copyOf(argv.subList(3, argv.size())));
                }
                default -> throw new IllegalArgumentException("java: unknown option \"" + opt
                    + "\" (expected -jar JAR or -cp PATH CLASS)");
            }
        }
    }

    @Override
    public void start(final KernelContext kernel, final List<String> args) {
        final Command cmd = Command.parse(args);
        final Vfs vfs = kernel.services().find(Vfs.class)
            .orElseThrow(() -> new IllegalStateException("java: no file system in this kernel"));
        for (final String p : cmd.classPath()) {
            if (!p.startsWith("/")) {
                throw new IllegalArgumentException("java: class path entries must be absolute VFS paths: " + p);
            }
        }
        final VfsClassLoader loader;
        try {
            loader = VfsClassLoader.of(vfs, "app", cmd.classPath());
        } catch (final IllegalArgumentException e) {
            throw new IllegalArgumentException("java: " + e.getMessage(), e);
        }
        final String mainClass = cmd.jar() != null ? manifestMainClass(loader, cmd.jar()) : cmd.mainClass();
        final MethodHandle main = findMain(loader, mainClass);
        final String[] programArgs = cmd.args().toArray(String[]::new);

        final Thread t = Thread.ofPlatform().daemon().name("java:" + cmd.label()).unstarted(() -> {
            int code = 0;
            try {
                main.invokeExact(programArgs);
            } catch (final Throwable e) {
                System.err.print("Exception in thread \"" + Thread.currentThread().getName() + "\" ");
                e.printStackTrace(System.err);
                code = 1;
            }
            System.out.flush();
            System.err.flush();
            exited(kernel, cmd.label(), code);
        });
        t.setContextClassLoader(loader);
        mainThread = t;
        kernel.log().append("INFO", "java", "running " + mainClass + " from " + String.join(":", cmd.classPath()));
        t.start();
    }

    private void exited(final KernelContext kernel, final String label, final int code) {
        final String line = "java: " + label + " exited with code " + code;
        System.out.println(line);
        kernel.log().append(code == 0 ? "INFO" : "WARN", "java", line);
        if (exitHook != null) {
            exitHook.accept(code);
        } else {
            kernel.powerOff(code);
        }
    }

    private static String manifestMainClass(final VfsClassLoader loader, final String jar) {
        final Manifest mf = loader.firstManifest();
        final String main = mf == null ? null : mf.getMainAttributes().getValue(Attributes.Name.MAIN_CLASS);
        if (main == null || main.isBlank()) {
            throw new IllegalArgumentException("java: no main manifest attribute, in " + jar);
        }
        return main.trim();
    }

    private static MethodHandle findMain(final ClassLoader loader, final String name) {
        final Class<?> c;
        try {
            c = Class.forName(name, false, loader);
        } catch (final ClassNotFoundException | LinkageError e) {
            throw new IllegalArgumentException("java: could not find or load main class " + name
                + (e instanceof ClassNotFoundException ? "" : " (" + e + ")"), e);
        }
        try {
            final var m = c.getMethod("main", String[].class);
            if (!Modifier.isStatic(m.getModifiers()) || m.getReturnType() != void.class) {
                throw new NoSuchMethodException();
            }
            m.setAccessible(true);
            return MethodHandles.lookup().unreflect(m).asType(MethodType.methodType(void.class, String[].class));
        } catch (final NoSuchMethodException | IllegalAccessException | RuntimeException e) {
            throw new IllegalArgumentException("java: main method not found in class " + name
                + ", please define it as: public static void main(String[] args)", e);
        }
    }

    /** Interrupt a program still running at poweroff and wait a little for its thread. */
    @Override
    public void stop(final KernelContext kernel) throws InterruptedException {
        final Thread t = mainThread;
        if (t != null && t.isAlive() && t != Thread.currentThread()) {
            t.interrupt();
            t.join(STOP_JOIN_MILLIS);
        }
    }

    /** For tests: the program's thread, or null before start. */
    Thread mainThread() {
        return mainThread;
    }
}
