package dev.osvj.net;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import dev.osvj.kernel.config.ConfigProblem;
import dev.osvj.kernel.config.ConfigSizes;
import dev.osvj.kernel.config.ConfigSpec;
import dev.osvj.net.stack.StackSettings;
import dev.osvj.net.tcp.TcpConfig;
import dev.osvj.net.wire.Addresses;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The {@code osvj.net.*} configuration: its declaration ({@link #declare}, the same keys actors-net's
 * reference.conf documents) and its parsed form. {@code osvj.net.pcap} belongs to the kernel core and
 * is not declared here.
 */
public record NetConfig(StackSettings settings, List<InterfaceConfig> interfaces, Duration tick, DhcpSettings dhcp,
    UserNetwork user) {
    /**
     * One {@code osvj.net.interfaces} entry after defaults are applied. {@code device} is the virtio
     * device behind a {@code virtio} interface (defaults to the interface name); {@code fallback*} is the
     * static configuration a {@code dhcp} interface takes when no server answers (address 0 = none);
     * {@code hostfwd} are the port forwards of a {@code user}-backed device's gateway.
     */
    public record InterfaceConfig(String name, String backend, int address, int netmask, int gateway, boolean dhcp,
        int mtu, Config entry, String device, int fallbackAddress, int fallbackNetmask, List<HostForward> hostfwd) {
    }

    /** {@code osvj.net.dhcp.*}: the client's retransmission policy (see {@code DhcpClient.Settings}). */
    public record DhcpSettings(Duration initialTimeout, Duration maxTimeout, int attempts) {
    }

    /**
     * {@code osvj.net.user.*}: the network the embedded {@code user} gateway simulates (QEMU's
     * defaults): its own address and netmask, the address its DHCP server leases to the guest, the
     * lease time, and which guest connections the outbound NAT carries to the host
     * ({@link #OUTBOUND_OFF}, {@link #OUTBOUND_HOST}, {@link #OUTBOUND_ANY}), and whether idle vCPUs
     * wait in the gateway's selector ({@code vcpuSelect}, {@code osvj.net.user.vcpu-select}).
     */
    public record UserNetwork(int gateway, int netmask, int guest, Duration lease, String outbound,
                              boolean vcpuSelect) {
        /** No outbound NAT: guest connections to the host are refused (RST, ICMP port unreachable). */
        public static final String OUTBOUND_OFF = "off";
        /** The gateway address and 127.0.0.0/8 reach the host's loopback (QEMU's 10.0.2.2 = host). */
        public static final String OUTBOUND_HOST = "host";
        /** As {@code host}, and every other destination is connected to from the host, as slirp does. */
        public static final String OUTBOUND_ANY = "any";

        /** A network with the default outbound policy ({@code host}) and {@code vcpu-select} off. */
        public UserNetwork(final int gateway, final int netmask, final int guest, final Duration lease) {
            this(gateway, netmask, guest, lease, OUTBOUND_HOST, false);
        }

        /** The same network with {@code vcpu-select} set to {@code on}. */
        public UserNetwork withVcpuSelect(final boolean on) {
            return new UserNetwork(gateway, netmask, guest, lease, outbound, on);
        }
    }

    /**
     * One {@code hostfwd} rule, QEMU's syntax {@code tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT}:
     * connections to the host's {@code hostAddress:hostPort} (default 127.0.0.1; port 0 = any free
     * port) are carried to the guest's {@code guestAddress:guestPort} (0 = the guest's address).
     */
    public record HostForward(String hostAddress, int hostPort, int guestAddress, int guestPort) {
        static final Pattern SYNTAX = Pattern.compile(
            "^tcp:([0-9.]*):(\\d{1,5})-([0-9.]*):(\\d{1,5})$");

        /** Parse one rule; null when it does not follow the syntax. */
        public static HostForward parse(final String text) {
            final java.util.regex.Matcher m = SYNTAX.matcher(text);
            if (!m.matches()) {
                return null;
            }
            final String host = m.group(1).isEmpty() ? "127.0.0.1" : m.group(1);
            final String guest = m.group(3);
            final int hostPort = Integer.parseInt(m.group(2));
            final int guestPort = Integer.parseInt(m.group(4));
            if (!IPV4.matcher(host).matches() || !IPV4.matcher(guest).matches() || hostPort > 65535 || guestPort < 1
                || guestPort > 65535) {
                return null;
            }
            return new HostForward(host, hostPort, guest.isEmpty() ? 0 : Addresses.parseIpv4(guest), guestPort);
        }

        @Override
        public String toString() {
            return "tcp:" + hostAddress + ":" + hostPort + "-" + (guestAddress == 0 ? "" : Addresses.ipv4(guestAddress))
                + ":" + guestPort;
        }
    }

    static final Pattern IPV4 = Pattern.compile("^$|^((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$");
    static final Pattern NAME = Pattern.compile("^[a-z][a-z0-9]{0,14}$");
    static final Pattern MAC = Pattern.compile("^$|^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$");
    static final Pattern CIDR = Pattern.compile("^$|^((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)/(3[0-2]|[12]?\\d)$");
    static final Pattern DEVICE = Pattern.compile("^$|^[a-zA-Z0-9_-]{1,32}$");

    /** Defaults of an interface entry (every key but name and backend may be left out). */
    static final Config ENTRY_DEFAULTS = ConfigFactory.parseString(
        "address = \"\", netmask = \"255.255.255.0\", gateway = \"\", dhcp = false, mtu = 1500, mac = \"\", "
        + "device = \"\", fallback = \"\", hostfwd = []");

    static ConfigSpec elementSpec() {
        final ConfigSpec e = new ConfigSpec("");
        e.string("name", NAME, "an interface name such as eth0 (lowercase letters and digits, at most 15)");
        e.oneOf("backend", "loopback", "virtio");
        e.string("address", IPV4, "an IPv4 address such as 10.0.2.15, or \"\"");
        e.string("netmask", IPV4, "an IPv4 netmask such as 255.255.255.0");
        e.string("gateway", IPV4, "an IPv4 address such as 10.0.2.2, or \"\"");
        e.bool("dhcp");
        e.integer("mtu", 68, 65536);
        e.string("mac", MAC, "a MAC address such as 52:54:00:12:34:56, or \"\"");
        e.string("device", DEVICE, "a virtio device name such as eth0, or \"\" (the interface name)");
        e.string("fallback", CIDR, "an address with a prefix length such as 10.0.2.15/24, or \"\"");
        e.stringList("hostfwd");
        return e;
    }

    public static void declare(final ConfigSpec spec) {
        final ConfigSpec element = elementSpec();
        spec.rule("osvj.net.interfaces", (c, p, shown, out) -> {
            final ConfigValue v = c.getValue(p);
            if (!(v instanceof ConfigList list)) {
                out.add(new ConfigProblem(shown, "expected a list of objects, got " + ConfigSpec.show(v)));
                return;
            }
            final List<String> names = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                if (!(list.get(i) instanceof ConfigObject obj)) {
                    out.add(new ConfigProblem(shown + "[" + i + "]", "expected an object, got " + ConfigSpec.show(list.get(i))));
                    continue;
                }
                final Config entry = obj.toConfig().withFallback(ENTRY_DEFAULTS);
                final List<ConfigProblem> problems = element.validate(entry);
                for (final ConfigProblem pr : problems) {
                    out.add(new ConfigProblem(shown + "[" + i + "]." + pr.path(), pr.message()));
                }
                if (problems.isEmpty()) {
                    final String name = entry.getString("name");
                    if (names.contains(name)) {
                        out.add(new ConfigProblem(shown + "[" + i + "].name", "interface " + name + " is listed twice"));
                    }
                    names.add(name);
                    if (!entry.getString("fallback").isEmpty() && !entry.getBoolean("dhcp")) {
                        out.add(new ConfigProblem(shown + "[" + i + "].fallback", "a static fallback needs dhcp = true"));
                    }
                    final List<String> fwds = entry.getStringList("hostfwd");
                    for (int k = 0; k < fwds.size(); k++) {
                        if (HostForward.parse(fwds.get(k)) == null) {
                            out.add(new ConfigProblem(shown + "[" + i + "].hostfwd[" + k + "]",
                                "expected tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT such as "
                                    + "\"tcp:127.0.0.1:8080-:80\", got \"" + fwds.get(k) + "\""));
                        }
                    }
                    if (!fwds.isEmpty() && !"virtio".equals(entry.getString("backend"))) {
                        out.add(new ConfigProblem(shown + "[" + i + "].hostfwd", "port forwards need a virtio interface "
                            + "whose device has backend = user"));
                    }
                    if (entry.getBoolean("dhcp") && !entry.getString("address").isEmpty()) {
                        out.add(new ConfigProblem(shown + "[" + i + "]", "dhcp = true and a static address exclude each other"));
                    }
                    if (!entry.getString("netmask").isEmpty()
                        && Addresses.prefixLength(Addresses.parseIpv4(entry.getString("netmask"))) < 0) {
                        out.add(new ConfigProblem(shown + "[" + i + "].netmask", "expected a contiguous netmask, got \""
                            + entry.getString("netmask") + "\""));
                    }
                }
            }
        });
        spec.oneOf("osvj.net.receive-path", "netchannel", "layered");
        spec.duration("osvj.net.tick", Duration.ofMillis(1), Duration.ofSeconds(1));
        spec.duration("osvj.net.arp.timeout", Duration.ofSeconds(1), Duration.ofHours(24));
        spec.integer("osvj.net.ip.ttl", 1, 255);
        spec.integer("osvj.net.ip.reassembly.datagrams", 1, 1024);
        spec.bytes("osvj.net.ip.reassembly.memory", 65536, 256L << 20);
        spec.duration("osvj.net.ip.reassembly.timeout", Duration.ofSeconds(1), Duration.ofMinutes(5));
        spec.integer("osvj.net.icmp.error-rate", 0, 1_000_000);
        spec.bytes("osvj.net.udp.receive-buffer", 65536, 64L << 20);
        spec.bytes("osvj.net.tcp.send-buffer", 4096, 64L << 20);
        spec.bytes("osvj.net.tcp.receive-buffer", 4096, 64L << 20);
        spec.bytes("osvj.net.tcp.receive-buffer-max", 4096, 64L << 20);
        spec.duration("osvj.net.tcp.initial-rto", Duration.ofMillis(10), Duration.ofSeconds(60));
        spec.duration("osvj.net.tcp.min-rto", Duration.ofMillis(1), Duration.ofSeconds(60));
        spec.duration("osvj.net.tcp.max-rto", Duration.ofSeconds(1), Duration.ofMinutes(10));
        spec.integer("osvj.net.tcp.max-retries", 1, 100);
        spec.integer("osvj.net.tcp.syn-retries", 1, 100);
        spec.duration("osvj.net.tcp.delayed-ack", Duration.ZERO, Duration.ofMillis(500));
        spec.duration("osvj.net.tcp.time-wait", Duration.ZERO, Duration.ofMinutes(10));
        spec.duration("osvj.net.tcp.fin-wait-2", Duration.ofSeconds(1), Duration.ofHours(1));
        spec.duration("osvj.net.tcp.keepalive.idle", Duration.ofSeconds(1), Duration.ofDays(1));
        spec.duration("osvj.net.tcp.keepalive.interval", Duration.ofSeconds(1), Duration.ofHours(1));
        spec.integer("osvj.net.tcp.keepalive.count", 1, 100);
        spec.bool("osvj.net.tcp.sack");
        spec.bool("osvj.net.tcp.timestamps");
        spec.integer("osvj.net.tcp.syn-backlog", 1, 1 << 20);
        spec.bool("osvj.net.tcp.syn-cookies");
        spec.integer("osvj.net.tcp.challenge-ack-limit", 1, 1_000_000);
        spec.duration("osvj.net.dhcp.initial-timeout", Duration.ofMillis(100), Duration.ofMinutes(1));
        spec.duration("osvj.net.dhcp.max-timeout", Duration.ofMillis(100), Duration.ofMinutes(10));
        spec.integer("osvj.net.dhcp.attempts", 1, 100);
        spec.string("osvj.net.user.address", IPV4, "an IPv4 address such as 10.0.2.2");
        spec.string("osvj.net.user.netmask", IPV4, "an IPv4 netmask such as 255.255.255.0");
        spec.string("osvj.net.user.guest", IPV4, "an IPv4 address such as 10.0.2.15");
        spec.duration("osvj.net.user.lease", Duration.ofSeconds(10), Duration.ofDays(365));
        spec.oneOf("osvj.net.user.outbound", UserNetwork.OUTBOUND_OFF, UserNetwork.OUTBOUND_HOST, UserNetwork.OUTBOUND_ANY);
        spec.bool("osvj.net.user.vcpu-select");
    }

    private static long ns(final Config c, final String path) {
        return c.getDuration(path).toNanos();
    }

    /** Parse a validated configuration. */
    public static NetConfig from(final Config c) {
        final TcpConfig tcp = new TcpConfig(
            (int)ConfigSizes.bytes(c, "osvj.net.tcp.send-buffer"),
            (int)ConfigSizes.bytes(c, "osvj.net.tcp.receive-buffer"),
            ns(c, "osvj.net.tcp.initial-rto"), ns(c, "osvj.net.tcp.min-rto"), ns(c, "osvj.net.tcp.max-rto"),
            c.getInt("osvj.net.tcp.max-retries"), c.getInt("osvj.net.tcp.syn-retries"),
            ns(c, "osvj.net.tcp.delayed-ack"), ns(c, "osvj.net.tcp.time-wait"), ns(c, "osvj.net.tcp.fin-wait-2"),
            ns(c, "osvj.net.tcp.keepalive.idle"), ns(c, "osvj.net.tcp.keepalive.interval"),
            c.getInt("osvj.net.tcp.keepalive.count"), c.getBoolean("osvj.net.tcp.sack"),
            c.getBoolean("osvj.net.tcp.timestamps"), c.getInt("osvj.net.tcp.syn-backlog"),
            c.getBoolean("osvj.net.tcp.syn-cookies"), c.getInt("osvj.net.tcp.challenge-ack-limit"),
            (int)ConfigSizes.bytes(c, "osvj.net.tcp.receive-buffer-max"));
        final StackSettings s = new StackSettings(tcp, "netchannel".equals(c.getString("osvj.net.receive-path")),
            ns(c, "osvj.net.arp.timeout"), c.getInt("osvj.net.ip.reassembly.datagrams"),
            ConfigSizes.bytes(c, "osvj.net.ip.reassembly.memory"), ns(c, "osvj.net.ip.reassembly.timeout"),
            (int)ConfigSizes.bytes(c, "osvj.net.udp.receive-buffer"), c.getInt("osvj.net.ip.ttl"),
            c.getInt("osvj.net.icmp.error-rate"), 4096);
        final List<InterfaceConfig> ifs = new ArrayList<>();
        for (final ConfigObject o : c.getObjectList("osvj.net.interfaces")) {
            final Config e = o.toConfig().withFallback(ENTRY_DEFAULTS);
            final String addr = e.getString("address");
            final String gw = e.getString("gateway");
            final String fb = e.getString("fallback");
            final int slash = fb.indexOf('/');
            ifs.add(new InterfaceConfig(e.getString("name"), e.getString("backend"),
                addr.isEmpty() ? 0 : Addresses.parseIpv4(addr), Addresses.parseIpv4(e.getString("netmask")),
                gw.isEmpty() ? 0 : Addresses.parseIpv4(gw), e.getBoolean("dhcp"), e.getInt("mtu"), e,
                e.getString("device").isEmpty() ? e.getString("name") : e.getString("device"),
                fb.isEmpty() ? 0 : Addresses.parseIpv4(fb.substring(0, slash)),
                fb.isEmpty() ? 0 : Addresses.netmask(Integer.parseInt(fb.substring(slash + 1))),
                e.getStringList("hostfwd").stream().map(HostForward::parse).toList()));
        }
        final DhcpSettings dhcp = new DhcpSettings(c.getDuration("osvj.net.dhcp.initial-timeout"),
            c.getDuration("osvj.net.dhcp.max-timeout"), c.getInt("osvj.net.dhcp.attempts"));
        final UserNetwork user = new UserNetwork(Addresses.parseIpv4(c.getString("osvj.net.user.address")),
            Addresses.parseIpv4(c.getString("osvj.net.user.netmask")), Addresses.parseIpv4(c.getString("osvj.net.user.guest")),
            c.getDuration("osvj.net.user.lease"), c.getString("osvj.net.user.outbound"),
            c.getBoolean("osvj.net.user.vcpu-select"));
        return new NetConfig(s, List.copyOf(ifs), c.getDuration("osvj.net.tick"), dhcp, user);
    }
}
