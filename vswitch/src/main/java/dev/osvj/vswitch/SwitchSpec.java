package dev.osvj.vswitch;

import java.time.Duration;

/**
 * What a switch is: its name, where ports reach it, and its limits.
 *
 * <p>Ports of instances in the switch host's JVM (or in processes sharing its media driver) join over
 * {@code aeron:ipc}, always available; with {@code udpEndpoint} set the switch also listens on
 * {@code aeron:udp?endpoint=udpEndpoint} for ports on other hosts or in other processes. Both use the
 * uplink stream id {@link #streamId()}, derived from the name so that a port needs only the name (and,
 * from afar, the endpoint) to join.
 *
 * @param name        the switch's name, unique in a JVM ({@code "fabric0"}); letters, digits, '-', '_', '.'.
 * @param udpEndpoint {@code "HOST:PORT"} to listen on for remote ports, or "" for IPC only.
 * @param mtu         the largest Ethernet payload forwarded, in bytes, 68..65535 (default 1500).
 * @param ageing      how long a learned MAC stays without traffic from it (default 300 s, 802.1D's).
 * @param maxPorts    the most ports at once, 1..65535 (default 1024).
 * @param maxMacs     the most learned MAC addresses at once (default 65536).
 * @param dhcp        the subnet the switch's DHCP server leases from ({@code "10.0.1.0/24"}: server and
 *                    router .1, pool .100-.199), or "" for no DHCP server (default).
 */
public record SwitchSpec(String name, String udpEndpoint, int mtu, Duration ageing, int maxPorts, int maxMacs,
    String dhcp) {
    /** The default MTU, in bytes. */
    public static final int DEFAULT_MTU = 1500;
    /** 802.1D's default ageing time. */
    public static final Duration DEFAULT_AGEING = Duration.ofSeconds(300);

    public SwitchSpec {
        if (!name.matches("[A-Za-z0-9_.-]{1,64}")) {
            throw new IllegalArgumentException("switch name \"" + name + "\": expected 1..64 of letters, digits, - _ .");
        }
        if (mtu < 68 || mtu > 65_535) {
            throw new IllegalArgumentException("switch " + name + ": mtu " + mtu + " outside 68..65535");
        }
        if (ageing.isNegative() || ageing.isZero()) {
            throw new IllegalArgumentException("switch " + name + ": ageing must be positive");
        }
        if (maxPorts < 1 || maxPorts > 65_535 || maxMacs < 1) {
            throw new IllegalArgumentException("switch " + name + ": maxPorts 1..65535 and maxMacs >= 1");
        }
        if (!dhcp.isEmpty()) {
            new SwitchDhcp(dhcp, 1); // validates the subnet
        }
    }

    /** An IPC-only switch with the defaults. */
    public static SwitchSpec of(final String name) {
        return new SwitchSpec(name, "", DEFAULT_MTU, DEFAULT_AGEING, 1024, 65_536, "");
    }

    /** This spec also listening on {@code aeron:udp?endpoint=hostPort}. */
    public SwitchSpec withUdp(final String hostPort) {
        return new SwitchSpec(name, hostPort, mtu, ageing, maxPorts, maxMacs, dhcp);
    }

    /** This spec with another ageing time. */
    public SwitchSpec withAgeing(final Duration value) {
        return new SwitchSpec(name, udpEndpoint, mtu, value, maxPorts, maxMacs, dhcp);
    }

    /** This spec with another MTU. */
    public SwitchSpec withMtu(final int value) {
        return new SwitchSpec(name, udpEndpoint, value, ageing, maxPorts, maxMacs, dhcp);
    }

    /** This spec with a DHCP server leasing from {@code cidr} ({@code "10.0.1.0/24"}). */
    public SwitchSpec withDhcp(final String cidr) {
        return new SwitchSpec(name, udpEndpoint, mtu, ageing, maxPorts, maxMacs, cidr);
    }

    /** The uplink stream id of a switch called {@code name}: even, in 0x1000_0000..0x1FFF_FFFE. */
    public static int streamId(final String name) {
        return 0x1000_0000 | name.hashCode() & 0x0FFF_FFFE;
    }

    /** The uplink stream id. */
    public int streamId() {
        return streamId(name);
    }

    /** The downlink stream id that ports of a switch called {@code name} subscribe to (uplink + 1). */
    static int downlinkStreamId(final String name) {
        return streamId(name) + 1;
    }
}
