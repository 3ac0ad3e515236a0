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
import java.util.concurrent.locks.LockSupport;

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
 *
 * <p>Offloads ({@link #open(String, String, boolean)} with {@code offload}): the TAP is opened with
 * {@code IFF_VNET_HDR} and {@code TUNSETVNETHDRSZ} 12, so every read starts with the host's
 * {@code virtio_net_hdr} (handed to the device in front of the frame, see
 * {@link FrameTransport#offloadHeaderLength()}) and every write is a {@code writev} of a zero header
 * and the frame. {@link #enableOffloads} then sets {@code TUNSETOFFLOAD} (TUN_F_CSUM, TUN_F_TSO4), and
 * Linux hands over TCP super-frames of up to 64 KiB with partial checksums instead of MTU-sized
 * frames, as it does for a virtio-net guest under vhost.
 *
 * <pre>
 * struct iovec (16 bytes) x 2 for writev: [0] = the 12-byte zero header, [1] = the frame
 * +-------------------------------+-------------------------------+
 * | iov_base (u64 address)        | iov_len (u64)                 |
 * +-------------------------------+-------------------------------+
 *   0                               8                               16
 * </pre>
 *
 * <p>Receive wakeups: the device's backend thread reads the TAP until it is empty; a read that finds
 * nothing arms a {@link ReadinessWatcher}, whose thread waits in {@code poll(2)} and unparks the
 * backend thread when the next frame arrives, so a parked backend does not add its idle park
 * ({@code osvj.virtio.idle-max-park}) to the receive latency.
 */
public final class TapTransport implements FrameTransport {
    public static final long TUNSETIFF = 0x400454caL;
    public static final short IFF_TAP = 0x0002;
    public static final short IFF_NO_PI = 0x1000;
    public static final short IFF_VNET_HDR = 0x4000;
    /** {@code _IOW('T', 208, unsigned int)}: the offloads the reader accepts (argument by value). */
    public static final long TUNSETOFFLOAD = 0x400454d0L;
    /** {@code _IOW('T', 216, int)}: the size of the virtio-net header in front of each frame (int *). */
    public static final long TUNSETVNETHDRSZ = 0x400454d8L;
    public static final int TUN_F_CSUM = 0x01;
    public static final int TUN_F_TSO4 = 0x02;
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
    private static final MethodHandle IOCTL_VALUE = downcall("ioctl",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
        CAPTURE_ERRNO, Linker.Option.firstVariadicArg(2));
    private static final MethodHandle WRITEV = downcall("writev",
        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
        CAPTURE_ERRNO);
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
    /** Room for a TSO4 super-frame (64 KiB of IP, Ethernet) behind a virtio-net header. */
    private final MemorySegment rx = arena.allocate(StreamTransport.MAX_FRAME + 4096, 64);
    private final MemorySegment tx = arena.allocate(StreamTransport.MAX_FRAME, 64);
    /** IFF_VNET_HDR: a 12-byte header precedes every frame read and written. */
    private final boolean vnetHeader;
    private final MemorySegment zeroHeader = arena.allocate(VirtioNet.HEADER_LENGTH, 8);
    private final MemorySegment iov = arena.allocate(32, 8);
    private volatile boolean open = true;
    private final ReadinessWatcher watcher;
    /** The thread that polls this transport (the device's backend thread), woken by the watcher. */
    private volatile Thread poller;

    private TapTransport(final int fd, final String ifname, final String netns, final boolean vnetHeader) {
        this.fd = fd;
        this.ifname = ifname;
        this.netns = netns;
        this.vnetHeader = vnetHeader;
        zeroHeader.fill((byte)0);
        iov.set(ValueLayout.JAVA_LONG, 0, zeroHeader.address());
        iov.set(ValueLayout.JAVA_LONG, 8, VirtioNet.HEADER_LENGTH);
        this.watcher = new ReadinessWatcher("tap-" + ifname + "-ready", fd, this::wakePoller);
    }

    private void wakePoller() {
        final Thread t = poller;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /** Times the readiness watcher woke the polling thread. */
    public long readinessWakeups() {
        return watcher.wakeups();
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
        return open(ifname, netnsPath, false);
    }

    /**
     * As {@link #open(String, String)}; with {@code offload} the TAP carries virtio-net headers
     * (IFF_VNET_HDR), so the device can offer the guest receive offloads.
     */
    public static TapTransport open(final String ifname, final String netnsPath, final boolean offload)
        throws IOException {
        if (ifname.isEmpty() || ifname.length() >= IFNAMSIZ) {
            throw new IOException("tap: interface name must be 1..15 characters: \"" + ifname + "\"");
        }
        if (netnsPath == null || netnsPath.isEmpty()) {
            return new TapTransport(openTap(ifname, offload), ifname, "", offload);
        }
        return new TapTransport(inNamespace(netnsPath, () -> openTap(ifname, offload)), ifname, netnsPath, offload);
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

    private static int openTap(final String ifname, final boolean vnetHeader) throws IOException {
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
            ifreq.set(ValueLayout.JAVA_SHORT, IFREQ_FLAGS_OFFSET, (short)(IFF_TAP | IFF_NO_PI | (vnetHeader ? IFF_VNET_HDR : 0)));
            final int rc = (int)IOCTL.invokeExact(state, fd, TUNSETIFF, ifreq);
            if (rc < 0) {
                final String err = errnoName(state);
                final int ignored = (int)CLOSE.invokeExact(fd);
                throw new IOException("tap: ioctl(TUNSETIFF, " + ifname + "): " + err);
            }
            if (vnetHeader) {
                final MemorySegment size = a.allocate(ValueLayout.JAVA_INT);
                size.set(ValueLayout.JAVA_INT, 0, VirtioNet.HEADER_LENGTH);
                final int rc2 = (int)IOCTL.invokeExact(state, fd, TUNSETVNETHDRSZ, size);
                final int rc3 = rc2 < 0 ? rc2 : (int)IOCTL_VALUE.invokeExact(state, fd, TUNSETOFFLOAD, 0L);
                if (rc3 < 0) {
                    final String err = errnoName(state);
                    final int ignored = (int)CLOSE.invokeExact(fd);
                    throw new IOException("tap: ioctl(TUNSETVNETHDRSZ/TUNSETOFFLOAD, " + ifname + "): " + err);
                }
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
    public int offloadHeaderLength() {
        return vnetHeader ? VirtioNet.HEADER_LENGTH : 0;
    }

    /** TUNSETOFFLOAD: from now on Linux may send partial checksums ({@code csum}) and TSO4 super-frames. */
    @Override
    public void enableOffloads(final boolean csum, final boolean tso4) {
        if (!vnetHeader || !open) {
            return;
        }
        final long flags = (csum ? TUN_F_CSUM : 0) | (csum && tso4 ? TUN_F_TSO4 : 0);
        try {
            final int rc = (int)IOCTL_VALUE.invokeExact(callState, fd, TUNSETOFFLOAD, flags);
            if (rc < 0) {
                throw new IllegalStateException("tap: ioctl(TUNSETOFFLOAD): " + errnoName(callState));
            }
        } catch (final IllegalStateException e) {
            throw e;
        } catch (final Throwable e) {
            throw new IllegalStateException("tap: TUNSETOFFLOAD", e);
        }
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
            if (vnetHeader) {
                iov.set(ValueLayout.JAVA_LONG, 16, address);
                iov.set(ValueLayout.JAVA_LONG, 24, (long)length);
                final long n = (long)WRITEV.invokeExact(callState, fd, iov, 2);
                if (n == length + VirtioNet.HEADER_LENGTH) {
                    return 0;
                }
                return n < 0 && (int)ERRNO.get(callState, 0L) != Errno.EAGAIN.number() ? -(int)ERRNO.get(callState, 0L)
                    : BACK_PRESSURED;
            }
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
        final Thread self = Thread.currentThread();
        if (poller != self) {
            poller = self;
        }
        int frames = 0;
        try {
            while (open && frames < limit) {
                final long n = (long)READ.invokeExact(callState, fd, rx.address(), rx.byteSize());
                if (n <= 0) {
                    break; // EAGAIN: nothing waiting (other errors: the interface went away)
                }
                if (vnetHeader) {
                    if (n > VirtioNet.HEADER_LENGTH) {
                        sink.onFrame(rx, VirtioNet.HEADER_LENGTH, (int)n - VirtioNet.HEADER_LENGTH);
                    }
                } else {
                    sink.onFrame(rx, 0, (int)n);
                }
                frames++;
            }
        } catch (final Throwable e) {
            throw new IllegalStateException("tap read", e);
        }
        if (frames == 0 && open) {
            watcher.arm(); // the wire is empty: the watcher wakes this thread when a frame arrives
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
        watcher.close(); // before close(fd): the watcher never polls a reused descriptor number
        try {
            final int ignored = (int)CLOSE.invokeExact(fd);
        } catch (final Throwable e) {
            throw new IllegalStateException("tap close", e);
        } finally {
            arena.close();
        }
    }
}
