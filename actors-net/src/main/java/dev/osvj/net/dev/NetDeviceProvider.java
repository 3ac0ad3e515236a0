package dev.osvj.net.dev;

import com.typesafe.config.Config;

/**
 * Opens the network device behind an {@code osvj.net.interfaces} entry whose backend is not
 * {@code loopback} ({@code virtio}, and through virtio-net the {@code user}, {@code stream} and
 * {@code tap} backends). The module that owns the driver publishes one as a kernel service before the
 * net subsystem boots; without it such an interface is a boot error naming the missing provider.
 */
public interface NetDeviceProvider {
    /**
     * @param name    the interface name ({@code eth0}).
     * @param backend the entry's {@code backend} value.
     * @param entry   the whole configuration entry (mac, mtu, backend options).
     * @return the device, ready to transmit.
     * @throws IllegalArgumentException when this provider cannot serve the backend (a config error).
     */
    NetDevice open(String name, String backend, Config entry);
}
