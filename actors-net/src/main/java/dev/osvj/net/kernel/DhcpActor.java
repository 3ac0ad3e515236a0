package dev.osvj.net.kernel;

import dev.osvj.kernel.log.KernelLog;
import dev.osvj.net.dhcp.DhcpClient;
import dev.osvj.net.dhcp.DhcpMessage;
import dev.osvj.net.stack.NetInterface;
import dev.osvj.net.stack.NetStack;
import dev.osvj.net.stack.SockAddr;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.wire.Addresses;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

import java.time.Duration;

/**
 * Drives the {@link DhcpClient} of one interface in the kernel (like OSv's dhcp thread): a UDP socket
 * on port 68 bound to the interface ({@link Sockets#SO_BINDTODEVICE}, broadcast allowed,
 * non-blocking), drained on every {@link #TICK}, then the client polled; the client's decisions
 * become {@link NetStack#configure} calls and dmesg lines. When a round of DISCOVERs fails and the
 * interface has a static fallback but no address yet, the fallback is configured (and replaced by a
 * lease that comes later). Control path only: one small datagram at a time.
 */
final class DhcpActor extends AbstractBehavior<DhcpActor.Command> {
    /** Granularity of the DHCP timers and receive polling: far below DHCP's second-scale timeouts. */
    static final Duration TICK = Duration.ofMillis(20);

    sealed interface Command permits Tick {
    }

    enum Tick implements Command {
        INSTANCE
    }

    /** A static configuration used when no DHCP server answers: address, netmask, gateway (0 = none). */
    record Fallback(int address, int netmask, int gateway) {
    }

    private final NetStack stack;
    private final NetInterface ifc;
    private final KernelLog log;
    private final Fallback fallback;
    private final Sockets sockets;
    private final int fd;
    private final DhcpClient client;
    private final byte[] rxBytes = new byte[1500];
    private final UnsafeBuffer rxView = new UnsafeBuffer(rxBytes);
    private final SockAddr from = new SockAddr();
    private boolean onFallback;

    private DhcpActor(final ActorContext<Command> ctx, final NetStack stack, final NetInterface ifc,
        final DhcpClient.Settings settings, final Fallback fallback, final KernelLog log) {
        super(ctx);
        this.stack = stack;
        this.ifc = ifc;
        this.log = log;
        this.fallback = fallback;
        this.sockets = stack.sockets();
        this.fd = sockets.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM | Sockets.SOCK_NONBLOCK, 0);
        check(fd, "socket");
        check(sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_BROADCAST, 1), "SO_BROADCAST");
        check(sockets.setsockopt(fd, Sockets.SOL_SOCKET, Sockets.SO_BINDTODEVICE, ifc.index()), "SO_BINDTODEVICE");
        check(sockets.bind(fd, 0, DhcpMessage.CLIENT_PORT), "bind to port 68");
        this.client = new DhcpClient(ifc.mac(), stack.random().nextInt(), settings, new Output());
        client.start(stack.now());
    }

    private void check(final int result, final String what) {
        if (result < 0) {
            throw new IllegalStateException(ifc.name() + ": dhcp: " + what + " failed: errno " + -result);
        }
    }

    static Behavior<Command> create(final NetStack stack, final NetInterface ifc, final DhcpClient.Settings settings,
        final Fallback fallback, final KernelLog log) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
            timers.startTimerWithFixedDelay(Tick.INSTANCE, TICK);
            final DhcpActor actor = new DhcpActor(ctx, stack, ifc, settings, fallback, log);
            ctx.getSelf().tell(Tick.INSTANCE);
            return actor;
        }));
    }

    @Override
    public Receive<Command> createReceive() {
        return newReceiveBuilder()
            .onMessage(Tick.class, t -> onTick())
            .onSignal(PostStop.class, s -> {
                sockets.close(fd);
                return this;
            })
            .onSignal(org.apache.pekko.actor.typed.PreRestart.class, s -> {
                sockets.close(fd); // the restarted actor binds port 68 afresh
                return this;
            })
            .build();
    }

    private Behavior<Command> onTick() {
        int n;
        while ((n = sockets.recvfrom(fd, rxBytes, 0, rxBytes.length, Sockets.MSG_DONTWAIT, from)) >= 0) {
            if (from.port == DhcpMessage.SERVER_PORT) {
                client.input(stack.now(), rxView, 0, n);
            }
        }
        client.poll(stack.now());
        return this;
    }

    private final class Output implements DhcpClient.Output {
        private final byte[] txBytes = new byte[576];

        @Override
        public void send(final int dstIp, final DirectBuffer b, final int off, final int len) {
            b.getBytes(off, txBytes, 0, len);
            final int r = sockets.sendto(fd, txBytes, 0, len, 0, dstIp, DhcpMessage.SERVER_PORT);
            if (r < 0) {
                log.append("WARN", "net", ifc.name() + ": dhcp: send to " + Addresses.ipv4(dstIp) + " failed: errno " + -r);
            }
        }

        @Override
        public void bound(final DhcpClient.Lease lease) {
            if (ifc.address() != lease.address() || ifc.netmask() != lease.netmask() || ifc.gateway() != lease.gateway()) {
                stack.configure(ifc, lease.address(), lease.netmask(), lease.gateway());
                log.append("INFO", "net", ifc.name() + ": dhcp: bound to " + lease);
            } else {
                log.append("INFO", "net", ifc.name() + ": dhcp: renewed " + lease);
            }
            onFallback = false;
        }

        @Override
        public void unbound(final String reason) {
            stack.configure(ifc, 0, ifc.netmask(), 0);
            log.append("WARN", "net", ifc.name() + ": dhcp: address removed: " + reason);
        }

        @Override
        public void failed(final String reason) {
            if (fallback != null && ifc.address() == 0) {
                stack.configure(ifc, fallback.address(), fallback.netmask(), fallback.gateway());
                onFallback = true;
                log.append("ERROR", "net", ifc.name() + ": dhcp: " + reason + "; using the static fallback "
                    + Addresses.ipv4(fallback.address()) + "/" + Addresses.prefixLength(fallback.netmask())
                    + " and still trying");
            } else {
                log.append("ERROR", "net", ifc.name() + ": dhcp: " + reason + (onFallback ? " (still on the static fallback)"
                    : ifc.address() == 0 ? "; the interface has no address, still trying" : "") );
            }
        }
    }
}
