package dev.osvj.mmu;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.osvj.kernel.Services;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.testing.StandaloneKernel;
import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.mmu.vm.AddressSpace;
import dev.osvj.mmu.vm.ThreadCpuBinding;
import dev.osvj.mmu.vm.TlbShootdown;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.sched.KThread;
import dev.osvj.sched.SchedSubsystem;
import dev.osvj.sched.Scheduler;
import dev.osvj.sched.ThreadAttr;
import dev.osvj.sched.ThreadState;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MmuSubsystemTest {
    private static final ActorTestKit KIT = ActorTestKit.create();

    @AfterAll
    static void shutdown() {
        KIT.shutdownTestKit();
    }

    private static ConfigSpec spec() {
        final ConfigSpec spec = new ConfigSpec("osvj");
        new SchedSubsystem().declareConfig(spec);
        new MmuSubsystem().declareConfig(spec);
        return spec;
    }

    @Test
    void shouldBeFoundByServiceLoaderWithOrderAndPhase() {
        final List<String> names = new ArrayList<>();
        for (final Subsystem s : ServiceLoader.load(Subsystem.class)) {
            names.add(s.name());
            if (s.name().equals("mmu")) {
                assertEquals(Subsystem.Order.MMU, s.order());
                assertEquals("memory initialized", s.phase());
            }
        }
        assertTrue(names.contains("mmu"), names.toString());
    }

    @Test
    void shouldDeclareEveryReferenceConfKeyAndValidateIt() {
        final Config reference = ConfigFactory.load();
        final List<ConfigProblem> problems = spec().validate(reference);
        assertTrue(problems.isEmpty(), problems.toString());
        final ConfigSpec mine = new ConfigSpec("osvj");
        new MmuSubsystem().declareConfig(mine);
        for (final String key : mine.paths()) {
            assertTrue(reference.hasPath(key), "declared but missing from reference.conf: " + key);
        }
        final List<ConfigProblem> bad = spec().validate(ConfigFactory.parseString(
            "osvj.memory = 3M, osvj.mmu.tlb-entries = 100, osvj.mmu.backing = tmpfs, osvj.mmu.hugepages = true")
            .withFallback(reference));
        final String text = bad.toString();
        assertTrue(text.contains("osvj.memory"), text);
        assertTrue(text.contains("osvj.mmu.tlb-entries"), text);
        assertTrue(text.contains("osvj.mmu.backing"), text);
        assertTrue(text.contains("did you mean osvj.mmu.huge-pages"), text);
    }

    @Test
    void shouldBootPublishServicesRegisterFreeAndStop() throws Exception {
        final StandaloneKernel kernel = new StandaloneKernel("mmu-test", StandaloneKernel.config("osvj.memory = 64M, osvj.cpus = 2"));
        final MmuSubsystem mmu = new MmuSubsystem();
        kernel.bootOnActor(KIT, mmu);
        final Services services = kernel.services();
        final List<String> notes = kernel.notes();
        assertTrue(notes.get(0).startsWith("64 MiB RAM (anonymous), 16384 pages, huge pages on, 2 TLBs"), notes.toString());

        final AddressSpace space = services.require(AddressSpace.class);
        final ThreadCpuBinding cpus = services.require(ThreadCpuBinding.class);
        cpus.bind(0, false);
        try {
            final long va = space.mmap(0, 4096, Mman.PROT_READ | Mman.PROT_WRITE, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS);
            space.putLong(va, 1);
            // A kernel caller IPIs the other vCPU through its TLB actor and waits for the ack.
            assertEquals(0, space.munmap(va, 4096));
            assertEquals(1, services.require(TlbShootdown.class).ipisSent());
            final long p = services.require(Malloc.class).malloc(100);
            assertTrue(p != 0);

            final MemoryStats stats = services.require(MemoryStats.class);
            assertEquals(64L << 20, stats.totalBytes());
            assertTrue(stats.meminfo().startsWith("MemTotal:          65536 kB"), stats.meminfo());
            assertTrue(stats.freePageRanges().contains("KiB x"));

            final StandaloneKernel.CommandResult free = kernel.execute("free", "-m");
            assertEquals(0, free.status());
            final String out = free.output();
            assertTrue(out.contains("total"), out);
            assertTrue(out.matches("(?s).*Mem:\\s+64\\s+\\d+\\s+\\d+.*"), out);
            assertEquals(1, kernel.execute("free", "-x").status());
        } finally {
            cpus.unbind();
        }
        final PhysicalMemory memory = services.require(PhysicalMemory.class);
        mmu.stop(null);
        assertTrue(!memory.isOpen());
        final IllegalStateException late = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
            () -> memory.getLong(0));
        assertTrue(late.getMessage() != null);
    }

    @Test
    void shouldFillTheZeroPoolFromAnIdlePriorityKernelThread() throws Exception {
        final StandaloneKernel kernel = new StandaloneKernel("mmu-zeroer-test",
            StandaloneKernel.config("osvj.memory = 32M, osvj.cpus = 2, osvj.mmu.zero-pool = 1M"));
        final SchedSubsystem sched = new SchedSubsystem();
        final MmuSubsystem mmu = new MmuSubsystem();
        kernel.bootOnActor(KIT, sched);
        try {
            kernel.bootOnActor(KIT, mmu);
            final PageAllocator frames = kernel.services().require(PageAllocator.class);
            assertEquals(256, frames.zeroPoolCapacity());
            assertTrue(kernel.notes().stream().anyMatch(n -> n.contains("zero pool 1024 KiB") && !n.contains("not filled")),
                kernel.notes().toString());
            final Scheduler scheduler = kernel.services().require(Scheduler.class);
            final KThread zeroer = scheduler.threads().stream().filter(t -> t.name().equals("mmu-zeroer")).findFirst()
                .orElseThrow();
            assertEquals(ThreadAttr.PRIORITY_IDLE, zeroer.priority());
            // The vCPUs are idle, so the zeroer fills the pool and then blocks (other kernel code may
            // take a few frames afterwards: it refills only once the pool is half empty).
            awaitTrue(() -> frames.zeroPoolSize() > 128 && zeroer.state() == ThreadState.WAITING,
                () -> "pool filled: " + frames.zeroPoolSize() + " " + zeroer.state() + " " + frames.idleZeroedPages());
            final long idle = frames.idleZeroedPages();
            assertTrue(idle >= 256, "zeroed " + idle);
            // Draining it below half wakes the zeroer, which refills it.
            final long[] taken = new long[200];
            for (int i = 0; i < taken.length; i++) {
                taken[i] = frames.allocZeroedPage();
            }
            awaitTrue(() -> frames.idleZeroedPages() > idle && frames.zeroPoolSize() > 128
                    && zeroer.state() == ThreadState.WAITING,
                () -> "pool refilled: " + frames.zeroPoolSize() + " " + zeroer.state() + " " + frames.idleZeroedPages());
            for (final long pa : taken) {
                frames.freeOrder(pa, 0);
            }
            mmu.stop(null);
            assertEquals(ThreadState.TERMINATED, zeroer.state(), "stop ends the zeroer");
        } finally {
            sched.stop(kernel);
        }
    }

    /** Wait for a condition with a generous deadline (the machine may be loaded); fail with {@code what}. */
    private static void awaitTrue(final java.util.function.BooleanSupplier condition,
        final java.util.function.Supplier<String> what) {
        final long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting: " + what.get());
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    @Test
    void shouldBackGuestMemoryWithSharedFile() throws Exception {
        final Path file = Files.createTempFile("osvj-guest", ".ram");
        try {
            final Config config = ConfigFactory.parseString("osvj.memory = 16M, osvj.cpus = 1, osvj.mmu.backing = shared-file")
                .withValue("osvj.mmu.shared-file", ConfigValueFactory.fromAnyRef(file.toString()))
                .withFallback(ConfigFactory.load());
            final MmuSubsystem mmu = new MmuSubsystem();
            final StandaloneKernel kernel = new StandaloneKernel("mmu-test", config);
            kernel.bootOnActor(KIT, mmu);
            final Services services = kernel.services();
            final PhysicalMemory memory = services.require(PhysicalMemory.class);
            final long pa = services.require(dev.osvj.mmu.phys.PageAllocator.class).allocPage();
            memory.putLong(pa, 0x0123_4567_89AB_CDEFL);
            assertEquals(16L << 20, Files.size(file));
            // Another mapping of the file (another process would do the same) sees the bytes.
            try (var channel = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ)) {
                final var buffer = channel.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, pa, 8)
                    .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                assertEquals(0x0123_4567_89AB_CDEFL, buffer.getLong(0));
            }
            mmu.stop(null);
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
