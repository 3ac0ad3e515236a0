package dev.osvj.vfs.pseudo;

import dev.osvj.kernel.Errno;
import dev.osvj.vfs.blk.BlockDevice;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * devfs ({@code /dev}): {@code null}, {@code zero}, {@code full}, {@code random}, {@code urandom},
 * {@code console}, and one {@code vblkN} node per attached block device. The console's reads and
 * writes go to a replaceable {@link CharDevice} ({@link #setConsole}): the system module plugs in the
 * VM console; until then writes go to the JVM's standard output and reads see end of file.
 */
public final class DevFs extends PseudoFs {
    /** Linux's DEVFS_SUPER_MAGIC. */
    public static final long DEVFS_MAGIC = 0x1373L;

    private final Map<String, BlockDevice> blockDevices = new ConcurrentHashMap<>();
    private volatile CharDevice console;
    private final RandomDevice random = new RandomDevice();

    public DevFs() {
        super("devfs", DEVFS_MAGIC);
        device("null", 0666, new CharDevice() {
            @Override
            public long read(final ByteBuffer dst, final int flags) {
                return 0;
            }

            @Override
            public long write(final ByteBuffer src, final int flags) {
                final int n = src.remaining();
                src.position(src.limit());
                return n;
            }
        });
        device("zero", 0666, new CharDevice() {
            @Override
            public long read(final ByteBuffer dst, final int flags) {
                final int n = dst.remaining();
                while (dst.hasRemaining()) {
                    dst.put((byte)0);
                }
                return n;
            }

            @Override
            public long write(final ByteBuffer src, final int flags) {
                final int n = src.remaining();
                src.position(src.limit());
                return n;
            }
        });
        device("full", 0666, new CharDevice() {
            @Override
            public long read(final ByteBuffer dst, final int flags) {
                final int n = dst.remaining();
                while (dst.hasRemaining()) {
                    dst.put((byte)0);
                }
                return n;
            }

            @Override
            public long write(final ByteBuffer src, final int flags) {
                return src.hasRemaining() ? Errno.ENOSPC.negative() : 0;
            }
        });
        device("random", 0666, random);
        device("urandom", 0666, random);
        setConsole(new StreamConsole(System.out));
        device("console", 0600, new CharDevice() {
            @Override
            public long read(final ByteBuffer dst, final int flags) {
                return console.read(dst, flags);
            }

            @Override
            public long write(final ByteBuffer src, final int flags) {
                return console.write(src, flags);
            }

            @Override
            public int ioctl(final long request, final Object arg) {
                return console.ioctl(request, arg);
            }
        });
    }

    /** Route {@code /dev/console} to {@code device}. */
    public void setConsole(final CharDevice device) {
        this.console = device;
    }

    /** Attach a block device as {@code /dev/<name>} ({@code vblk0}). */
    public void attach(final BlockDevice device) {
        blockDevices.put(device.name(), device);
        blockDevice(device.name(), device.readOnly() ? 0444 : 0660, device);
    }

    /** The block device a mount source names ({@code /dev/vblk0} or {@code vblk0}), or null. */
    public BlockDevice blockDevice(final String source) {
        final String name = source.startsWith("/dev/") ? source.substring(5) : source;
        return blockDevices.get(name);
    }

    /** The random and urandom device (tests). */
    CharDevice randomDevice() {
        return random;
    }

    /** The generator behind this devfs's random and urandom (tests: one per JVM, see {@link RandomDevice}). */
    SecureRandom randomSource() {
        return random.rnd;
    }

    /**
     * random and urandom: the JDK's SecureRandom, which never blocks once seeded (like Linux 5.6+).
     *
     * <p>The JVM's one generator ({@link dev.osvj.kernel.HostEntropy}), shared by the devices of every
     * kernel instance; a write adds seed material to it, which supplements and never replaces its seed,
     * so one kernel's writes cannot make another kernel's reads predictable (as writes to Linux's
     * {@code /dev/random}).
     */
    private static final class RandomDevice implements CharDevice {
        private final SecureRandom rnd = dev.osvj.kernel.HostEntropy.shared();

        @Override
        public long read(final ByteBuffer dst, final int flags) {
            final byte[] b = new byte[Math.min(dst.remaining(), 1 << 16)];
            rnd.nextBytes(b);
            dst.put(b);
            return b.length;
        }

        @Override
        public long write(final ByteBuffer src, final int flags) {
            final byte[] b = new byte[src.remaining()];
            src.get(b);
            rnd.setSeed(b);
            return b.length;
        }
    }

    /** A console that writes to a stream and has no input. */
    public static final class StreamConsole implements CharDevice {
        private final PrintStream out;

        public StreamConsole(final PrintStream out) {
            this.out = out;
        }

        @Override
        public long read(final ByteBuffer dst, final int flags) {
            return 0;
        }

        @Override
        public long write(final ByteBuffer src, final int flags) {
            final int n = src.remaining();
            final byte[] b = new byte[n];
            src.get(b);
            out.write(b, 0, n);
            out.flush();
            return n;
        }
    }
}
