package dev.osvj.system.app.java;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.vfs.Posix;
import dev.osvj.vfs.Stat;
import dev.osvj.vfs.Vfs;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLStreamHandler;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.jar.Manifest;

/**
 * Loads an application's classes and resources from JARs and directories in the kernel's VFS, through
 * {@link Vfs} calls only (never the host file system), like OSv's java.so loads from its image.
 *
 * <p>Isolation: the parent is the platform class loader, so the application sees the JDK and its own
 * class path but none of osvj's classes (the kernel, Pekko, the kernel API): an application is a
 * guest program, not a kernel module. Per-class-path-entry order is the usual first-match order.
 *
 * <p>A JAR is read whole when the loader is made (entries kept in memory, keyed by entry name);
 * a directory is looked up per request with {@code stat} and {@code readFile}. Resources have URLs
 * of the scheme {@code vfs} whose connection serves the bytes ({@code vfs:/app/a.jar!/x.txt} for a
 * JAR entry, {@code vfs:/app/classes/x.txt} for a file). Thread-safe: JAR contents are immutable
 * after construction and class definition is guarded by {@link #getClassLoadingLock}.
 */
final class VfsClassLoader extends ClassLoader {
    static {
        registerAsParallelCapable();
    }

    /** One class path entry. */
    private sealed interface Entry permits JarFile, Directory {
        /** The bytes of {@code name} (a resource name with '/'), or null. */
        byte[] read(String name);

        /** A URL for {@code name}, or null when absent. */
        URL url(String name, URLStreamHandler handler);
    }

    /** A JAR read into memory. */
    private record JarFile(String path, Map<String, byte[]> entries, Manifest manifest) implements Entry {
        @Override
        public byte[] read(final String name) {
            return entries.get(name);
        }

        @Override
        public URL url(final String name, final URLStreamHandler handler) {
            return entries.containsKey(name) ? toUrl(path + "!/" + name, handler) : null;
        }
    }

    /** A directory of the VFS. */
    private record Directory(Vfs vfs, String path) implements Entry {
        @Override
        public byte[] read(final String name) {
            final String file = path + "/" + name;
            final Stat st = new Stat();
            if (vfs.stat(file, st) < 0 || !Posix.isReg(st.mode)) {
                return null;
            }
            try {
                return vfs.readFile(file);
            } catch (final ErrnoException e) {
                return null;
            }
        }

        @Override
        public URL url(final String name, final URLStreamHandler handler) {
            return read(name) != null ? toUrl(path + "/" + name, handler) : null;
        }
    }

    private final List<Entry> classPath;
    private final URLStreamHandler handler = new URLStreamHandler() {
        @Override
        protected URLConnection openConnection(final URL u) {
            return new URLConnection(u) {
                @Override
                public void connect() {
                    connected = true;
                }

                @Override
                public InputStream getInputStream() throws IOException {
                    final byte[] b = bytesOf(u.getPath());
                    if (b == null) {
                        throw new IOException("no such resource: " + u);
                    }
                    return new ByteArrayInputStream(b);
                }
            };
        }
    };

    private VfsClassLoader(final String name, final List<Entry> classPath) {
        super(name, ClassLoader.getPlatformClassLoader());
        this.classPath = classPath;
    }

    /**
     * A loader for {@code entries}, absolute VFS paths of JARs and directories.
     *
     * @throws IllegalArgumentException with a message naming the entry when one is missing, not a
     *                                  JAR or directory, or not a readable JAR.
     */
    static VfsClassLoader of(final Vfs vfs, final String name, final List<String> entries) {
        final List<Entry> cp = new ArrayList<>();
        for (final String e : entries) {
            cp.add(open(vfs, e));
        }
        return new VfsClassLoader(name, List.copyOf(cp));
    }

    /** The manifest of the first class path entry when it is a JAR that has one, else null. */
    Manifest firstManifest() {
        return !classPath.isEmpty() && classPath.get(0) instanceof JarFile j ? j.manifest() : null;
    }

    private static Entry open(final Vfs vfs, final String path) {
        final Stat st = new Stat();
        final int r = vfs.stat(path, st);
        if (r < 0) {
            throw new IllegalArgumentException(path + ": " + describe(-r));
        }
        if (Posix.isDir(st.mode)) {
            return new Directory(vfs, path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path);
        }
        final byte[] bytes;
        try {
            bytes = vfs.readFile(path);
        } catch (final ErrnoException e) {
            throw new IllegalArgumentException(path + ": " + e.getMessage());
        }
        final Map<String, byte[]> map = new HashMap<>();
        try (JarInputStream in = new JarInputStream(new ByteArrayInputStream(bytes))) {
            JarEntry je;
            while ((je = in.getNextJarEntry()) != null) {
                if (!je.isDirectory()) {
                    map.put(je.getName(), in.readAllBytes());
                }
            }
            final Manifest mf = in.getManifest();
            if (mf == null && map.isEmpty()) {
                throw new IllegalArgumentException(path + ": not a JAR file");
            }
            return new JarFile(path, Map.copyOf(map), mf);
        } catch (final IOException e) {
            throw new IllegalArgumentException(path + ": not a JAR file (" + e.getMessage() + ")");
        }
    }

    private static String describe(final int errno) {
        final Errno e = Errno.of(errno);
        return e != null ? e.message() : "errno " + errno;
    }

    private static URL toUrl(final String path, final URLStreamHandler handler) {
        try {
            return URL.of(new URI("vfs", null, path, null), handler);
        } catch (final Exception e) {
            return null;
        }
    }

    /** The bytes behind a {@code vfs:} URL path of this loader. */
    private byte[] bytesOf(final String urlPath) {
        for (final Entry e : classPath) {
            if (e instanceof JarFile j && urlPath.startsWith(j.path() + "!/")) {
                return j.read(urlPath.substring(j.path().length() + 2));
            }
            if (e instanceof Directory d && urlPath.startsWith(d.path() + "/")) {
                return d.read(urlPath.substring(d.path().length() + 1));
            }
        }
        return null;
    }

    @Override
    protected Class<?> findClass(final String name) throws ClassNotFoundException {
        final String file = name.replace('.', '/') + ".class";
        for (final Entry e : classPath) {
            final byte[] b = e.read(file);
            if (b != null) {
                definePackageOf(name);
                return defineClass(name, b, 0, b.length);
            }
        }
        throw new ClassNotFoundException(name);
    }

    private void definePackageOf(final String className) {
        final int dot = className.lastIndexOf('.');
        if (dot > 0) {
            final String pkg = className.substring(0, dot);
            if (getDefinedPackage(pkg) == null) {
                try {
                    definePackage(pkg, null, null, null, null, null, null, null);
                } catch (final IllegalArgumentException raced) {
                    // defined by a concurrent load of a sibling class
                }
            }
        }
    }

    @Override
    protected URL findResource(final String name) {
        for (final Entry e : classPath) {
            final URL u = e.url(name, handler);
            if (u != null) {
                return u;
            }
        }
        return null;
    }

    @Override
    protected Enumeration<URL> findResources(final String name) {
        final List<URL> all = new ArrayList<>();
        for (final Entry e : classPath) {
            final URL u = e.url(name, handler);
            if (u != null) {
                all.add(u);
            }
        }
        return Collections.enumeration(all);
    }
}
