package dev.osvj.virtio.remote;

import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.virtio.DeviceAgent;
import dev.osvj.virtio.VirtioDevice;
import dev.osvj.virtio.blk.FileImageBackend;
import dev.osvj.virtio.blk.VirtioBlkDevice;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;

import java.io.EOFException;
import java.io.File;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * A device backend process (vhost-user style): maps the guest's shared memory file, runs one virtio
 * device on a {@link DeviceAgent}, and serves the kernel's register accesses and kicks over a UNIX
 * socket ({@link RemoteProtocol}); the device's interrupts go back on the same socket. Exits when
 * the kernel closes the socket.
 *
 * <pre>
 * java ... dev.osvj.virtio.remote.DeviceBackendMain SOCKET MEMORY_FILE MEMORY_BYTES blk IMAGE ro|rw QUEUE_SIZE
 * </pre>
 */
public final class DeviceBackendMain {
    private DeviceBackendMain() {
    }

    public static void main(final String[] args) throws Exception {
        if (args.length != 7 || !"blk".equals(args[3])) {
            System.err.println("usage: DeviceBackendMain SOCKET MEMORY_FILE MEMORY_BYTES blk IMAGE ro|rw QUEUE_SIZE");
            System.exit(2);
        }
        final Path socket = Path.of(args[0]);
        try (PhysicalMemory ram = PhysicalMemory.mapFile(new File(args[1]), Long.parseLong(args[2]))) {
            final VirtioDevice device = new VirtioBlkDevice(ram.segment(),
                FileImageBackend.open("vblk", Path.of(args[4]), "ro".equals(args[5])), Integer.parseInt(args[6]), 32,
                128 * 1024);
            final DeviceAgent agent = new DeviceAgent("virtio-backend");
            agent.add(device);
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                 AgentRunner runner = DeviceAgent.start(agent, new BackoffIdleStrategy(100, 10, 1000, 1_000_000))) {
                ch.connect(UnixDomainSocketAddress.of(socket));
                serve(ch, device);
                if (runner.isClosed()) {
                    System.err.println("backend agent stopped");
                }
            } finally {
                device.close();
            }
        }
    }

    private static void serve(final SocketChannel ch, final VirtioDevice device) throws IOException {
        final RemoteProtocol.Message interrupt = new RemoteProtocol.Message();
        device.interruptHandler(q -> {
            synchronized (ch) {
                try {
                    interrupt.set(RemoteProtocol.INTERRUPT, q, 0, 0, 0, 0, 0).write(ch);
                } catch (final IOException e) {
                    // the kernel went away; the read loop ends too
                }
            }
        });
        final RemoteProtocol.Message in = new RemoteProtocol.Message();
        final RemoteProtocol.Message out = new RemoteProtocol.Message();
        while (true) {
            try {
                in.read(ch);
            } catch (final EOFException e) {
                return;
            }
            int status = 0;
            long value = 0;
            switch (in.type()) {
                case RemoteProtocol.KICK -> {
                    device.kick(in.arg());
                    continue;
                }
                case RemoteProtocol.GET_TYPE -> value = device.type().ordinal();
                case RemoteProtocol.GET_FEATURES -> value = device.deviceFeatures();
                case RemoteProtocol.SET_FEATURES -> device.driverFeatures(in.a());
                case RemoteProtocol.GET_NEGOTIATED -> value = device.negotiatedFeatures();
                case RemoteProtocol.GET_STATUS -> value = device.status();
                case RemoteProtocol.SET_STATUS -> device.status((int)in.a());
                case RemoteProtocol.QUEUE_COUNT -> value = device.queueCount();
                case RemoteProtocol.QUEUE_MAX -> value = device.queueMaxSize(in.arg());
                case RemoteProtocol.SETUP_QUEUE -> {
                    try {
                        device.setupQueue(in.arg(), in.size(), in.a(), in.b(), in.c());
                    } catch (final IllegalArgumentException | IllegalStateException e) {
                        status = 1;
                    }
                }
                case RemoteProtocol.CONFIG_GENERATION -> value = device.configGeneration();
                case RemoteProtocol.READ_CONFIG -> value = device.readConfig(in.arg(), in.size());
                default -> status = 1;
            }
            synchronized (ch) {
                out.set(RemoteProtocol.REPLY, in.type(), 0, status, value, 0, 0).write(ch);
            }
        }
    }
}
