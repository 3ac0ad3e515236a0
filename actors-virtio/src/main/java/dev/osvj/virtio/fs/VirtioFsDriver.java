package dev.osvj.virtio.fs;

import dev.osvj.kernel.Errno;
import dev.osvj.kernel.ErrnoException;
import dev.osvj.virtio.GuestMemory;
import dev.osvj.virtio.VirtioDriver;
import dev.osvj.virtio.VirtioFeatures;
import dev.osvj.virtio.VirtioTransport;
import dev.osvj.virtio.ring.Notifier;
import dev.osvj.virtio.ring.ScatterList;
import dev.osvj.virtio.ring.VirtqueueDriver;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The virtio-fs driver (kernel side): a FUSE client ({@link Fuse}) over the device's request queue,
 * FORGET over its hiprio queue. A request takes one of a fixed set of slots; each slot owns a request
 * buffer (in header and arguments, {@value #REQUEST_BYTES} bytes) and a reply buffer (out header and up
 * to {@value #DATA_BYTES} bytes of data) in guest memory, so nothing in guest memory is allocated per
 * request; a READ larger than that is split into several requests.
 *
 * <p>Flow as in {@code VirtioBlkDriver}: the caller fills its slot, adds the two-descriptor chain
 * (request readable, reply writable) under the queue lock, publishes, spins briefly and parks; the
 * interrupt handler ({@link #onInterrupt}) consumes both used rings, records the used length, and
 * unparks the caller. A reply is checked before it is believed: its {@code unique} must be the
 * request's, its {@code len} within the used length and at least the out header; otherwise the call
 * answers {@code -EIO}.
 *
 * <p>The FUSE session is started (INIT) by the first call, once the device runs. Thread-safe: any
 * number of callers, at most {@value #MAX_SLOTS} requests in flight, the others wait for a slot.
 */
public final class VirtioFsDriver extends VirtioDriver {
    static final int MAX_SLOTS = 16;
    static final int REQUEST_BYTES = 512;
    static final int DATA_BYTES = 32 * 1024;
    static final int REPLY_BYTES = Fuse.OUT_HEADER + DATA_BYTES;
    private static final int SPINS_BEFORE_PARK = 2000;
    private static final int PENDING = 0;
    private static final int DONE = 1;

    /** File attributes of a node (times in nanoseconds since the epoch; mode with its S_IFMT bits). */
    public record Attr(long ino, long size, long blocks, long atimeNs, long mtimeNs, long ctimeNs, int mode, int nlink,
        int uid, int gid) {
    }

    /** A LOOKUP answer: the child's node id (one more lookup to FORGET) and attributes. */
    public record Entry(long nodeid, Attr attr) {
    }

    /** A STATFS answer (counts in units of {@code bsize}). */
    public record Statfs(long blocks, long bfree, long bavail, long files, long ffree, int bsize, int namelen) {
    }

    /** Receives READDIR entries; {@code type} is a {@code DT_*} code; false stops the listing there. */
    @FunctionalInterface
    public interface DirentConsumer {
        boolean accept(long ino, long nextOffset, int type, String name);
    }

    private final String tag;
    private final VirtqueueDriver hiprio;
    private final VirtqueueDriver requests;
    private final ReentrantLock queueLock = new ReentrantLock();
    private final int slots;
    private final long requestPa;
    private final long replyPa;
    private final ArrayBlockingQueue<Integer> free;
    private final AtomicIntegerArray state;
    private final int[] usedLength;
    private final Thread[] waiters;
    private final ScatterList[] lists;
    private final AtomicLong unique = new AtomicLong();
    private final VirtqueueDriver.UsedHandler completion = (cookie, len) -> complete((int)cookie, len);
    private volatile boolean initialised;

    /** Negotiate, read the tag, set up the hiprio and the first request queue, DRIVER_OK. */
    public VirtioFsDriver(final String name, final VirtioTransport transport, final GuestMemory memory, final int queueSize) {
        super(name, transport, memory);
        negotiate(VirtioFeatures.bit(VirtioFeatures.EVENT_IDX));
        final byte[] raw = new byte[Fuse.TAG_BYTES];
        for (int i = 0; i < Fuse.TAG_BYTES; i += 4) {
            final int word = (int)transport.readConfig(Fuse.CONFIG_TAG + i, 4);
            for (int b = 0; b < 4; b++) {
                raw[i + b] = (byte)(word >>> (8 * b));
            }
        }
        int n = 0;
        while (n < raw.length && raw[n] != 0) {
            n++;
        }
        this.tag = new String(raw, 0, n, StandardCharsets.UTF_8);
        if ((int)transport.readConfig(Fuse.CONFIG_NUM_REQUEST_QUEUES, 4) < 1) {
            throw new IllegalStateException(name + ": virtio-fs device offers no request queue");
        }
        this.hiprio = setupQueue(0, queueSize);
        this.requests = setupQueue(1, queueSize);
        this.slots = Math.max(1, Math.min(MAX_SLOTS, Math.min(hiprio.size(), requests.size()) / 2));
        this.requestPa = allocate((long)slots * REQUEST_BYTES);
        this.replyPa = allocate((long)slots * REPLY_BYTES);
        this.free = new ArrayBlockingQueue<>(slots);
        this.state = new AtomicIntegerArray(slots);
        this.usedLength = new int[slots];
        this.waiters = new Thread[slots];
        this.lists = new ScatterList[slots];
        for (int i = 0; i < slots; i++) {
            free.add(i);
            lists[i] = new ScatterList(2);
            state.set(i, DONE);
        }
        driverOk();
    }

    /** The mount tag of the device's config space. */
    public String tag() {
        return tag;
    }

    public Entry lookup(final long parent, final String name) throws ErrnoException {
        init();
        final byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length == 0 || b.length > 255) {
            throw new ErrnoException(b.length == 0 ? Errno.ENOENT : Errno.ENAMETOOLONG);
        }
        final int slot = acquire();
        try {
            final MemorySegment req = request(slot);
            MemorySegment.copy(b, 0, req, ValueLayout.JAVA_BYTE, Fuse.IN_HEADER, b.length);
            req.set(ValueLayout.JAVA_BYTE, Fuse.IN_HEADER + b.length, (byte)0);
            final int r = exchange(slot, Fuse.LOOKUP, parent, b.length + 1, Fuse.ENTRY_OUT);
            check(r, Fuse.ENTRY_OUT);
            final MemorySegment rep = reply(slot);
            return new Entry(Fuse.u64(rep, Fuse.OUT_HEADER), attr(rep, Fuse.OUT_HEADER + 40));
        } finally {
            release(slot);
        }
    }

    public Attr getattr(final long nodeid) throws ErrnoException {
        init();
        final int slot = acquire();
        try {
            request(slot).asSlice(Fuse.IN_HEADER, Fuse.GETATTR_IN).fill((byte)0);
            check(exchange(slot, Fuse.GETATTR, nodeid, Fuse.GETATTR_IN, Fuse.ATTR_OUT), Fuse.ATTR_OUT);
            return attr(reply(slot), Fuse.OUT_HEADER + 16);
        } finally {
            release(slot);
        }
    }

    /** OPEN (or OPENDIR) read-only; returns the file handle (non-negative) or -errno. */
    public long open(final long nodeid, final boolean dir) {
        final int ready = ensureInit();
        if (ready < 0) {
            return ready;
        }
        final int slot = acquire();
        try {
            request(slot).asSlice(Fuse.IN_HEADER, Fuse.OPEN_IN).fill((byte)0);
            final int r = exchange(slot, dir ? Fuse.OPENDIR : Fuse.OPEN, nodeid, Fuse.OPEN_IN, Fuse.OPEN_OUT);
            if (r < 0) {
                return r;
            }
            if (r < Fuse.OPEN_OUT) {
                return Errno.EIO.negative();
            }
            final long fh = Fuse.u64(reply(slot), Fuse.OUT_HEADER);
            return fh < 0 ? Errno.EIO.negative() : fh;
        } finally {
            release(slot);
        }
    }

    /** RELEASE (or RELEASEDIR) of a handle from {@link #open}; 0 or -errno. */
    public int release(final long nodeid, final long fh, final boolean dir) {
        final int ready = ensureInit();
        if (ready < 0) {
            return ready;
        }
        final int slot = acquire();
        try {
            final MemorySegment req = request(slot);
            req.asSlice(Fuse.IN_HEADER, Fuse.RELEASE_IN).fill((byte)0);
            Fuse.put64(req, Fuse.IN_HEADER, fh);
            final int r = exchange(slot, dir ? Fuse.RELEASEDIR : Fuse.RELEASE, nodeid, Fuse.RELEASE_IN, 0);
            return Math.min(r, 0);
        } finally {
            release(slot);
        }
    }

    /**
     * READ up to {@code length} bytes at {@code offset} of an open file into {@code dst}; returns the
     * bytes read (fewer only at end of file) or -errno.
     */
    public long read(final long nodeid, final long fh, final long offset, final MemorySegment dst, final long dstOffset,
        final int length) {
        if (offset < 0 || length < 0) {
            return Errno.EINVAL.negative();
        }
        final int ready = ensureInit();
        if (ready < 0) {
            return ready;
        }
        final int slot = acquire();
        try {
            long done = 0;
            while (done < length) {
                final int want = (int)Math.min(DATA_BYTES, length - done);
                final MemorySegment req = request(slot);
                req.asSlice(Fuse.IN_HEADER, Fuse.READ_IN).fill((byte)0);
                Fuse.put64(req, Fuse.IN_HEADER, fh);
                Fuse.put64(req, Fuse.IN_HEADER + 8, offset + done);
                Fuse.put32(req, Fuse.IN_HEADER + 16, want);
                final int r = exchange(slot, Fuse.READ, nodeid, Fuse.READ_IN, want);
                if (r < 0) {
                    return done > 0 ? done : r;
                }
                if (r > want) {
                    return Errno.EIO.negative();
                }
                MemorySegment.copy(memory.segment(), replyPa + (long)slot * REPLY_BYTES + Fuse.OUT_HEADER, dst,
                    dstOffset + done, r);
                done += r;
                if (r < want) {
                    break;
                }
            }
            return done;
        } finally {
            release(slot);
        }
    }

    /**
     * One READDIR of an open directory from {@code offset} (0 = first entry): hands the entries of one
     * reply to {@code sink}; returns the offset to continue from (equal to {@code offset} at the end of
     * the directory) or -errno.
     */
    public long readdir(final long nodeid, final long fh, final long offset, final DirentConsumer sink) {
        final int ready = ensureInit();
        if (ready < 0) {
            return ready;
        }
        final int slot = acquire();
        try {
            final MemorySegment req = request(slot);
            req.asSlice(Fuse.IN_HEADER, Fuse.READ_IN).fill((byte)0);
            Fuse.put64(req, Fuse.IN_HEADER, fh);
            Fuse.put64(req, Fuse.IN_HEADER + 8, offset);
            Fuse.put32(req, Fuse.IN_HEADER + 16, DATA_BYTES);
            final int r = exchange(slot, Fuse.READDIR, nodeid, Fuse.READ_IN, DATA_BYTES);
            if (r < 0) {
                return r;
            }
            final MemorySegment rep = reply(slot);
            long next = offset;
            int at = Fuse.OUT_HEADER;
            final int end = Fuse.OUT_HEADER + r;
            while (at + Fuse.DIRENT_NAME <= end) {
                final long ino = Fuse.u64(rep, at);
                final long off = Fuse.u64(rep, at + 8);
                final int namelen = Fuse.u32(rep, at + 16);
                final int type = Fuse.u32(rep, at + 20);
                if (namelen <= 0 || namelen > 255 || at + Fuse.direntSize(namelen) > end) {
                    return Errno.EIO.negative();
                }
                final byte[] nb = new byte[namelen];
                MemorySegment.copy(rep, ValueLayout.JAVA_BYTE, at + Fuse.DIRENT_NAME, nb, 0, namelen);
                if (!sink.accept(ino, off, type, new String(nb, StandardCharsets.UTF_8))) {
                    break;
                }
                next = off;
                at += Fuse.direntSize(namelen);
            }
            return next;
        } finally {
            release(slot);
        }
    }

    public String readlink(final long nodeid) throws ErrnoException {
        init();
        final int slot = acquire();
        try {
            final int r = exchange(slot, Fuse.READLINK, nodeid, 0, 4096);
            check(r, 0);
            final byte[] b = new byte[r];
            MemorySegment.copy(reply(slot), ValueLayout.JAVA_BYTE, Fuse.OUT_HEADER, b, 0, r);
            return new String(b, StandardCharsets.UTF_8);
        } finally {
            release(slot);
        }
    }

    public Statfs statfs() throws ErrnoException {
        init();
        final int slot = acquire();
        try {
            check(exchange(slot, Fuse.STATFS, Fuse.ROOT_ID, 0, Fuse.STATFS_OUT), Fuse.STATFS_OUT);
            final MemorySegment rep = reply(slot);
            final int o = Fuse.OUT_HEADER;
            return new Statfs(Fuse.u64(rep, o), Fuse.u64(rep, o + 8), Fuse.u64(rep, o + 16), Fuse.u64(rep, o + 24),
                Fuse.u64(rep, o + 32), Fuse.u32(rep, o + 40), Fuse.u32(rep, o + 44));
        } finally {
            release(slot);
        }
    }

    /** FORGET {@code nlookup} lookups of {@code nodeid} (hiprio queue, no reply). */
    public void forget(final long nodeid, final long nlookup) {
        if (ensureInit() < 0) {
            return; // no session: nothing to forget
        }
        final int slot = acquire();
        try {
            final MemorySegment req = request(slot);
            Fuse.putInHeader(req, 0, Fuse.IN_HEADER + Fuse.FORGET_IN, Fuse.FORGET, unique.incrementAndGet(), nodeid);
            Fuse.put64(req, Fuse.IN_HEADER, nlookup);
            submit(slot, hiprio, Fuse.IN_HEADER + Fuse.FORGET_IN, 0);
        } finally {
            release(slot);
        }
    }

    /**
     * Send {@code request} as it is (header included, however malformed) on the request queue with a
     * reply buffer of {@code replyCapacity} bytes; copies the reply into {@code reply} and returns the
     * used length. For tests of the device's handling of bad requests.
     */
    int raw(final byte[] request, final int replyCapacity, final byte[] reply) {
        final int slot = acquire();
        try {
            MemorySegment.copy(request, 0, request(slot), ValueLayout.JAVA_BYTE, 0, request.length);
            reply(slot).fill((byte)0);
            final int used = submit(slot, requests, request.length, replyCapacity);
            MemorySegment.copy(reply(slot), ValueLayout.JAVA_BYTE, 0, reply, 0, Math.min(reply.length, REPLY_BYTES));
            return used;
        } finally {
            release(slot);
        }
    }

    private static void check(final int r, final int min) throws ErrnoException {
        if (r < 0) {
            throw new ErrnoException(Errno.fromResult(r));
        }
        if (r < min) {
            throw new ErrnoException(Errno.EIO, "short FUSE reply");
        }
    }

    private static Attr attr(final MemorySegment m, final int at) {
        return new Attr(Fuse.u64(m, at), Fuse.u64(m, at + 8), Fuse.u64(m, at + 16),
            Fuse.u64(m, at + 24) * 1_000_000_000L + Integer.toUnsignedLong(Fuse.u32(m, at + 48)),
            Fuse.u64(m, at + 32) * 1_000_000_000L + Integer.toUnsignedLong(Fuse.u32(m, at + 52)),
            Fuse.u64(m, at + 40) * 1_000_000_000L + Integer.toUnsignedLong(Fuse.u32(m, at + 56)),
            Fuse.u32(m, at + 60), Fuse.u32(m, at + 64), Fuse.u32(m, at + 68), Fuse.u32(m, at + 72));
    }

    private MemorySegment request(final int slot) {
        return memory.segment().asSlice(requestPa + (long)slot * REQUEST_BYTES, REQUEST_BYTES);
    }

    private MemorySegment reply(final int slot) {
        return memory.segment().asSlice(replyPa + (long)slot * REPLY_BYTES, REPLY_BYTES);
    }

    /** Start the FUSE session once (INIT) before the first request; 0 or -errno (then retried next call). */
    private int ensureInit() {
        if (initialised) {
            return 0;
        }
        synchronized (this) {
            if (initialised) {
                return 0;
            }
            final int slot = acquire();
            try {
                final MemorySegment req = request(slot);
                req.asSlice(Fuse.IN_HEADER, Fuse.INIT_IN).fill((byte)0);
                Fuse.put32(req, Fuse.IN_HEADER, Fuse.KERNEL_VERSION);
                Fuse.put32(req, Fuse.IN_HEADER + 4, Fuse.KERNEL_MINOR_VERSION);
                Fuse.put32(req, Fuse.IN_HEADER + 8, DATA_BYTES);
                final int r = exchange(slot, Fuse.INIT, 0, Fuse.INIT_IN, Fuse.INIT_OUT);
                if (r < 0) {
                    return r;
                }
                if (r < 8 || Fuse.u32(reply(slot), Fuse.OUT_HEADER) != Fuse.KERNEL_VERSION) {
                    return Errno.EPROTONOSUPPORT.negative();
                }
            } finally {
                release(slot);
            }
            initialised = true;
            return 0;
        }
    }

    private void init() throws ErrnoException {
        final int r = ensureInit();
        if (r < 0) {
            throw new ErrnoException(Errno.fromResult(r), name + ": FUSE INIT");
        }
    }

    /**
     * Send one request from {@code slot} and wait: returns the reply's payload length (after the out
     * header) or its negative errno; -EIO for a reply that does not check out.
     */
    private int exchange(final int slot, final int opcode, final long nodeid, final int argLength, final int replyData) {
        final long id = unique.incrementAndGet();
        final MemorySegment req = request(slot);
        Fuse.putInHeader(req, 0, Fuse.IN_HEADER + argLength, opcode, id, nodeid);
        final MemorySegment rep = reply(slot);
        Fuse.putOutHeader(rep, 0, 0, 0, 0);
        final int capacity = Fuse.OUT_HEADER + Math.min(DATA_BYTES, replyData);
        final int used = submit(slot, requests, Fuse.IN_HEADER + argLength, capacity);
        final int len = Fuse.u32(rep, 0);
        if (used < Fuse.OUT_HEADER || len < Fuse.OUT_HEADER || len > used || Fuse.u64(rep, 8) != id) {
            return Errno.EIO.negative();
        }
        final int error = Fuse.u32(rep, 4);
        if (error > 0 || error < -4095) {
            return Errno.EIO.negative();
        }
        return error < 0 ? error : len - Fuse.OUT_HEADER;
    }

    /** Post the chain of {@code slot} on {@code q} and wait for it; returns the used length. */
    private int submit(final int slot, final VirtqueueDriver q, final int requestLength, final int replyLength) {
        final ScatterList sg = lists[slot].clear().readable(requestPa + (long)slot * REQUEST_BYTES, requestLength);
        if (replyLength > 0) {
            sg.writable(replyPa + (long)slot * REPLY_BYTES, replyLength);
        }
        waiters[slot] = Thread.currentThread();
        state.set(slot, PENDING);
        queueLock.lock();
        try {
            if (q.add(sg, slot) < 0) {
                state.set(slot, DONE);
                throw new IllegalStateException(name + ": queue full with " + slots + " slots");
            }
            q.publish();
        } finally {
            queueLock.unlock();
        }
        for (int spin = 0; spin < SPINS_BEFORE_PARK && state.get(slot) == PENDING; spin++) {
            Thread.onSpinWait();
        }
        while (state.get(slot) == PENDING) {
            LockSupport.park(this);
        }
        return usedLength[slot];
    }

    private void complete(final int slot, final long len) {
        if (slot < 0 || slot >= slots) {
            return;
        }
        usedLength[slot] = (int)len;
        final Thread waiter = waiters[slot];
        state.set(slot, DONE);
        LockSupport.unpark(waiter);
    }

    @Override
    public void onInterrupt(final int q) {
        if (q == Notifier.CONFIG_CHANGE) {
            return;
        }
        queueLock.lock();
        try {
            hiprio.drain(completion);
            requests.drain(completion);
        } finally {
            queueLock.unlock();
        }
    }

    private int acquire() {
        try {
            return free.take();
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(name + ": interrupted waiting for a request slot", e);
        }
    }

    private void release(final int slot) {
        free.add(slot);
    }

    @Override
    public String describe() {
        return String.format("tag %s, %d slots, read-only FUSE %d.%d", tag, slots, Fuse.KERNEL_VERSION,
            Fuse.KERNEL_MINOR_VERSION);
    }
}
