package dev.osvj.vfs;

import dev.osvj.kernel.KernelClock;

import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One entry of the mount table (OSv's {@code struct mount}): a filesystem instance attached at a path,
 * covering the vnode that was there. Created by the VFS; the filesystem sees it while mounting (its
 * vnodes belong to it) and reads {@link #now()} for timestamps.
 *
 * <p>A mount is <em>busy</em> while open files or the working directory are in it ({@link #busy()}),
 * or while another filesystem is mounted below it; umount then answers EBUSY.
 */
public final class Mount {
    /** Mount flag: read-only (the VFS answers EROFS to every write). */
    public static final int MNT_RDONLY = 1;

    private final String type;
    private final String source;
    private final String path;
    private final Map<String, String> options;
    private final int flags;
    private final long fsid;
    private final KernelClock clock;
    private final AtomicInteger busy = new AtomicInteger();
    /** Real time and monotonic time sampled together; replaced as a whole (a racy but coherent pair). */
    private volatile TimeBase timeBase;
    /** Serialises cross-directory renames in this filesystem, so the "not below itself" check holds. */
    final ReentrantLock renameLock = new ReentrantLock();

    FileSystem fs;
    Vnode root;
    /** The vnode this mount hides (null for the root mount). */
    Vnode covered;

    Mount(final String type, final String source, final String path, final Map<String, String> options, final int flags,
        final long fsid, final KernelClock clock) {
        this.type = type;
        this.source = source;
        this.path = path;
        this.options = Map.copyOf(options);
        this.flags = flags;
        this.fsid = fsid;
        this.clock = clock;
        this.timeBase = new TimeBase(clock.realtimeNanos(), clock.monotonicNanos());
    }

    /** A mount that no VFS manages, for filesystem unit tests and pseudo vnodes (pipes). */
    public static Mount detached(final String type, final KernelClock clock) {
        return new Mount(type, "none", "/", Map.of(), 0, 0, clock);
    }

    public String type() {
        return type;
    }

    public String source() {
        return source;
    }

    /** The absolute path of the mount point. */
    public String path() {
        return path;
    }

    public Map<String, String> options() {
        return options;
    }

    public int flags() {
        return flags;
    }

    /** The filesystem id ({@code st_dev} of every vnode in this mount). */
    public long fsid() {
        return fsid;
    }

    public FileSystem fileSystem() {
        return fs;
    }

    public Vnode root() {
        return root;
    }

    public boolean readOnly() {
        return (flags & MNT_RDONLY) != 0 || fs != null && fs.readOnly();
    }

    /**
     * Real time in nanoseconds since the epoch, for file timestamps. Read as the real time of the last
     * resynchronisation plus the monotonic time since, resynchronised at least every
     * {@link #RESYNC_NS}: the monotonic clock is an intrinsic, the real-time clock a native call, and
     * a create/write/unlink cycle stamps five times. A step of the real-time clock shows in file times
     * within a second (Linux stamps files with its coarse tick clock, so timestamps are approximate
     * there too).
     */
    public long now() {
        final TimeBase base = timeBase;
        final long mono = clock.monotonicNanos();
        final long since = mono - base.monotonicNs;
        if (since >= 0 && since < RESYNC_NS) {
            return base.realtimeNs + since;
        }
        final TimeBase fresh = new TimeBase(clock.realtimeNanos(), clock.monotonicNanos());
        timeBase = fresh;
        return fresh.realtimeNs;
    }

    /** Longest use of one real-time sample for {@link #now()}: 1 s. */
    static final long RESYNC_NS = 1_000_000_000L;

    private record TimeBase(long realtimeNs, long monotonicNs) {
    }

    /** Open files and working directories inside this mount. */
    public int busy() {
        return busy.get();
    }

    void pin() {
        busy.incrementAndGet();
    }

    void unpin() {
        busy.decrementAndGet();
    }

    /** The options string as /proc/mounts shows it. */
    public String optionString() {
        final StringBuilder sb = new StringBuilder(readOnly() ? "ro" : "rw");
        options.forEach((k, v) -> {
            if (!"ro".equals(k) && !"rw".equals(k)) {
                sb.append(',').append(k);
                if (!v.isEmpty()) {
                    sb.append('=').append(v);
                }
            }
        });
        return sb.toString();
    }

    @Override
    public String toString() {
        return source + " on " + path + " type " + type + " (" + optionString() + ")";
    }
}
