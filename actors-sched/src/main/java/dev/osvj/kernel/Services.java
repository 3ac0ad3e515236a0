package dev.osvj.kernel;

import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Services that subsystems publish during boot (the VFS publishes its file API, the network stack its
 * socket API) and that later subsystems and the kernel API look up by type. Thread-safe.
 */
public final class Services {
    private final ConcurrentHashMap<Class<?>, Object> byType = new ConcurrentHashMap<>();

    /** Publish {@code service} as the implementation of {@code type}; publishing twice is a bug. */
    public <T> void provide(final Class<T> type, final T service) {
        if (byType.putIfAbsent(type, type.cast(service)) != null) {
            throw new IllegalStateException("service provided twice: " + type.getName());
        }
    }

    public <T> Optional<T> find(final Class<T> type) {
        return Optional.ofNullable(type.cast(byType.get(type)));
    }

    /** The service, or an exception naming the missing one (a boot-order bug). */
    public <T> T require(final Class<T> type) {
        return find(type).orElseThrow(() -> new IllegalStateException("no service " + type.getName()
            + " (is the subsystem that provides it booted before this one?)"));
    }
}
