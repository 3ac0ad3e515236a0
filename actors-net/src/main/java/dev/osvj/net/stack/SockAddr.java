package dev.osvj.net.stack;

import dev.osvj.net.wire.Addresses;

/** An IPv4 socket address ({@code struct sockaddr_in}): a mutable holder filled by accept, recvfrom... */
public final class SockAddr {
    /** IPv4 address as an int (10.0.2.15 is 0x0A00020F). */
    public int ip;
    /** Port 0..65535. */
    public int port;

    public SockAddr() {
    }

    public SockAddr(final int ip, final int port) {
        this.ip = ip;
        this.port = port;
    }

    @Override
    public String toString() {
        return Addresses.ipv4(ip) + ":" + port;
    }
}
