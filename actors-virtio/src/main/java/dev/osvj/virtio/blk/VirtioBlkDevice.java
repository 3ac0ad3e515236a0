package dev.osvj.virtio.blk;

import dev.osvj.virtio.DeviceType;
import dev.osvj.virtio.VirtioDevice;
import dev.osvj.virtio.VirtioFeatures;
import dev.osvj.virtio.ring.DescriptorChain;
import dev.osvj.virtio.ring.VirtqueueDevice;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The virtio-blk device (backend side): one request queue served from a {@link BlockDevice} backend
 * (a host file image). Formats: {@link VirtioBlk}. Offers SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH, and RO
 * for a read-only backend.
 *
 * <p>Each request is validated before any I/O: a chain without room for the header or the status
 * byte is malformed (returned unused and counted); a request that reaches beyond the capacity, is not
 * a whole number of sectors, writes to a read-only device, or fails in the backend completes with
 * status IOERR; an unknown type with UNSUPP. The driver never sees an exception.
 */
public final class VirtioBlkDevice extends VirtioDevice {
    /** Requests taken per duty cycle before the used ring is published. */
    static final int BATCH = 64;

    private final BlockDevice backend;
    private final MemorySegment header = Arena.ofAuto().allocate(VirtioBlk.HEADER_LENGTH, 8);
    private final MemorySegment idBytes = Arena.ofAuto().allocate(VirtioBlk.ID_BYTES, 8);
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong ioErrors = new AtomicLong();
    private final AtomicLong flushes = new AtomicLong();
    private DescriptorChain chain;

    /**
     * @param guest     guest memory as the device maps it.
     * @param backend   where the blocks are.
     * @param queueSize the largest request queue the device accepts.
     * @param segMax    most data segments per request (config seg_max).
     * @param sizeMax   largest data segment in bytes (config size_max).
     */
    public VirtioBlkDevice(final MemorySegment guest, final BlockDevice backend, final int queueSize, final int segMax,
        final int sizeMax) {
        super(DeviceType.BLOCK, guest,
            VirtioFeatures.bit(VirtioBlk.F_SIZE_MAX) | VirtioFeatures.bit(VirtioBlk.F_SEG_MAX)
                | VirtioFeatures.bit(VirtioBlk.F_BLK_SIZE) | VirtioFeatures.bit(VirtioBlk.F_FLUSH)
                | (backend.readOnly() ? VirtioFeatures.bit(VirtioBlk.F_RO) : 0),
            1, queueSize, VirtioBlk.CONFIG_SIZE);
        this.backend = backend;
        putConfig64(VirtioBlk.CONFIG_CAPACITY, backend.capacity() / BlockDevice.SECTOR_SIZE);
        putConfig32(VirtioBlk.CONFIG_SIZE_MAX, sizeMax);
        putConfig32(VirtioBlk.CONFIG_SEG_MAX, segMax);
        putConfig32(VirtioBlk.CONFIG_BLK_SIZE, backend.blockSize());
        final byte[] id = backend.id().getBytes(StandardCharsets.US_ASCII);
        MemorySegment.copy(id, 0, idBytes, ValueLayout.JAVA_BYTE, 0, Math.min(id.length, VirtioBlk.ID_BYTES));
    }

    public BlockDevice backend() {
        return backend;
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
        while (done < BATCH) {
            final int head = q.pop(chain);
            if (head == VirtqueueDevice.NONE) {
                break;
            }
            done++;
            if (head >= 0) {
                q.pushUsed(head, serve(chain));
            }
        }
        q.publishUsed();
        return done;
    }

    /** Serve one request; returns the bytes written into the chain (data plus status). */
    private int serve(final DescriptorChain c) {
        if (c.readableBytes() < VirtioBlk.HEADER_LENGTH || c.writableBytes() < 1) {
            ioErrors.incrementAndGet();
            return 0; // no header or no status byte: nothing we can answer
        }
        requests.incrementAndGet();
        c.copyFromReadable(0, header, 0, VirtioBlk.HEADER_LENGTH);
        final int type = VirtioBlk.headerType(header, 0);
        final long sector = VirtioBlk.headerSector(header, 0);
        final long statusAt = c.locate(true, c.writableBytes() - 1);
        int written = 1;
        int status;
        switch (type) {
            case VirtioBlk.T_IN -> {
                final long length = c.writableBytes() - 1;
                status = transfer(c, sector, length, true);
                if (status == VirtioBlk.S_OK) {
                    written += (int)length;
                }
            }
            case VirtioBlk.T_OUT -> status = backend.readOnly()
                ? VirtioBlk.S_IOERR
                : transfer(c, sector, c.readableBytes() - VirtioBlk.HEADER_LENGTH, false);
            case VirtioBlk.T_FLUSH -> {
                flushes.incrementAndGet();
                status = backend.flush() == 0 ? VirtioBlk.S_OK : VirtioBlk.S_IOERR;
            }
            case VirtioBlk.T_GET_ID -> {
                final long n = c.copyToWritable(0, idBytes, 0, Math.min(VirtioBlk.ID_BYTES, c.writableBytes() - 1));
                written += (int)n;
                status = VirtioBlk.S_OK;
            }
            default -> status = VirtioBlk.S_UNSUPP;
        }
        if (status == VirtioBlk.S_IOERR) {
            ioErrors.incrementAndGet();
        }
        guest().set(ValueLayout.JAVA_BYTE, statusAt, (byte)status);
        return written;
    }

    /** Move {@code length} bytes between the backend at {@code sector} and the chain's data buffers. */
    private int transfer(final DescriptorChain c, final long sector, final long length, final boolean in) {
        final long capacity = backend.capacity();
        if (sector < 0 || length % BlockDevice.SECTOR_SIZE != 0 || sector > capacity / BlockDevice.SECTOR_SIZE
            || length > capacity - sector * BlockDevice.SECTOR_SIZE) {
            return VirtioBlk.S_IOERR;
        }
        long offset = sector * BlockDevice.SECTOR_SIZE;
        long left = length;
        // IN: data is the writable part except the status byte; OUT: the readable part after the header.
        long skip = in ? 0 : VirtioBlk.HEADER_LENGTH;
        final int from = in ? c.readableCount() : 0;
        final int to = in ? c.count() : c.readableCount();
        for (int i = from; i < to && left > 0; i++) {
            final long l = c.len(i);
            if (skip >= l) {
                skip -= l;
                continue;
            }
            final int n = (int)Math.min(l - skip, left);
            final int rc = in
                ? backend.read(offset, guest(), c.addr(i) + skip, n)
                : backend.write(offset, guest(), c.addr(i) + skip, n);
            if (rc != 0) {
                return VirtioBlk.S_IOERR;
            }
            offset += n;
            left -= n;
            skip = 0;
        }
        return VirtioBlk.S_OK;
    }

    @Override
    public String featureName(final int bit) {
        return VirtioBlk.featureName(bit);
    }

    @Override
    public String deviceCounters() {
        return "requests=" + requests.get() + " ioerr=" + ioErrors.get() + " flushes=" + flushes.get();
    }

    @Override
    public void close() {
        super.close();
        backend.close();
    }
}
