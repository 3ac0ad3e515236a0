package dev.osvj.vswitch;

import com.typesafe.config.Config;
import dev.osvj.kernel.testing.StandaloneKernel;
import dev.osvj.net.NetSubsystem;
import dev.osvj.net.dev.NetDeviceProvider;
import dev.osvj.net.stack.Sockets;
import dev.osvj.net.wire.Addresses;
import dev.osvj.net.wire.ArpPacket;
import dev.osvj.net.wire.EthernetFrame;
import dev.osvj.net.wire.IcmpPacket;
import dev.osvj.net.wire.Ipv4Packet;
import dev.osvj.virtio.VirtioDevices;
import dev.osvj.virtio.VirtioSubsystem;
import org.agrona.concurrent.UnsafeBuffer;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two kernel instances in one JVM (virtio, vswitch and the network stack, each on its own standalone
 * kernel) with a virtio-net device of backend vswitch on one aeron:ipc switch: TCP between them through
 * the sockets API, and a ping from a third port on the switch answered by an instance's stack.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class TwoKernelsTest {
    private static final ActorTestKit KIT = ActorTestKit.create();
    private static final int IP_A = Addresses.parseIpv4("10.7.0.1");
    private static final int IP_B = Addresses.parseIpv4("10.7.0.2");
    private static final int IP_TESTER = Addresses.parseIpv4("10.7.0.99");
    private static final long MAC_A = Addresses.parseMac("52:54:00:07:00:01");
    private static final long MAC_TESTER = Addresses.parseMac("52:54:00:07:00:99");

    private static SwitchHost host;
    private static VSwitch fabric;
    private static final List<Running> KERNELS = new ArrayList<>();

    /** A booted instance and its subsystems, stopped in reverse order. */
    private record Running(StandaloneKernel kernel, VirtioSubsystem virtio, VSwitchSubsystem vswitch, NetSubsystem net,
        java.util.Map<String, PortNetDevice> ports) {
        void stop() {
            net.stop(kernel);
            vswitch.stop(kernel);
            virtio.stop(kernel);
        }
    }

    private static Running boot(final String name, final String mac, final String ip) throws Exception {
        return boot(name, "{type = net, backend = vswitch, switch = \"k2k\", mac = \"" + mac + "\"}", ip, "");
    }

    private static Running boot(final String name, final String device, final String ip, final String more) throws Exception {
        final Config config = StandaloneKernel.config("""
            osvj.net.pcap = ""
            osvj.devices = [%s]
            osvj.net.interfaces = [
              {name = lo, backend = loopback, address = "127.0.0.1", netmask = "255.0.0.0", mtu = 65536},
              {name = eth0, backend = virtio, %s}]
            %s
            """.formatted(device, ip == null ? "dhcp = true" : "address = \"" + ip + "\", netmask = \"255.255.255.0\"", more));
        final StandaloneKernel kernel = new StandaloneKernel(name, config);
        final VirtioSubsystem virtio = new VirtioSubsystem();
        kernel.bootOnActor(KIT, virtio);
        final VSwitchSubsystem vswitch = new VSwitchSubsystem();
        kernel.boot(vswitch);
        final VirtioDevices devices = kernel.services().require(VirtioDevices.class);
        final java.util.Map<String, PortNetDevice> ports = new java.util.concurrent.ConcurrentHashMap<>();
        kernel.services().provide(NetDeviceProvider.class, (ifname, backend, entry) ->
            ports.computeIfAbsent(ifname, n -> new PortNetDevice(n, devices.net(n).orElseThrow())));
        final NetSubsystem net = new NetSubsystem();
        kernel.bootOnActor(KIT, net);
        final Running r = new Running(kernel, virtio, vswitch, net, ports);
        KERNELS.add(r);
        return r;
    }

    @BeforeAll
    static void start() {
        host = SwitchHost.start(SwitchHost.Options.defaults().withInlineTransmit(true)); // the inline path, tested
        fabric = host.startSwitch(SwitchSpec.of("k2k"));
    }

    @AfterAll
    static void stop() {
        for (int i = KERNELS.size() - 1; i >= 0; i--) {
            KERNELS.get(i).stop();
        }
        host.close();
        KIT.shutdownTestKit();
    }

    @Test
    void shouldExchangeTcpBetweenTwoKernelsOnTheSwitchAndShowTheirPorts() throws Exception {
        final Running a = boot("ka", "52:54:00:07:00:01", "10.7.0.1");
        final Running b = boot("kb", "52:54:00:07:00:02", "10.7.0.2");
        assertTrue(a.kernel().notes().stream().anyMatch(n -> n.startsWith("eth0: vswitch k2k port ka/eth0 (ipc session")),
            a.kernel().notes().toString());
        final Sockets sa = a.kernel().services().require(Sockets.class);
        final Sockets sb = b.kernel().services().require(Sockets.class);
        final int l = sb.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, sb.bind(l, IP_B, 7));
        assertEquals(0, sb.listen(l, 4));
        final int c = sa.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, sa.setsockopt(c, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
        // own threads: the common pool may have a single worker on this machine class
        final java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(2);
        final CompletableFuture<Integer> server = CompletableFuture.supplyAsync(() -> {
            final int s = sb.accept(l, null);
            sb.setsockopt(s, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000);
            final byte[] buf = new byte[16_384];
            int total = 0;
            int n;
            while ((n = sb.recv(s, buf, 0, buf.length, 0)) > 0) {
                int sent = 0;
                while (sent < n) {
                    sent += sb.send(s, buf, sent, n - sent, 0); // echo
                }
                total += n;
            }
            sb.close(s);
            return total;
        }, threads);
        assertEquals(0, sa.connect(c, IP_B, 7), "connect through the switch (ARP flooded, then unicast)");
        final byte[] msg = new byte[300_000];
        for (int i = 0; i < msg.length; i++) {
            msg[i] = (byte)(i * 31);
        }
        final CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> {
            final byte[] got = new byte[msg.length];
            int at = 0;
            while (at < got.length) {
                final int n = sa.recv(c, got, at, got.length - at, 0);
                if (n <= 0) {
                    break;
                }
                at += n;
            }
            return Arrays.copyOf(got, at);
        }, threads);
        int off = 0;
        while (off < msg.length) {
            final int n = sa.send(c, msg, off, Math.min(8192, msg.length - off), 0);
            assertTrue(n > 0, "send: " + n);
            off += n;
        }
        assertArrayEquals(msg, echoed.get(60, TimeUnit.SECONDS));
        sa.close(c);
        assertEquals(msg.length, server.get(60, TimeUnit.SECONDS));
        sb.close(l);
        threads.shutdown();

        final List<PortStats> ports = fabric.ports();
        final PortStats pa = ports.stream().filter(p -> p.name().equals("ka/eth0")).findFirst().orElseThrow();
        final PortStats pb = ports.stream().filter(p -> p.name().equals("kb/eth0")).findFirst().orElseThrow();
        assertTrue(pa.txBytes() > msg.length && pb.txBytes() > msg.length, ports.toString());
        // the ports cut through straight into the other guest's receive queue, on the guests' kicking
        // threads (inline transmit): no device backend thread woken for those transmits
        assertTrue(fabric.receivedDirect() > 2L * msg.length / 1514, "frames received directly: " + fabric.receivedDirect());
        assertTrue(inlineKicks(a) + inlineKicks(b) > 0, "transmit kicks served inline: ka " + counters(a) + ", kb " + counters(b));
        assertEquals(1, pa.macs());
        assertEquals(fabric.portOf(MAC_A), pa.id());
        final String table = run(a.kernel(), "vswitch");
        assertTrue(table.contains("switch k2k") && table.contains("ka/eth0") && table.contains("kb/eth0"), table);
        assertTrue(run(a.kernel(), "ifconfig").contains("10.7.0.1"));

        ping(a);
    }

    /**
     * A guest with a 16-entry receive queue under a burst of UDP datagrams: the switch writes frames
     * straight into its queue while there is room and puts the rest on its downlink, and once one
     * went there the following ones follow it until the device thread has read the downlink, so the
     * receiver sees the datagrams it kept in the order they were sent. The sender transmits on its
     * device thread (a host without inline transmit): how many frames take the downlink depends on
     * how fast the receiver drains its queue (inline interrupts may keep up), so the count is printed,
     * not asserted; the order is asserted either way.
     */
    @Test
    void shouldKeepFramesInOrderWhenAGuestRunsOutOfReceiveBuffersDuringDirectReceive() throws Exception {
        final SwitchHost own = SwitchHost.start(SwitchHost.Options.defaults().withInlineTransmit(false));
        final VSwitch k2o = own.startSwitch(SwitchSpec.of("k2o"));
        try {
            final Running g = boot("kg", "{type = net, backend = vswitch, switch = \"k2o\"}", "10.5.0.1",
                "osvj.virtio.net-queue-size = 16");
            final Running h = boot("kh", "{type = net, backend = vswitch, switch = \"k2o\"}", "10.5.0.2",
                "osvj.virtio.net-queue-size = 16");
            final Sockets sg = g.kernel().services().require(Sockets.class);
            final Sockets sh = h.kernel().services().require(Sockets.class);
            final int rx = sh.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
            assertEquals(0, sh.bind(rx, Addresses.parseIpv4("10.5.0.2"), 5000));
            assertEquals(0, sh.setsockopt(rx, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 3_000));
            final int tx = sg.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
            final byte[] datagram = new byte[1200];
            // the first datagram resolves the address (ARP) and arrives before the burst
            final byte[] got = new byte[2048];
            assertEquals(datagram.length, sg.sendto(tx, datagram, 0, datagram.length, 0, Addresses.parseIpv4("10.5.0.2"), 5000));
            assertEquals(datagram.length, sh.recvfrom(rx, got, 0, got.length, 0, null));
            final int burst = 4000;
            for (int seq = 1; seq <= burst; seq++) {
                datagram[0] = (byte)(seq >>> 24);
                datagram[1] = (byte)(seq >>> 16);
                datagram[2] = (byte)(seq >>> 8);
                datagram[3] = (byte)seq;
                int rc;
                while ((rc = sg.sendto(tx, datagram, 0, datagram.length, 0, Addresses.parseIpv4("10.5.0.2"), 5000)) < 0) {
                    Thread.onSpinWait(); // the transmit queue is full: the device thread drains it
                }
                assertEquals(datagram.length, rc);
            }
            int last = 0;
            int received = 0;
            int n;
            while (true) {
                Arrays.fill(got, 0, 4, (byte)0xFF); // seq -1 would mean the call wrote nothing
                n = sh.recvfrom(rx, got, 0, got.length, 0, null);
                if (n <= 0) {
                    break;
                }
                final int seq = (got[0] & 0xff) << 24 | (got[1] & 0xff) << 16 | (got[2] & 0xff) << 8 | got[3] & 0xff;
                assertTrue(seq != -1, "recvfrom returned " + n + " without writing a datagram");
                assertTrue(seq > last, "datagram " + seq + " after " + last + ": reordered; kg " + counters(g) + ", kh "
                    + counters(h) + ", direct " + k2o.receivedDirect());
                last = seq;
                received++;
                if (seq == burst) {
                    break;
                }
            }
            final long deviceRx = deviceRxFrames(h);
            final long direct = k2o.receivedDirect();
            assertTrue(received > 0 && direct > 0, "received " + received + ", direct " + direct);
            // a vswitch device's receive interrupts run inline by default (interrupts = auto): here every
            // frame is forwarded on the sender's device thread, a host thread, so the receiver's handler
            // ran there at least for the first one, without the interrupt actor
            assertTrue(inlineInterruptRuns(h) > 0, "receive interrupts run inline: kh " + counters(h));
            System.out.println("k2o burst: received " + received + ", kh device rx "
                + deviceRx + ", direct " + direct);
            System.out.println("k2o burst: " + (deviceRx + deviceRxFrames(g) - direct) + " frame(s) took the downlink");
            sg.close(tx);
            sh.close(rx);
            for (final Running r : List.of(h, g)) {
                KERNELS.remove(r);
                r.stop();
            }
        } finally {
            k2o.close();
            own.close();
        }
    }

    /**
     * A receive interrupt that a device thread raises while forwarding (inline transmit off) runs on that
     * thread after it released the switch's forwarding lock ({@link SwitchHost.Options#deferInterrupts},
     * the default), and under the lock when deferral is off: the receiving stack's handler observes the
     * lock from inside.
     */
    @Test
    void shouldRunADeviceThreadsInlineReceiveInterruptAfterReleasingTheForwardingLock() throws Exception {
        for (final boolean defer : new boolean[] {true, false}) {
            final SwitchHost own = SwitchHost.start(SwitchHost.Options.defaults().withInlineTransmit(false).withDeferInterrupts(defer));
            final String name = "k2f" + (defer ? "d" : "n");
            final VSwitch sw = own.startSwitch(SwitchSpec.of(name));
            try {
                final Running s = boot(name + "s", "{type = net, backend = vswitch, switch = \"" + name + "\"}", "10.6.0.1", "");
                final Running r = boot(name + "r", "{type = net, backend = vswitch, switch = \"" + name + "\"}", "10.6.0.2", "");
                final List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
                r.ports().get("eth0").onReceive = () -> seen.add(Thread.currentThread().getName() + " locked="
                    + sw.forwardingLock().isHeldByCurrentThread());
                final Sockets ss = s.kernel().services().require(Sockets.class);
                final Sockets sr = r.kernel().services().require(Sockets.class);
                final int rx = sr.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
                assertEquals(0, sr.bind(rx, Addresses.parseIpv4("10.6.0.2"), 5000));
                assertEquals(0, sr.setsockopt(rx, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
                final int tx = ss.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
                final byte[] datagram = "deferred?".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                assertEquals(datagram.length, ss.sendto(tx, datagram, 0, datagram.length, 0, Addresses.parseIpv4("10.6.0.2"), 5000));
                final byte[] got = new byte[64];
                assertEquals(datagram.length, sr.recvfrom(rx, got, 0, got.length, 0, null), "the datagram arrives");
                // the sender's device thread forwarded the frames (ARP, then the datagram) and ran the
                // receiver's handler inline; whether under the forwarding lock is what deferral decides
                final List<String> onDeviceThread = seen.stream().filter(t -> t.contains("virtio")).toList();
                assertTrue(!onDeviceThread.isEmpty(), "handled inline on a device thread: " + seen);
                assertTrue(onDeviceThread.stream().allMatch(t -> t.endsWith("locked=" + !defer)),
                    "defer=" + defer + ": " + seen);
                ss.close(tx);
                sr.close(rx);
            } finally {
                sw.close();
                own.close();
            }
        }
    }

    /**
     * An inline sender (inline transmit on every kicking thread, this class's switch) forwards its frame and
     * runs the receiver's handler under the forwarding lock; the wake-up of the receiver's blocked caller
     * that the handler makes (an IPI to a halted vCPU, or an unpark) is done only after the sender released
     * the lock ({@link dev.osvj.net.stack.WakeDeferral}): seen from inside the lock, the stack's receive path
     * has recorded it, not done it, and when the send returns nothing is left recorded. The receiver reads
     * in a loop, so some datagram finds it blocked; on the old code every wake was done under the lock and
     * none is ever seen recorded there.
     */
    @Test
    void shouldWakeTheReceiversBlockedCallerOnlyAfterAnInlineSenderReleasedTheForwardingLock() throws Exception {
        final Running s = boot("kws", "52:54:00:07:00:21", "10.7.0.21");
        final Running r = boot("kwr", "52:54:00:07:00:22", "10.7.0.22");
        final java.util.concurrent.atomic.AtomicInteger recordedUnderLock = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicInteger doneUnderLock = new java.util.concurrent.atomic.AtomicInteger();
        r.ports().get("eth0").afterReceive = () -> {
            if (fabric.forwardingLock().isHeldByCurrentThread()) {
                if (dev.osvj.net.stack.WakeDeferral.pending() > 0) {
                    recordedUnderLock.incrementAndGet();
                } else {
                    doneUnderLock.incrementAndGet();
                }
            }
        };
        final Sockets ss = s.kernel().services().require(Sockets.class);
        final Sockets sr = r.kernel().services().require(Sockets.class);
        final int rx = sr.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
        assertEquals(0, sr.bind(rx, Addresses.parseIpv4("10.7.0.22"), 5001));
        assertEquals(0, sr.setsockopt(rx, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
        final java.util.concurrent.atomic.AtomicInteger received = new java.util.concurrent.atomic.AtomicInteger();
        final java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
        final Thread reader = Thread.ofPlatform().name("kwr-reader").start(() -> {
            final byte[] got = new byte[64];
            while (!done.get() && sr.recvfrom(rx, got, 0, got.length, 0, null) > 0) {
                received.incrementAndGet();
            }
        });
        final int tx = ss.socket(Sockets.AF_INET, Sockets.SOCK_DGRAM, 0);
        final byte[] datagram = "wake me after the lock".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int sent = 0;
        try {
            while (recordedUnderLock.get() == 0) {
                assertTrue(System.nanoTime() - deadline < 0, "no wake recorded under the forwarding lock in " + sent
                    + " datagrams (" + doneUnderLock.get() + " frames handled under it with nothing recorded)");
                assertEquals(datagram.length, ss.sendto(tx, datagram, 0, datagram.length, 0, Addresses.parseIpv4("10.7.0.22"), 5001));
                sent++;
                assertEquals(0, dev.osvj.net.stack.WakeDeferral.pending(), "the send returned with its wakes done");
                final int expect = sent;
                final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (received.get() < expect) { // the datagram's wake was done: the reader got it
                    assertTrue(System.nanoTime() - until < 0, "datagram " + expect + " not received");
                    LockSupport.parkNanos(100_000);
                }
            }
        } finally {
            done.set(true);
            ss.sendto(tx, datagram, 0, datagram.length, 0, Addresses.parseIpv4("10.7.0.22"), 5001); // let the reader out
            reader.join(TimeUnit.SECONDS.toMillis(30));
            ss.close(tx);
            sr.close(rx);
        }
    }

    /** The counters of the instance's virtio-net devices and their queues, for a failure's message. */
    private static String counters(final Running r) {
        final StringBuilder b = new StringBuilder();
        for (final VirtioDevices.Entry e : r.kernel().services().require(VirtioDevices.class).all()) {
            if (e.transport() instanceof dev.osvj.virtio.net.VirtioNetDevice d) {
                b.append(d.deviceCounters()).append(" status ").append(d.status()).append(" rxq ").append(d.queueCounters(0))
                    .append(" txq ").append(d.queueCounters(1));
            }
        }
        return b.toString();
    }

    /** Interrupts the instance's virtio-net drivers ran inline on the raising (host) thread. */
    private static long inlineInterruptRuns(final Running r) {
        long total = 0;
        for (final VirtioDevices.Entry e : r.kernel().services().require(VirtioDevices.class).all()) {
            if (e.transport() instanceof dev.osvj.virtio.net.VirtioNetDevice
                && e.driver().interruptLine() instanceof dev.osvj.virtio.InterruptLine line) {
                total += line.inlineRuns();
            }
        }
        return total;
    }

    /** Kicks the instance's virtio-net devices served on the kicking thread. */
    private static long inlineKicks(final Running r) {
        long total = 0;
        for (final VirtioDevices.Entry e : r.kernel().services().require(VirtioDevices.class).all()) {
            if (e.transport() instanceof dev.osvj.virtio.net.VirtioNetDevice d) {
                total += d.inlineKicks();
            }
        }
        return total;
    }

    /** Frames the instance's virtio-net device put into its receive queue ({@code rx=} of its counters). */
    private static long deviceRxFrames(final Running r) {
        long total = 0;
        for (final VirtioDevices.Entry e : r.kernel().services().require(VirtioDevices.class).all()) {
            if (e.transport() instanceof dev.osvj.virtio.net.VirtioNetDevice d) {
                final String c = d.deviceCounters();
                final int at = c.indexOf(" rx=") + 4;
                total += Long.parseLong(c.substring(at, c.indexOf(' ', at)));
            }
        }
        return total;
    }

    @Test
    void shouldJoinASwitchHostedByAnotherInstanceOverUdp() throws Exception {
        final Running c = boot("kc", "{type = net, backend = vswitch, switch = \"k2u\"}", "10.8.0.1",
            "osvj.vswitch.switches = [{name = \"k2u\", udp = \"127.0.0.1:0\"}]");
        assertTrue(c.kernel().notes().contains("vswitch: switch k2u on aeron:ipc and aeron:udp 127.0.0.1:0"),
            c.kernel().notes().toString());
        final VSwitch k2u = SwitchHost.find("k2u").orElseThrow();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (k2u.udpEndpoint().isEmpty()) {
            assertTrue(System.nanoTime() - deadline < 0, "udp endpoint never bound");
            LockSupport.parkNanos(1_000_000);
        }
        // kd stands for an instance in another process: its own media driver, the switch's UDP endpoint
        final Running d = boot("kd", "{type = net, backend = vswitch, switch = \"k2u\", channel = \"aeron:udp?endpoint="
            + k2u.udpEndpoint() + "\", port-name = \"far\"}", "10.8.0.2", "");
        assertTrue(d.kernel().notes().stream().anyMatch(n -> n.contains("port far (" + k2u.udpEndpoint() + " udp")),
            d.kernel().notes().toString());
        final Sockets sc = c.kernel().services().require(Sockets.class);
        final Sockets sd = d.kernel().services().require(Sockets.class);
        final int l = sc.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, sc.bind(l, Addresses.parseIpv4("10.8.0.1"), 9));
        assertEquals(0, sc.listen(l, 4));
        final int s = sd.socket(Sockets.AF_INET, Sockets.SOCK_STREAM, 0);
        assertEquals(0, sd.setsockopt(s, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
        assertEquals(0, sd.connect(s, Addresses.parseIpv4("10.8.0.1"), 9));
        final int a = sc.accept(l, null);
        assertTrue(a > 0);
        assertEquals(0, sc.setsockopt(a, Sockets.SOL_SOCKET, Sockets.SO_RCVTIMEO, 30_000));
        final byte[] hello = "over aeron:udp".getBytes();
        assertEquals(hello.length, sd.send(s, hello, 0, hello.length, 0));
        final byte[] got = new byte[64];
        int n = 0;
        while (n < hello.length) {
            final int r = sc.recv(a, got, n, got.length - n, 0);
            assertTrue(r > 0, "recv " + r);
            n += r;
        }
        assertArrayEquals(hello, Arrays.copyOf(got, n));
        sd.close(s);
        sc.close(a);
        sc.close(l);
        assertTrue(k2u.ports().stream().anyMatch(p -> p.name().equals("far") && p.rxFrames() > 0), k2u.ports().toString());
    }

    @Test
    void shouldLeaseAnAddressFromTheSwitchsDhcpServer() throws Exception {
        final VSwitch k2d = host.startSwitch(SwitchSpec.of("k2d").withDhcp("10.6.0.0/24"));
        try {
            final Running f = boot("kf", "{type = net, backend = vswitch, switch = \"k2d\", mac = \"52:54:00:06:00:0f\"}", null, "");
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!run(f.kernel(), "ifconfig").contains("inet 10.6.0.100")) {
                assertTrue(System.nanoTime() - deadline < 0, "no lease: " + run(f.kernel(), "ifconfig"));
                LockSupport.parkNanos(10_000_000);
            }
            assertEquals(Addresses.parseIpv4("10.6.0.100"), k2d.dhcpLease(Addresses.parseMac("52:54:00:06:00:0f")));
            assertTrue(k2d.describe().contains("dhcp 10.6.0.0/24"), k2d.describe());
            KERNELS.remove(f);
            f.stop();
        } finally {
            k2d.close();
        }
    }

    @Test
    void shouldRemoveTheSwitchPortOfAStoppedInstance() throws Exception {
        final Running e = boot("ke", "52:54:00:07:00:0e", "10.7.0.14");
        assertTrue(fabric.ports().stream().anyMatch(p -> p.name().equals("ke/eth0")), fabric.ports().toString());
        KERNELS.remove(e);
        e.stop();
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (fabric.ports().stream().anyMatch(p -> p.name().equals("ke/eth0"))) {
            assertTrue(System.nanoTime() - deadline < 0, "the stopped instance's port stayed: " + fabric.ports());
            LockSupport.parkNanos(1_000_000);
        }
        assertEquals(-1, fabric.portOf(Addresses.parseMac("52:54:00:07:00:0e")));
    }

    @Test
    void shouldDeclareItsKeysAndReportBadSwitches() {
        final dev.osvj.kernel.config.ConfigSpec spec = new dev.osvj.kernel.config.ConfigSpec("osvj.vswitch");
        new VSwitchSubsystem().declareConfig(spec);
        assertEquals(List.of(), spec.validate(com.typesafe.config.ConfigFactory.load()));
        final Config bad = StandaloneKernel.config("""
            osvj.vswitch.switches = [ {udp = "x"}, {name = "a b"}, {name = ok, udp = "nohost", colour = red}, 7 ]
            osvj.vswitch.term-length = 100K
            """);
        final List<String> problems = spec.validate(bad).stream().map(Object::toString).toList();
        assertTrue(problems.contains("osvj.vswitch.switches[0].name: missing; every switch needs a name"), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.vswitch.switches[1].name: expected 1..64")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.vswitch.switches[2].colour: unknown key")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.vswitch.switches[3]: expected a switch object")), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("osvj.vswitch.term-length: expected a power of two")), problems.toString());
    }

    /** A third port on the switch (a host-side station, 10.7.0.99) pings instance a and answers its ARP. */
    private static void ping(final Running a) {
        try (SwitchPort tester = fabric.connect("tester")) {
            final UnsafeBuffer out = new UnsafeBuffer(new byte[128]);
            final byte[] data = "ping through the vswitch".getBytes();
            int at = EthernetFrame.emit(out, 0, MAC_A, MAC_TESTER, EthernetFrame.TYPE_IPV4);
            at = Ipv4Packet.emit(out, at, 0, IcmpPacket.HEADER_LENGTH + data.length, 1, Ipv4Packet.FLAG_DF, 64,
                Ipv4Packet.PROTO_ICMP, IP_TESTER, IP_A);
            out.putBytes(at + IcmpPacket.HEADER_LENGTH, data);
            final int length = at + IcmpPacket.emit(out, at, IcmpPacket.TYPE_ECHO_REQUEST, 0, 0x1234_0001, data.length);
            final int icmpAt = at;
            assertEquals(0, tester.send(MemorySegment.ofArray(out.byteArray()), 0, length));
            final boolean[] replied = new boolean[1];
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!replied[0]) {
                assertTrue(System.nanoTime() - deadline < 0, "no echo reply from 10.7.0.1");
                tester.poll((segment, offset, len) -> {
                    final byte[] f = new byte[len];
                    MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset, f, 0, len);
                    final UnsafeBuffer in = new UnsafeBuffer(f);
                    final int type = in.getShort(EthernetFrame.TYPE_OFFSET, java.nio.ByteOrder.BIG_ENDIAN) & 0xFFFF;
                    if (type == EthernetFrame.TYPE_ARP && in.getShort(14 + ArpPacket.OPER_OFFSET, java.nio.ByteOrder.BIG_ENDIAN) == ArpPacket.OP_REQUEST
                        && in.getInt(14 + ArpPacket.TPA_OFFSET, java.nio.ByteOrder.BIG_ENDIAN) == IP_TESTER) {
                        final UnsafeBuffer reply = new UnsafeBuffer(new byte[60]);
                        final int p = EthernetFrame.emit(reply, 0, MAC_A, MAC_TESTER, EthernetFrame.TYPE_ARP);
                        ArpPacket.emit(reply, p, ArpPacket.OP_REPLY, MAC_TESTER, IP_TESTER, MAC_A, IP_A);
                        tester.send(MemorySegment.ofArray(reply.byteArray()), 0, 60);
                    } else if (type == EthernetFrame.TYPE_IPV4 && len >= icmpAt + IcmpPacket.HEADER_LENGTH + data.length
                        && f[14 + Ipv4Packet.PROTOCOL_OFFSET] == Ipv4Packet.PROTO_ICMP
                        && f[icmpAt] == IcmpPacket.TYPE_ECHO_REPLY) {
                        assertEquals(0x1234_0001, in.getInt(icmpAt + IcmpPacket.ID_OFFSET, java.nio.ByteOrder.BIG_ENDIAN));
                        assertArrayEquals(data, Arrays.copyOfRange(f, icmpAt + IcmpPacket.HEADER_LENGTH,
                            icmpAt + IcmpPacket.HEADER_LENGTH + data.length));
                        replied[0] = true;
                    }
                }, 16);
                LockSupport.parkNanos(100_000);
            }
        }
    }

    private static String run(final StandaloneKernel kernel, final String command) throws Exception {
        final StandaloneKernel.CommandResult r = kernel.execute(command);
        assertEquals(0, r.status(), r.toString());
        return r.output();
    }
}
