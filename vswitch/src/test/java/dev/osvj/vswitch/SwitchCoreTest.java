package dev.osvj.vswitch;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The forwarding logic on literal Ethernet frames, with time passed in: learning, flooding of unknown
 * unicast, broadcast and multicast (never back out of the ingress port), filtering, ageing, port
 * removal, bad frames and the counters.
 */
class SwitchCoreTest {
    private static final long SECOND = 1_000_000_000L;
    private static final byte[] A = {0x52, 0x54, 0, 0, 0, 0x0A};
    private static final byte[] B = {0x52, 0x54, 0, 0, 0, 0x0B};
    private static final byte[] C = {0x52, 0x54, 0, 0, 0, 0x0C};
    private static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};
    private static final byte[] IPV4_MULTICAST = {0x01, 0x00, 0x5E, 0, 0, 0x01};

    /** One frame the egress saw: the port and the frame's bytes. */
    private record Sent(int port, byte[] frame) {
    }

    private final List<Sent> sent = new ArrayList<>();
    private int refuse = -1;
    private int refuseWith;
    private SwitchCore core;
    private int p0;
    private int p1;
    private int p2;

    @BeforeEach
    void setUp() {
        core = new SwitchCore(8, 1500, 300 * SECOND, 4, this::egress);
        p0 = core.addPort("a");
        p1 = core.addPort("b");
        p2 = core.addPort("c");
    }

    private int egress(final int port, final DirectBuffer buffer, final int offset, final int length) {
        if (port == refuse) {
            return refuseWith;
        }
        final byte[] copy = new byte[length];
        buffer.getBytes(offset, copy);
        sent.add(new Sent(port, copy));
        return SwitchCore.SENT;
    }

    /** dst, src, ethertype 0x0800, then {@code payload} bytes of 0x11. */
    private static byte[] frame(final byte[] dst, final byte[] src, final int payload) {
        final byte[] f = new byte[14 + payload];
        System.arraycopy(dst, 0, f, 0, 6);
        System.arraycopy(src, 0, f, 6, 6);
        f[12] = 0x08;
        for (int i = 14; i < f.length; i++) {
            f[i] = 0x11;
        }
        return f;
    }

    private void in(final int port, final byte[] frame, final long nowNs) {
        final byte[] padded = new byte[frame.length + 8];
        java.util.Arrays.fill(padded, (byte)0xA5);
        System.arraycopy(frame, 0, padded, 4, frame.length);
        core.onFrame(port, new UnsafeBuffer(padded), 4, frame.length, nowNs);
    }

    private List<Integer> ports() {
        return sent.stream().map(Sent::port).toList();
    }

    private PortStats stats(final int port) {
        return core.stats().stream().filter(s -> s.id() == port).findFirst().orElseThrow();
    }

    @Test
    void shouldFloodUnknownUnicastThenForwardOnceLearned() {
        final byte[] aToB = frame(B, A, 46);
        in(p0, aToB, 0);
        assertEquals(List.of(p1, p2), ports(), "B unknown: flooded, not back to a");
        assertArrayEquals(aToB, sent.get(0).frame());
        assertEquals(p0, core.lookup(mac(A), 0), "A learned on a");
        sent.clear();
        in(p1, frame(A, B, 46), SECOND);
        assertEquals(List.of(p0), ports(), "A known: only to a");
        sent.clear();
        in(p0, aToB, 2 * SECOND);
        assertEquals(List.of(p1), ports(), "B learned from its reply");
        assertEquals(1, core.counter(SwitchCore.FLOODED));
        assertEquals(1, core.counter(SwitchCore.UNKNOWN_UNICAST));
        assertEquals(2, core.counter(SwitchCore.LEARNED));
    }

    @Test
    void shouldNeverForwardFromOneTrunkToAnotherSplitHorizon() {
        final int t0 = core.addPort("trunk>x", true);
        final int t1 = core.addPort("trunk>y", true);
        assertTrue(core.isTrunk(t0) && core.isTrunk(t1) && !core.isTrunk(p0));
        in(t0, frame(BROADCAST, A, 28), 0);
        assertEquals(List.of(p0, p1, p2), ports(), "from a trunk: local ports only");
        sent.clear();
        in(t0, frame(C, A, 28), 0);
        assertEquals(List.of(p0, p1, p2), ports(), "unknown unicast from a trunk: local ports only");
        sent.clear();
        in(p0, frame(BROADCAST, B, 28), 0);
        assertEquals(List.of(p1, p2, t0, t1), ports(), "from a local port: every other port, trunks included");
        sent.clear();
        in(t1, frame(C, C, 28), 0); // C learned on trunk y
        sent.clear();
        in(t0, frame(C, A, 28), 0);
        assertEquals(List.of(), ports(), "trunk to trunk, known destination: dropped");
        assertEquals(1, stats(t0).drops(Drop.SPLIT_HORIZON));
        in(p1, frame(A, B, 28), 0);
        assertEquals(List.of(t0), ports(), "A learned on trunk x");
        core.removePort(t0);
        assertEquals(-1, core.lookup(mac(A), 0), "a removed trunk forgets its MACs");
        assertTrue(!core.isTrunk(t0));
    }

    @Test
    void shouldFloodBroadcastAndMulticastToEveryOtherPort() {
        in(p1, frame(BROADCAST, B, 28), 0);
        assertEquals(List.of(p0, p2), ports());
        sent.clear();
        in(p2, frame(IPV4_MULTICAST, C, 28), 0);
        assertEquals(List.of(p0, p1), ports());
        assertEquals(2, core.counter(SwitchCore.FLOODED));
        assertEquals(0, core.counter(SwitchCore.UNKNOWN_UNICAST));
    }

    @Test
    void shouldFilterAFrameForAStationOnTheIngressPort() {
        in(p0, frame(BROADCAST, A, 28), 0);
        in(p0, frame(BROADCAST, C, 28), 0); // C sits behind a too (a bridge behind the port)
        sent.clear();
        in(p0, frame(C, A, 28), 0);
        assertEquals(List.of(), ports());
        assertEquals(1, stats(p0).drops(Drop.FILTERED));
    }

    @Test
    void shouldCountAndDropRuntsGiantsAndGroupSources() {
        in(p0, new byte[13], 0);
        in(p0, frame(B, A, 1500 + 4 + 1), 0);
        in(p0, frame(B, BROADCAST, 46), 0);
        assertEquals(List.of(), ports());
        final PortStats s = stats(p0);
        assertEquals(1, s.drops(Drop.RUNT));
        assertEquals(1, s.drops(Drop.GIANT));
        assertEquals(1, s.drops(Drop.BAD_SOURCE));
        assertEquals(3, s.rxFrames());
        assertEquals(13 + 1519 + 60, s.rxBytes());
        assertEquals(-1, core.lookup(mac(A), 0), "nothing learned from a bad frame");
        in(p0, frame(B, A, 1500 + 4), 0);
        assertEquals(List.of(p1, p2), ports(), "MTU plus one 802.1Q tag is fine");
    }

    @Test
    void shouldCountFramesAndBytesBothWays() {
        in(p0, frame(BROADCAST, A, 46), 0);   // 60 bytes to b and c
        in(p1, frame(A, B, 100), 0);          // 114 bytes to a
        assertEquals(new PortStats(p0, "a", 1, 60, 1, 114, stats(p0).drops(), 1), stats(p0));
        final PortStats b = stats(p1);
        assertEquals(1, b.rxFrames());
        assertEquals(114, b.rxBytes());
        assertEquals(1, b.txFrames());
        assertEquals(60, b.txBytes());
        assertEquals(1, b.macs());
        assertEquals(0, stats(p2).macs());
        assertEquals(60, stats(p2).txBytes());
    }

    @Test
    void shouldCountEgressDropsOnTheEgressPortAndKeepForwarding() {
        refuse = p1;
        refuseWith = Drop.BACK_PRESSURED.ordinal() + 1;
        in(p0, frame(BROADCAST, A, 46), 0);
        assertEquals(List.of(p2), ports(), "c still gets its copy");
        assertEquals(1, stats(p1).drops(Drop.BACK_PRESSURED));
        assertEquals(0, stats(p1).txFrames());
        refuseWith = Drop.NOT_CONNECTED.ordinal() + 1;
        in(p0, frame(BROADCAST, A, 46), 0);
        assertEquals(1, stats(p1).drops(Drop.NOT_CONNECTED));
    }

    @Test
    void shouldAgeOutStationsThatWentQuiet() {
        in(p0, frame(BROADCAST, A, 46), 0);
        assertEquals(p0, core.lookup(mac(A), 300 * SECOND));
        assertEquals(-1, core.lookup(mac(A), 301 * SECOND), "aged out on lookup");
        sent.clear();
        in(p1, frame(A, B, 46), 301 * SECOND);
        assertEquals(List.of(p0, p2), ports(), "an aged-out destination is flooded again");
        assertEquals(1, core.age(500 * SECOND), "A swept, B (seen at 301 s) kept");
        assertEquals(0, core.age(500 * SECOND));
        assertEquals(1, core.macCount());
        assertEquals(1, core.age(1000 * SECOND));
        assertEquals(0, core.macCount());
    }

    @Test
    void shouldRelearnAStationThatMoved() {
        in(p0, frame(BROADCAST, A, 46), 0);
        in(p2, frame(BROADCAST, A, 46), 0);
        assertEquals(p2, core.lookup(mac(A), 0));
        assertEquals(1, core.counter(SwitchCore.MOVED));
    }

    @Test
    void shouldForgetTheMacsOfARemovedPortAndNotFloodToIt() {
        in(p0, frame(BROADCAST, A, 46), 0);
        in(p1, frame(BROADCAST, B, 46), 0);
        final PortStats last = core.removePort(p1);
        assertEquals("b", last.name());
        assertEquals(1, last.rxFrames());
        assertEquals(-1, core.lookup(mac(B), 0));
        assertEquals(p0, core.lookup(mac(A), 0));
        sent.clear();
        in(p0, frame(B, A, 46), 0);
        assertEquals(List.of(p2), ports(), "B unknown again; the removed port gets nothing");
        assertEquals(2, core.portCount());
        assertEquals(p1, core.addPort("d"), "its number is reused");
        assertEquals(0, stats(p1).rxFrames(), "with fresh counters");
    }

    @Test
    void shouldStillForwardWhenTheTableIsFull() {
        for (int i = 0; i < 6; i++) {
            in(p0, frame(BROADCAST, new byte[] {0x52, 0, 0, 0, 1, (byte)i}, 46), 0);
        }
        assertEquals(4, core.macCount());
        assertEquals(2, core.counter(SwitchCore.TABLE_FULL));
        sent.clear();
        in(p1, frame(new byte[] {0x52, 0, 0, 0, 1, 5}, B, 46), 0);
        assertEquals(List.of(p0, p2), ports(), "an unlearned station is flooded to");
    }

    @Test
    void shouldRefuseAPortOverTheLimit() {
        final SwitchCore small = new SwitchCore(1, 1500, SECOND, 4, this::egress);
        assertEquals(0, small.addPort("x"));
        assertEquals(-1, small.addPort("y"));
        assertTrue(small.hasPort(0));
    }

    private static long mac(final byte[] m) {
        return SwitchCore.mac(new UnsafeBuffer(m), 0);
    }

    private static void assertArrayEquals(final byte[] expected, final byte[] actual) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(expected, actual);
    }
}
