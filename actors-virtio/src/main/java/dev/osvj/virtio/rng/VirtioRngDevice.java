package dev.osvj.virtio.rng;

import dev.osvj.virtio.DeviceType;
import dev.osvj.virtio.VirtioDevice;
import dev.osvj.virtio.ring.DescriptorChain;
import dev.osvj.virtio.ring.VirtqueueDevice;

import java.lang.foreign.MemorySegment;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The virtio-rng device ("entropy device", virtio 1.x device ID 4): one request queue; the driver
 * posts device-writable buffers and the device fills them with random bytes from the host's
 * {@link SecureRandom}. No config space, no device features.
 */
public final class VirtioRngDevice extends VirtioDevice {
    private static final int CHUNK = 4096;

    private final SecureRandom random;
    private final byte[] chunk = new byte[CHUNK];
    private final MemorySegment chunkView = MemorySegment.ofArray(chunk);
    private final AtomicLong bytes = new AtomicLong();
    private DescriptorChain chain;

    public VirtioRngDevice(final MemorySegment guest, final SecureRandom random, final int queueSize) {
        super(DeviceType.ENTROPY, guest, 0, 1, queueSize, 0);
        this.random = random;
    }

    @Override
    protected void activate() {
        chain = queue(0) == null ? null : queue(0).newChain();
    }

    @Override
    protected int doWork() {
        final VirtqueueDevice q = queue(0);
        if (q == null) {
            return 0;
        }
        int done = 0;
        int head;
        while (done < 16 && (head = q.pop(chain)) != VirtqueueDevice.NONE) {
            done++;
            if (head < 0) {
                continue;
            }
            long filled = 0;
            final long want = chain.writableBytes();
            while (filled < want) {
                final int n = (int)Math.min(CHUNK, want - filled);
                random.nextBytes(chunk);
                chain.copyToWritable(filled, chunkView, 0, n);
                filled += n;
            }
            bytes.addAndGet(filled);
            q.pushUsed(head, (int)filled);
        }
        q.publishUsed();
        return done;
    }

    @Override
    public String deviceCounters() {
        return "bytes=" + bytes.get();
    }
}
