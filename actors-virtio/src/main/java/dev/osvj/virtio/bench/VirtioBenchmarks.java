package dev.osvj.virtio.bench;

import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.virtio.DeviceAgent;
import dev.osvj.virtio.GuestMemory;
import dev.osvj.virtio.blk.FileImageBackend;
import dev.osvj.virtio.blk.VirtioBlkDevice;
import dev.osvj.virtio.blk.VirtioBlkDriver;
import dev.osvj.virtio.ring.DescriptorChain;
import dev.osvj.virtio.ring.Notifier;
import dev.osvj.virtio.ring.ScatterList;
import dev.osvj.virtio.ring.VirtqueueDevice;
import dev.osvj.virtio.ring.VirtqueueDriver;
import dev.osvj.virtio.ring.VirtqueueLayout;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.OneToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * The virtio benchmarks of {@code bin/osvj bench virtio} (contract: shared BENCH.md), with their
 * baselines measured in the same run:
 * <ul>
 *   <li>{@code virtqueue.ratio_vs_agrona}: descriptor chains per second through one split virtqueue,
 *       driver thread to device thread and back (pipelined, both sides polling), divided by messages
 *       per second through a pair of Agrona {@code OneToOneRingBuffer}s doing the same round trip;</li>
 *   <li>{@code blk.randread.ratio_vs_filechannel}: 4 KiB random reads per second from one thread
 *       through virtio-blk (driver, virtqueue, polling device, memory-mapped image), keeping
 *       {@link #BLK_DEPTH} requests in flight with the driver's asynchronous submission (completions
 *       reaped by the submitting thread, polled mode), divided by
 *       {@code FileChannel.read} of the same offsets of the same file (a synchronous pread from the
 *       page cache). The synchronous one-at-a-time virtio-blk rate is reported in the detail.</li>
 * </ul>
 * Results are plain maps (name, value, unit, better, detail) so the bench module's suite can report
 * them without compile-time types of this module. Each measurement is the median of several runs.
 */
public final class VirtioBenchmarks {
    private static final int QUEUE = 256;
    /** Requests in flight in the asynchronous virtio-blk read benchmark (the driver's slot count). */
    static final int BLK_DEPTH = 16;

    private VirtioBenchmarks() {
    }

    /** Run every benchmark; {@code quick} uses shorter runs. Returns one map per metric. */
    public static List<Map<String, Object>> run(final boolean quick, final Consumer<String> progress) throws Exception {
        final long runNanos = quick ? 500_000_000L : 2_000_000_000L;
        final int runs = quick ? 3 : 5;
        final List<Map<String, Object>> out = new ArrayList<>();
        progress.accept("virtqueue round trips vs Agrona OneToOneRingBuffer");
        final double vq = median(runs, () -> virtqueueRoundTrips(runNanos));
        final double agrona = median(runs, () -> agronaRoundTrips(runNanos));
        out.add(metric("virtqueue.ratio_vs_agrona", vq / agrona, "ratio", "higher",
            Map.of("virtqueue_per_s", vq, "agrona_per_s", agrona)));
        progress.accept("virtio-blk 4 KiB random reads vs FileChannel");
        final Path image = Files.createTempFile("osvj-bench", ".img");
        try {
            writeImage(image, quick ? 16 << 20 : 64 << 20);
            final double fc = median(runs, () -> fileChannelReads(image, runNanos));
            final double blk = median(runs, () -> virtioBlkReads(image, runNanos, BLK_DEPTH));
            final double sync = median(runs, () -> virtioBlkReads(image, runNanos, 1));
            out.add(metric("blk.randread.ratio_vs_filechannel", blk / fc, "ratio", "higher",
                Map.of("virtio_blk_iops", blk, "filechannel_iops", fc, "queue_depth", BLK_DEPTH,
                    "virtio_blk_sync_iops", sync, "sync_ratio", sync / fc)));
        } finally {
            Files.deleteIfExists(image);
        }
        return out;
    }

    private static Map<String, Object> metric(final String name, final double value, final String unit, final String better,
        final Map<String, Object> detail) {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("value", value);
        m.put("unit", unit);
        m.put("better", better);
        m.put("detail", detail);
        return m;
    }

    @FunctionalInterface
    private interface Measurement {
        double run() throws Exception;
    }

    private static double median(final int runs, final Measurement m) throws Exception {
        m.run(); // warm-up
        final double[] r = new double[runs];
        for (int i = 0; i < runs; i++) {
            r[i] = m.run();
        }
        Arrays.sort(r);
        return r[runs / 2];
    }

    /** Chains per second: driver keeps the ring full, device returns each chain at once. */
    static double virtqueueRoundTrips(final long nanos) throws Exception {
        try (Arena arena = Arena.ofShared()) {
            final MemorySegment memory = arena.allocate(1 << 20, 4096);
            final VirtqueueLayout.Placement p = VirtqueueLayout.contiguous(0, QUEUE);
            final VirtqueueDriver driver = new VirtqueueDriver(memory, 0, p, true, -1, 0, Notifier.NONE);
            final VirtqueueDevice device = new VirtqueueDevice(memory, 0, p, true, false, Notifier.NONE);
            device.disableNotifications();
            driver.disableInterrupts();
            final AtomicBoolean stop = new AtomicBoolean();
            final Thread dev = new Thread(() -> {
                final DescriptorChain chain = device.newChain();
                while (!stop.get()) {
                    int n = 0;
                    int head;
                    while (n < 64 && (head = device.pop(chain)) >= 0) {
                        device.pushUsed(head, 0);
                        n++;
                    }
                    if (n > 0) {
                        device.publishUsed();
                    } else {
                        Thread.onSpinWait();
                    }
                }
            }, "bench-vq-device");
            dev.start();
            final ScatterList sg = new ScatterList(1).readable(0x40000, 64);
            final long[] done = {0};
            final VirtqueueDriver.UsedHandler h = (c, l) -> done[0]++;
            final long start = System.nanoTime();
            final long end = start + nanos;
            while (System.nanoTime() < end) {
                for (int i = 0; i < 64 && driver.add(sg, 0) >= 0; i++) {
                    // fill
                }
                driver.publish();
                if (driver.poll(h, QUEUE) == 0) {
                    Thread.onSpinWait();
                }
            }
            final double rate = done[0] * 1e9 / (System.nanoTime() - start);
            stop.set(true);
            dev.join();
            return rate;
        }
    }

    /** Messages per second through two Agrona one-to-one ring buffers (there and back). */
    static double agronaRoundTrips(final long nanos) throws Exception {
        final int capacity = 64 * 1024;
        final OneToOneRingBuffer there = new OneToOneRingBuffer(new UnsafeBuffer(
            ByteBuffer.allocateDirect(capacity + RingBufferDescriptor.TRAILER_LENGTH)));
        final OneToOneRingBuffer back = new OneToOneRingBuffer(new UnsafeBuffer(
            ByteBuffer.allocateDirect(capacity + RingBufferDescriptor.TRAILER_LENGTH)));
        final UnsafeBuffer msg = new UnsafeBuffer(new byte[16]);
        final AtomicBoolean stop = new AtomicBoolean();
        final Thread dev = new Thread(() -> {
            final UnsafeBuffer reply = new UnsafeBuffer(new byte[16]);
            while (!stop.get()) {
                final int n = there.read((type, buffer, index, length) -> {
                    while (!back.write(1, reply, 0, 16) && !stop.get()) {
                        Thread.onSpinWait();
                    }
                }, 64);
                if (n == 0) {
                    Thread.onSpinWait();
                }
            }
        }, "bench-agrona-device");
        dev.start();
        final long[] done = {0};
        long sent = 0;
        final long start = System.nanoTime();
        final long end = start + nanos;
        while (System.nanoTime() < end) {
            for (int i = 0; i < 64 && sent - done[0] < QUEUE && there.write(1, msg, 0, 16); i++) {
                sent++;
            }
            if (back.read((type, buffer, index, length) -> done[0]++, QUEUE) == 0) {
                Thread.onSpinWait();
            }
        }
        final double rate = done[0] * 1e9 / (System.nanoTime() - start);
        stop.set(true);
        dev.join();
        return rate;
    }

    private static void writeImage(final Path image, final int bytes) throws IOException {
        final byte[] chunk = new byte[1 << 20];
        new SplittableRandom(1).nextBytes(chunk);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            for (int i = 0; i < bytes; i += chunk.length) {
                ch.write(ByteBuffer.wrap(chunk));
            }
        }
    }

    static double fileChannelReads(final Path image, final long nanos) throws IOException {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            final long blocks = ch.size() / 4096;
            final ByteBuffer buf = ByteBuffer.allocateDirect(4096);
            final SplittableRandom random = new SplittableRandom(7);
            long n = 0;
            final long start = System.nanoTime();
            final long end = start + nanos;
            while (System.nanoTime() < end) {
                for (int i = 0; i < 64; i++) {
                    buf.clear();
                    ch.read(buf, random.nextLong(blocks) * 4096);
                }
                n += 64;
            }
            return n * 1e9 / (System.nanoTime() - start);
        }
    }

    /**
     * 4 KiB random reads per second through a virtio-blk driver and a busy-polling device; {@code depth} 1
     * is the synchronous {@link VirtioBlkDriver#read}, more keeps that many asynchronous requests in
     * flight, each into its own guest buffer.
     */
    static double virtioBlkReads(final Path image, final long nanos, final int depth) throws Exception {
        try (PhysicalMemory ram = PhysicalMemory.allocate(16L << 20)) {
            final GuestMemory guest = new GuestMemory(ram, new PageAllocator(ram, 0));
            final VirtioBlkDevice device = new VirtioBlkDevice(ram.segment(), FileImageBackend.open("bench", image, true),
                QUEUE, 32, 128 * 1024);
            final DeviceAgent agent = new DeviceAgent("bench-virtio-blk");
            agent.add(device);
            try (AgentRunner runner = DeviceAgent.start(agent, new BusySpinIdleStrategy());
                 VirtioBlkDriver driver = new VirtioBlkDriver("vblk-bench", device, guest, QUEUE)) {
                final long blocks = driver.capacity() / 4096;
                final SplittableRandom random = new SplittableRandom(7);
                if (depth <= 1) {
                    final long pa = guest.allocate(4096);
                    long n = 0;
                    final long start = System.nanoTime();
                    final long end = start + nanos;
                    while (System.nanoTime() < end) {
                        for (int i = 0; i < 64; i++) {
                            if (driver.read(random.nextLong(blocks) * 4096, ram.segment(), pa, 4096) != 0) {
                                throw new IllegalStateException("virtio-blk read failed");
                            }
                        }
                        n += 64;
                    }
                    return n * 1e9 / (System.nanoTime() - start);
                }
                final long buffers = guest.allocate(4096L * depth);
                // Polled completions: this thread submits and reaps; the device thread only serves.
                driver.interruptLine(q -> { });
                final int[] idle = new int[depth]; // buffers whose read completed (a stack; this thread only)
                final int[] idleCount = {0};
                final long[] failed = {0};
                final VirtioBlkDriver.Completion done = (tag, result) -> {
                    if (result != 0) {
                        failed[0]++;
                    }
                    idle[idleCount[0]++] = (int)tag;
                };
                for (int i = 0; i < depth; i++) {
                    idle[idleCount[0]++] = i;
                }
                long n = 0;
                final long start = System.nanoTime();
                final long end = start + nanos;
                while (System.nanoTime() < end) {
                    for (int i = 0; i < 64; i++) {
                        while (idleCount[0] == 0) {
                            if (driver.reapCompletions() == 0) {
                                Thread.onSpinWait();
                            }
                        }
                        final int b = idle[--idleCount[0]];
                        final int rc = driver.submitRead(random.nextLong(blocks) * 4096, buffers + 4096L * b, 4096, b, done);
                        if (rc != 0) {
                            throw new IllegalStateException("virtio-blk submit failed: " + rc);
                        }
                    }
                    n += 64;
                }
                while (idleCount[0] < depth) { // the requests still in flight count once they complete
                    if (driver.reapCompletions() == 0) {
                        Thread.onSpinWait();
                    }
                }
                if (failed[0] != 0) {
                    throw new IllegalStateException("virtio-blk reads failed: " + failed[0]);
                }
                return n * 1e9 / (System.nanoTime() - start);
            } finally {
                device.close();
            }
        }
    }

    /** Print the results (for running the benchmarks without the bench module). */
    public static void main(final String[] args) throws Exception {
        for (final Map<String, Object> m : run(args.length > 0 && "--quick".equals(args[0]), System.err::println)) {
            System.out.println(m);
        }
    }
}
