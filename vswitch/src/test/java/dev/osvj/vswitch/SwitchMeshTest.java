package dev.osvj.vswitch;

import dev.osvj.virtio.net.FrameTransport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Three switches on three hosts (each its own media driver, as on three machines) joined as a full
 * mesh of UDP trunks: stations on different switches reach each other, a broadcast reaches every
 * station exactly once (split horizon, no loop), MACs are learned across trunks, and a switch that
 * dies is dropped from the mesh by the survivors, its MACs forgotten.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SwitchMeshTest {
    private static final long DEADLINE_NS = TimeUnit.SECONDS.toNanos(60);

    private static void await(final String what, final BooleanSupplier condition) {
        final long deadline = System.nanoTime() + DEADLINE_NS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    /** dst (0xFF broadcast), src, ethertype 0x88B5, tag byte, zeros to 60 bytes. */
    private static byte[] frame(final int dst, final int src, final int tag) {
        final byte[] f = new byte[60];
        f[0] = 0x52;
        f[5] = (byte)dst;
        if (dst == 0xFF) {
            java.util.Arrays.fill(f, 0, 6, (byte)0xFF);
        }
        f[6] = 0x52;
        f[11] = (byte)src;
        f[12] = (byte)0x88;
        f[13] = (byte)0xB5;
        f[14] = (byte)tag;
        return f;
    }

    /** Poll {@code port} until a frame tagged {@code tag} was seen; every frame's tag goes to {@code tags}. */
    private static void receive(final FrameTransport port, final int tag, final List<Integer> tags) {
        await("frame " + tag + " on " + port.describe(), () -> {
            port.poll((segment, offset, length) -> tags.add((int)segment.get(ValueLayout.JAVA_BYTE, offset + 14)), 16);
            return tags.contains(tag);
        });
    }

    private static int send(final FrameTransport port, final byte[] frame) {
        return port.send(MemorySegment.ofArray(frame), 0, frame.length);
    }

    private static long count(final List<Integer> tags, final int tag) {
        return tags.stream().filter(t -> t == tag).count();
    }

    @Test
    void shouldJoinSwitchesOfThreeHostsAsAMeshWithoutLoopsAndDropADeadOne() {
        final SwitchHost ha = SwitchHost.start();
        final SwitchHost hb = SwitchHost.start();
        final SwitchHost hc = SwitchHost.start();
        try {
            final VSwitch a = ha.startSwitch(SwitchSpec.of("mesh-a").withUdp("127.0.0.1:0"));
            final VSwitch b = hb.startSwitch(SwitchSpec.of("mesh-b").withUdp("127.0.0.1:0"));
            final VSwitch c = hc.startSwitch(SwitchSpec.of("mesh-c").withUdp("127.0.0.1:0"));
            await("udp endpoints bound", () -> !a.udpEndpoint().isEmpty() && !b.udpEndpoint().isEmpty() && !c.udpEndpoint().isEmpty());
            // one link per pair: a joins b and c, b joins c
            assertTrue(a.addTrunk("mesh-b", b.udpEndpoint()));
            assertTrue(a.addTrunk("mesh-c", c.udpEndpoint()));
            assertTrue(b.addTrunk("mesh-c", c.udpEndpoint()));
            assertFalse(a.addTrunk("mesh-b", b.udpEndpoint()), "a second link to the same peer is refused");
            assertEquals(Set.of(b.udpEndpoint(), c.udpEndpoint()), a.trunks());

            try (SwitchPort sa = a.connect("sa"); SwitchPort sb = b.connect("sb"); SwitchPort sc = c.connect("sc")) {
                final List<Integer> atA = new ArrayList<>();
                final List<Integer> atB = new ArrayList<>();
                final List<Integer> atC = new ArrayList<>();
                assertEquals(0, send(sa, frame(0xFF, 0x0A, 1)));
                receive(sb, 1, atB);
                receive(sc, 1, atC);
                // c answers a by unicast (a's MAC learned through the trunk), then each station sends a marker
                assertEquals(0, send(sc, frame(0x0A, 0x0C, 2)));
                receive(sa, 2, atA);
                assertEquals(0, send(sb, frame(0x0C, 0x0B, 3)));
                receive(sc, 3, atC);
                assertEquals(0, send(sa, frame(0x0B, 0x0A, 4)));
                receive(sb, 4, atB);
                assertEquals(1, count(atB, 1), "one copy of the broadcast at b: " + atB);
                assertEquals(1, count(atC, 1), "one copy of the broadcast at c: " + atC);
                assertFalse(atB.contains(2), "c's unicast to a (learned) never reached b: " + atB);
                assertTrue(atA.stream().noneMatch(t -> t == 1), "a's broadcast never came back: " + atA);
                final int trunkToC = a.ports().stream().filter(p -> p.name().equals("trunk>" + c.udpEndpoint())).findFirst()
                    .orElseThrow(() -> new AssertionError(a.describe())).id();
                assertEquals(trunkToC, a.portOf(0x52000000000CL), "c's station learned on a's trunk to c");
                assertTrue(c.ports().stream().filter(p -> p.name().startsWith("trunk ")).count() == 2, c.describe());

                // host c dies: a and b drop their trunks to it and forget its station
                final String deadEndpoint = c.udpEndpoint();
                sc.close();
                hc.close();
                await("a and b drop the dead trunk", () -> !a.trunks().contains(deadEndpoint) && !b.trunks().contains(deadEndpoint));
                assertEquals(-1, a.portOf(0x52000000000CL));
                assertEquals(0, send(sa, frame(0x0B, 0x0A, 5)));
                receive(sb, 5, atB);
            }
        } finally {
            hc.close();
            hb.close();
            ha.close();
        }
    }
}
