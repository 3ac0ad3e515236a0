package dev.osvj.net.dhcp;

import dev.osvj.net.wire.Addresses;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A DHCP client for one interface (RFC 2131 §4.4), as a state machine that does no I/O and takes
 * time as an argument (smoltcp's {@code dhcpv4::Socket} style): the driver feeds it the replies
 * ({@link #input}), calls {@link #poll} at {@link #pollAt}, and carries out what it asks through
 * {@link Output} (send a message, configure or unconfigure the interface, report a failure).
 *
 * <p>States and transitions (RFC 2131 figure 5):
 * <pre>
 *  INIT       --poll: send DISCOVER (broadcast)-------------------------------&gt; SELECTING
 *  SELECTING  --OFFER: send REQUEST(requested ip, server id) (broadcast)------&gt; REQUESTING
 *  SELECTING  --timeout: resend DISCOVER, timeout doubles; after `attempts`---&gt; INIT (failed, retry after maxTimeout)
 *  REQUESTING --ACK: configure the address (Output.bound)---------------------&gt; BOUND
 *  REQUESTING --NAK--------------------------------------------------------------&gt; INIT
 *  REQUESTING --timeout: resend REQUEST; after `attempts`-----------------------&gt; INIT (failed)
 *  BOUND      --T1 (renewal time, default lease/2): REQUEST unicast to server-&gt; RENEWING
 *  RENEWING   --ACK: new lease-------------------------------------------------&gt; BOUND
 *  RENEWING   --T2 (rebinding time, default 7/8 lease): REQUEST broadcast------&gt; REBINDING
 *  REBINDING  --ACK: new lease-------------------------------------------------&gt; BOUND
 *  RENEWING, REBINDING --NAK, or lease expiry: unconfigure (Output.unbound)---&gt; INIT
 * </pre>
 * In RENEWING and REBINDING the request is repeated after half the time left until T2 (or expiry),
 * at least every 60 s (RFC 2131 §4.4.5). Replies are matched on xid and client MAC; anything else is
 * ignored and counted. An infinite lease (0xFFFFFFFF) is never renewed.
 *
 * <p>Not thread-safe: one driver (the interface's DHCP actor) owns it.
 */
public final class DhcpClient {
    /** RFC 2131 §4.4.5: the renewing/rebinding retransmission floor. */
    static final long MIN_RENEW_RETRY_NS = 60_000_000_000L;
    private static final long INFINITE = 0xFFFF_FFFFL;
    private static final long S = 1_000_000_000L;

    public enum State { INIT, SELECTING, REQUESTING, BOUND, RENEWING, REBINDING }

    /** A lease as configured: address, netmask, default gateway and DNS (0 when absent), server, seconds. */
    public record Lease(int address, int netmask, int gateway, int dns, int server, long seconds) {
        @Override
        public String toString() {
            return Addresses.ipv4(address) + "/" + Addresses.prefixLength(netmask)
                + (gateway != 0 ? " gw " + Addresses.ipv4(gateway) : "") + " from " + Addresses.ipv4(server)
                + (seconds == INFINITE ? ", infinite lease" : ", lease " + seconds + " s");
        }
    }

    /**
     * Retransmission policy of DISCOVER and REQUEST: the first retry after {@code initialTimeoutNs},
     * doubling up to {@code maxTimeoutNs} (RFC 2131 §4.1 suggests 4 s doubling to 64 s), {@code attempts}
     * messages in all before the round is reported as failed; a new round starts {@code maxTimeoutNs}
     * later.
     */
    public record Settings(long initialTimeoutNs, long maxTimeoutNs, int attempts) {
        public Settings {
            if (initialTimeoutNs <= 0 || maxTimeoutNs < initialTimeoutNs || attempts < 1) {
                throw new IllegalArgumentException("bad DHCP retry settings");
            }
        }
    }

    /** What the client asks its driver to do. */
    public interface Output {
        /** Send {@code b[off .. off + len)} from UDP port 68 to {@code dstIp}:67 (255.255.255.255 = broadcast). */
        void send(int dstIp, DirectBuffer b, int off, int len);

        /** Configure the interface with this lease (also on renewal, with the same address). */
        void bound(Lease lease);

        /** Remove the address (lease expired, or the server said NAK). */
        void unbound(String reason);

        /** A round of DISCOVERs or REQUESTs got no answer; the client tries again later. */
        void failed(String reason);
    }

    private final long mac;
    private final Settings settings;
    private final Output out;
    private final DhcpMessage tx = new DhcpMessage();
    private final DhcpMessage rx = new DhcpMessage();
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[576]);
    private State state = State.INIT;
    private long deadline;
    private long timeout;
    private int attempts;
    private int xid;
    private int xidState;
    private long roundStart;
    private int offered;
    private int server;
    private Lease lease;
    private long boundAt;
    private long t1;
    private long t2;
    private long expiry;
    private long ignored;

    /**
     * @param mac     the interface's MAC (low 48 bits), sent as chaddr and client identifier.
     * @param xidSeed seed of the transaction ids (random per instance in the kernel; fixed in tests).
     */
    public DhcpClient(final long mac, final int xidSeed, final Settings settings, final Output out) {
        this.mac = mac;
        this.settings = settings;
        this.out = out;
        this.xidState = xidSeed == 0 ? 0x2545F491 : xidSeed;
    }

    /** Begin (or restart) discovery at {@code now}. */
    public void start(final long now) {
        state = State.INIT;
        deadline = now;
    }

    public State state() {
        return state;
    }

    /** The current lease, or null when not bound. */
    public Lease lease() {
        return state == State.BOUND || state == State.RENEWING || state == State.REBINDING ? lease : null;
    }

    /** The time the client next needs {@link #poll} (monotonic ns); {@code Long.MAX_VALUE} for never. */
    public long pollAt() {
        return deadline;
    }

    /** Replies ignored (not ours, wrong state, malformed). */
    public long ignored() {
        return ignored;
    }

    private int nextXid() {
        int x = xidState; // xorshift32
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        xidState = x;
        return x;
    }

    /** Do what is due at {@code now}: first or repeated DISCOVER/REQUEST, renewal, rebinding, expiry. */
    public void poll(final long now) {
        if (now - deadline < 0) {
            return;
        }
        switch (state) {
            case INIT -> {
                xid = nextXid();
                roundStart = now;
                attempts = 0;
                timeout = settings.initialTimeoutNs();
                state = State.SELECTING;
                discover(now);
            }
            case SELECTING -> {
                if (attempts >= settings.attempts()) {
                    giveUp(now, "no DHCPOFFER after " + attempts + " DISCOVERs");
                } else {
                    discover(now);
                }
            }
            case REQUESTING -> {
                if (attempts >= settings.attempts()) {
                    giveUp(now, "no DHCPACK for " + Addresses.ipv4(offered) + " after " + attempts + " REQUESTs");
                } else {
                    request(now, Addresses.IP_BROADCAST, true);
                }
            }
            case BOUND -> {
                state = State.RENEWING;
                renew(now);
            }
            case RENEWING -> {
                if (now - t2 >= 0) {
                    state = State.REBINDING;
                }
                renew(now);
            }
            case REBINDING -> {
                if (now - expiry >= 0) {
                    lease = null;
                    state = State.INIT;
                    deadline = now;
                    out.unbound("lease expired");
                    return;
                }
                renew(now);
            }
            default -> throw new IllegalStateException(state.toString());
        }
    }

    private void giveUp(final long now, final String reason) {
        state = State.INIT;
        deadline = now + settings.maxTimeoutNs();
        out.failed(reason);
    }

    private void discover(final long now) {
        tx.clear();
        tx.op = DhcpMessage.OP_REQUEST;
        tx.messageType = DhcpMessage.DISCOVER;
        tx.xid = xid;
        tx.secs = secs(now);
        tx.chaddr = mac;
        tx.parameterRequest = true;
        send(Addresses.IP_BROADCAST);
        retransmitLater(now);
    }

    /** REQUEST for the offered address (SELECTING -> REQUESTING) or the leased one (renew, rebind). */
    private void request(final long now, final int dst, final boolean selecting) {
        tx.clear();
        tx.op = DhcpMessage.OP_REQUEST;
        tx.messageType = DhcpMessage.REQUEST;
        tx.xid = xid;
        tx.secs = secs(now);
        tx.chaddr = mac;
        tx.parameterRequest = true;
        if (selecting) {
            tx.requestedIp = offered;
            tx.serverId = server;
        } else {
            tx.ciaddr = lease.address(); // RFC 2131 table 5: ciaddr set, no requested-ip / server-id
        }
        send(dst);
        if (selecting) {
            retransmitLater(now);
        }
    }

    private void renew(final long now) {
        final boolean rebinding = state == State.REBINDING;
        request(now, rebinding ? Addresses.IP_BROADCAST : server, false);
        final long until = rebinding ? expiry : t2;
        deadline = Math.min(until, now + Math.max((until - now) / 2, MIN_RENEW_RETRY_NS));
        if (deadline - now <= 0) {
            deadline = until;
        }
    }

    private void retransmitLater(final long now) {
        attempts++;
        deadline = now + timeout;
        timeout = Math.min(timeout * 2, settings.maxTimeoutNs());
    }

    private int secs(final long now) {
        return (int)Math.min(0xFFFF, Math.max(0, (now - roundStart) / S));
    }

    private void send(final int dst) {
        final int n = tx.emit(buffer, 0);
        out.send(dst, buffer, 0, n);
    }

    /** A datagram that arrived on UDP port 68 of the interface. */
    public void input(final long now, final DirectBuffer b, final int off, final int len) {
        if (!rx.parse(b, off, len) || rx.op != DhcpMessage.OP_REPLY || rx.xid != xid || rx.chaddr != mac) {
            ignored++;
            return;
        }
        switch (rx.messageType) {
            case DhcpMessage.OFFER -> {
                if (state != State.SELECTING || rx.yiaddr == 0 || rx.serverId == 0) {
                    ignored++;
                    return;
                }
                offered = rx.yiaddr;
                server = rx.serverId;
                state = State.REQUESTING;
                attempts = 0;
                timeout = settings.initialTimeoutNs();
                request(now, Addresses.IP_BROADCAST, true);
            }
            case DhcpMessage.ACK -> {
                if (state != State.REQUESTING && state != State.RENEWING && state != State.REBINDING || rx.yiaddr == 0) {
                    ignored++;
                    return;
                }
                bind(now);
            }
            case DhcpMessage.NAK -> {
                if (state != State.REQUESTING && state != State.RENEWING && state != State.REBINDING
                    || rx.serverId != 0 && state != State.REBINDING && rx.serverId != server) {
                    ignored++;
                    return;
                }
                final boolean wasBound = state != State.REQUESTING;
                lease = null;
                state = State.INIT;
                deadline = now;
                if (wasBound) {
                    out.unbound("the server said NAK");
                }
            }
            default -> ignored++;
        }
    }

    private void bind(final long now) {
        if (rx.serverId != 0) {
            server = rx.serverId;
        }
        final long seconds = rx.leaseSeconds < 0 ? INFINITE : rx.leaseSeconds;
        final int mask = rx.subnetMask != 0 && Addresses.prefixLength(rx.subnetMask) >= 0 ? rx.subnetMask
            : defaultMask(rx.yiaddr);
        lease = new Lease(rx.yiaddr, mask, rx.router, rx.dns, server, seconds);
        boundAt = now;
        state = State.BOUND;
        if (seconds == INFINITE) {
            t1 = t2 = expiry = Long.MAX_VALUE;
            deadline = Long.MAX_VALUE;
        } else {
            final long renewS = rx.renewSeconds >= 0 && rx.renewSeconds <= seconds ? rx.renewSeconds : seconds / 2;
            final long rebindS = rx.rebindSeconds >= 0 && rx.rebindSeconds <= seconds && rx.rebindSeconds >= renewS
                ? rx.rebindSeconds : seconds * 7 / 8;
            t1 = boundAt + renewS * S;
            t2 = boundAt + Math.max(renewS, rebindS) * S;
            expiry = boundAt + seconds * S;
            deadline = t1;
        }
        out.bound(lease);
    }

    /** The classful mask, for a server that sends no subnet-mask option (RFC 2132 §3.3 recommends it). */
    static int defaultMask(final int ip) {
        final int first = ip >>> 24;
        return first < 128 ? 0xFF00_0000 : first < 192 ? 0xFFFF_0000 : 0xFFFF_FF00;
    }
}
