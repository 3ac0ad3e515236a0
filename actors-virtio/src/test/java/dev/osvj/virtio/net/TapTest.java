package dev.osvj.virtio.net;

import dev.osvj.kernel.pcap.PcapWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-net over a Linux TAP device, with the Linux kernel's TCP/IP stack as the peer, entirely
 * inside a network namespace this test creates and deletes (the host's interfaces are never
 * touched; needs root). The Linux side asks for the guest's MAC (ARP) and the guest answers; UDP
 * goes both ways; the guest pings Linux. Every frame is also recorded with --pcap and read back with
 * {@code tcpdump -r}.
 */
class TapTest {
    private static final byte[] LINUX_IP = Frames.ip(10, 77, 0, 1);
    private static final byte[] GUEST_IP = Frames.ip(10, 77, 0, 2);

    @TempDir
    Path dir;
    private String ns;

    @BeforeEach
    void createNamespace() throws Exception {
        ns = "osvjtest" + ProcessHandle.current().pid();
        run("ip", "netns", "add", ns);
    }

    @AfterEach
    void deleteNamespace() throws Exception {
        run("ip", "netns", "del", ns);
    }

    private static String run(final String... command) throws IOException, InterruptedException {
        final Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", command) + " hung");
        assertEquals(0, p.exitValue(), String.join(" ", command) + ": " + out);
        return out;
    }

    @Test
    void shouldTalkArpUdpAndIcmpWithTheLinuxStackThroughATapInANamespace() throws Exception {
        talk(false);
    }

    /**
     * The same with IFF_VNET_HDR and receive offloads on: the guest accepts GUEST_CSUM and GUEST_TSO4,
     * and Linux's UDP datagram (checksum left partial by Linux) arrives with its checksum completed.
     */
    @Test
    void shouldTalkThroughATapWithReceiveOffloads() throws Exception {
        talk(true);
    }

    /**
     * The receive wakeup: a poller that found the TAP empty (the watcher armed) and parks is unparked
     * by the readiness watcher when Linux sends a frame, without polling again.
     */
    @Test
    void shouldWakeThePollingThreadWhenAFrameArrives() throws Exception {
        final String netns = "/var/run/netns/" + ns;
        try (TapTransport tap = TapTransport.open("osvjtap0", netns)) {
            run("ip", "-n", ns, "addr", "add", "10.77.0.1/24", "dev", "osvjtap0");
            run("ip", "-n", ns, "link", "set", "osvjtap0", "up");
            final FrameSink ignore = (b, o, l) -> { };
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (tap.poll(ignore, 64) > 0) {
                assertTrue(System.nanoTime() < deadline, "the TAP never went quiet");
            }
            // this thread is the poller; the empty read armed the watcher
            final long before = tap.readinessWakeups();
            try (DatagramChannel linuxSocket = TapTransport.inNamespace(netns, DatagramChannel::open)) {
                linuxSocket.send(ByteBuffer.wrap("wake".getBytes()), new InetSocketAddress("10.77.0.2", 7000));
                while (tap.readinessWakeups() == before) {
                    assertTrue(System.nanoTime() < deadline, "the watcher did not wake the poller");
                    java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
                }
            }
            // Linux's ARP request for 10.77.0.2 is waiting for the woken poller
            final int[] frames = new int[1];
            assertTrue(tap.poll((b, o, l) -> frames[0]++, 64) >= 1);
        }
    }

    private void talk(final boolean offload) throws Exception {
        final String netns = "/var/run/netns/" + ns;
        final TapTransport tap = TapTransport.open("osvjtap0", netns, offload);
        assertEquals(offload ? VirtioNet.HEADER_LENGTH : 0, tap.offloadHeaderLength());
        run("ip", "-n", ns, "addr", "add", "10.77.0.1/24", "dev", "osvjtap0");
        run("ip", "-n", ns, "link", "set", "osvjtap0", "up");
        final Path pcapFile = dir.resolve("tap.pcap");
        final PcapWriter pcap = new PcapWriter(pcapFile, 65535);
        final DatagramChannel linuxSocket = TapTransport.inNamespace(netns, () -> {
            final DatagramChannel ch = DatagramChannel.open();
            ch.bind(new InetSocketAddress("10.77.0.1", 7777));
            return ch;
        });
        try (NetHarness h = new NetHarness(new PcapTransport(tap, pcap, true, () -> System.currentTimeMillis() * 1_000_000L),
            1500, 64); linuxSocket) {
            final byte[] mac = h.driver.mac();
            // Linux sends to the guest: it must first ask who has 10.77.0.2.
            linuxSocket.send(ByteBuffer.wrap("hello-guest".getBytes()), new InetSocketAddress("10.77.0.2", 7000));
            final byte[] who = PasstTest.awaitFrame(h, f -> Frames.etherType(f) == Frames.ETH_ARP && Frames.u16(f, 20) == 1
                && f[38] == 10 && f[39] == 77 && f[41] == 2);
            final byte[] linuxMac = java.util.Arrays.copyOfRange(who, 22, 28);
            assertEquals(0, h.send(Frames.arp(2, mac, GUEST_IP, linuxMac, LINUX_IP)));
            final byte[] udp = PasstTest.awaitFrame(h, f -> Frames.etherType(f) == Frames.ETH_IPV4 && f[23] == 17
                && Frames.u16(f, 36) == 7000);
            assertEquals("hello-guest", new String(udp, 42, udp.length - 42, StandardCharsets.US_ASCII));
            assertEquals(offload, h.driver.hasFeature(VirtioNet.F_GUEST_TSO4));
            if (offload) {
                // a complete UDP checksum (Linux may have left it partial; the driver completes it)
                assertEquals(0xffff, udpChecksumSum(udp), "UDP checksum over pseudo-header and datagram");
            }
            // The guest answers over UDP.
            assertEquals(0, h.send(Frames.ipv4(linuxMac, mac, GUEST_IP, LINUX_IP, 17,
                Frames.udp(7000, 7777, "hello-linux".getBytes()))));
            final ByteBuffer answer = ByteBuffer.allocate(64);
            linuxSocket.configureBlocking(true);
            linuxSocket.socket().setSoTimeout(30_000);
            final java.net.DatagramPacket packet = new java.net.DatagramPacket(new byte[64], 64);
            linuxSocket.socket().receive(packet);
            assertEquals("hello-linux", new String(packet.getData(), 0, packet.getLength(), StandardCharsets.US_ASCII));
            assertTrue(answer.position() == 0);
            // The guest pings Linux.
            assertEquals(0, h.send(Frames.ipv4(linuxMac, mac, GUEST_IP, LINUX_IP, 1,
                Frames.icmpEcho(8, 0x4242, 1, "osvj-ping".getBytes()))));
            final byte[] pong = PasstTest.awaitFrame(h, f -> Frames.etherType(f) == Frames.ETH_IPV4 && f[23] == 1 && f[34] == 0);
            assertArrayEquals(new byte[] {0x42, 0x42, 0, 1}, java.util.Arrays.copyOfRange(pong, 38, 42));
        }
        // tcpdump reads the recording: every kind of frame we exchanged is in it.
        final String dump = run("tcpdump", "-n", "-r", pcapFile.toString());
        assertTrue(dump.contains("ARP, Request who-has 10.77.0.2"), dump);
        assertTrue(dump.contains("ARP, Reply 10.77.0.2 is-at 52:54:00:12:34:56"), dump);
        assertTrue(dump.contains("IP 10.77.0.1.7777 > 10.77.0.2.7000"), dump);
        assertTrue(dump.contains("IP 10.77.0.2.7000 > 10.77.0.1.7777"), dump);
        assertTrue(dump.contains("ICMP echo request"), dump);
        assertTrue(dump.contains("ICMP echo reply"), dump);
    }

    /** The ones' complement sum over the UDP pseudo-header and datagram of an IPv4 frame: 0xffff when valid. */
    private static int udpChecksumSum(final byte[] f) {
        final int udpLength = Frames.u16(f, 38);
        long sum = Frames.u16(f, 26) + Frames.u16(f, 28) + Frames.u16(f, 30) + Frames.u16(f, 32) + 17 + udpLength;
        for (int i = 34; i < 34 + udpLength; i += 2) {
            sum += ((f[i] & 0xff) << 8) | (i + 1 < 34 + udpLength ? f[i + 1] & 0xff : 0);
        }
        while ((sum >>> 16) != 0) {
            sum = (sum >>> 16) + (sum & 0xffff);
        }
        return (int)sum;
    }
}
