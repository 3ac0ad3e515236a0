package dev.osvj.vswitch;

import dev.osvj.virtio.net.FrameTransport;
import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Switches on a real embedded Aeron media driver: ports joined over aeron:ipc and aeron:udp exchange
 * literal frames, the switch learns, floods and filters, counts, removes a port that said BYE or whose
 * client died, and back pressure is a return code. Every wait is for a condition, with a deadline.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VSwitchTest {
    private static final long DEADLINE_NS = TimeUnit.SECONDS.toNanos(30);
    private static SwitchHost host;

    @BeforeAll
    static void start() {
        host = SwitchHost.start();
    }

    @AfterAll
    static void stop() {
        host.close();
        assertFalse(Files.exists(Path.of(host.aeronDir())), "the driver's directory is deleted");
    }

    private static void await(final String what, final BooleanSupplier condition) {
        final long deadline = System.nanoTime() + DEADLINE_NS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out waiting for: " + what);
            }
            LockSupport.parkNanos(200_000);
        }
    }

    /** dst, src (0xFF: broadcast), ethertype 0x88B5 (local experimental), then {@code tag} and zeros up to {@code length}. */
    private static byte[] frame(final int dst, final int src, final int tag, final int length) {
        final byte[] f = new byte[length];
        f[0] = 0x52;
        f[5] = (byte)dst;
        f[6] = 0x52;
        f[11] = (byte)src;
        if (dst == 0xFF) {
            Arrays.fill(f, 0, 6, (byte)0xFF);
        }
        if (src == 0xFF) {
            Arrays.fill(f, 6, 12, (byte)0xFF);
        }
        f[12] = (byte)0x88;
        f[13] = (byte)0xB5;
        f[14] = (byte)tag;
        return f;
    }

    private static int send(final FrameTransport port, final byte[] frame) {
        return port.send(MemorySegment.ofArray(frame), 0, frame.length);
    }

    /** Poll {@code port} until a frame whose tag byte is {@code tag} arrives; every frame seen is kept in {@code seen}. */
    private static byte[] receive(final FrameTransport port, final int tag, final List<byte[]> seen) {
        final byte[][] hit = new byte[1][];
        await("frame tagged " + tag + " on " + port.describe(), () -> {
            port.poll((segment, offset, length) -> {
                final byte[] copy = new byte[length];
                MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset, copy, 0, length);
                seen.add(copy);
                if (length > 14 && copy[14] == (byte)tag && hit[0] == null) {
                    hit[0] = copy;
                }
            }, 16);
            return hit[0] != null;
        });
        return hit[0];
    }

    private static PortStats stats(final VSwitch sw, final String name) {
        return sw.ports().stream().filter(p -> p.name().equals(name)).findFirst()
            .orElseThrow(() -> new AssertionError("no port " + name + " in " + sw.ports()));
    }

    @Test
    void shouldFloodLearnAndForwardBetweenIpcPorts() {
        final VSwitch sw = host.startSwitch(SwitchSpec.of("t-learn"));
        try (SwitchPort a = sw.connect("a"); SwitchPort b = sw.connect("b"); SwitchPort c = sw.connect("c")) {
            final List<byte[]> atA = new ArrayList<>();
            final List<byte[]> atB = new ArrayList<>();
            final List<byte[]> atC = new ArrayList<>();
            final byte[] hello = frame(0xFF, 0x0A, 1, 60);
            assertEquals(0, send(a, hello));
            assertArrayEquals(hello, receive(b, 1, atB), "broadcast to b");
            assertArrayEquals(hello, receive(c, 1, atC), "broadcast to c");
            // b answers a (learned) then broadcasts a marker: c sees the marker, never the unicast
            assertEquals(0, send(b, frame(0x0A, 0x0B, 2, 100)));
            assertEquals(0, send(b, frame(0xFF, 0x0B, 3, 60)));
            receive(a, 2, atA);
            receive(c, 3, atC);
            assertTrue(atC.stream().noneMatch(f -> f[14] == 2), "unicast to a known MAC went to a only");
            assertTrue(atA.stream().noneMatch(f -> f[14] == 1), "a's own broadcast never came back");
            // unknown unicast is flooded
            assertEquals(0, send(c, frame(0x0D, 0x0C, 4, 60)));
            receive(a, 4, atA);
            receive(b, 4, atB);
            final PortStats pa = stats(sw, "a");
            assertEquals(1, pa.rxFrames());
            assertEquals(60, pa.rxBytes());
            assertEquals(1, pa.macs());
            assertEquals(sw.portOf(0x52000000000AL), pa.id());
            final PortStats pb = stats(sw, "b");
            assertEquals(2, pb.rxFrames());
            assertEquals(160, pb.rxBytes());
            assertEquals(2, pb.txFrames(), "a's broadcast and c's flood");
            assertEquals(2, sw.flooded() - 1, "two broadcasts and one unknown unicast flooded");
            assertEquals(1, sw.unknownUnicast());
            assertTrue(sw.describe().contains(" a rx 1/60 "), sw.describe());
            assertEquals(1, a.txCutThrough(), "a port in the switch's JVM forwards on its own thread");
            assertEquals(2, b.txCutThrough());
        } finally {
            sw.close();
        }
        assertTrue(SwitchHost.find("t-learn").isEmpty());
    }

    @Test
    void shouldSendInlineThroughTheUplinkWhileTheSwitchIsBusyAndKeepTheFramesInOrder() throws Exception {
        try (SwitchHost inlineHost = SwitchHost.start(SwitchHost.Options.defaults().withInlineTransmit(true))) {
            sendInlineWhileBusy(inlineHost);
        }
    }

    private static void sendInlineWhileBusy(final SwitchHost inlineHost) throws Exception {
        final VSwitch sw = inlineHost.startSwitch(SwitchSpec.of("t-inline"));
        try (SwitchPort a = sw.connect("a"); SwitchPort b = sw.connect("b")) {
            assertTrue(a.transmitsInline(), "a local port on a cut-through host with inline transmit transmits inline");
            final java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
            final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
            final Thread busy = Thread.ofPlatform().start(() -> {
                sw.forwardingLock().lock(); // the switch is forwarding on another thread
                try {
                    held.countDown();
                    release.await();
                } catch (final InterruptedException e) {
                    Thread.currentThread().interrupt();
                } finally {
                    sw.forwardingLock().unlock();
                }
            });
            try {
                assertTrue(held.await(30, TimeUnit.SECONDS));
                for (int tag = 1; tag <= 3; tag++) {
                    assertEquals(0, send(a, frame(0xFF, 0x0A, tag, 60)), "an inline send never waits: hand-off");
                }
                assertEquals(1, sw.lockBusy(), "the first found the switch busy...");
                assertEquals(3, sw.handedOff(), "...and the next ones followed it into the hand-off ring, in order");
                assertEquals(0, a.txCutThrough());
                assertEquals(0, a.txInlineBusy(), "none took the uplink");
            } finally {
                release.countDown();
                busy.join();
            }
            // frames 1..3 may still be in the ring (the switch thread drains what a foreign holder left): the
            // next ones must not overtake them
            for (int tag = 4; tag <= 6; tag++) {
                assertEquals(0, send(a, frame(0xFF, 0x0A, tag, 60)));
            }
            final List<byte[]> atB = new ArrayList<>();
            receive(b, 6, atB);
            final List<Integer> order = atB.stream().map(f -> (int)f[14]).toList();
            assertEquals(List.of(1, 2, 3, 4, 5, 6), order, "in the order a sent them");
            assertEquals(0, a.txInlineBusy(), "none took the uplink");
            await("a's handed-off frames forwarded", () -> !a.handOffsPending());
            assertEquals(0, send(a, frame(0xFF, 0x0A, 7, 60)));
            receive(b, 7, new ArrayList<>());
            assertTrue(a.txCutThrough() >= 1, "cut through again once the uplink was forwarded");
        } finally {
            sw.close();
        }
    }

    /**
     * Hold {@code sw}'s switch thread in its next idle duty cycle (as a preempted or spinning switch thread
     * would be) until the returned handle is closed; returns once the thread is there.
     */
    private static AutoCloseable holdInIdleDutyCycle(final VSwitch sw) throws Exception {
        final java.util.concurrent.CountDownLatch idle = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        sw.idleProbe(() -> {
            if (idle.getCount() > 0) {
                idle.countDown();
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (final InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        final AutoCloseable handle = () -> {
            release.countDown();
            sw.idleProbe(null);
        };
        if (!idle.await(30, TimeUnit.SECONDS)) {
            handle.close();
            throw new AssertionError("the switch thread ran no idle duty cycle within 30 s");
        }
        return handle;
    }

    /**
     * The switch thread in an idle duty cycle (held there by the test's probe, as a preempted or spinning
     * switch thread would be) does not hold the forwarding lock: every inline send cuts through, none
     * takes the uplink. Until session 8 every duty cycle ran under the lock, and these sends all found it
     * held ({@link VSwitch#cutBusy}).
     */
    @Test
    void shouldCutInlineSendsThroughWhileTheSwitchThreadRunsAnIdleDutyCycle() throws Exception {
        try (SwitchHost inlineHost = SwitchHost.start(SwitchHost.Options.defaults().withInlineTransmit(true))) {
            final VSwitch sw = inlineHost.startSwitch(SwitchSpec.of("t-idle"));
            try (SwitchPort a = sw.connect("a"); SwitchPort b = sw.connect("b")) {
                assertEquals(0, send(b, frame(0xFF, 0x0B, 1, 60)), "b is learned");
                receive(a, 1, new ArrayList<>());
                final long lockedBefore;
                try (AutoCloseable held = holdInIdleDutyCycle(sw)) {
                    lockedBefore = sw.lockedDutyCycles();
                    final int frames = 50;
                    for (int tag = 2; tag < 2 + frames; tag++) {
                        assertEquals(0, send(a, frame(0x0B, 0x0A, tag, 60)));
                    }
                    assertEquals(0, sw.cutBusy(), "no inline send found the forwarding lock held");
                    assertEquals(0, a.txInlineBusy());
                    assertEquals(frames, a.txCutThrough(), "every one cut through on the sending thread");
                    assertEquals(lockedBefore, sw.lockedDutyCycles(), "the switch thread is still in its idle cycle");
                }
                final List<byte[]> atB = new ArrayList<>();
                receive(b, 51, atB);
                assertEquals(50, atB.stream().filter(f -> f[14] >= 2).count(), "all of them reached b");
            } finally {
                sw.close();
            }
        }
    }

    /**
     * An inline send that finds the forwarding lock held hands its frame to the holder: the next thread
     * that takes the lock forwards it, here another port's inline sender, while the switch thread is held
     * in an idle duty cycle, so no switch-thread hand-off is involved. Until session 8 the frame took the
     * uplink and waited for the switch thread.
     */
    @Test
    void shouldForwardAFrameHandedOffByABusyInlineSendOnTheNextLockHolder() throws Exception {
        try (SwitchHost inlineHost = SwitchHost.start(SwitchHost.Options.defaults().withInlineTransmit(true))) {
            final VSwitch sw = inlineHost.startSwitch(SwitchSpec.of("t-handoff"));
            try (SwitchPort a = sw.connect("a"); SwitchPort b = sw.connect("b"); SwitchPort c = sw.connect("c")) {
                try (AutoCloseable idle = holdInIdleDutyCycle(sw)) {
                    final long lockedBefore = sw.lockedDutyCycles();
                    final java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
                    final java.util.concurrent.CountDownLatch sent = new java.util.concurrent.CountDownLatch(1);
                    final Thread holder = Thread.ofPlatform().start(() -> {
                        sw.forwardingLock().lock(); // another thread forwarding
                        try {
                            held.countDown();
                            sent.await();
                        } catch (final InterruptedException e) {
                            Thread.currentThread().interrupt();
                        } finally {
                            sw.forwardingLock().unlock();
                        }
                    });
                    assertTrue(held.await(30, TimeUnit.SECONDS));
                    assertEquals(0, send(a, frame(0xFF, 0x0A, 21, 60)));
                    sent.countDown();
                    holder.join();
                    assertEquals(1, sw.lockBusy(), "a found the lock held");
                    assertEquals(0, a.txInlineBusy(), "and did not take the uplink");
                    assertEquals(0, send(c, frame(0xFF, 0x0C, 22, 60)), "c takes the lock and drains the ring");
                    final List<byte[]> atB = new ArrayList<>();
                    receive(b, 22, atB);
                    assertEquals(List.of(21, 22), atB.stream().map(f -> (int)f[14]).toList(),
                        "a's frame forwarded by c's sending thread, before c's own");
                    assertEquals(1, a.txHandedOff());
                    assertEquals(lockedBefore, sw.lockedDutyCycles(), "the switch thread did not forward it");
                }
            } finally {
                sw.close();
            }
        }
    }

    /**
     * A thread that is forwarding (it holds the forwarding lock) and sends again on its own stack, as a
     * destination guest's receive interrupt run inline on the forwarding thread does when its handler
     * transmits inline: the switch is not re-entered (its forwarding state belongs to the outer frame);
     * the frame is handed off through the ring, for the outer forwarding (here, as the test's lock is not
     * the switch's code, for the switch thread) to forward.
     */
    @Test
    void shouldNotReenterTheSwitchFromTheForwardingThread() throws Exception {
        try (SwitchHost inlineHost = SwitchHost.start(SwitchHost.Options.defaults().withInlineTransmit(true))) {
            final VSwitch sw = inlineHost.startSwitch(SwitchSpec.of("t-reenter"));
            try (SwitchPort a = sw.connect("a"); SwitchPort b = sw.connect("b")) {
                sw.forwardingLock().lock(); // this thread is forwarding
                try {
                    assertEquals(0, send(a, frame(0xFF, 0x0A, 11, 60)));
                    assertEquals(0, a.txCutThrough(), "not cut through on the thread that holds the forwarding lock");
                    assertEquals(1, sw.handedOff(), "handed off to the outer forwarding");
                    assertEquals(0, a.txInlineBusy(), "not up the uplink");
                } finally {
                    sw.forwardingLock().unlock();
                }
                receive(b, 11, new ArrayList<>());
            } finally {
                sw.close();
            }
        }
    }

    /**
     * {@link SwitchPort#mayHaveFrames}: a port whose switch runs in this JVM with cut-through knows when its
     * downlink holds a frame (the switch counts what it offers there), so its device's backend thread need
     * not poll it (nor take its receive lock) while it is empty.
     */
    @Test
    void shouldTellWhetherTheDownlinkMayHoldAFrame() {
        final VSwitch sw = host.startSwitch(SwitchSpec.of("t-may"));
        try (SwitchPort a = sw.connect("a"); SwitchPort b = sw.connect("b")) {
            assertFalse(b.mayHaveFrames(), "nothing sent to b yet");
            assertEquals(0, send(a, frame(0xFF, 0x0A, 31, 60)));
            assertTrue(b.mayHaveFrames(), "a's broadcast is on b's downlink (b has no device to receive it directly)");
            receive(b, 31, new ArrayList<>());
            assertFalse(b.mayHaveFrames(), "b read it");
        } finally {
            sw.close();
        }
        try (SwitchHost plain = SwitchHost.start(SwitchHost.Options.defaults().withCutThrough(false))) {
            final VSwitch other = plain.startSwitch(SwitchSpec.of("t-may-plain"));
            try (SwitchPort c = other.connect("c")) {
                assertTrue(c.mayHaveFrames(), "without cut-through the port cannot know: always poll");
            }
        }
    }

    @Test
    void shouldTransmitInlineByDefaultYetCutThroughOnTheDevicesThreadWhenAsked() {
        try (SwitchHost h = SwitchHost.start()) {
            final VSwitch sw = h.startSwitch(SwitchSpec.of("t-inline-default"));
            try (SwitchPort p = sw.connect("p")) {
                assertTrue(p.transmitsInline(), "inline-transmit = all by default");
            }
        }
        try (SwitchHost h = SwitchHost.start(SwitchHost.Options.defaults().withInlineTransmit(false))) {
            final VSwitch sw = h.startSwitch(SwitchSpec.of("t-no-inline"));
            try (SwitchPort a = sw.connect("a"); SwitchPort b = sw.connect("b")) {
                assertFalse(a.transmitsInline());
                assertEquals(0, send(a, frame(0xFF, 0x0A, 9, 60)));
                receive(b, 9, new ArrayList<>());
                assertEquals(1, a.txCutThrough(), "still cut through, on the device's own thread");
            }
        }
    }

    @Test
    void shouldForwardThroughTheSwitchThreadWithoutCutThrough() {
        try (SwitchHost plain = SwitchHost.start(SwitchHost.Options.defaults().withCutThrough(false))) {
            final VSwitch sw = plain.startSwitch(SwitchSpec.of("t-plain"));
            try (SwitchPort a = sw.connect("a"); SwitchPort b = sw.connect("b")) {
                assertEquals(0, send(a, frame(0xFF, 0x0A, 7, 60)));
                receive(b, 7, new ArrayList<>());
                assertEquals(0, send(b, frame(0x0A, 0x0B, 8, 60)));
                receive(a, 8, new ArrayList<>());
                assertEquals(0, a.txCutThrough() + b.txCutThrough(), "every frame went up the uplinks");
                assertEquals(1, stats(sw, "a").rxFrames());
            }
        }
    }

    @Test
    void shouldCountAndDropBadFrames() {
        final VSwitch sw = host.startSwitch(SwitchSpec.of("t-bad").withMtu(500));
        try (SwitchPort a = SwitchPort.join(host.aeron(), "t-bad", "aeron:ipc", "a", 1500); SwitchPort b = sw.connect("b")) {
            assertEquals(0, send(a, new byte[10]));
            assertEquals(0, send(a, frame(0xFF, 0x0A, 1, 14 + 500 + 4 + 1)), "the port's own MTU check is larger");
            assertEquals(0, send(a, frame(0xFF, 0xFF, 1, 60)), "broadcast source");
            assertEquals(0, send(a, frame(0xFF, 0x0A, 9, 60)));
            final List<byte[]> atB = new ArrayList<>();
            receive(b, 9, atB);
            assertEquals(1, atB.size(), "only the good frame arrived: " + atB.size());
            final PortStats pa = stats(sw, "a");
            assertEquals(1, pa.drops(Drop.RUNT));
            assertEquals(1, pa.drops(Drop.GIANT));
            assertEquals(1, pa.drops(Drop.BAD_SOURCE));
            assertEquals(4, pa.rxFrames());
        } finally {
            sw.close();
        }
    }

    @Test
    void shouldRemoveAPortThatLeftOrWhoseClientDied() {
        final VSwitch sw = host.startSwitch(SwitchSpec.of("t-leave"));
        try (SwitchPort a = sw.connect("a")) {
            final SwitchPort d = sw.connect("d");
            assertEquals(0, send(d, frame(0xFF, 0x0D, 1, 60)));
            receive(a, 1, new ArrayList<>());
            assertEquals(stats(sw, "d").id(), sw.portOf(0x52000000000DL));
            d.close();
            await("d removed", () -> sw.ports().stream().noneMatch(p -> p.name().equals("d")));
            assertEquals(-1, sw.portOf(0x52000000000DL), "its MAC is forgotten");
            assertEquals(-dev.osvj.kernel.Errno.ENETDOWN.number(), send(d, frame(0xFF, 0x0D, 1, 60)), "a closed port is down");

            // a "process" with its own client on the host's driver dies without saying BYE
            final Aeron other = Aeron.connect(new Aeron.Context().aeronDirectoryName(host.aeronDir()));
            final SwitchPort e = SwitchPort.join(other, "t-leave", "aeron:ipc", "e", 1500);
            assertEquals(0, send(e, frame(0xFF, 0x0E, 2, 60)));
            receive(a, 2, new ArrayList<>());
            assertEquals(2, sw.ports().size());
            other.close();
            await("e removed after its client closed", () -> sw.ports().stream().noneMatch(p -> p.name().equals("e")));
            assertEquals(-1, sw.portOf(0x52000000000EL));
            assertEquals(List.of("a"), sw.ports().stream().map(PortStats::name).toList());
        } finally {
            sw.close();
        }
    }

    @Test
    void shouldDropForAPortThatDoesNotReadAndNeverBlockTheSwitch() {
        final VSwitch sw = host.startSwitch(SwitchSpec.of("t-slow"));
        try (SwitchPort a = sw.connect("a"); SwitchPort slow = sw.connect("slow"); SwitchPort b = sw.connect("b")) {
            final byte[] big = frame(0xFF, 0x0A, 5, 1400);
            final List<byte[]> atB = new ArrayList<>();
            int sent = 0;
            final long deadline = System.nanoTime() + DEADLINE_NS;
            while (stats(sw, "slow").drops(Drop.BACK_PRESSURED) == 0) {
                assertTrue(System.nanoTime() - deadline < 0, "the slow port's downlink never filled");
                for (int i = 0; i < 256; i++) {
                    if (send(a, big) == 0) {
                        sent++;
                    }
                }
                b.poll((s, o, l) -> atB.add(null), 1024); // b keeps reading
            }
            assertTrue(sent > 0);
            assertTrue(stats(sw, "slow").txFrames() > 0, "it got frames until its window was full");
            // the switch still forwards to b: b may still hold a window of the big frames, which can drop a
            // frame sent now at b's own downlink, so send again while b drains until one arrives
            assertEquals(0, send(a, frame(0xFF, 0x0A, 6, 60)));
            final boolean[] got = new boolean[1];
            await("frame tagged 6 on b while slow never reads", () -> {
                b.poll((segment, offset, length) -> {
                    if (length > 14 && segment.get(ValueLayout.JAVA_BYTE, offset + 14) == 6) {
                        got[0] = true;
                    }
                }, 1024);
                if (!got[0]) {
                    send(a, frame(0xFF, 0x0A, 6, 60));
                }
                return got[0];
            });
        } finally {
            sw.close();
        }
    }

    @Test
    void shouldReturnBackPressuredWhenTheSwitchDoesNotDrainThePort() {
        // a stand-in switch that accepts the HELLO, connects the downlink, and then stops reading
        final Aeron aeron = host.aeron();
        try (Subscription uplink = aeron.addSubscription("aeron:ipc", SwitchSpec.streamId("t-stuck"))) {
            final ExclusivePublication[] downlink = new ExclusivePublication[1];
            final Thread fake = Thread.ofPlatform().daemon().start(() -> {
                while (downlink[0] == null && !Thread.currentThread().isInterrupted()) {
                    uplink.poll((buffer, offset, length, header) -> {
                        final PortMessage.Hello h = PortMessage.hello(buffer, offset, length);
                        if (h != null) {
                            downlink[0] = aeron.addExclusivePublication(h.downlinkChannel(), h.downlinkStream());
                        }
                    }, 1);
                    LockSupport.parkNanos(100_000);
                }
            });
            try (SwitchPort p = SwitchPort.join(aeron, "t-stuck", "aeron:ipc", "p", 1500)) {
                final byte[] big = frame(0xFF, 0x0A, 5, 1500);
                int rc = 0;
                int sent = 0;
                while (rc == 0) {
                    rc = send(p, big);
                    sent++;
                    assertTrue(sent < 1_000_000, "never back-pressured");
                }
                assertEquals(FrameTransport.BACK_PRESSURED, rc);
                assertEquals(1, p.txBackPressured());
                assertEquals(-dev.osvj.kernel.Errno.EMSGSIZE.number(), send(p, new byte[14 + 1500 + 4 + 1]));
            } finally {
                fake.interrupt();
                if (downlink[0] != null) {
                    downlink[0].close();
                }
            }
        }
    }

    @Test
    void shouldJoinAUdpSwitchFromAnotherMediaDriver() {
        final VSwitch sw = host.startSwitch(SwitchSpec.of("t-udp").withUdp("127.0.0.1:0"));
        try (SwitchHost remote = SwitchHost.start()) {
            await("udp endpoint bound", () -> !sw.udpEndpoint().isEmpty());
            final String channel = "aeron:udp?endpoint=" + sw.udpEndpoint();
            try (SwitchPort local = sw.connect("local");
                 SwitchPort far = SwitchPort.join(remote.aeron(), "t-udp", channel, "far", 1500)) {
                assertTrue(far.describe().contains("udp"), far.describe());
                final byte[] big = frame(0xFF, 0x0F, 7, 1514); // above Aeron's 1408-byte UDP MTU: fragmented
                assertEquals(0, send(far, big));
                assertArrayEquals(big, receive(local, 7, new ArrayList<>()));
                final byte[] back = frame(0x0F, 0x01, 8, 200);
                assertEquals(0, send(local, back));
                assertArrayEquals(back, receive(far, 8, new ArrayList<>()));
                assertEquals(1, stats(sw, "far").txFrames());
            }
        } finally {
            sw.close();
        }
    }

    @Test
    void shouldKeepTheDriverUntilTheLastPortHasClosed() {
        final SwitchHost own = SwitchHost.start();
        final VSwitch sw = own.startSwitch(SwitchSpec.of("t-keep"));
        final SwitchPort p = sw.connect("p");
        own.close();
        assertTrue(SwitchHost.find("t-keep").isEmpty(), "the switch stops at once");
        assertTrue(Files.exists(Path.of(own.aeronDir())), "the driver stays for the open port");
        assertEquals(0, p.poll((s, o, l) -> { }, 16), "polling the orphan port is safe");
        p.close();
        assertFalse(Files.exists(Path.of(own.aeronDir())), "the last port's close stops the driver");
        assertThrows(IllegalStateException.class, () -> sw.connect("late"));
    }

    @Test
    void shouldRefuseASecondSwitchOfTheSameNameAndAnUnknownOne() {
        final VSwitch sw = host.startSwitch(SwitchSpec.of("t-dup"));
        try {
            assertThrows(IllegalStateException.class, () -> host.startSwitch(SwitchSpec.of("t-dup")));
            assertEquals(sw, SwitchHost.find("t-dup").orElseThrow());
        } finally {
            sw.close();
        }
        assertThrows(IllegalArgumentException.class, () -> SwitchSpec.of("bad name"));
    }
}
