/**
 * Van Jacobson net channels, as in OSv ({@code include/osv/net_channel.hh}): packet buffers
 * ({@link dev.osvj.net.channel.PacketBuffer}), the per-flow SPSC ring of packet references
 * ({@link dev.osvj.net.channel.NetChannel}), and the classifier's flow table keyed by the IPv4 TCP
 * 4-tuple with a keyed hash ({@link dev.osvj.net.channel.FlowTable}).
 *
 * <p>Field-access conventions: fields read by another thread are {@code volatile} or accessed through
 * {@link java.lang.invoke.VarHandle} with the ordering in the method name ({@code getAcquire},
 * {@code setRelease}); producer and consumer indices sit on separate cache lines (padding classes, as
 * in JCTools and Agrona).
 */
package dev.osvj.net.channel;
