package dev.osvj.virtio.net;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Wakes a polled transport's device thread when a file descriptor becomes readable, so a backend that
 * found its wire empty may park without adding its park time to the receive latency (the role of
 * {@code UserFrameTransport.wakePoller} for the user gateway; for a TAP the "interrupt" comes from the
 * host kernel, so a thread waits for it in {@code poll(2)}).
 *
 * <p>Protocol. The poller (the device's backend thread) calls {@link #arm()} after a receive found
 * nothing; the watcher thread then blocks in {@code poll(fd, POLLIN)} and, when the descriptor is
 * readable (or fails), disarms and runs {@code wake} once. A receive that finds frames does not arm,
 * so a busy device costs the watcher nothing; a device that drains the wire arms once per idle
 * period. {@code poll} is level-triggered: a frame that arrived between the empty read and the
 * watcher's {@code poll} is seen at once, so no wakeup is lost.
 *
 * <pre>
 * device thread:  read -> EAGAIN -> arm() ---------------------------> (parks in its idle strategy)
 * watcher:                           unpark -> poll(fd, eventfd) ... POLLIN -> disarm -> wake.run()
 * </pre>
 *
 * <p>Memory ordering: {@code armed} is volatile; the poller's {@code arm()} store happens-before the
 * watcher's read of it (the watcher re-checks after each unpark). {@link #close()} signals an
 * eventfd the watcher also polls, then joins the thread, so the watched descriptor may be closed
 * afterwards without the watcher ever touching a reused descriptor number.
 *
 * <pre>
 * struct pollfd (8 bytes) x 2: [0] = the watched fd, [1] = the shutdown eventfd
 * +-----------+-------------+--------------+
 * | fd (s32)  | events (s16)| revents (s16)|
 * +-----------+-------------+--------------+
 *   0           4             6             8
 * </pre>
 */
final class ReadinessWatcher implements AutoCloseable {
    static final short POLLIN = 0x001;
    static final short POLLERR = 0x008;
    static final short POLLHUP = 0x010;
    static final short POLLNVAL = 0x020;
    static final int POLLFD_SIZE = 8;
    static final int EFD_NONBLOCK = 0x800;
    static final int EFD_CLOEXEC = 0x80000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final MethodHandle POLL = downcall("poll",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle EVENTFD = downcall("eventfd",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle WRITE = downcall("write",
        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle CLOSE = downcall("close",
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private final int shutdownFd;
    private final Runnable wake;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment fds = arena.allocate(2L * POLLFD_SIZE, 8);
    private final Thread thread;
    private final AtomicLong wakeups = new AtomicLong();
    private volatile boolean armed;
    private volatile boolean running = true;

    private static MethodHandle downcall(final String name, final FunctionDescriptor fd) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(() -> new IllegalStateException("libc has no " + name)),
            fd);
    }

    /**
     * Start watching {@code fd} (owned by the caller, which closes it after {@link #close()}).
     *
     * @param name thread name.
     * @param wake what to run when the armed descriptor is readable: must only schedule work (unpark).
     */
    ReadinessWatcher(final String name, final int fd, final Runnable wake) {
        this.wake = wake;
        this.shutdownFd = newEventFd();
        fds.set(ValueLayout.JAVA_INT, 0, fd);
        fds.set(ValueLayout.JAVA_SHORT, 4, POLLIN);
        fds.set(ValueLayout.JAVA_INT, POLLFD_SIZE, shutdownFd);
        fds.set(ValueLayout.JAVA_SHORT, POLLFD_SIZE + 4, POLLIN);
        this.thread = Thread.ofPlatform().daemon().name(name).unstarted(this::run);
        thread.start();
    }

    /**
     * Poller only: the wire was found empty; run {@code wake} when {@code fd} becomes readable. Cheap
     * when already armed (one volatile read).
     */
    void arm() {
        if (!armed) {
            armed = true;
            LockSupport.unpark(thread);
        }
    }

    boolean armed() {
        return armed;
    }

    /** Times the watcher ran {@code wake}. */
    long wakeups() {
        return wakeups.get();
    }

    private void run() {
        try {
            while (running) {
                if (!armed) {
                    LockSupport.park(this);
                    continue;
                }
                fds.set(ValueLayout.JAVA_SHORT, 6, (short)0);
                fds.set(ValueLayout.JAVA_SHORT, POLLFD_SIZE + 6, (short)0);
                final int rc = (int)POLL.invokeExact(fds, 2L, -1);
                if (!running) {
                    return;
                }
                final short revents = fds.get(ValueLayout.JAVA_SHORT, 6);
                if (rc > 0 && (revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) != 0) {
                    // disarm first: an arm() after this wake must start a new wait
                    armed = false;
                    wakeups.incrementAndGet();
                    wake.run();
                }
                // rc < 0 (EINTR): poll again
            }
        } catch (final Throwable e) {
            throw new IllegalStateException("readiness watcher", e);
        }
    }

    /** Stop the watcher and wait for its thread; the watched descriptor is untouched afterwards. */
    @Override
    public void close() {
        if (!running) {
            return;
        }
        running = false;
        signal(shutdownFd);
        LockSupport.unpark(thread);
        try {
            thread.join(10_000);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeFd(shutdownFd);
        if (!thread.isAlive()) {
            arena.close();
        }
    }

    /** A non-blocking, close-on-exec eventfd (counter 0: not readable). */
    static int newEventFd() {
        final int fd;
        try {
            fd = (int)EVENTFD.invokeExact(0, EFD_NONBLOCK | EFD_CLOEXEC);
        } catch (final Throwable e) {
            throw new IllegalStateException("eventfd", e);
        }
        if (fd < 0) {
            throw new IllegalStateException("eventfd failed");
        }
        return fd;
    }

    /** Add 1 to eventfd {@code fd}'s counter: it becomes readable. */
    static void signal(final int fd) {
        try (Arena a = Arena.ofConfined()) {
            final MemorySegment one = a.allocate(ValueLayout.JAVA_LONG);
            one.set(ValueLayout.JAVA_LONG, 0, 1L);
            final long ignored = (long)WRITE.invokeExact(fd, one, 8L);
        } catch (final Throwable e) {
            throw new IllegalStateException("eventfd write", e);
        }
    }

    static void closeFd(final int fd) {
        try {
            final int ignored = (int)CLOSE.invokeExact(fd);
        } catch (final Throwable e) {
            throw new IllegalStateException("close", e);
        }
    }
}
