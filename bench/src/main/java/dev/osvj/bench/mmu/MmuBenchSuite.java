package dev.osvj.bench.mmu;

import dev.osvj.bench.BenchContext;
import dev.osvj.bench.BenchSuite;
import dev.osvj.mmu.Mman;
import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.mmu.phys.PlatformZeroer;
import dev.osvj.mmu.vm.AddressSpace;
import dev.osvj.mmu.vm.ThreadCpuBinding;
import dev.osvj.mmu.vm.Tlb;
import dev.osvj.mmu.vm.TlbShootdown;

import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/osvj bench mmu}: page faults, mmap/munmap latency and small-object malloc, each against
 * a Linux/glibc baseline (a C program built with gcc in the same run) and, for malloc, against the JDK's
 * own off-heap allocation ({@code Unsafe.allocateMemory}, {@code ByteBuffer.allocateDirect}). Both
 * sides do the same work (the C program's modes are described in {@code mmu_baseline.c}): the same
 * loops, sizes and seeds, one byte written per new page or block, and the best of the same number
 * of alternating rounds.
 *
 * <p>The osvj side runs the MMU standalone (guest RAM, page allocator, one-vCPU TLB and address space,
 * malloc) on the calling thread, bound to vCPU 0 as an application thread.
 *
 * <p>Page faults are measured twice. {@code faults.ratio_vs_linux} runs the kernel's default: a
 * 16 MiB zero pool filled by the idle zeroer ({@link PlatformZeroer}, a host thread standing for an
 * idle second vCPU), so a fault that finds a pre-zeroed frame does not zero on its path; its detail
 * says which share of the faults took a pooled frame and how much zeroer CPU time each fault cost
 * ({@code zeroer_cpu_ns_per_fault}: work moved, not removed). {@code faults.inline_zero_ratio_vs_linux}
 * disables the pool, so every fault zeroes its frame inline exactly as Linux's fault does: the
 * fault path alone. The pool is refilled (and the zeroer idle) before each Linux round starts, so
 * the zeroer never competes with the C program. Every round maps fresh addresses and faults in
 * every page on both sides. Each measurement takes the
 * best of several rounds after warm-up; ratios are computed so that the targets read directly
 * (faults: osvj/linux rate, higher better; mmap: osvj/linux latency, lower better; malloc: osvj/glibc
 * rate, higher better).
 */
public final class MmuBenchSuite implements BenchSuite {
    /** Alternating baseline/osvj rounds per metric; each side keeps its best. */
    private static final int PAIRS = 3;
    /** The kernel's default {@code osvj.mmu.zero-pool} (16M), in frames. */
    private static final int ZERO_POOL_FRAMES = 4096;

    @Override
    public String name() {
        return "mmu";
    }

    @Override
    public String description() {
        return "page faults, mmap/munmap and malloc vs Linux/glibc (C baseline) and the JDK";
    }

    @Override
    public void run(final BenchContext bench) throws Exception {
        final boolean quick = bench.quick();
        final Path baseline = buildBaseline(bench);
        final int faultPages = 16_384; // 64 MiB of 4 KiB pages
        final int rounds = quick ? 5 : 20;
        final long mmapIterations = quick ? 50_000 : 300_000;
        final long mallocOps = quick ? 5_000_000 : 30_000_000;

        final PhysicalMemory memory = PhysicalMemory.allocate(256L << 20);
        try {
            final PageAllocator frames = new PageAllocator(memory, 0);
            final ThreadCpuBinding cpus = new ThreadCpuBinding(1);
            final TlbShootdown shootdown = new TlbShootdown(new Tlb[] {new Tlb(0, 256)}, cpus, TimeUnit.SECONDS.toNanos(5));
            final AddressSpace space = new AddressSpace(memory, frames, shootdown, true);
            final Malloc malloc = new Malloc(memory, frames, cpus, 512);
            cpus.bind(0, true);

            // Each metric alternates the C baseline and osvj for PAIRS rounds and keeps each side's best,
            // so that a burst of load on the shared machine hits both sides alike.
            bench.progress("page faults (4 KiB)");
            final PlatformZeroer zeroer = new PlatformZeroer(frames, "mmu-bench-zeroer");
            frames.setZeroPoolCapacity(ZERO_POOL_FRAMES);
            faults(space, faultPages, rounds); // warm-up
            frames.setZeroPoolCapacity(0);
            faults(space, faultPages, rounds); // warm-up of the inline path
            double linuxFaults = 0;
            double osvjFaults = 0;
            double osvjInline = 0;
            long pooled = 0;
            long inline = 0;
            long zeroerNs = 0;
            for (int pair = 0; pair < PAIRS; pair++) {
                linuxFaults = Math.max(linuxFaults, Double.parseDouble(exec(baseline, "faults", faultPages, rounds)));
                osvjInline = Math.max(osvjInline, faults(space, faultPages, rounds));
                frames.setZeroPoolCapacity(ZERO_POOL_FRAMES);
                awaitFullPool(frames);
                final long hits0 = frames.zeroPoolHits();
                final long inline0 = frames.inlineZeroedPages();
                final long cpu0 = zeroer.cpuNanos();
                osvjFaults = Math.max(osvjFaults, faults(space, faultPages, rounds));
                pooled += frames.zeroPoolHits() - hits0;
                inline += frames.inlineZeroedPages() - inline0;
                // Refill what the rounds took (so the zeroer's CPU time below covers every pooled frame
                // they used: the pool is full before and after), then disable the pool: the Linux round
                // that follows runs with the zeroer idle.
                awaitFullPool(frames);
                zeroerNs += zeroer.cpuNanos() - cpu0;
                frames.setZeroPoolCapacity(0);
            }
            zeroer.close();
            bench.metric("faults.ratio_vs_linux", osvjFaults / linuxFaults, "ratio", "higher",
                Map.of("osvj_faults_per_s", osvjFaults, "linux_faults_per_s", linuxFaults,
                    "zero_pool_share", pooled / (double)Math.max(1, pooled + inline),
                    "zeroer_cpu_ns_per_fault", zeroerNs / (double)Math.max(1, pooled + inline),
                    "zero_pool_frames", ZERO_POOL_FRAMES));
            bench.metric("faults.inline_zero_ratio_vs_linux", osvjInline / linuxFaults, "ratio", "higher",
                Map.of("osvj_faults_per_s", osvjInline, "linux_faults_per_s", linuxFaults));

            bench.progress("mmap/touch/munmap of 4 KiB");
            mmapLoop(space, mmapIterations / 5);
            double linuxMmap = Double.MAX_VALUE;
            double osvjMmap = Double.MAX_VALUE;
            for (int pair = 0; pair < PAIRS; pair++) {
                linuxMmap = Math.min(linuxMmap, Double.parseDouble(exec(baseline, "mmap", mmapIterations, 1)));
                osvjMmap = Math.min(osvjMmap, mmapLoop(space, mmapIterations));
            }
            bench.metric("mmap_munmap.ratio_vs_linux", osvjMmap / linuxMmap, "ratio", "lower",
                Map.of("osvj_ns", osvjMmap, "linux_ns", linuxMmap));

            bench.progress("small-object malloc/free");
            // Like the C loop, every allocated block gets one byte written, through the same memory the
            // allocator handed out (guest RAM for osvj, native memory for Unsafe).
            final Alloc osvjAlloc = size -> {
                final long p = malloc.malloc(size);
                memory.putByte(PhysicalMemory.phys(p), (byte)1);
                return p;
            };
            mallocLoop(osvjAlloc, malloc::free, mallocOps / 5);
            double glibc = 0;
            double osvjMalloc = 0;
            for (int pair = 0; pair < PAIRS; pair++) {
                glibc = Math.max(glibc, Double.parseDouble(exec(baseline, "malloc", mallocOps, 42, 1)));
                osvjMalloc = Math.max(osvjMalloc, mallocLoop(osvjAlloc, malloc::free, mallocOps));
            }
            final sun.misc.Unsafe unsafe = unsafe();
            final Alloc unsafeAlloc = size -> {
                final long p = unsafe.allocateMemory(size);
                unsafe.putByte(p, (byte)1);
                return p;
            };
            mallocLoop(unsafeAlloc, unsafe::freeMemory, mallocOps / 5);
            final double unsafeRate = mallocLoop(unsafeAlloc, unsafe::freeMemory, mallocOps);
            final double directRate = directBuffers(mallocOps / 10);
            bench.metric("malloc.ratio_vs_glibc", osvjMalloc / glibc, "ratio", "higher",
                Map.of("osvj_ops_per_s", osvjMalloc, "glibc_ops_per_s", glibc));
            bench.metric("malloc.ratio_vs_unsafe", osvjMalloc / unsafeRate, "ratio", "higher",
                Map.of("osvj_ops_per_s", osvjMalloc, "unsafe_ops_per_s", unsafeRate, "allocate_direct_ops_per_s", directRate));
            cpus.unbind();
            malloc.close();
            space.close();
        } finally {
            memory.close();
        }
    }

    /** Faults per second: map, touch one byte per 4 KiB page (huge pages off), unmap; best round. */
    static double faults(final AddressSpace space, final int pages, final int rounds) {
        double best = 0;
        for (int r = 0; r < rounds; r++) {
            final long va = space.mmap(0, pages * 4096L, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS);
            check(va);
            check(space.madvise(va, pages * 4096L, Mman.MADV_NOHUGEPAGE));
            final long t0 = System.nanoTime();
            for (int i = 0; i < pages; i++) {
                space.putByte(va + i * 4096L, (byte)i);
            }
            final long ns = System.nanoTime() - t0;
            best = Math.max(best, pages * 1e9 / ns);
            check(space.munmap(va, pages * 4096L));
        }
        return best;
    }

    /**
     * Let the zeroer fill the pool (bounded: a stuck zeroer shows up as a low zero_pool_share). The
     * zeroer sleeps while the pool is more than half full, so it is kicked to top the pool up.
     */
    private static void awaitFullPool(final PageAllocator frames) {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (frames.zeroPoolWantsFrames() && System.nanoTime() < deadline) {
            frames.kickZeroer();
            Thread.yield();
        }
    }

    /** Nanoseconds per mmap + one write + munmap of a 4 KiB anonymous page. */
    static double mmapLoop(final AddressSpace space, final long iterations) {
        final long t0 = System.nanoTime();
        for (long i = 0; i < iterations; i++) {
            final long va = space.mmap(0, 4096, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS);
            space.putByte(va, (byte)1);
            space.munmap(va, 4096);
        }
        return (System.nanoTime() - t0) / (double)iterations;
    }

    interface Alloc {
        long alloc(long size);
    }

    interface Free {
        void free(long address);
    }

    /** The C program's loop: xorshift picks a slot of 1024; free it if taken, else malloc 8..1023 bytes. */
    static double mallocLoop(final Alloc alloc, final Free free, final long ops) {
        final long[] slot = new long[1024];
        long x = 42;
        final long t0 = System.nanoTime();
        for (long i = 0; i < ops; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            final int s = (int)(x & 1023);
            if (slot[s] != 0) {
                free.free(slot[s]);
                slot[s] = 0;
            } else {
                slot[s] = alloc.alloc(8 + ((x >>> 10) & 1015));
            }
        }
        final double rate = ops * 1e9 / (System.nanoTime() - t0);
        for (final long p : slot) {
            if (p != 0) {
                free.free(p);
            }
        }
        return rate;
    }

    private static double directBuffers(final long ops) {
        final ByteBuffer[] slot = new ByteBuffer[1024];
        long x = 42;
        final long t0 = System.nanoTime();
        for (long i = 0; i < ops; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            final int s = (int)(x & 1023);
            slot[s] = slot[s] != null ? null : ByteBuffer.allocateDirect((int)(8 + ((x >>> 10) & 1015)));
        }
        return ops * 1e9 / (System.nanoTime() - t0);
    }

    private static void check(final long rc) {
        if (rc < 0) {
            throw new IllegalStateException("mmu call failed: " + dev.osvj.kernel.Errno.fromResult(rc));
        }
    }

    private static sun.misc.Unsafe unsafe() throws ReflectiveOperationException {
        final var field = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
        field.setAccessible(true);
        return (sun.misc.Unsafe)field.get(null);
    }

    private static Path buildBaseline(final BenchContext bench) throws Exception {
        final Path source = bench.workDir().resolve("mmu_baseline.c");
        try (InputStream in = MmuBenchSuite.class.getResourceAsStream("mmu_baseline.c")) {
            if (in == null) {
                throw new IllegalStateException("mmu_baseline.c missing from the bench jar");
            }
            Files.write(source, in.readAllBytes());
        }
        final Path binary = bench.workDir().resolve("mmu_baseline");
        final Process gcc = new ProcessBuilder("gcc", "-O2", "-o", binary.toString(), source.toString())
            .redirectErrorStream(true).start();
        final String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (gcc.waitFor() != 0) {
            throw new IllegalStateException("gcc failed: " + out);
        }
        return binary;
    }

    private static String exec(final Path binary, final Object... args) throws Exception {
        final List<String> cmd = new java.util.ArrayList<>();
        cmd.add(binary.toString());
        for (final Object a : args) {
            cmd.add(String.valueOf(a));
        }
        final Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(cmd + " failed: " + out);
        }
        return out;
    }
}
