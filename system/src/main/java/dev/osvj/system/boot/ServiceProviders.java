package dev.osvj.system.boot;

import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Fresh instances of a service's providers ({@code META-INF/services}), with the class path scanned
 * once per service type and class loader instead of at every call. A kernel's subsystems and
 * applications hold that kernel's state, so every call instantiates them again
 * ({@link ServiceLoader.Provider#get()} creates a new instance each time); only the scan (opening and
 * parsing every jar's services file, loading the classes) is kept. In a fleet booting instances in a
 * warm JVM the scan was most of the "discover subsystems" step of each boot.
 *
 * <p>Thread-safe: the cache maps (type, loader) to an immutable provider list; two threads may both
 * scan the first time, and either result is the same list. The thread's context class loader is the
 * one scanned, as {@link ServiceLoader#load(Class)}.
 */
public final class ServiceProviders {
    private record Key(Class<?> type, ClassLoader loader) {
    }

    private static final ConcurrentHashMap<Key, List<? extends ServiceLoader.Provider<?>>> FOUND = new ConcurrentHashMap<>();

    private ServiceProviders() {
    }

    /** New instances of every provider of {@code type} visible to the thread's context class loader, in class path order. */
    public static <T> List<T> instances(final Class<T> type) {
        final ClassLoader loader = Thread.currentThread().getContextClassLoader();
        @SuppressWarnings("unchecked")
        final List<ServiceLoader.Provider<T>> providers = (List<ServiceLoader.Provider<T>>)FOUND.computeIfAbsent(
            new Key(type, loader), k -> ServiceLoader.load(type, loader).stream().toList());
        final List<T> out = new ArrayList<>(providers.size());
        for (final ServiceLoader.Provider<T> p : providers) {
            out.add(p.get());
        }
        return out;
    }
}
