package dev.osvj.system.app.memcached;

import dev.osvj.kernel.KernelContext;
import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.wire.Addresses;
import dev.osvj.system.app.AppSubsystem;
import dev.osvj.system.app.Application;

import java.util.List;

/**
 * {@code osvj.app.name = memcached}: a memcached 1.6-compatible server (text and binary protocols) over the
 * kernel's sockets, items in guest memory through the kernel's malloc. Arguments are memcached's options
 * ({@link MemcachedOptions}); the thread count defaults to {@code osvj.cpus}. The running server is
 * published as the {@link MemcachedServer} service.
 */
public final class MemcachedApplication implements Application {
    @Override
    public String name() {
        return "memcached";
    }

    @Override
    public String description() {
        return "memcached-compatible server (text and binary protocols of memcached 1.6)";
    }

    @Override
    public void start(final KernelContext kernel, final List<String> args) {
        final MemcachedOptions options = MemcachedOptions.parse(args, kernel.config().getInt("osvj.cpus"));
        final MemcachedServer server = MemcachedServer.start(kernel.services().require(Sockets.class),
            AppSubsystem.threads(kernel, true), kernel.services().require(Malloc.class), kernel.services().require(PhysicalMemory.class), kernel.clock(),
            options);
        kernel.services().provide(MemcachedServer.class, server);
        kernel.log().append("INFO", "memcached", "listening on " + Addresses.ipv4(options.listenIp()) + ":"
            + server.port() + ", " + (options.memoryLimit() >> 20) + " MiB, " + options.threads() + " workers, "
            + options.maxConnections() + " connections at most, " + kernel.config().getString("osvj.app.threads")
            + " threads");
    }

    @Override
    public void stop(final KernelContext kernel) throws InterruptedException {
        final MemcachedServer server = kernel.services().find(MemcachedServer.class).orElse(null);
        if (server != null) {
            server.close();
        }
    }
}
