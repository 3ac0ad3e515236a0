package dev.osvj.virtio;

import com.typesafe.config.Config;
import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSizes;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.pcap.PcapWriter;
import dev.osvj.mmu.phys.PageAllocator;
import dev.osvj.mmu.phys.PhysicalMemory;
import dev.osvj.virtio.blk.FileImageBackend;
import dev.osvj.virtio.blk.VirtioBlkDevice;
import dev.osvj.virtio.blk.VirtioBlkDriver;
import dev.osvj.virtio.fs.VirtioFsDevice;
import dev.osvj.virtio.fs.VirtioFsDriver;
import dev.osvj.virtio.net.DgramTransport;
import dev.osvj.virtio.net.FrameTransport;
import dev.osvj.virtio.net.PcapTransport;
import dev.osvj.virtio.net.PluggableTransport;
import dev.osvj.virtio.net.StreamTransport;
import dev.osvj.virtio.net.TapTransport;
import dev.osvj.virtio.net.VirtioNet;
import dev.osvj.virtio.net.VirtioNetDevice;
import dev.osvj.virtio.net.VirtioNetDriver;
import dev.osvj.virtio.remote.RemoteTransport;
import dev.osvj.virtio.rng.VirtioRngDevice;
import dev.osvj.virtio.rng.VirtioRngDriver;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The virtio subsystem ("drivers loaded"): creates the devices of {@code osvj.devices} with their
 * backends (the "hypervisor" side: file images, frame transports, an entropy source, or a backend
 * process), binds a driver to each, gives each driver an {@link InterruptActor} for its interrupts,
 * runs the in-process backends on one {@link DeviceAgent} thread, publishes {@link VirtioDevices},
 * and registers {@code lsdev}.
 *
 * <p>Guest memory comes from the memory subsystem's {@link PhysicalMemory} and {@link PageAllocator}
 * services; when they are absent (virtio booted without actors-mmu) it allocates
 * {@code osvj.virtio.fallback-memory} of its own. With no devices configured (the default) it only
 * publishes an empty registry.
 */
public final class VirtioSubsystem implements Subsystem {
    private volatile AgentRunner runner;
    private volatile List<VirtioDevices.Entry> entries = List.of();
    private volatile PhysicalMemory ownMemory;

    @Override
    public String name() {
        return "virtio";
    }

    @Override
    public int order() {
        return Order.VIRTIO;
    }

    @Override
    public String phase() {
        return "drivers loaded";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        spec.rule("osvj.devices", DeviceConfig::check);
        spec.rule("osvj.virtio.queue-size", VirtioSubsystem::checkQueueSize);
        spec.integer("osvj.virtio.rx-refill-threshold", 1, 32768);
        spec.rule("osvj.virtio.net-queue-size", VirtioSubsystem::checkQueueSize);
        spec.oneOf("osvj.virtio.idle-strategy", "backoff", "yield", "spin");
        spec.duration("osvj.virtio.idle-max-park", Duration.ofNanos(1000), Duration.ofSeconds(1));
        spec.bytes("osvj.virtio.fallback-memory", 2L << 20, 1L << 30);
    }

    /** A queue-size key: a power of two 2..32768 (the split ring's limits). */
    private static void checkQueueSize(final Config c, final String p, final String shown, final List<ConfigProblem> out) {
        final Object raw = c.getValue(p).unwrapped();
        final long n = raw instanceof Integer || raw instanceof Long ? ((Number)raw).longValue() : -1;
        if (n < 2 || n > 32768 || Long.bitCount(n) != 1) {
            out.add(new ConfigProblem(shown, "expected a power of two 2..32768, got " + ConfigSpec.show(c.getValue(p))));
        }
    }

    @Override
    public void boot(final BootContext context) throws Exception {
        final Config config = context.config();
        final List<DeviceConfig> devices = DeviceConfig.parse(config);
        final GuestMemory guest = guestMemory(context, config);
        final int queueSize = config.getInt("osvj.virtio.queue-size");
        final DeviceAgent agent = new DeviceAgent(context.name() + "-virtio-backend");
        final List<VirtioDevices.Entry> created = new ArrayList<>();
        int nets = 0;
        int blks = 0;
        int rngs = 0;
        int fss = 0;
        try {
            for (final DeviceConfig d : devices) {
                final String name = !d.name().isEmpty() ? d.name()
                    : switch (d.type()) {
                        case "net" -> "eth" + nets;
                        case "blk" -> "vblk" + blks;
                        case "fs" -> "vfs" + fss;
                        default -> "rng" + rngs;
                    };
                final VirtioDevices.Entry e = switch (d.type()) {
                    case "net" -> net(context, d, name, nets++, guest, queueSize, agent);
                    case "blk" -> blk(context, d, name, blks++, guest, queueSize, agent);
                    case "fs" -> {
                        fss++;
                        yield fs(context, d, name, guest, queueSize, agent);
                    }
                    default -> rng(context, d, name, rngs++, guest, queueSize, agent);
                };
                created.add(e);
                context.note("virtio: " + name + " " + e.type().label() + " (" + e.transport().location() + "): "
                    + e.driver().summary());
            }
        } catch (final Exception | Error e) {
            for (final VirtioDevices.Entry c : created) {
                c.driver().close();
                c.transport().close();
            }
            throw e;
        }
        entries = List.copyOf(created);
        if (!created.isEmpty() && created.stream().anyMatch(e -> e.transport() instanceof VirtioDevice)) {
            runner = DeviceAgent.start(agent, idleStrategy(config, agent));
        }
        final VirtioDevices registry = new VirtioDevices(created);
        context.services().provide(VirtioDevices.class, registry);
        context.commands().register(new LsdevCommand(registry));
        if (created.isEmpty()) {
            context.note("virtio: no devices");
        }
    }

    private GuestMemory guestMemory(final BootContext context, final Config config) {
        final PhysicalMemory memory = context.services().find(PhysicalMemory.class).orElse(null);
        final PageAllocator frames = context.services().find(PageAllocator.class).orElse(null);
        if (memory != null && frames != null) {
            return new GuestMemory(memory, frames);
        }
        final long size = ConfigSizes.bytes(config, "osvj.virtio.fallback-memory") / PhysicalMemory.HUGE_PAGE_SIZE
            * PhysicalMemory.HUGE_PAGE_SIZE;
        ownMemory = PhysicalMemory.allocate(Math.max(size, PhysicalMemory.HUGE_PAGE_SIZE));
        context.log().append("warn", "virtio", "no PhysicalMemory/PageAllocator service: using "
            + (ownMemory.size() >> 20) + " MiB of its own for device memory");
        return new GuestMemory(ownMemory, new PageAllocator(ownMemory, 0));
    }

    static IdleStrategy idleStrategy(final Config config, final DeviceAgent agent) {
        return switch (config.getString("osvj.virtio.idle-strategy")) {
            case "spin" -> new BusySpinIdleStrategy();
            case "yield" -> new YieldingIdleStrategy();
            default -> new PollingAwareBackoff(config.getDuration("osvj.virtio.idle-max-park").toNanos(), agent::needsPolling);
        };
    }

    /** The longest park of an idle backend whose devices are all told about their work (no polling needed). */
    static final long UNPOLLED_MAX_PARK_NANOS = 100_000_000L;

    /**
     * Agrona's backoff (spin, yield, park from 1 us doubling up to a limit), whose limit is {@code idle-max-park}
     * while a device needs polling and {@value #UNPOLLED_MAX_PARK_NANOS} ns otherwise: such a backend (every device
     * a vswitch port cut through by a switch in this JVM, or a {@code user} gateway device) is woken by each kick
     * and each frame its transport leaves for it, so a
     * timed poll only wakes a core for nothing and takes it from the kernels' carriers.
     */
    static final class PollingAwareBackoff implements IdleStrategy {
        private final BackoffIdleStrategy polled;
        private final BackoffIdleStrategy unpolled;
        private final java.util.function.BooleanSupplier needsPolling;

        PollingAwareBackoff(final long maxParkNanos, final java.util.function.BooleanSupplier needsPolling) {
            this.polled = new BackoffIdleStrategy(100, 10, 1000, maxParkNanos);
            this.unpolled = new BackoffIdleStrategy(100, 10, 1000, Math.max(maxParkNanos, UNPOLLED_MAX_PARK_NANOS));
            this.needsPolling = needsPolling;
        }

        BackoffIdleStrategy current() {
            return needsPolling.getAsBoolean() ? polled : unpolled;
        }

        @Override
        public void idle(final int workCount) {
            if (workCount > 0) {
                reset();
            } else {
                current().idle();
            }
        }

        @Override
        public void idle() {
            current().idle();
        }

        @Override
        public void reset() {
            polled.reset();
            unpolled.reset();
        }

        @Override
        public String alias() {
            return "backoff";
        }
    }

    private VirtioDevices.Entry wire(final BootContext context, final DeviceConfig d, final String name,
        final VirtioDriver driver, final VirtioTransport transport, final PluggableTransport pluggable) {
        final AtomicLong handled = new AtomicLong();
        final ActorRef<InterruptActor.Command> irq = context.actorContext().spawn(
            Behaviors.supervise(InterruptActor.create(driver, handled)).onFailure(SupervisorStrategy.restart()),
            "irq-" + name);
        driver.interruptLine(inlineInterrupts(d)
            ? new InterruptLine(irq, transport.queueCount(), driver, handled,
                context.services().find(dev.osvj.sched.Scheduler.class).orElse(null))
            : new InterruptLine(irq, transport.queueCount(), null, handled));
        return new VirtioDevices.Entry(name, transport.type(), driver, transport, handled, d.backend(), d.options(), pluggable);
    }

    /**
     * Whether device {@code d}'s driver gets inline interrupts: a net device's {@code interrupts} key;
     * {@code auto} = inline for backend vswitch (raised by the switch's host threads), else the JVM-wide
     * {@link InterruptLine#inlineByDefault()}.
     */
    static boolean inlineInterrupts(final DeviceConfig d) {
        if (!"net".equals(d.type()) || !d.options().hasPath("interrupts")) {
            return InterruptLine.inlineByDefault();
        }
        return switch (d.options().getString("interrupts")) {
            case "inline" -> true;
            case "actor" -> false;
            default -> InterruptLine.inlineByDefault() || "vswitch".equals(d.backend());
        };
    }

    private VirtioDevices.Entry net(final BootContext context, final DeviceConfig d, final String name, final int index,
        final GuestMemory guest, final int queueSize, final DeviceAgent agent) throws Exception {
        final Config o = d.options();
        PluggableTransport pluggable = null;
        FrameTransport wire = switch (d.backend()) {
            case "stream" -> StreamTransport.connect(o.getString("address"));
            case "dgram" -> DgramTransport.open(o.getString("local"), o.getString("remote"));
            case "tap" -> TapTransport.open(o.getString("ifname"),
                o.getString("netns").isEmpty() || o.getString("netns").startsWith("/") ? o.getString("netns")
                    : "/var/run/netns/" + o.getString("netns"), o.getBoolean("offload"));
            default -> pluggable = new PluggableTransport(name + " " + d.backend()); // user, vswitch: attached later
        };
        if (!o.getString("pcap").isEmpty()) {
            wire = new PcapTransport(wire, new PcapWriter(Path.of(o.getString("pcap")), 65_535), true,
                () -> context.clock().realtimeNanos());
        }
        final PcapWriter kernelPcap = context.services().find(PcapWriter.class).orElse(null);
        if (kernelPcap != null) {
            wire = new PcapTransport(wire, kernelPcap, false, () -> context.clock().realtimeNanos());
        }
        final byte[] mac = !o.getString("mac").isEmpty() ? VirtioNet.parseMac(o.getString("mac"))
            : "vswitch".equals(d.backend()) ? switchMac(context.name(), name)
            : new byte[] {0x52, 0x54, 0x00, 0x12, 0x34, (byte)(0x56 + index)};
        final int netQueueSize = context.config().getInt("osvj.virtio.net-queue-size");
        final VirtioNetDevice device = new VirtioNetDevice(guest.segment(), wire, mac, o.getInt("mtu"), netQueueSize);
        agent.add(device);
        final VirtioNetDriver driver = new VirtioNetDriver(name, device, guest, netQueueSize, netQueueSize,
            context.config().getInt("osvj.virtio.rx-refill-threshold"));
        return wire(context, d, name, driver, device, pluggable);
    }

    /**
     * The default MAC of a device on a virtual switch, where many instances share one L2 segment and
     * QEMU's 52:54:00:12:34:56 would collide: 52:54 then 32 bits of a hash of the instance's and the
     * device's names (a locally administered unicast address; distinct names collide with
     * probability about n^2 / 2^33 for n instances).
     */
    static byte[] switchMac(final String instance, final String device) {
        final int h = java.util.Arrays.hashCode((instance + "/" + device).getBytes(java.nio.charset.StandardCharsets.UTF_8))
            * 0x9E3779B1;
        return new byte[] {0x52, 0x54, (byte)(h >>> 24), (byte)(h >>> 16), (byte)(h >>> 8), (byte)h};
    }

    private VirtioDevices.Entry blk(final BootContext context, final DeviceConfig d, final String name, final int index,
        final GuestMemory guest, final int queueSize, final DeviceAgent agent) throws Exception {
        final Config o = d.options();
        final Path image = Path.of(o.getString("path"));
        final boolean ro = o.getBoolean("read-only");
        final VirtioTransport transport;
        if ("child-jvm".equals(o.getString("process"))) {
            final String backing = guest.physical().backing();
            if (!backing.startsWith("shared file ")) {
                throw new IllegalArgumentException(name + ": process = child-jvm needs guest memory in a shared file "
                    + "(osvj.mmu.backing = shared-file); memory is " + backing);
            }
            transport = RemoteTransport.launchBlk(new File(backing.substring("shared file ".length())),
                guest.physical().size(), image, ro, queueSize);
        } else {
            final VirtioBlkDevice device = new VirtioBlkDevice(guest.segment(), FileImageBackend.open(name, image, ro),
                queueSize, 32, 128 * 1024);
            agent.add(device);
            transport = device;
        }
        return wire(context, d, name, new VirtioBlkDriver(name, transport, guest, queueSize), transport, null);
    }

    private VirtioDevices.Entry fs(final BootContext context, final DeviceConfig d, final String name,
        final GuestMemory guest, final int queueSize, final DeviceAgent agent) throws Exception {
        final VirtioFsDevice device = new VirtioFsDevice(guest.segment(), d.options().getString("tag"),
            Path.of(d.options().getString("path")), queueSize);
        agent.add(device);
        return wire(context, d, name, new VirtioFsDriver(name, device, guest, queueSize), device, null);
    }

    private VirtioDevices.Entry rng(final BootContext context, final DeviceConfig d, final String name, final int index,
        final GuestMemory guest, final int queueSize, final DeviceAgent agent) {
        final VirtioRngDevice device = new VirtioRngDevice(guest.segment(), dev.osvj.kernel.HostEntropy.shared(), Math.min(queueSize, 64));
        agent.add(device);
        return wire(context, d, name, new VirtioRngDriver(name, device, guest, queueSize), device, null);
    }

    /** Reset every device (drivers first), stop the backend thread, close backends and transports. */
    @Override
    public void stop(final KernelContext context) {
        for (final VirtioDevices.Entry e : entries) {
            try {
                e.driver().close();
            } catch (final RuntimeException ex) {
                context.log().append("warn", "virtio", e.name() + ": reset at stop failed: " + ex.getMessage());
            }
        }
        final AgentRunner r = runner;
        if (r != null) {
            r.close();
        }
        for (final VirtioDevices.Entry e : entries) {
            e.transport().close();
        }
        entries = List.of();
        final PhysicalMemory own = ownMemory;
        if (own != null) {
            own.close();
        }
    }
}
