package dev.osvj.net.stack;

import dev.osvj.net.tcp.TcpConfig;

/**
 * Settings of one stack instance (from the {@code osvj.net.*} keys).
 *
 * @param tcp                 TCP settings.
 * @param netChannels         true: classifier + per-flow net channels (OSv's design); false: the
 *                            layered receive path (every frame through a separate receive stage).
 * @param arpTtlNs            ARP entry lifetime.
 * @param reassemblyDatagrams IPv4 datagrams reassembled at once.
 * @param reassemblyBytes     memory for reassembly buffers.
 * @param reassemblyTimeoutNs a datagram not complete by then is dropped.
 * @param udpReceiveBuffer    bytes queued per UDP socket.
 * @param ttl                 TTL of packets we send.
 * @param icmpErrorsPerSecond ICMP error messages (port unreachable) sent per second at most.
 * @param receiveStageDepth   frames the layered receive stage queues before dropping.
 */
public record StackSettings(TcpConfig tcp, boolean netChannels, long arpTtlNs, int reassemblyDatagrams,
    long reassemblyBytes, long reassemblyTimeoutNs, int udpReceiveBuffer, int ttl, int icmpErrorsPerSecond,
    int receiveStageDepth) {

    public static StackSettings defaults() {
        return new StackSettings(TcpConfig.defaults(), true, 60 * TcpConfig.S, 16, 256 * 1024, 30 * TcpConfig.S,
            256 * 1024, 64, 100, 4096);
    }

    public StackSettings withTcp(final TcpConfig t) {
        return new StackSettings(t, netChannels, arpTtlNs, reassemblyDatagrams, reassemblyBytes, reassemblyTimeoutNs,
            udpReceiveBuffer, ttl, icmpErrorsPerSecond, receiveStageDepth);
    }

    public StackSettings withNetChannels(final boolean on) {
        return new StackSettings(tcp, on, arpTtlNs, reassemblyDatagrams, reassemblyBytes, reassemblyTimeoutNs,
            udpReceiveBuffer, ttl, icmpErrorsPerSecond, receiveStageDepth);
    }
}
