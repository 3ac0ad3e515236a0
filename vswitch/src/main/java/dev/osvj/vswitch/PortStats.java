package dev.osvj.vswitch;

import java.util.EnumMap;
import java.util.Map;

/**
 * A snapshot of one switch port's counters. {@code rx} is what the switch received from the port (the
 * instance's transmitted frames), {@code tx} what the switch sent to it.
 *
 * @param id      the port's number in the switch (reused after the port is removed).
 * @param name    the name the port introduced itself with ({@code "web-1/eth0"}).
 * @param rxFrames frames received from the port, dropped ones included.
 * @param rxBytes  bytes of those frames (Ethernet header included, no FCS).
 * @param txFrames frames sent to the port.
 * @param txBytes  bytes of those frames.
 * @param drops    dropped frames by reason (every reason present, zero when none).
 * @param macs     MAC addresses currently learned on the port.
 */
public record PortStats(int id, String name, long rxFrames, long rxBytes, long txFrames, long txBytes,
    Map<Drop, Long> drops, int macs) {
    public PortStats {
        drops = Map.copyOf(new EnumMap<>(drops));
    }

    /** Dropped frames for {@code reason}. */
    public long drops(final Drop reason) {
        return drops.getOrDefault(reason, 0L);
    }

    /** One line for a console: {@code "3 web-1/eth0 rx 10/1234 tx 9/1100 drops 0 macs 1"}. */
    public String line() {
        final long dropped = drops.values().stream().mapToLong(Long::longValue).sum();
        return id + " " + name + " rx " + rxFrames + "/" + rxBytes + " tx " + txFrames + "/" + txBytes
            + " drops " + dropped + " macs " + macs;
    }
}
