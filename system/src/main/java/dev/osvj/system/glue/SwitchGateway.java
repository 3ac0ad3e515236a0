package dev.osvj.system.glue;

import dev.osvj.net.NetConfig;
import dev.osvj.net.user.UserGateway;
import dev.osvj.virtio.net.FrameSink;
import dev.osvj.vswitch.SwitchPort;
import dev.osvj.vswitch.VSwitch;
import org.agrona.CloseHelper;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The embedded {@code user} gateway as a station on a virtual switch, so that host clients reach the
 * services of instances on the switch: the gateway's stack takes an address on the switch's subnet
 * ({@link NetConfig.UserNetwork#gateway()}), its host port forwards ({@code hostfwd}) name the
 * instances' addresses ({@code tcp:127.0.0.1:8080-10.0.1.11:80}), and its outbound NAT carries the
 * instances' connections to the host when they use it as their gateway.
 *
 * <pre>
 *   host client --TCP--> UserGateway (JVM socket, own NetStack) ==frames==> SwitchPort --> VSwitch --> instances
 * </pre>
 *
 * One pump thread ({@code NAME-pump}, an Agrona duty cycle with a backoff idle of at most 200 us)
 * carries frames both ways between the gateway's guest end ({@link UserFrameTransport}) and the switch
 * port; the switch wakes it when it forwards to the gateway. A frame either side cannot take now is
 * dropped and counted ({@link #dropped()}), as on a busy wire; TCP retransmits.
 *
 * <p>Note: the gateway's DHCP server still leases its one {@link NetConfig.UserNetwork#guest()}
 * address to whichever station asks first; instances on a switch use static addresses.
 */
public final class SwitchGateway implements AutoCloseable {
    /** Frames moved per direction per duty cycle. */
    private static final int BATCH = 64;
    /** Longest idle park of the pump thread, nanoseconds. */
    private static final long MAX_PARK_NS = 200_000;

    private final UserGateway gateway;
    private final SwitchPort port;
    private final UserFrameTransport user;
    private final AgentRunner runner;
    private final AtomicLong dropped = new AtomicLong();

    private SwitchGateway(final UserGateway gateway, final SwitchPort port, final String name) {
        this.gateway = gateway;
        this.port = port;
        this.user = new UserFrameTransport(gateway);
        this.runner = new AgentRunner(new BackoffIdleStrategy(10, 20, 1_000, MAX_PARK_NS), e -> dropped.incrementAndGet(),
            null, new Pump(name));
        AgentRunner.startOnThread(runner, r -> {
            final Thread t = new Thread(r, name + "-pump");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Start a gateway called {@code name} on {@code network} with {@code forwards}, and plug it into
     * {@code vswitch} as port {@code name}.
     *
     * @param mtu the gateway's link MTU, bytes (the switch's, usually 1500).
     * @throws IOException when a forward's host port cannot be bound.
     */
    public static SwitchGateway attach(final VSwitch vswitch, final String name, final NetConfig.UserNetwork network,
        final int mtu, final List<NetConfig.HostForward> forwards) throws IOException {
        final UserGateway gateway = UserGateway.start(name, network, mtu, forwards);
        final SwitchPort port;
        try {
            port = vswitch.connect(name, mtu);
        } catch (final RuntimeException e) {
            gateway.close();
            throw e;
        }
        return new SwitchGateway(gateway, port, name);
    }

    /** The gateway: its forwards (with the real host ports for port 0) and counters. */
    public UserGateway gateway() {
        return gateway;
    }

    /** Frames dropped between the gateway and the switch (either side back-pressured). */
    public long dropped() {
        return dropped.get();
    }

    /** "user gateway ... on vswitch fabric0 port gw (ipc session 12)". */
    public String describe() {
        return gateway.describe() + " on " + port.describe();
    }

    /** Stop the pump, leave the switch, stop the gateway (its host sockets close). */
    @Override
    public void close() {
        CloseHelper.quietCloseAll(runner);
        port.close();
        user.close();
    }

    /** The duty cycle: switch to gateway, then gateway to switch. */
    private final class Pump implements Agent {
        private final String name;
        private final FrameSink toGateway = (segment, offset, length) -> {
            if (user.send(segment, offset, length) != 0) {
                dropped.incrementAndGet();
            }
        };
        private final FrameSink toSwitch = (segment, offset, length) -> {
            if (port.send(segment, offset, length) != 0) {
                dropped.incrementAndGet();
            }
        };

        Pump(final String name) {
            this.name = name;
        }

        @Override
        public int doWork() {
            return port.poll(toGateway, BATCH) + user.poll(toSwitch, BATCH);
        }

        @Override
        public String roleName() {
            return name + "-pump";
        }
    }
}
