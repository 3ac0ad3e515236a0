package dev.osvj.mmu;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSizes;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.trace.Tracepoints;
import dev.osvj.mmu.malloc.Malloc;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.mmu.vm.AddressSpace;
import dev.osvj.mmu.vm.PageFaultEvent;
import dev.osvj.mmu.vm.ThreadCpuBinding;
import dev.osvj.mmu.vm.Tlb;
import dev.osvj.mmu.vm.TlbActor;
import dev.osvj.mmu.vm.TlbShootdown;
import dev.osvj.mmu.vm.TlbShootdownEvent;
import dev.osvj.sched.KThread;
import dev.osvj.sched.Scheduler;
import dev.osvj.sched.ThreadAttr;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.io.File;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The memory subsystem ("memory initialized"): creates guest physical memory ({@code osvj.memory}),
 * the page-frame allocator, the address space with its linear map, one TLB and one {@link TlbActor}
 * per vCPU, and malloc; publishes them as services; registers the console's {@code free}.
 *
 * <p>Services provided: {@link PhysicalMemory}, {@link PageAllocator}, {@link AddressSpace},
 * {@link Malloc}, {@link MemoryStats}, {@link TlbShootdown}, and {@link VcpuTopology} when no earlier
 * subsystem provided one (then it is a {@link ThreadCpuBinding}, where threads declare their vCPU).
 */
public final class MmuSubsystem implements Subsystem {
    /** Frames per zeroIdle call of the idle zeroer between preemption points (about 30 us of work). */
    private static final int ZEROER_STEP = 64;
    private static final long MIB = 1L << 20;

    private volatile PhysicalMemory memory;
    private volatile AddressSpace space;
    private volatile Malloc malloc;
    private volatile KThread zeroer;
    private volatile boolean zeroerStopped;
    private volatile boolean zeroerKicked;

    @Override
    public String name() {
        return "mmu";
    }

    @Override
    public int order() {
        return Order.MMU;
    }

    @Override
    public String phase() {
        return "memory initialized";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        spec.rule("osvj.memory", MmuSubsystem::checkMemory);
        spec.oneOf("osvj.mmu.backing", "anonymous", "shared-file");
        spec.string("osvj.mmu.shared-file");
        spec.bool("osvj.mmu.huge-pages");
        spec.integer("osvj.mmu.low-watermark-percent", 0, 50);
        spec.rule("osvj.mmu.tlb-entries", (c, p, shown, out) -> {
            final Object raw = c.getValue(p).unwrapped();
            final long n = raw instanceof Integer || raw instanceof Long ? ((Number)raw).longValue() : -1;
            if (n < 1 || n > 4096 || Long.bitCount(n) != 1) {
                out.add(new ConfigProblem(shown, "expected a power of two 1..4096, got " + ConfigSpec.show(c.getValue(p))));
            }
        });
        spec.duration("osvj.mmu.shootdown-timeout", Duration.ofMillis(100), Duration.ofMinutes(5));
        spec.integer("osvj.mmu.malloc-l1-pages", 16, 65536);
        spec.bytes("osvj.mmu.zero-pool", 0, 64L << 30);
    }

    private static void checkMemory(final Config c, final String path, final String shown,
        final java.util.List<ConfigProblem> out) {
        final String expected = "expected a size in bytes such as 512M, a multiple of 2M, 8M..64G";
        try {
            final long n = c.getBytes(path);
            if (n < 8 * MIB || n > (64L << 30) || n % (2 * MIB) != 0) {
                out.add(new ConfigProblem(shown, expected + ", got " + ConfigSpec.show(c.getValue(path))));
            }
        } catch (final ConfigException.WrongType | ConfigException.BadValue e) {
            out.add(new ConfigProblem(shown, expected + ", got " + ConfigSpec.show(c.getValue(path))));
        }
    }

    @Override
    public void declareTracepoints(final Tracepoints tracepoints) {
        tracepoints.declare(PageFaultEvent.class);
        tracepoints.declare(TlbShootdownEvent.class);
    }

    @Override
    public void boot(final BootContext context) throws Exception {
        final Config config = context.config();
        final long size = ConfigSizes.bytes(config, "osvj.memory");
        final int cpus = config.getInt("osvj.cpus");
        final String backing = config.getString("osvj.mmu.backing");
        if ("shared-file".equals(backing)) {
            final String path = config.getString("osvj.mmu.shared-file");
            if (path.isBlank()) {
                throw new IllegalArgumentException("osvj.mmu.shared-file: needed when osvj.mmu.backing = shared-file");
            }
            memory = PhysicalMemory.mapFile(new File(path), size);
        } else {
            memory = PhysicalMemory.allocate(size);
        }
        final PageAllocator frames = new PageAllocator(memory, size * config.getInt("osvj.mmu.low-watermark-percent") / 100);
        final long zeroPool = Math.min(ConfigSizes.bytes(config, "osvj.mmu.zero-pool"), size / 4);
        frames.setZeroPoolCapacity((int)(zeroPool / AddressSpace.PAGE_SIZE));
        final Scheduler scheduler = context.services().find(Scheduler.class).orElse(null);
        if (zeroPool > 0 && scheduler != null) {
            startZeroer(scheduler, frames);
        }
        final VcpuTopology topology = context.services().find(VcpuTopology.class).orElse(null);
        final VcpuTopology cpuView;
        if (topology == null) {
            final ThreadCpuBinding binding = new ThreadCpuBinding(cpus);
            context.services().provide(VcpuTopology.class, binding);
            context.services().provide(ThreadCpuBinding.class, binding);
            cpuView = binding;
        } else {
            cpuView = topology;
        }
        final int tlbEntries = config.getInt("osvj.mmu.tlb-entries");
        final Tlb[] tlbs = new Tlb[cpuView.cpus()];
        @SuppressWarnings("unchecked")
        final ActorRef<TlbActor.Command>[] actors = new ActorRef[tlbs.length];
        for (int i = 0; i < tlbs.length; i++) {
            tlbs[i] = new Tlb(i, tlbEntries);
            actors[i] = context.actorContext().spawn(
                Behaviors.supervise(TlbActor.create(tlbs[i])).onFailure(SupervisorStrategy.restart()), "tlb-" + i);
        }
        final TlbShootdown shootdown = new TlbShootdown(tlbs, cpuView, config.getDuration("osvj.mmu.shootdown-timeout").toNanos());
        shootdown.setDoorbell(cpu -> actors[cpu].tell(TlbActor.Ipi.INSTANCE));
        space = new AddressSpace(memory, frames, shootdown, config.getBoolean("osvj.mmu.huge-pages"));
        malloc = new Malloc(memory, frames, cpuView, config.getInt("osvj.mmu.malloc-l1-pages"));
        final MemoryStats stats = new MemoryStats(frames, space, malloc, shootdown);
        context.services().provide(PhysicalMemory.class, memory);
        context.services().provide(PageAllocator.class, frames);
        context.services().provide(TlbShootdown.class, shootdown);
        context.services().provide(AddressSpace.class, space);
        context.services().provide(Malloc.class, malloc);
        context.services().provide(MemoryStats.class, stats);
        context.commands().register(new FreeCommand(stats));
        context.note(String.format("%d MiB RAM (%s), %d pages, huge pages %s, %d TLBs of %d entries, zero pool %d KiB%s",
            size / MIB, memory.backing(), size / AddressSpace.PAGE_SIZE,
            config.getBoolean("osvj.mmu.huge-pages") ? "on" : "off", tlbs.length, tlbEntries, zeroPool >> 10,
            zeroPool > 0 && zeroer == null ? " (no scheduler: not filled)" : ""));
    }

    /**
     * The idle page zeroer: an idle-priority kernel thread (it only runs on a vCPU with nothing else
     * runnable) that fills the allocator's zero pool and blocks while the pool is more than half
     * full; allocations that drain it wake the thread.
     */
    private void startZeroer(final Scheduler scheduler, final PageAllocator frames) {
        final KThread t = scheduler.newThread(
            new ThreadAttr("mmu-zeroer", -1, ThreadAttr.PRIORITY_IDLE, 0, false), () -> zeroerLoop(frames));
        frames.setZeroerWakeup(() -> {
            zeroerKicked = true;
            t.wake();
        });
        zeroer = t;
        t.start();
    }

    private void zeroerLoop(final PageAllocator frames) {
        try {
            while (!zeroerStopped) {
                if (frames.zeroIdle(ZEROER_STEP) > 0) {
                    KThread.preemptionPoint();
                    continue;
                }
                zeroerKicked = false; // a kick after this is seen by the wait below
                if (frames.zeroerMayBlock() && !zeroerStopped) {
                    KThread.waitUntil(() -> zeroerKicked || zeroerStopped);
                }
            }
        } catch (final IllegalStateException e) {
            // Guest RAM closed under us at shutdown: nothing left to zero.
        }
    }

    /** Unmaps everything and releases guest RAM; later accesses throw instead of crashing. */
    @Override
    public void stop(final KernelContext context) {
        final KThread z = zeroer;
        if (z != null) {
            zeroerStopped = true;
            zeroerKicked = true;
            z.wake();
            z.join(TimeUnit.SECONDS.toNanos(10));
        }
        final Malloc m = malloc;
        if (m != null) {
            m.close();
        }
        final AddressSpace s = space;
        if (s != null) {
            s.close();
        }
        final PhysicalMemory mem = memory;
        if (mem != null) {
            mem.close();
        }
    }
}
