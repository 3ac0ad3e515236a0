package dev.osvj.virtio.remote;

import dev.osvj.virtio.DeviceType;
import dev.osvj.virtio.VirtioTransport;
import dev.osvj.virtio.ring.Notifier;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

/**
 * The kernel's side of a device whose backend runs in another process (a child JVM running
 * {@link DeviceBackendMain}): every register access of {@link VirtioTransport} is a request on a UNIX
 * socket ({@link RemoteProtocol}); kicks are one-way messages; the backend's interrupts arrive on a
 * reader thread and go to the interrupt handler. Guest memory must be a shared memory file
 * ({@code osvj.mmu.backing = shared-file}) that the child maps too.
 *
 * <p>Register accesses are control-path only (initialisation), serialised by a lock; kicks take the
 * same socket's write lock and never wait for the backend.
 */
public final class RemoteTransport implements VirtioTransport {
    private final Process child;
    private final SocketChannel channel;
    private final Path socketDir;
    private final RemoteProtocol.Message request = new RemoteProtocol.Message();
    private final RemoteProtocol.Message kickMessage = new RemoteProtocol.Message();
    private final SynchronousQueue<long[]> replies = new SynchronousQueue<>();
    private final Thread reader;
    private final DeviceType type;
    private volatile Notifier interrupt = Notifier.NONE;
    private volatile boolean closed;

    private RemoteTransport(final Process child, final SocketChannel channel, final Path socketDir) {
        this.child = child;
        this.channel = channel;
        this.socketDir = socketDir;
        this.reader = new Thread(this::readLoop, "virtio-remote-" + child.pid());
        reader.setDaemon(true);
        reader.start();
        this.type = DeviceType.values()[(int)call(RemoteProtocol.GET_TYPE, 0, 0, 0, 0, 0)];
    }

    /**
     * Start a virtio-blk backend in a child JVM over {@code image}, sharing guest memory through
     * {@code memoryFile} ({@code memoryBytes} long), and connect to it.
     *
     * @throws IOException when the child does not start or connect within 60 seconds.
     */
    public static RemoteTransport launchBlk(final File memoryFile, final long memoryBytes, final Path image,
        final boolean readOnly, final int queueSize) throws IOException {
        final Path dir = Files.createTempDirectory("osvj-vhost");
        final Path sock = dir.resolve("backend.sock");
        final ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(sock));
        final List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        for (final String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("--enable-native-access") || arg.startsWith("--sun-misc")
                || arg.startsWith("-Dchronicle")) {
                cmd.add(arg);
            }
        }
        cmd.add("-Xmx128m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(DeviceBackendMain.class.getName());
        cmd.add(sock.toString());
        cmd.add(memoryFile.getAbsolutePath());
        cmd.add(Long.toString(memoryBytes));
        cmd.add("blk");
        cmd.add(image.toAbsolutePath().toString());
        cmd.add(readOnly ? "ro" : "rw");
        cmd.add(Integer.toString(queueSize));
        final Process child = new ProcessBuilder(cmd).redirectErrorStream(true)
            .redirectOutput(dir.resolve("backend.log").toFile()).start();
        final CompletableFuture<SocketChannel> accepted = CompletableFuture.supplyAsync(() -> {
            try {
                return server.accept();
            } catch (final IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        try {
            final SocketChannel ch = accepted.get(60, TimeUnit.SECONDS);
            return new RemoteTransport(child, ch, dir);
        } catch (final Exception e) {
            child.destroyForcibly();
            throw new IOException("virtio backend process did not connect: " + e.getMessage()
                + " (log " + dir.resolve("backend.log") + ")", e);
        } finally {
            server.close();
            Files.deleteIfExists(sock);
        }
    }

    private void readLoop() {
        final RemoteProtocol.Message in = new RemoteProtocol.Message();
        try {
            while (!closed) {
                in.read(channel);
                if (in.type() == RemoteProtocol.INTERRUPT) {
                    interrupt.notify(in.arg());
                } else if (in.type() == RemoteProtocol.REPLY) {
                    replies.put(new long[] {in.status(), in.a()});
                }
            }
        } catch (final IOException | InterruptedException e) {
            closed = true;
            replies.offer(new long[] {2, 0});
        }
    }

    private synchronized long call(final int type, final int arg, final int size, final long a, final long b, final long c) {
        if (closed) {
            throw new IllegalStateException("virtio backend process " + child.pid() + " is gone");
        }
        try {
            synchronized (channel) {
                request.set(type, arg, size, 0, a, b, c).write(channel);
            }
            final long[] reply = replies.poll(30, TimeUnit.SECONDS);
            if (reply == null || reply[0] == 2) {
                throw new IllegalStateException("virtio backend process " + child.pid() + " did not answer");
            }
            if (reply[0] != 0) {
                throw new IllegalArgumentException("virtio backend refused request " + type);
            }
            return reply[1];
        } catch (final IOException e) {
            closed = true;
            throw new IllegalStateException("virtio backend process " + child.pid() + ": " + e.getMessage(), e);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    @Override
    public DeviceType type() {
        return type;
    }

    @Override
    public long deviceFeatures() {
        return call(RemoteProtocol.GET_FEATURES, 0, 0, 0, 0, 0);
    }

    @Override
    public void driverFeatures(final long features) {
        call(RemoteProtocol.SET_FEATURES, 0, 0, features, 0, 0);
    }

    @Override
    public long negotiatedFeatures() {
        return call(RemoteProtocol.GET_NEGOTIATED, 0, 0, 0, 0, 0);
    }

    @Override
    public int status() {
        return (int)call(RemoteProtocol.GET_STATUS, 0, 0, 0, 0, 0);
    }

    @Override
    public void status(final int status) {
        call(RemoteProtocol.SET_STATUS, 0, 0, status, 0, 0);
    }

    @Override
    public int queueCount() {
        return (int)call(RemoteProtocol.QUEUE_COUNT, 0, 0, 0, 0, 0);
    }

    @Override
    public int queueMaxSize(final int queue) {
        return (int)call(RemoteProtocol.QUEUE_MAX, queue, 0, 0, 0, 0);
    }

    @Override
    public void setupQueue(final int queue, final int size, final long descPa, final long availPa, final long usedPa) {
        call(RemoteProtocol.SETUP_QUEUE, queue, size, descPa, availPa, usedPa);
    }

    @Override
    public void kick(final int queue) {
        if (closed) {
            return;
        }
        synchronized (channel) {
            try {
                kickMessage.set(RemoteProtocol.KICK, queue, 0, 0, 0, 0, 0).write(channel);
            } catch (final IOException e) {
                closed = true;
            }
        }
    }

    @Override
    public void interruptHandler(final Notifier handler) {
        interrupt = handler;
    }

    @Override
    public int configGeneration() {
        return (int)call(RemoteProtocol.CONFIG_GENERATION, 0, 0, 0, 0, 0);
    }

    @Override
    public long readConfig(final int offset, final int width) {
        return call(RemoteProtocol.READ_CONFIG, offset, width, 0, 0, 0);
    }

    @Override
    public String location() {
        return "child JVM pid " + child.pid();
    }

    /** The backend process (tests check it is a different process). */
    public ProcessHandle process() {
        return child.toHandle();
    }

    /** Close the socket (the backend exits) and wait for the child. */
    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        } catch (final IOException ignored) {
            // closing
        }
        try {
            if (!child.waitFor(10, TimeUnit.SECONDS)) {
                child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (var files = Files.list(socketDir)) {
            for (final Path p : (Iterable<Path>)files::iterator) {
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(socketDir);
        } catch (final IOException ignored) {
            // best effort
        }
    }
}
