package dev.osvj.net.dhcp;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The DHCP client state machine at explicit virtual times: every message it sends is decoded and
 * asserted, the server's replies are built as {@link DhcpMessage}s and fed back.
 */
class DhcpClientTest {
    private static final long S = 1_000_000_000L;
    private static final long MAC = 0x525400123456L;
    private static final int GUEST = 0x0A00020F;
    private static final int SERVER = 0x0A000202;
    private static final int BROADCAST = 0xFFFFFFFF;

    private record Sent(int dst, DhcpMessage message) {
    }

    private final List<Sent> sent = new ArrayList<>();
    private final List<String> events = new ArrayList<>();
    private DhcpClient client;

    @BeforeEach
    void setUp() {
        client = new DhcpClient(MAC, 42, new DhcpClient.Settings(S, 8 * S, 3), new DhcpClient.Output() {
            @Override
            public void send(final int dstIp, final DirectBuffer b, final int off, final int len) {
                final DhcpMessage m = new DhcpMessage();
                assertTrue(m.parse(b, off, len), "the client emits parseable messages");
                sent.add(new Sent(dstIp, m));
            }

            @Override
            public void bound(final DhcpClient.Lease lease) {
                events.add("bound " + lease);
            }

            @Override
            public void unbound(final String reason) {
                events.add("unbound " + reason);
            }

            @Override
            public void failed(final String reason) {
                events.add("failed " + reason);
            }
        });
    }

    private Sent last() {
        return sent.get(sent.size() - 1);
    }

    private void reply(final long now, final int type, final int xid, final long leaseSeconds) {
        final DhcpMessage m = new DhcpMessage();
        m.op = DhcpMessage.OP_REPLY;
        m.messageType = type;
        m.xid = xid;
        m.chaddr = MAC;
        m.serverId = SERVER;
        if (type != DhcpMessage.NAK) {
            m.yiaddr = GUEST;
            m.subnetMask = 0xFFFFFF00;
            m.router = SERVER;
            m.leaseSeconds = leaseSeconds;
        }
        final UnsafeBuffer b = new UnsafeBuffer(new byte[600]);
        final int n = m.emit(b, 0);
        client.input(now, b, 0, n);
    }

    /** DISCOVER, OFFER, REQUEST, ACK at t = 0; returns the xid. */
    private int bindAt(final long now, final long leaseSeconds) {
        client.start(now);
        client.poll(now);
        final int xid = last().message().xid;
        reply(now, DhcpMessage.OFFER, xid, leaseSeconds);
        reply(now, DhcpMessage.ACK, xid, leaseSeconds);
        return xid;
    }

    @Test
    void shouldDiscoverRequestAndBind() {
        client.start(0);
        client.poll(0);
        assertEquals(DhcpClient.State.SELECTING, client.state());
        final Sent discover = last();
        assertEquals(BROADCAST, discover.dst());
        assertEquals(DhcpMessage.DISCOVER, discover.message().messageType);
        assertEquals(MAC, discover.message().chaddr);
        final int xid = discover.message().xid;

        reply(S / 10, DhcpMessage.OFFER, xid, 3600);
        assertEquals(DhcpClient.State.REQUESTING, client.state());
        final Sent request = last();
        assertEquals(BROADCAST, request.dst());
        assertEquals(DhcpMessage.REQUEST, request.message().messageType);
        assertEquals(GUEST, request.message().requestedIp);
        assertEquals(SERVER, request.message().serverId);
        assertEquals(0, request.message().ciaddr);
        assertEquals(xid, request.message().xid);

        reply(S / 5, DhcpMessage.ACK, xid, 3600);
        assertEquals(DhcpClient.State.BOUND, client.state());
        assertEquals(List.of("bound 10.0.2.15/24 gw 10.0.2.2 from 10.0.2.2, lease 3600 s"), events);
        final DhcpClient.Lease lease = client.lease();
        assertNotNull(lease);
        assertEquals(GUEST, lease.address());
        // T1 is half the lease after the ACK
        assertEquals(S / 5 + 1800 * S, client.pollAt());
        assertEquals(2, sent.size(), "nothing else was sent");
    }

    @Test
    void shouldRetransmitDiscoverWithBackoffAndReportFailureThenStartOver() {
        client.start(0);
        client.poll(0);
        assertEquals(1, sent.size());
        client.poll(S - 1);
        assertEquals(1, sent.size(), "not before the timeout");
        client.poll(S);
        assertEquals(2, sent.size());
        assertEquals(3 * S, client.pollAt(), "the second timeout is twice the first");
        client.poll(3 * S);
        assertEquals(3, sent.size());
        assertEquals(7 * S, client.pollAt());
        client.poll(7 * S); // three attempts were made: the round fails
        assertEquals(3, sent.size());
        assertEquals(List.of("failed no DHCPOFFER after 3 DISCOVERs"), events);
        assertEquals(DhcpClient.State.INIT, client.state());
        assertEquals(15 * S, client.pollAt(), "a new round after max-timeout");
        client.poll(15 * S);
        assertEquals(4, sent.size());
        assertTrue(last().message().xid != sent.get(0).message().xid, "a new round has a new xid");
    }

    @Test
    void shouldIgnoreRepliesForOtherTransactionsOrClients() {
        client.start(0);
        client.poll(0);
        final int xid = last().message().xid;
        reply(0, DhcpMessage.OFFER, xid + 1, 3600);
        assertEquals(DhcpClient.State.SELECTING, client.state());
        reply(0, DhcpMessage.ACK, xid, 3600); // an ACK while selecting
        assertEquals(DhcpClient.State.SELECTING, client.state());
        final byte[] junk = new byte[100];
        client.input(0, new UnsafeBuffer(junk), 0, junk.length);
        assertEquals(3, client.ignored());
        assertEquals(1, sent.size());
    }

    @Test
    void shouldStartOverOnNakWhileRequesting() {
        client.start(0);
        client.poll(0);
        final int xid = last().message().xid;
        reply(0, DhcpMessage.OFFER, xid, 3600);
        reply(S, DhcpMessage.NAK, xid, 0);
        assertEquals(DhcpClient.State.INIT, client.state());
        assertTrue(events.isEmpty(), "nothing was configured, nothing to remove");
        client.poll(S);
        assertEquals(DhcpMessage.DISCOVER, last().message().messageType);
    }

    @Test
    void shouldRenewByUnicastAtT1AndRebindByBroadcastAtT2() {
        final int xid = bindAt(0, 1000);
        sent.clear();
        client.poll(500 * S - 1);
        assertTrue(sent.isEmpty());
        client.poll(500 * S); // T1
        assertEquals(DhcpClient.State.RENEWING, client.state());
        assertEquals(SERVER, last().dst(), "renewal goes to the server");
        assertEquals(GUEST, last().message().ciaddr);
        assertEquals(0, last().message().requestedIp);
        assertEquals(0, last().message().serverId);
        // T2 = 875 s: half of the 375 s left is 187.5 s
        assertEquals(500 * S + 187_500_000_000L, client.pollAt());
        client.poll(client.pollAt());
        assertEquals(2, sent.size());
        client.poll(875 * S); // T2
        assertEquals(DhcpClient.State.REBINDING, client.state());
        assertEquals(BROADCAST, last().dst());
        // an ACK while rebinding renews the lease
        reply(900 * S, DhcpMessage.ACK, xid, 1000);
        assertEquals(DhcpClient.State.BOUND, client.state());
        assertEquals(1400 * S, client.pollAt());
        assertEquals("bound 10.0.2.15/24 gw 10.0.2.2 from 10.0.2.2, lease 1000 s", events.get(events.size() - 1));
    }

    @Test
    void shouldDropTheAddressWhenTheLeaseExpires() {
        bindAt(0, 100);
        for (long t = 0; t <= 100 * S; t = Math.min(client.pollAt(), 100 * S) == t ? t + S : Math.min(client.pollAt(), 100 * S)) {
            client.poll(t);
        }
        assertEquals(DhcpClient.State.INIT, client.state());
        assertNull(client.lease());
        assertEquals("unbound lease expired", events.get(events.size() - 1));
        client.poll(100 * S);
        assertEquals(DhcpMessage.DISCOVER, last().message().messageType);
    }

    @Test
    void shouldUnbindOnNakWhileRenewing() {
        final int xid = bindAt(0, 1000);
        client.poll(500 * S);
        reply(501 * S, DhcpMessage.NAK, xid, 0);
        assertEquals(DhcpClient.State.INIT, client.state());
        assertEquals("unbound the server said NAK", events.get(events.size() - 1));
    }

    @Test
    void shouldNeverRenewAnInfiniteLease() {
        bindAt(0, 0xFFFF_FFFFL);
        assertEquals(Long.MAX_VALUE, client.pollAt());
        assertEquals("bound 10.0.2.15/24 gw 10.0.2.2 from 10.0.2.2, infinite lease", events.get(0));
    }
}
