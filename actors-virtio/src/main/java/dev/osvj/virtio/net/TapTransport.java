package dev.osvj.virtio.net;

import dev.osvj.kernel.Errno;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * A Linux TAP device opened with the Java FFM API, so the Linux kernel's own TCP/IP stack is the
 * peer: {@code open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)}, then
 * {@code ioctl(fd, TUNSETIFF, &ifreq)} with {@code IFF_TAP | IFF_NO_PI} (one Ethernet frame per
 * read/write, no packet-information prefix). Needs CAP_NET_ADMIN (root).
 *
 * <pre>
 * struct ifreq (40 bytes)
 * +------------------------------------------+----------------+----------------------+
 * | ifr_name[16] (NUL-terminated)            | ifr_flags (s16)| union rest (22 B)    |
 * +------------------------------------------+----------------+----------------------+
 *   0                                          16               18                    40
 * </pre>
 *
 * <p>{@link #open(String, String)} can create the TAP inside a network namespace
 * ({@code /var/run/netns/NAME}): a dedicated thread enters it with {@code setns(CLONE_NEWNET)} (a
 * namespace is per thread in Linux) and opens the device there; the descriptor then works from any
 * thread, and the host's own interfaces are never touched.
 *
 * <p>{@code open}, {@code ioctl} are variadic in C, so their descriptors mark the variadic part
 * ({@link Linker.Option#firstVariadicArg}). {@code read}/{@code write} take the buffer address as a
 * 64-bit integer (the same register as a pointer in the x86-64 and AArch64 ABIs), so sending a frame
 * that lies in native guest memory allocates nothing; frames in heap memory are copied to a native
 * buffer first.
 */
public final class TapTransport implements FrameTransport {
    public static final long TUNSETIFF = 0x400454caL;
    public static final short IFF_TAP = 0x0002;
    public static final short IFF_NO_PI = 0x1000;
    public static final int IFREQ_SIZE = 40;
    public static final int IFREQ_NAME_OFFSET = 0;
    public static final int IFREQ_FLAGS_OFFSET = 16;
    static final int IFNAMSIZ = 16;
    static final int O_RDWR = 2;
    static final int O_NONBLOCK = 0x800;
    static final int O_CLOEXEC = 0x80000;
    static final int CLONE_NEWNET = 0x40000000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final MethodHandle OPEN = downcall("open",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
        CAPTURE_ERRNO, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle IOCTL = downcall("ioctl",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS),
        CAPTURE_ERRNO, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle READ = downcall("read",
        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
        CAPTURE_ERRNO);
    private static final MethodHandle WRITE = downcall("write",
        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
        CAPTURE_ERRNO);
    private static final MethodHandle CLOSE = downcall("close",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle SETNS = downcall("setns",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT), CAPTURE_ERRNO);

    private final int fd;
    private final String ifname;
    private final String netns;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment callState = arena.allocate(CALL_STATE);
    private final MemorySegment rx = arena.allocate(StreamTransport.MAX_FRAME, 64);
    private final MemorySegment tx = arena.allocate(StreamTransport.MAX_FRAME, 64);
    private volatile boolean open = true;

    private TapTransport(final int fd, final String ifname, final String netns) {
        this.fd = fd;
        this.ifname = ifname;
        this.netns = netns;
    }

    private static MethodHandle downcall(final String name, final FunctionDescriptor fd, final Linker.Option... options) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new IllegalStateException("libc has no " + name)),
            fd, options);
    }

    /** Open (creating if needed) TAP interface {@code ifname} in the caller's network namespace. */
    public static TapTransport open(final String ifname) throws IOException {
        return open(ifname, "");
    }

    /**
     * Open TAP interface {@code ifname} inside the network namespace at {@code netnsPath}
     * ({@code /var/run/netns/NAME}; empty: the current one).
     *
     * @throws IOException with the errno name when the device cannot be opened (no root, no
     *                     /dev/net/tun, a bad name).
     */
    public static TapTransport open(final String ifname, final String netnsPath) throws IOException {
        if (ifname.isEmpty() || ifname.length() >= IFNAMSIZ) {
            throw new IOException("tap: interface name must be 1..15 characters: \"" + ifname + "\"");
        }
        if (netnsPath == null || netnsPath.isEmpty()) {
            return new TapTransport(openTap(ifname), ifname, "");
        }
        return new TapTransport(inNamespace(netnsPath, () -> openTap(ifname)), ifname, netnsPath);
    }

    /**
     * Run {@code task} on a fresh thread that first enters the network namespace at {@code netnsPath}
     * ({@code setns(CLONE_NEWNET)}), and return its result. Sockets and TAP descriptors created by the
     * task belong to that namespace and stay usable from any thread afterwards.
     */
    public static <T> T inNamespace(final String netnsPath, final java.util.concurrent.Callable<T> task) throws IOException {
        final CompletableFuture<T> result = new CompletableFuture<>();
        final Thread t = new Thread(() -> {
            try {
                enterNamespace(netnsPath);
                result.complete(task.call());
            } catch (final Throwable e) {
                result.completeExceptionally(e);
            }
        }, "netns-" + netnsPath);
        t.start();
        try {
            return result.get();
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("netns: interrupted", e);
        } catch (final ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
    }

    private static void enterNamespace(final String path) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            final MemorySegment state = a.allocate(CALL_STATE);
            final int nsfd = (int)OPEN.invokeExact(state, a.allocateFrom(path), O_RDONLY_CLOEXEC, 0);
            if (nsfd < 0) {
                throw new IOException("tap: open " + path + ": " + errnoName(state));
            }
            final int rc = (int)SETNS.invokeExact(state, nsfd, CLONE_NEWNET);
            final int closed = (int)CLOSE.invokeExact(nsfd);
            if (rc != 0) {
                throw new IOException("tap: setns " + path + ": " + errnoName(state));
            }
            if (closed != 0) {
                throw new IOException("tap: close " + path);
            }
        } catch (final IOException e) {
            throw e;
        } catch (final Throwable e) {
            throw new IOException("tap: setns " + path, e);
        }
    }

    private static final int O_RDONLY_CLOEXEC = O_CLOEXEC;

    private static int openTap(final String ifname) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            final MemorySegment state = a.allocate(CALL_STATE);
            final int fd = (int)OPEN.invokeExact(state, a.allocateFrom("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
            if (fd < 0) {
                throw new IOException("tap: open /dev/net/tun: " + errnoName(state));
            }
            final MemorySegment ifreq = a.allocate(IFREQ_SIZE, 8);
            ifreq.fill((byte)0);
            final byte[] name = ifname.getBytes(StandardCharsets.US_ASCII);
            MemorySegment.copy(name, 0, ifreq, ValueLayout.JAVA_BYTE, IFREQ_NAME_OFFSET, name.length);
            ifreq.set(ValueLayout.JAVA_SHORT, IFREQ_FLAGS_OFFSET, (short)(IFF_TAP | IFF_NO_PI));
            final int rc = (int)IOCTL.invokeExact(state, fd, TUNSETIFF, ifreq);
            if (rc < 0) {
                final String err = errnoName(state);
                final int ignored = (int)CLOSE.invokeExact(fd);
                throw new IOException("tap: ioctl(TUNSETIFF, " + ifname + "): " + err);
            }
            return fd;
        } catch (final IOException e) {
            throw e;
        } catch (final Throwable e) {
            throw new IOException("tap: " + ifname, e);
        }
    }

    private static String errnoName(final MemorySegment state) {
        final int errno = (int)ERRNO.get(state, 0L);
        final Errno e = Errno.of(errno);
        return e != null ? e.name() + " (" + e.message() + ")" : "errno " + errno;
    }

    public String ifname() {
        return ifname;
    }

    @Override
    public int send(final MemorySegment buffer, final long offset, final int length) {
        if (!open) {
            return -Errno.ENETDOWN.number();
        }
        final long address;
        if (buffer.isNative()) {
            address = buffer.address() + offset;
            if (offset < 0 || offset + length > buffer.byteSize()) {
                throw new IndexOutOfBoundsException("frame outside its buffer");
            }
        } else {
            if (length > tx.byteSize()) {
                return -Errno.EMSGSIZE.number();
            }
            MemorySegment.copy(buffer, offset, tx, 0, length);
            address = tx.address();
        }
        try {
            final long n = (long)WRITE.invokeExact(callState, fd, address, (long)length);
            if (n == length) {
                return 0;
            }
            if (n < 0 && (int)ERRNO.get(callState, 0L) == Errno.EAGAIN.number()) {
                return BACK_PRESSURED;
            }
            return n < 0 ? -(int)ERRNO.get(callState, 0L) : BACK_PRESSURED;
        } catch (final Throwable e) {
            throw new IllegalStateException("tap write", e);
        }
    }

    @Override
    public int poll(final FrameSink sink, final int limit) {
        int frames = 0;
        try {
            while (open && frames < limit) {
                final long n = (long)READ.invokeExact(callState, fd, rx.address(), rx.byteSize());
                if (n <= 0) {
                    break; // EAGAIN: nothing waiting (other errors: the interface went away)
                }
                sink.onFrame(rx, 0, (int)n);
                frames++;
            }
        } catch (final Throwable e) {
            throw new IllegalStateException("tap read", e);
        }
        return frames;
    }

    @Override
    public String describe() {
        return "tap " + ifname + (netns.isEmpty() ? "" : " in " + netns);
    }

    @Override
    public synchronized void close() {
        if (!open) {
            return;
        }
        open = false;
        try {
            final int ignored = (int)CLOSE.invokeExact(fd);
        } catch (final Throwable e) {
            throw new IllegalStateException("tap close", e);
        } finally {
            arena.close();
        }
    }
}
