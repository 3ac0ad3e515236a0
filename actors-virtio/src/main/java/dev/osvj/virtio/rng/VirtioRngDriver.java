package dev.osvj.virtio.rng;

import dev.osvj.virtio.GuestMemory;
import dev.osvj.virtio.VirtioDriver;
import dev.osvj.virtio.VirtioFeatures;
import dev.osvj.virtio.VirtioTransport;
import dev.osvj.virtio.ring.Notifier;
import dev.osvj.virtio.ring.ScatterList;
import dev.osvj.virtio.ring.VirtqueueDriver;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The virtio-rng driver: the kernel's entropy source ({@code /dev/random}, {@code getrandom}). One
 * request at a time through a guest buffer; the caller blocks until the device filled it.
 *
 * <p>Recovery (as virtio-blk's driver): a device that sets DEVICE_NEEDS_RESET raises a config-change
 * interrupt; the driver then resets it, negotiates again, sets up a fresh queue, DRIVER_OK, and posts
 * the request that was in flight again (its buffer's old contents are never handed out: the caller
 * gets bytes only from a completion of the new queue). {@link #resets()} counts the resets.
 */
public final class VirtioRngDriver extends VirtioDriver {
    static final int BUFFER_BYTES = 4096;
    private static final long WANTED = VirtioFeatures.bit(VirtioFeatures.EVENT_IDX);

    /** The request queue; replaced by {@link #recover()}. Guarded by {@link #queueLock}. */
    private VirtqueueDriver queue;
    private final long bufferPa;
    private final ReentrantLock requestLock = new ReentrantLock();
    /** Guards the queue (posting, polling, replacing it on reset) and {@link #pendingLength}. */
    private final ReentrantLock queueLock = new ReentrantLock();
    private final ScatterList list = new ScatterList(1);
    private volatile Thread waiter;
    private volatile int filled = -1;
    /** Bytes of the request in flight (0: none), so a reset can post it again. */
    private int pendingLength;
    private final AtomicLong resets = new AtomicLong();
    private final VirtqueueDriver.UsedHandler completion = (cookie, len) -> {
        pendingLength = 0;
        filled = len;
        LockSupport.unpark(waiter);
    };

    public VirtioRngDriver(final String name, final VirtioTransport transport, final GuestMemory memory, final int queueSize) {
        super(name, transport, memory);
        negotiate(WANTED);
        queue = setupQueue(0, Math.min(queueSize, 8));
        bufferPa = allocate(BUFFER_BYTES);
        driverOk();
    }

    /**
     * Fill {@code buffer[offset .. offset + length)} with random bytes from the device.
     *
     * @return the number of bytes written (all of them).
     */
    public int read(final MemorySegment buffer, final long offset, final int length) {
        requestLock.lock();
        try {
            int done = 0;
            while (done < length) {
                final int n = Math.min(BUFFER_BYTES, length - done);
                filled = -1;
                waiter = Thread.currentThread();
                queueLock.lock();
                try {
                    pendingLength = n;
                    queue.add(list.clear().writable(bufferPa, n), 0);
                    queue.publish();
                } finally {
                    queueLock.unlock();
                }
                while (filled < 0) {
                    LockSupport.park(this);
                }
                final int got = Math.min(filled, n);
                MemorySegment.copy(memory.segment(), bufferPa, buffer, offset + done, got);
                done += got;
            }
            return done;
        } finally {
            requestLock.unlock();
        }
    }

    @Override
    public void onInterrupt(final int q) {
        if (q == Notifier.CONFIG_CHANGE) {
            if (deviceNeedsReset()) {
                recover();
            }
            return;
        }
        queueLock.lock();
        try {
            queue.drain(completion);
        } finally {
            queueLock.unlock();
        }
    }

    /**
     * DEVICE_NEEDS_RESET: reset the device, negotiate, set up a fresh queue, DRIVER_OK, and post the
     * request in flight again. Interrupt context.
     */
    private void recover() {
        queueLock.lock();
        try {
            if (!deviceNeedsReset()) {
                return; // another interrupt already recovered it
            }
            queue.poll(completion, Integer.MAX_VALUE); // a request the device completed before it stopped
            queue = renegotiateAfterReset(WANTED, queue)[0];
            driverOk();
            resets.incrementAndGet();
            if (pendingLength > 0) {
                queue.add(list.clear().writable(bufferPa, pendingLength), 0);
                queue.publish();
            }
        } finally {
            queueLock.unlock();
        }
    }

    /** How many times the device was reset after DEVICE_NEEDS_RESET. */
    public long resets() {
        return resets.get();
    }

    @Override
    public String describe() {
        return "entropy source, " + BUFFER_BYTES + "-byte requests, resets=" + resets.get();
    }
}
