package dev.osvj.bench.vfs;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchSuite;
import dev.osvj.kernel.KernelClock;
import dev.osvj.vfs.Posix;
import dev.osvj.vfs.Vfs;
import dev.osvj.vfs.ramfs.RamFs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;

/**
 * {@code bin/osvj bench vfs}: the VFS on ramfs against the host's tmpfs through java.nio, in the same
 * run (BENCH.md). Metrics (issue 7):
 * <ul>
 *   <li>{@code ops.ratio_vs_tmpfs}: create + write 4 KiB + read + unlink cycles per second, osvj over
 *       tmpfs (target at least 5);</li>
 *   <li>{@code read.ratio_vs_tmpfs}: sequential 64 KiB reads of a cached 16 MiB file, bytes per second,
 *       osvj over tmpfs (target at least 2);</li>
 *   <li>{@code readers.scaling_2}: two threads reading one cache-resident 1 MiB osvj file (own
 *       descriptors, 64 KiB preads) over one thread, bytes per second (per-vnode read/write lock;
 *       target at least 1.6 on 2 free cores).</li>
 * </ul>
 * Each figure is the median of several timed rounds after warm-up rounds that last until the figure
 * is steady (at least 2 s, at most 12 s). Both sides of {@code ops} do the same five calls per cycle
 * on the same 64 rotating names: open with O_CREAT read-write, write 4 KiB, read 4 KiB at offset 0,
 * close, unlink.
 */
public final class VfsBenchSuite implements BenchSuite {
    private static final int SMALL = 4096;
    private static final int CHUNK = 64 * 1024;
    private static final int BIG = 16 * 1024 * 1024;
    /** The reader-scaling file: small enough to stay in the CPU caches, so the figure shows locking, not DRAM bandwidth. */
    private static final int SHARED = 1024 * 1024;
    /** Least warm-up time per measured figure: 2 s. */
    private static final long WARMUP_NS = 2_000_000_000L;
    /** Most warm-up time per measured figure (6 figures: the quick suite stays under 2 minutes). */
    private static final long WARMUP_MAX_NS = 12_000_000_000L;

    @Override
    public String name() {
        return "vfs";
    }

    @Override
    public String description() {
        return "VFS: file ops and reads on ramfs vs the host's tmpfs (java.nio), reader scaling";
    }

    @Override
    public void run(final BenchContext bench) throws Exception {
        final boolean quick = bench.quick();
        final int rounds = quick ? 3 : 7;
        final Path shm = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : bench.workDir();
        final Path hostDir = Files.createTempDirectory(shm, "osvj-bench-vfs");
        try {
            final Vfs vfs = new Vfs(1024, 65536, KernelClock.SYSTEM);
            vfs.registerFileSystem(new RamFs());
            check(vfs.mount("ramfs", "none", "/", Map.of()));
            check(vfs.mkdir("/b", 0755));

            final int cycles = quick ? 20_000 : 100_000;
            bench.progress("ops: " + cycles + " create+write+read+unlink cycles x " + rounds + " rounds");
            final double osvjOps = median(rounds, () -> cycles / seconds(() -> osvjOps(vfs, cycles)));
            final double hostOps = median(rounds, () -> cycles / seconds(() -> hostOps(hostDir, cycles)));
            bench.metric("ops.ratio_vs_tmpfs", osvjOps / hostOps, "ratio", "higher",
                detail("osvj_ops_per_s", osvjOps, "tmpfs_ops_per_s", hostOps));

            final byte[] data = new byte[BIG];
            new java.util.Random(1).nextBytes(data);
            writeAll(vfs, "/b/big", data);
            final Path hostBig = hostDir.resolve("big");
            Files.write(hostBig, data);
            final int passes = quick ? 8 : 32;
            bench.progress("read: " + passes + " passes of 64 KiB reads over 16 MiB x " + rounds + " rounds");
            final double osvjRead = median(rounds, () -> (double)passes * BIG / seconds(() -> osvjRead(vfs, passes)));
            final double hostRead = median(rounds, () -> (double)passes * BIG / seconds(() -> hostRead(hostBig, passes)));
            bench.metric("read.ratio_vs_tmpfs", osvjRead / hostRead, "ratio", "higher",
                detail("osvj_bytes_per_s", osvjRead, "tmpfs_bytes_per_s", hostRead));

            writeAll(vfs, "/b/shared", Arrays.copyOf(data, SHARED));
            // Rounds of about 50-100 ms each (a 1 MiB file read at tens of GB/s), at least five of them.
            final int sharedPasses = quick ? 2048 : 4096;
            final int readerRounds = Math.max(5, rounds);
            bench.progress("readers: 1 and 2 threads reading one 1 MiB file x " + readerRounds + " rounds");
            final double one = median(readerRounds, () -> readers(vfs, 1, sharedPasses));
            final double two = median(readerRounds, () -> readers(vfs, 2, sharedPasses));
            bench.metric("readers.scaling_2", two / one, "ratio", "higher",
                detail("one_thread_bytes_per_s", one, "two_threads_bytes_per_s", two));
        } finally {
            try (var walk = Files.walk(hostDir)) {
                for (final Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static Map<String, Object> detail(final String k1, final double v1, final String k2, final double v2) {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        return m;
    }

    @FunctionalInterface
    private interface Work {
        void run() throws Exception;
    }

    @FunctionalInterface
    private interface Measure {
        double run() throws Exception;
    }

    private static double seconds(final Work w) throws Exception {
        final long t0 = System.nanoTime();
        w.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Warm-up rounds until the figure is steady, then the median of {@code rounds}. Steady means: at
     * least {@link #WARMUP_NS} spent and the last warm-up round within 15 % of the one before, or
     * {@link #WARMUP_MAX_NS} spent. By time and stability rather than by count, so that on a loaded
     * machine, where the JIT compiler threads get little CPU, the timed rounds still measure compiled
     * code on both sides (the kernel-heavy tmpfs side barely depends on it; the osvj side does).
     */
    private static double median(final int rounds, final Measure m) throws Exception {
        final long warmupStart = System.nanoTime();
        double previous = m.run();
        while (true) {
            final long spent = System.nanoTime() - warmupStart;
            if (spent >= WARMUP_MAX_NS) {
                break;
            }
            final double last = m.run();
            final boolean steady = Math.abs(last - previous) <= 0.15 * Math.max(last, previous);
            previous = last;
            if (steady && System.nanoTime() - warmupStart >= WARMUP_NS) {
                break;
            }
        }
        final double[] v = new double[rounds];
        for (int i = 0; i < rounds; i++) {
            v[i] = m.run();
        }
        Arrays.sort(v);
        return v[rounds / 2];
    }

    private static long check(final long r) {
        if (r < 0) {
            throw new IllegalStateException("vfs call failed: " + dev.osvj.kernel.Errno.fromResult(r));
        }
        return r;
    }

    private static void writeAll(final Vfs vfs, final String path, final byte[] data) {
        final int fd = (int)check(vfs.open(path, Posix.O_CREAT | Posix.O_WRONLY | Posix.O_TRUNC, 0644));
        int off = 0;
        while (off < data.length) {
            off += (int)check(vfs.write(fd, data, off, data.length - off));
        }
        vfs.close(fd);
    }

    private static void osvjOps(final Vfs vfs, final int cycles) {
        final byte[] buf = new byte[SMALL];
        final byte[] in = new byte[SMALL];
        for (int i = 0; i < cycles; i++) {
            final String name = "/b/f" + (i & 63);
            final int fd = (int)check(vfs.open(name, Posix.O_CREAT | Posix.O_RDWR, 0644));
            check(vfs.write(fd, buf, 0, SMALL));
            check(vfs.pread(fd, in, 0, SMALL, 0));
            vfs.close(fd);
            check(vfs.unlink(name));
        }
    }

    private static void hostOps(final Path dir, final int cycles) throws IOException {
        final ByteBuffer buf = ByteBuffer.allocate(SMALL);
        final ByteBuffer in = ByteBuffer.allocate(SMALL);
        for (int i = 0; i < cycles; i++) {
            final Path p = dir.resolve("f" + (i & 63));
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
                ch.write(buf.clear());
                ch.read(in.clear(), 0);
            }
            Files.delete(p);
        }
    }

    private static void osvjRead(final Vfs vfs, final int passes) {
        final ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        final int fd = (int)check(vfs.open("/b/big", Posix.O_RDONLY));
        for (int p = 0; p < passes; p++) {
            check(vfs.lseek(fd, 0, Posix.SEEK_SET));
            while (check(vfs.read(fd, buf.clear())) > 0) {
                // sequential
            }
        }
        vfs.close(fd);
    }

    private static void hostRead(final Path file, final int passes) throws IOException {
        final ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (int p = 0; p < passes; p++) {
                ch.position(0);
                while (ch.read(buf.clear()) > 0) {
                    // sequential
                }
            }
        }
    }

    /**
     * Bytes per second of {@code threads} threads each reading the whole file {@code passes} times with
     * pread. The clock is read inside the readers (earliest start to latest end): on a 2-core machine
     * a timing thread of its own would compete with them for a core and start or stop late.
     */
    private static double readers(final Vfs vfs, final int threads, final int passes) throws Exception {
        final CyclicBarrier start = new CyclicBarrier(threads);
        final long[] began = new long[threads];
        final long[] ended = new long[threads];
        final Thread[] ts = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            final int me = t;
            ts[t] = Thread.ofPlatform().start(() -> {
                final ByteBuffer buf = ByteBuffer.allocate(CHUNK);
                final int fd = (int)check(vfs.open("/b/shared", Posix.O_RDONLY));
                try {
                    start.await();
                    began[me] = System.nanoTime();
                    for (int p = 0; p < passes; p++) {
                        for (long at = 0; at < SHARED; at += CHUNK) {
                            check(vfs.pread(fd, buf.clear(), at));
                        }
                    }
                    ended[me] = System.nanoTime();
                } catch (final Exception e) {
                    throw new IllegalStateException(e);
                } finally {
                    vfs.close(fd);
                }
            });
        }
        for (final Thread t : ts) {
            t.join(); // join orders the readers' writes of began/ended before the reads below
        }
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        for (int t = 0; t < threads; t++) {
            first = Math.min(first, began[t]);
            last = Math.max(last, ended[t]);
        }
        final double s = (last - first) / 1e9;
        return (double)threads * passes * SHARED / s;
    }
}
