package dev.osvj.vswitch;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * One virtual switch: a {@link SwitchCore} whose ports are Aeron sessions. Runs on its
 * {@link SwitchHost}'s duty-cycle thread ({@link #doWork}); other threads talk to it through a command
 * queue (control path only).
 *
 * <pre>
 *   instance A                         switch                           instance B
 *   SwitchPort --uplink (ipc|udp, stream U, session Sa)--> Subscription <-- uplink, session Sb -- SwitchPort
 *      ^                                   |  SwitchCore: learn, forward, flood                     ^
 *      +---downlink (stream U+1, its own)--+-- ExclusivePublication per port ---- downlink --------+
 * </pre>
 *
 * <ul>
 *   <li>A port is an uplink session: the first message of a session is a HELLO naming the port and
 *       its downlink channel; the switch adds the port and asks its media driver for an exclusive
 *       publication to that channel (asynchronously: frames for the port are {@link Drop#NOT_CONNECTED}
 *       until it is ready and the port's subscription connected).</li>
 *   <li>A port goes away on its BYE, or when its uplink image becomes unavailable (the instance
 *       closed its publication, its process died, or for UDP the image liveness timeout passed): the
 *       port is removed, its MACs forgotten and its downlink closed.</li>
 *   <li>Forwarding never blocks: a downlink without room is {@link Drop#BACK_PRESSURED}.</li>
 * </ul>
 */
public final class VSwitch implements AutoCloseable {
    /** Fragments polled per subscription per duty cycle. */
    private static final int FRAGMENT_LIMIT = 64;
    /** Table sweeps: at most one per this many nanoseconds. */
    private static final long SWEEP_INTERVAL_NS = 1_000_000_000L;

    private final SwitchSpec spec;
    private final SwitchHost host;
    private final Aeron aeron;
    private final SwitchCore core;
    private final List<Uplink> uplinks = new ArrayList<>();
    /** Uplink key (uplink index << 32 | session id) to port number. */
    private final Long2LongHashMap portOfSession = new Long2LongHashMap(-1);
    private final Downlink[] downlinks;
    private final ManyToOneConcurrentLinkedQueue<Consumer<VSwitch>> commands = new ManyToOneConcurrentLinkedQueue<>();
    private final UnsafeBuffer frameHeader = new UnsafeBuffer(new byte[PortMessage.HEADER_LENGTH]);
    private final List<Downlink> pending = new ArrayList<>();
    /** Local ports sent to in this duty cycle, woken once at its end. */
    private final Downlink[] toWake;
    private int toWakeCount;
    /** The switch's DHCP server, or null. */
    private final SwitchDhcp dhcp;
    private final UnsafeBuffer dhcpReply = new UnsafeBuffer(new byte[1024]);
    private long nextSweepNs;
    private long nowNs;
    private volatile boolean closed;

    /** A port's way back: the publication to its downlink channel, once the driver made it. */
    private static final class Downlink {
        final int port;
        final long key;
        final long registrationId;
        /** The port's object when it was joined from this JVM on this driver (woken after a send), or null. */
        final SwitchPort local;
        ExclusivePublication publication;
        /** Switch thread: a frame went out to this port in the current duty cycle. */
        boolean sent;

        Downlink(final int port, final long key, final long registrationId, final SwitchPort local) {
            this.port = port;
            this.key = key;
            this.registrationId = registrationId;
            this.local = local;
        }
    }

    /** One listening subscription (ipc, or udp) with its reassembler. */
    private final class Uplink implements FragmentHandler {
        final int index;
        final Subscription subscription;
        final FragmentAssembler assembler = new FragmentAssembler(this);

        Uplink(final int index, final String channel) {
            this.index = index;
            this.subscription = aeron.addSubscription(channel, spec.streamId(), image -> {
            }, image -> commands.offer(s -> s.onImageGone(index, image)));
        }

        @Override
        public void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header) {
            onMessage(index, buffer, offset, length, header.sessionId());
        }
    }

    VSwitch(final SwitchHost host, final Aeron aeron, final SwitchSpec spec) {
        this.host = host;
        this.aeron = aeron;
        this.spec = spec;
        this.core = new SwitchCore(spec.maxPorts(), spec.mtu(), spec.ageing().toNanos(), spec.maxMacs(), this::egress);
        this.downlinks = new Downlink[spec.maxPorts()];
        this.toWake = new Downlink[spec.maxPorts()];
        this.dhcp = spec.dhcp().isEmpty() ? null : new SwitchDhcp(spec.dhcp(), 3600);
        PortMessage.putHeader(frameHeader, 0, PortMessage.FRAME);
        try {
            uplinks.add(new Uplink(0, "aeron:ipc"));
            if (!spec.udpEndpoint().isEmpty()) {
                uplinks.add(new Uplink(1, "aeron:udp?endpoint=" + spec.udpEndpoint()));
            }
        } catch (final RuntimeException e) {
            uplinks.forEach(u -> u.subscription.close());
            throw e;
        }
    }

    /** The switch's name. */
    public String name() {
        return spec.name();
    }

    /** What it was started with. */
    public SwitchSpec spec() {
        return spec;
    }

    /** The host whose driver and thread run it. */
    public SwitchHost host() {
        return host;
    }

    /**
     * The endpoint its UDP uplink is bound to ({@code "127.0.0.1:40123"}, the port resolved when 0 was
     * asked for), or "" for an IPC-only switch or while the driver has not bound it yet.
     */
    public String udpEndpoint() {
        if (uplinks.size() < 2) {
            return "";
        }
        final String resolved = uplinks.get(1).subscription.resolvedEndpoint();
        return resolved == null ? "" : resolved;
    }

    /**
     * Join this switch from the host's own JVM over {@code aeron:ipc}: a port named {@code portName}
     * on the host's Aeron client (for gateways and tests; kernel instances join through their
     * {@code vswitch} device instead).
     */
    public SwitchPort connect(final String portName) {
        return connect(portName, spec.mtu());
    }

    /**
     * {@link #connect(String)} with the port's own MTU. The port keeps the host's client and driver
     * alive until it is closed, even when the host is closed first.
     */
    public SwitchPort connect(final String portName, final int mtu) {
        if (!host.retain()) {
            throw new IllegalStateException("switch " + spec.name() + ": its host is closed");
        }
        try {
            return SwitchPort.join(aeron, spec.name(), "aeron:ipc", portName, mtu, host::release);
        } catch (final RuntimeException e) {
            host.release();
            throw e;
        }
    }

    // ----- switch thread -------------------------------------------------------------------------

    /**
     * Switch thread: one duty cycle at {@code nowNs} (monotonic nanoseconds).
     *
     * @return work done (0 when idle).
     */
    int doWork(final long nowNs) {
        this.nowNs = nowNs;
        int work = 0;
        Consumer<VSwitch> command;
        while ((command = commands.poll()) != null) {
            command.accept(this);
            work++;
        }
        if (closed) {
            return work;
        }
        if (!pending.isEmpty()) {
            work += resolvePending();
        }
        for (int i = 0; i < uplinks.size(); i++) {
            final Uplink u = uplinks.get(i);
            work += u.subscription.poll(u.assembler, FRAGMENT_LIMIT);
        }
        for (int i = 0; i < toWakeCount; i++) {
            final Downlink d = toWake[i];
            d.sent = false;
            d.local.wakePoller();
            toWake[i] = null;
        }
        toWakeCount = 0;
        if (nowNs - nextSweepNs >= 0) {
            core.age(nowNs);
            nextSweepNs = nowNs + SWEEP_INTERVAL_NS;
        }
        return work;
    }

    private int resolvePending() {
        int work = 0;
        for (int i = pending.size() - 1; i >= 0; i--) {
            final Downlink d = pending.get(i);
            try {
                final ExclusivePublication p = aeron.getExclusivePublication(d.registrationId);
                if (p != null) {
                    d.publication = p;
                    pending.remove(i);
                    work++;
                }
            } catch (final RuntimeException e) {
                // the driver refused the channel (a bad address in the HELLO): the port stays
                // unreachable, its frames are NOT_CONNECTED drops
                pending.remove(i);
                host.log("switch " + spec.name() + ": downlink of port " + d.port + " failed: " + e.getMessage());
            }
        }
        return work;
    }

    private void onMessage(final int uplink, final DirectBuffer buffer, final int offset, final int length,
        final int sessionId) {
        final long key = (long)uplink << 32 | sessionId & 0xFFFF_FFFFL;
        final int port = (int)portOfSession.get(key);
        final byte type = PortMessage.type(buffer, offset, length);
        if (type == PortMessage.FRAME && port >= 0) {
            final int frame = offset + PortMessage.HEADER_LENGTH;
            final int frameLength = length - PortMessage.HEADER_LENGTH;
            core.onFrame(port, buffer, frame, frameLength, nowNs);
            if (dhcp != null && frameLength >= SwitchCore.ETHERNET_HEADER && SwitchCore.isGroup(SwitchCore.mac(buffer, frame))) {
                final int reply = dhcp.answer(buffer, frame, frameLength, dhcpReply);
                if (reply > 0) {
                    core.inject(port, dhcpReply, 0, reply);
                }
            }
        } else if (type == PortMessage.HELLO && port < 0) {
            hello(key, PortMessage.hello(buffer, offset, length));
        } else if (type == PortMessage.BYE && port >= 0) {
            removePort(key, port);
        } else if (port >= 0) {
            core.malformed(port);
        }
        // anything else from a session that never said HELLO is ignored: no port to count it on
    }

    private void hello(final long key, final PortMessage.Hello hello) {
        if (hello == null) {
            return;
        }
        final int port = core.addPort(hello.name());
        if (port < 0) {
            host.log("switch " + spec.name() + ": full (" + spec.maxPorts() + " ports), " + hello.name() + " refused");
            return;
        }
        portOfSession.put(key, port);
        final SwitchPort local = (int)(key >>> 32) == 0
            ? SwitchPort.local(aeron.context().aeronDirectoryName(), (int)key) : null;
        final Downlink d = new Downlink(port, key, aeron.asyncAddExclusivePublication(hello.downlinkChannel(),
            hello.downlinkStream()), local);
        downlinks[port] = d;
        pending.add(d);
    }

    private void onImageGone(final int uplink, final Image image) {
        final long key = (long)uplink << 32 | image.sessionId() & 0xFFFF_FFFFL;
        final int port = (int)portOfSession.get(key);
        if (port >= 0) {
            removePort(key, port);
        }
    }

    private void removePort(final long key, final int port) {
        portOfSession.remove(key);
        core.removePort(port);
        final Downlink d = downlinks[port];
        downlinks[port] = null;
        for (int i = 0; i < toWakeCount; i++) {
            if (toWake[i] == d) {
                toWake[i] = toWake[--toWakeCount];
                toWake[toWakeCount] = null;
                break;
            }
        }
        if (d != null) {
            pending.remove(d);
            aeron.asyncRemovePublication(d.registrationId);
        }
    }

    /** {@link SwitchCore.Egress}: one frame out of {@code port}'s downlink, never waiting. */
    private int egress(final int port, final DirectBuffer buffer, final int offset, final int length) {
        final Downlink d = downlinks[port];
        final ExclusivePublication p = d == null ? null : d.publication;
        if (p == null) {
            return Drop.NOT_CONNECTED.ordinal() + 1;
        }
        long rc = p.offer(frameHeader, 0, PortMessage.HEADER_LENGTH, buffer, offset, length);
        if (rc == Publication.ADMIN_ACTION) {
            rc = p.offer(frameHeader, 0, PortMessage.HEADER_LENGTH, buffer, offset, length);
        }
        if (rc > 0) {
            if (d.local != null && !d.sent) {
                d.sent = true;
                toWake[toWakeCount++] = d;
            }
            return SwitchCore.SENT;
        }
        return rc == Publication.BACK_PRESSURED || rc == Publication.ADMIN_ACTION
            ? Drop.BACK_PRESSURED.ordinal() + 1 : Drop.NOT_CONNECTED.ordinal() + 1;
    }

    // ----- any thread ------------------------------------------------------------------------------

    /** Run {@code query} on the switch thread and wait for its answer (control path; 10 s at most). */
    private <T> T ask(final java.util.function.Function<VSwitch, T> query) {
        final CompletableFuture<T> answer = new CompletableFuture<>();
        if (closed) {
            throw new IllegalStateException("switch " + spec.name() + " is closed");
        }
        commands.offer(s -> {
            try {
                answer.complete(query.apply(s));
            } catch (final RuntimeException e) {
                answer.completeExceptionally(e);
            }
        });
        try {
            return answer.get(10, TimeUnit.SECONDS);
        } catch (final InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (final ExecutionException | TimeoutException e) {
            throw new IllegalStateException("switch " + spec.name() + ": " + e, e);
        }
    }

    /** Counter snapshots of the current ports, by port number. */
    public List<PortStats> ports() {
        return ask(s -> s.core.stats());
    }

    /** The port number {@code mac} (low 48 bits) is learned on now, or -1. */
    public int portOf(final long mac) {
        return ask(s -> s.core.lookup(mac, s.nowNs));
    }

    /** The address the switch's DHCP server leased to {@code mac}, or 0 (none, or no DHCP server). */
    public int dhcpLease(final long mac) {
        return dhcp == null ? 0 : ask(s -> s.dhcp.leaseOf(mac));
    }

    /** Frames flooded (broadcast, multicast and unknown unicast) since the start. */
    public long flooded() {
        return core.counter(SwitchCore.FLOODED);
    }

    /** Unicast frames to an unknown (or aged-out) MAC since the start. */
    public long unknownUnicast() {
        return core.counter(SwitchCore.UNKNOWN_UNICAST);
    }

    /** MAC entries removed by ageing since the start. */
    public long aged() {
        return core.counter(SwitchCore.AGED);
    }

    /** A few lines for a console: the switch, then one line per port. */
    public String describe() {
        final StringBuilder b = new StringBuilder("switch " + spec.name() + " stream " + spec.streamId() + " ipc"
            + (spec.udpEndpoint().isEmpty() ? "" : " udp " + udpEndpoint()) + " mtu " + spec.mtu()
            + (spec.dhcp().isEmpty() ? "" : " dhcp " + spec.dhcp()) + " flooded "
            + flooded() + "\n");
        for (final PortStats p : ports()) {
            b.append("  ").append(p.line()).append('\n');
        }
        return b.toString();
    }

    /** Remove the switch from its host: ports are dropped, subscriptions and downlinks closed. */
    @Override
    public void close() {
        host.remove(this);
    }

    /** Host: release the Aeron resources (the switch thread no longer runs this switch). */
    void release() {
        closed = true;
        Consumer<VSwitch> command;
        while ((command = commands.poll()) != null) {
            command.accept(this); // answer pending questions from the final state
        }
        for (final Downlink d : downlinks) {
            if (d != null) {
                aeron.asyncRemovePublication(d.registrationId);
            }
        }
        for (final Uplink u : uplinks) {
            u.subscription.close();
        }
    }

    boolean isClosed() {
        return closed;
    }
}
