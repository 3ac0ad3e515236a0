package dev.osvj.virtio.rng;

import dev.osvj.virtio.GuestMemory;
import dev.osvj.virtio.VirtioDriver;
import dev.osvj.virtio.VirtioFeatures;
import dev.osvj.virtio.VirtioTransport;
import dev.osvj.virtio.ring.Notifier;
import dev.osvj.virtio.ring.ScatterList;
import dev.osvj.virtio.ring.VirtqueueDriver;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The virtio-rng driver: the kernel's entropy source ({@code /dev/random}, {@code getrandom}). One
 * request at a time through a guest buffer; the caller blocks until the device filled it.
 */
public final class VirtioRngDriver extends VirtioDriver {
    static final int BUFFER_BYTES = 4096;

    private final VirtqueueDriver queue;
    private final long bufferPa;
    private final ReentrantLock requestLock = new ReentrantLock();
    private final ScatterList list = new ScatterList(1);
    private volatile Thread waiter;
    private volatile int filled = -1;
    private final VirtqueueDriver.UsedHandler completion = (cookie, len) -> {
        filled = len;
        LockSupport.unpark(waiter);
    };

    public VirtioRngDriver(final String name, final VirtioTransport transport, final GuestMemory memory, final int queueSize) {
        super(name, transport, memory);
        negotiate(VirtioFeatures.bit(VirtioFeatures.EVENT_IDX));
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
                synchronized (queue) {
                    queue.add(list.clear().writable(bufferPa, n), 0);
                    queue.publish();
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
            return;
        }
        synchronized (queue) {
            queue.disableInterrupts();
            do {
                queue.poll(completion, Integer.MAX_VALUE);
            } while (queue.enableInterrupts());
        }
    }

    @Override
    public String describe() {
        return "entropy source, " + BUFFER_BYTES + "-byte requests";
    }
}
