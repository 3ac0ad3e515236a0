package dev.osvj.vswitch;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import dev.osvj.kernel.BootContext;
import dev.osvj.kernel.KernelContext;
import dev.osvj.kernel.Subsystem;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSizes;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.kernel.console.ConsoleCommand;
import dev.osvj.kernel.console.Terminal;
import dev.osvj.sched.DirectedYield;
import dev.osvj.virtio.VirtioDevices;
import dev.osvj.virtio.net.PluggableTransport;
import io.aeron.Aeron;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Puts the instance on virtual switches ("switch ports joined"), between virtio (which creates the
 * devices) and the network stack (which opens them):
 *
 * <ul>
 *   <li>starts the switches of {@code osvj.vswitch.switches} on a {@link SwitchHost} of its own;</li>
 *   <li>for every virtio-net device with {@code backend = vswitch}, joins the named switch with a
 *       {@link SwitchPort} and plugs it into the device's {@link PluggableTransport}: through the
 *       switch's own media driver when it runs in this JVM, through the driver at {@code aeron-dir}
 *       for {@code channel = aeron:ipc}, or through a media driver of its own for
 *       {@code channel = aeron:udp?endpoint=...};</li>
 *   <li>registers the {@code vswitch} console command (switches of this JVM, their ports and counters).</li>
 * </ul>
 *
 * <p>Ports are closed by virtio when it stops (it closes the transports after stopping the device
 * thread, so no frame is in flight). Hosted switches stop when this subsystem stops; a media driver
 * and client (hosted, or started only to reach a switch over UDP) stay until the last port using them
 * has closed, so a device thread never polls a closed client.
 */
public final class VSwitchSubsystem implements Subsystem {
    /** After {@link Order#VIRTIO} and the net glue (450), before {@link Order#NET}. */
    static final int ORDER = 460;
    private static final Map<String, Object> SWITCH_DEFAULTS = Map.of("udp", "", "mtu", 1500, "ageing", "300s", "dhcp", "");

    private volatile SwitchHost hosted;
    /** The scheduler whose halt wait this subsystem installed ({@code osvj.vswitch.vcpu-park}), or null. */
    private volatile dev.osvj.sched.Scheduler parked;

    @Override
    public String name() {
        return "vswitch";
    }

    @Override
    public int order() {
        return ORDER;
    }

    @Override
    public String phase() {
        return "switch ports joined";
    }

    @Override
    public void declareConfig(final ConfigSpec spec) {
        spec.rule("osvj.vswitch.switches", VSwitchSubsystem::checkSwitches);
        spec.rule("osvj.vswitch.term-length", (c, p, shown, out) -> {
            final long n = ConfigSizes.bytes(c, p); // not getBytes: three internal exceptions per boot
            if (n < 64 * 1024 || n > 1L << 30 || Long.bitCount(n) != 1) {
                out.add(new ConfigProblem(shown, "expected a power of two 64K..1G, got " + ConfigSpec.show(c.getValue(p))));
            }
        });
        spec.duration("osvj.vswitch.idle-max-park", Duration.ofNanos(1_000), Duration.ofMillis(100));
        spec.bool("osvj.vswitch.cut-through");
        spec.oneOf("osvj.vswitch.inline-transmit", "off", "host-threads", "all");
        spec.bool("osvj.vswitch.defer-interrupts");
        spec.bool("osvj.vswitch.vcpu-park");
        spec.oneOf("osvj.vswitch.directed-yield", "switch", "idle", "off");
        spec.duration("osvj.vswitch.directed-yield-delay", Duration.ZERO, Duration.ofMillis(10));
    }

    private static void checkSwitches(final Config config, final String path, final String shown, final List<ConfigProblem> out) {
        final ConfigValue v = config.getValue(path);
        if (!(v instanceof com.typesafe.config.ConfigList list)) {
            out.add(new ConfigProblem(shown, "expected a list of switch objects, got " + ConfigSpec.show(v)));
            return;
        }
        final ConfigSpec element = new ConfigSpec("").string("name").string("udp").integer("mtu", 68, 65_535)
            .duration("ageing", Duration.ofSeconds(1), Duration.ofDays(1)).string("dhcp");
        for (int i = 0; i < list.size(); i++) {
            final String at = shown + "[" + i + "]";
            if (!(list.get(i) instanceof ConfigObject obj)) {
                out.add(new ConfigProblem(at, "expected a switch object {name = ..., udp = ...}, got " + ConfigSpec.show(list.get(i))));
                continue;
            }
            final Config e = obj.toConfig().withFallback(ConfigFactory.parseMap(SWITCH_DEFAULTS));
            if (!e.hasPath("name")) {
                out.add(new ConfigProblem(at + ".name", "missing; every switch needs a name"));
                continue;
            }
            final List<ConfigProblem> shape = element.validate(e);
            shape.forEach(p -> out.add(new ConfigProblem(at + "." + p.path(), p.message())));
            if (shape.isEmpty() && !e.getString("name").matches("[A-Za-z0-9_.-]{1,64}")) {
                out.add(new ConfigProblem(at + ".name", "expected 1..64 of letters, digits, - _ ., got \"" + e.getString("name") + "\""));
            }
            if (shape.isEmpty() && !e.getString("udp").isEmpty() && !e.getString("udp").matches(".+:\\d{1,5}")) {
                out.add(new ConfigProblem(at + ".udp", "expected HOST:PORT, got \"" + e.getString("udp") + "\""));
            }
            if (shape.isEmpty() && !e.getString("dhcp").isEmpty()) {
                try {
                    new SwitchDhcp(e.getString("dhcp"), 1);
                } catch (final RuntimeException bad) {
                    out.add(new ConfigProblem(at + ".dhcp", "expected a subnet such as 10.0.1.0/24 (prefix 8..30), got \""
                        + e.getString("dhcp") + "\""));
                }
            }
        }
    }

    /** The switch host options of an instance that hosts switches (package-private: tests). */
    static SwitchHost.Options hostOptions(final Config config) {
        return new SwitchHost.Options(null, (int)ConfigSizes.bytes(config, "osvj.vswitch.term-length"),
            config.getDuration("osvj.vswitch.idle-max-park"), config.getBoolean("osvj.vswitch.cut-through"), true,
            SwitchHost.InlineTransmit.ofConfig(config.getString("osvj.vswitch.inline-transmit")),
            config.getBoolean("osvj.vswitch.defer-interrupts"));
    }

    @Override
    public void boot(final BootContext context) {
        final Config config = context.config();
        final List<? extends Config> switches = config.getConfigList("osvj.vswitch.switches");
        if (!switches.isEmpty()) {
            final SwitchHost host = SwitchHost.start(hostOptions(config));
            hosted = host;
            for (final Config s : switches) {
                final Config e = s.withFallback(ConfigFactory.parseMap(SWITCH_DEFAULTS));
                final VSwitch sw = host.startSwitch(new SwitchSpec(e.getString("name"), e.getString("udp"), e.getInt("mtu"),
                    e.getDuration("ageing"), 1024, 65_536, e.getString("dhcp")));
                context.note("vswitch: switch " + sw.name() + " on aeron:ipc"
                    + (e.getString("udp").isEmpty() ? "" : " and aeron:udp " + e.getString("udp"))
                    + (e.getString("dhcp").isEmpty() ? "" : ", dhcp " + e.getString("dhcp")));
            }
        }
        context.services().find(VirtioDevices.class).ifPresent(devices -> {
            if (config.getBoolean("osvj.vswitch.vcpu-park") && !devices.pluggableOf("vswitch").isEmpty()) {
                context.services().find(dev.osvj.sched.Scheduler.class).ifPresent(s -> {
                    final String when = config.getString("osvj.vswitch.directed-yield");
                    final boolean yield = !"off".equals(when);
                    final dev.osvj.sched.HaltWait wait = yield
                        ? DirectedYield.shared(DirectedYield.When.of(when), config.getDuration("osvj.vswitch.directed-yield-delay"))
                        : new ParkHaltWait();
                    if (s.installHaltWait(wait)) { // idle vCPUs park their carriers (ParkHaltWait, DirectedYield)
                        parked = s;
                        context.note(yield ? "vswitch: idle vCPUs park their carriers and run the vCPUs they woke"
                            + " (vcpu-park, directed-yield = " + when + ")" : "vswitch: idle vCPUs park their carriers (vcpu-park)");
                    } else {
                        context.note("vswitch: vcpu-park not used: the idle vCPUs wait in another device's halt wait");
                    }
                });
            }
            for (final VirtioDevices.Entry entry : devices.pluggableOf("vswitch")) {
                final PluggableTransport slot = entry.pluggable();
                final SwitchPort port = join(context, entry.name(), entry.options());
                slot.attach(port);
                if (entry.transport() instanceof dev.osvj.virtio.net.VirtioNetDevice device) {
                    port.deliverTo(device); // the device runs in this JVM: a switch here may receive into it directly
                }
                context.note(entry.name() + ": " + port.describe());
            }
        });
        context.commands().register(new VSwitchCommand());
    }

    /** Join the switch a device's options name. */
    private SwitchPort join(final BootContext context, final String device, final Config o) {
        final String switchName = o.getString("switch");
        final String channel = o.getString("channel");
        final String portName = o.getString("port-name").isEmpty() ? context.name() + "/" + device : o.getString("port-name");
        final int mtu = o.getInt("mtu");
        if (channel.isEmpty()) {
            final VSwitch sw = SwitchHost.find(switchName).orElseThrow(() -> new IllegalArgumentException(
                device + ": no switch \"" + switchName + "\" runs in this JVM (running: " + SwitchHost.running()
                    + "); start it (SwitchHost, osvj.vswitch.switches) or give its channel"));
            return sw.connect(portName, mtu);
        }
        if (channel.startsWith("aeron:ipc")) {
            final Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(o.getString("aeron-dir")));
            return SwitchPort.join(aeron, switchName, channel, portName, mtu, aeron::close);
        }
        // a switch in another process or host: this instance's own media driver carries the UDP
        final SwitchHost own = SwitchHost.start(hostOptions(context.config()));
        try {
            return SwitchPort.join(own.aeron(), switchName, channel, portName, mtu, own::close);
        } catch (final RuntimeException e) {
            own.close();
            throw e;
        }
    }

    @Override
    public void stop(final KernelContext context) {
        final dev.osvj.sched.Scheduler s = parked;
        if (s != null) {
            s.setHaltWait(null); // the vCPUs halt into their mailboxes again, as a stopping kernel's must
            parked = null;
        }
        final SwitchHost host = hosted;
        hosted = null;
        if (host != null) {
            host.close();
        }
    }

    /** {@code vswitch}: the switches running in this JVM with their ports and counters. */
    private static final class VSwitchCommand implements ConsoleCommand {
        @Override
        public String name() {
            return "vswitch";
        }

        @Override
        public String synopsis() {
            return "vswitch - virtual switches in this JVM: ports, rx/tx frames/bytes, drops, learned MACs";
        }

        @Override
        public int run(final List<String> args, final Terminal terminal) {
            final List<String> names = new ArrayList<>(SwitchHost.running());
            if (names.isEmpty()) {
                terminal.out().println("no virtual switch runs in this JVM");
                return 0;
            }
            names.sort(null);
            for (final String n : names) {
                SwitchHost.find(n).ifPresent(sw -> terminal.out().print(sw.describe()));
            }
            return 0;
        }
    }
}
