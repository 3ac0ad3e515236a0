package dev.osvj.net;

import dev.osvj.net.wire.Addresses;
import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * The network stack's tracepoints (JFR events), declared by {@link NetSubsystem} and selected with
 * {@code --trace 'net.*'}. A disabled event costs one {@code isEnabled()} check at its site; the
 * helpers below fill and commit an event only when it is enabled, so the data path allocates nothing
 * while tracing is off (the event object itself is scalar-replaced by the JIT).
 *
 * <p>Sites: {@link TcpStateChange} on every RFC 9293 transition of a connection of the stack,
 * {@link Retransmit} for every retransmitted segment (timeout, fast retransmit and recovery, SYN),
 * {@link ChannelBatch} for every net-channel drain that processed at least one segment (its size is the
 * batch the consumer's single wakeup covered), and {@link Drop} for every frame or segment the stack
 * drops, with the reason's counter name ({@code netstat -s}).
 */
public final class NetEvents {
    private NetEvents() {
    }

    /** A TCP connection changed state. */
    @Name("osvj.net.TcpStateChange")
    @Label("TCP state change")
    @Category({"osvj", "net"})
    @StackTrace(false)
    public static final class TcpStateChange extends Event {
        @Label("Local")
        public String local;
        @Label("Remote")
        public String remote;
        @Label("From")
        public String from;
        @Label("To")
        public String to;
    }

    /** A TCP segment was sent again. */
    @Name("osvj.net.Retransmit")
    @Label("TCP retransmission")
    @Description("A segment sent again: after the retransmission timer (timeout, syn) or in fast retransmit "
        + "and NewReno/SACK recovery (fast-recovery)")
    @Category({"osvj", "net"})
    @StackTrace(false)
    public static final class Retransmit extends Event {
        @Label("Local")
        public String local;
        @Label("Remote")
        public String remote;
        @Label("Reason")
        public String reason;
        @Label("Sequence number")
        public long seq;
        @Label("Payload bytes")
        public int length;
        @Label("RTO (ms)")
        public long rtoMillis;
        @Label("Congestion window (bytes)")
        public int cwnd;
    }

    /** A consumer drained a flow's net channel. */
    @Name("osvj.net.ChannelBatch")
    @Label("Net channel batch")
    @Description("Segments one consumer took from a flow's net channel in one drain (one wakeup per batch)")
    @Category({"osvj", "net"})
    @StackTrace(false)
    public static final class ChannelBatch extends Event {
        @Label("Flow")
        public String flow;
        @Label("Consumer")
        @Description("flow-actor, or the name of the application or receive thread")
        public String consumer;
        @Label("Segments")
        public int segments;
    }

    /** The stack dropped a frame or segment. */
    @Name("osvj.net.Drop")
    @Label("Packet drop")
    @Category({"osvj", "net"})
    @StackTrace(false)
    public static final class Drop extends Event {
        @Label("Reason")
        @Description("The drop counter's name, as netstat -s shows it")
        public String reason;
        @Label("Description")
        public String description;
    }

    /** Every event type, for {@code Tracepoints.declare}. */
    @SuppressWarnings("unchecked")
    static final Class<? extends Event>[] ALL = new Class[] {TcpStateChange.class, Retransmit.class,
        ChannelBatch.class, Drop.class};

    private static String endpoint(final int ip, final int port) {
        return Addresses.ipv4(ip) + ":" + port;
    }

    public static void stateChange(final int localIp, final int localPort, final int remoteIp, final int remotePort,
        final Enum<?> from, final Enum<?> to) {
        final TcpStateChange e = new TcpStateChange();
        if (e.isEnabled()) {
            e.local = endpoint(localIp, localPort);
            e.remote = endpoint(remoteIp, remotePort);
            e.from = from.name();
            e.to = to.name();
            e.commit();
        }
    }

    public static void retransmit(final int localIp, final int localPort, final int remoteIp, final int remotePort,
        final String reason, final int seq, final int length, final long rtoNs, final int cwnd) {
        final Retransmit e = new Retransmit();
        if (e.isEnabled()) {
            e.local = endpoint(localIp, localPort);
            e.remote = endpoint(remoteIp, remotePort);
            e.reason = reason;
            e.seq = seq & 0xFFFF_FFFFL;
            e.length = length;
            e.rtoMillis = rtoNs / 1_000_000L;
            e.cwnd = cwnd;
            e.commit();
        }
    }

    public static void channelBatch(final dev.osvj.net.stack.NetStack.FlowConsumer flow, final boolean flowActor,
        final int segments) {
        final ChannelBatch e = new ChannelBatch();
        if (e.isEnabled()) {
            e.flow = flow.flowName();
            e.consumer = flowActor ? "flow-actor" : Thread.currentThread().getName();
            e.segments = segments;
            e.commit();
        }
    }

    public static void drop(final String reason, final String description) {
        final Drop e = new Drop();
        if (e.isEnabled()) {
            e.reason = reason;
            e.description = description;
            e.commit();
        }
    }
}
